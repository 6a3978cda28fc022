/**
 * What every benchmark record shares with the PyTorch peer (../shared/bench/torch_peer.py): the same field names,
 * the CPU model string from /proc/cpuinfo, peak RSS in MiB, and a median over timed steps.
 */
import { readFileSync } from 'node:fs';
import { VERSION } from '../version.js';

export interface BenchRecord {
  task: string;
  engine: string;
  threads: number;
  cpu: string;
  simd: string;
  dtype: string;
  shape: string;
  tok_per_s?: number;
  s_per_step?: number;
  trainable_params?: number;
  peak_rss_mib: number;
  [extra: string]: unknown;
}

export function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    return line ? line.split(':')[1]!.trim() : '?';
  } catch {
    return '?';
  }
}

/** Peak resident set size of this process so far (maxRSS is in KiB on Linux), like ru_maxrss in the peer. */
export function peakRssMib(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function engineName(backend: string): string {
  return `fintune ${VERSION} ${backend}`;
}

/**
 * FINTUNE_BENCH_TINY=1: every model task runs a 2-layer, 64-wide GPT with a 512-token vocabulary on small batches
 * instead of GPT-2 124M, so tests exercise the whole protocol (records, peers, summaries) in seconds. Children
 * of `--peer` inherit it through the environment. Never set it for a real measurement.
 */
export function benchTiny(): boolean {
  return process.env.FINTUNE_BENCH_TINY === '1';
}
