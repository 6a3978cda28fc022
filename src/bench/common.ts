/**
 * What every benchmark record shares with the PyTorch peer (../shared/bench/torch_peer.py): the same field names,
 * the CPU model string from /proc/cpuinfo, peak RSS in MiB, and a median over timed steps.
 */
import { readFileSync } from 'node:fs';
import type { Backend, GemmParams } from '../tensor/backend.js';
import { setBackend, tsBackend } from '../tensor/backends.js';
import { getNativeBackend, loadNative } from '../tensor/native_backend.js';
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

export interface Clock {
  ns: bigint;
  byOp: Map<PropertyKey, bigint>;
  /** GEMM wall time by shape (`MxKxN` with the transposes and beta), when the profile asks for it. */
  byGemm?: Map<string, GemmTally>;
}

/** Wall time, calls and floating-point operations of the GEMMs of one shape. */
export interface GemmTally {
  ns: bigint;
  calls: number;
  flops: number;
}

/** The key a GEMM is profiled under: its shape, transposes, batch and beta (accumulating or not). */
function gemmKey(p: GemmParams): { key: string; flops: number } {
  const t = `${p.transA ? 'T' : 'N'}${p.transB ? 'T' : 'N'}`;
  const b = p.batch > 1 ? ` x${p.batch}` : '';
  const bq = p.bq ? ` ${p.bq.format}` : '';
  const key = `${p.M}x${p.K}x${p.N} ${t}${b}${p.beta !== 0 ? ' +C' : ''}${bq}`;
  return { key, flops: 2 * p.M * p.N * Math.max(p.K, 1) * p.batch };
}

/** A backend whose every call adds its wall time to `ns` (kernel time; the rest of a step is overhead). */
export function timedBackend(inner: Backend, clock: Clock): Backend {
  const cache = new Map<PropertyKey, unknown>();
  return new Proxy(inner, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if (typeof v !== 'function') return v;
      let w = cache.get(key);
      if (!w) {
        const f = v as (...a: unknown[]) => unknown;
        w = (...args: unknown[]) => {
          const t0 = process.hrtime.bigint();
          try {
            return f.apply(target, args);
          } finally {
            const dt = process.hrtime.bigint() - t0;
            clock.ns += dt;
            clock.byOp.set(key, (clock.byOp.get(key) ?? 0n) + dt);
            if (key === 'gemm' && clock.byGemm) {
              const { key: k, flops } = gemmKey(args[0] as GemmParams);
              const e = clock.byGemm.get(k) ?? { ns: 0n, calls: 0, flops: 0 };
              e.ns += dt;
              e.calls++;
              e.flops += flops;
              clock.byGemm.set(k, e);
            }
          }
        };
        cache.set(key, w);
      }
      return w;
    },
  });
}

/** Kernel milliseconds per unit of work (token or step) by backend method, largest first. */
export function kernelMsByOp(byOp: Map<PropertyKey, bigint>, units: number): Record<string, number> {
  return Object.fromEntries(
    [...byOp]
      .filter(([, ns]) => ns > 0n)
      .sort((a, b) => Number(b[1] - a[1]))
      .map(([k, ns]) => [String(k), round(Number(ns) / 1e6 / units, 3)]),
  );
}

/**
 * GEMM time per unit of work by shape, largest first, each with its calls per unit and GFLOP/s: which products
 * run below the kernel's benchmark speed in place (cold operands, transposed packing, thin shapes).
 */
export function gemmMsByShape(
  byGemm: Map<string, GemmTally>,
  units: number,
): Record<string, { ms: number; calls: number; gflops: number }> {
  return Object.fromEntries(
    [...byGemm]
      .sort((a, b) => Number(b[1].ns - a[1].ns))
      .map(([k, e]) => [
        k,
        { ms: round(Number(e.ns) / 1e6 / units, 3), calls: round(e.calls / units, 2), gflops: round(e.flops / Number(e.ns), 1) },
      ]),
  );
}

/** The backend a measurement asks for, made current; a missing native addon is an error, never a fall-back. */
export function benchBackend(name: 'native' | 'ts'): Backend {
  let be: Backend = tsBackend;
  if (name === 'native') {
    const nb = getNativeBackend();
    if (!nb) throw new Error(`bench: the native backend is unavailable: ${(loadNative() as { reason: string }).reason}`);
    be = nb;
  }
  setBackend(be);
  return be;
}
