/**
 * `--peer`: ours and the PyTorch peer, interleaved `repeat` times, every measurement in its own process (so each
 * peak RSS is its own and neither warms the other's caches), then one summary line a task from the medians.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, round, type BenchRecord } from './common.js';

/** The project root: the same two levels up from src/bench and dist/bench. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TORCH_PEER = path.resolve(PROJECT_ROOT, '../shared/bench/torch_peer.py');

export interface PeerOptions {
  tasks: string[];
  repeat: number;
  threads: number;
  steps: number;
  warmup: number;
  python: string;
  emit: (rec: unknown) => void;
}

function runJson(cmd: string, args: string[], env: NodeJS.ProcessEnv): BenchRecord {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.error) throw new Error(`bench: could not run ${cmd}: ${r.error.message}`);
  const line = r.stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (r.status !== 0 || !line) {
    throw new Error(`bench: ${path.basename(cmd)} ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr.slice(-2000)}`);
  }
  return JSON.parse(line) as BenchRecord;
}

/** Runs this same CLI (whatever form it runs in: dist JS or TS through a loader) as a single measurement. */
function runOurs(task: string, o: PeerOptions): BenchRecord {
  const args = [...process.execArgv, process.argv[1]!, 'bench', '--task', task, '--json', '--threads', String(o.threads)];
  if (task !== 'gemm') args.push('--steps', String(o.steps), '--warmup', String(o.warmup));
  return runJson(process.execPath, args, process.env);
}

function runTorch(task: string, o: PeerOptions): BenchRecord {
  if (!existsSync(TORCH_PEER)) throw new Error(`bench: the PyTorch peer is not at ${TORCH_PEER}`);
  const args = [TORCH_PEER, '--task', task, '--threads', String(o.threads)];
  if (task !== 'gemm') args.push('--steps', String(o.steps), '--warmup', String(o.warmup));
  return runJson(o.python, args, process.env);
}

/** The figure compared per task: tokens/s for training steps, GFLOP/s per shape for gemm. */
function summarize(task: string, ours: BenchRecord[], torch: BenchRecord[]): Record<string, unknown> {
  if (task === 'gemm') {
    const shapes = Object.keys((ours[0]?.gflops as Record<string, number>) ?? {});
    const med = (rs: BenchRecord[]) =>
      Object.fromEntries(shapes.map((s) => [s, round(median(rs.map((r) => (r.gflops as Record<string, number>)[s] ?? NaN)), 1)]));
    const o = med(ours);
    const t = med(torch);
    const byShape = Object.fromEntries(shapes.map((s) => [s, round(o[s]! / t[s]!, 3)]));
    return {
      task,
      summary: true,
      ours: o,
      torch: t,
      // The weakest shape decides: the claim is "faster at every shape".
      ratio_vs_torch: round(Math.min(...Object.values(byShape)), 3),
      ratio_by_shape: byShape,
      peak_fraction: round(median(ours.map((r) => Number(r.peak_fraction))), 3),
      repeats: ours.length,
    };
  }
  const o = median(ours.map((r) => r.tok_per_s ?? NaN));
  const t = median(torch.map((r) => r.tok_per_s ?? NaN));
  const ro = median(ours.map((r) => r.peak_rss_mib));
  const rt = median(torch.map((r) => r.peak_rss_mib));
  return {
    task,
    summary: true,
    ours: round(o, 1),
    torch: round(t, 1),
    ratio_vs_torch: round(o / t, 3),
    peak_rss_mib: { ours: ro, torch: rt, ratio: round(ro / rt, 3) },
    repeats: ours.length,
  };
}

export function runPeer(o: PeerOptions): void {
  for (const task of o.tasks) {
    const ours: BenchRecord[] = [];
    const torch: BenchRecord[] = [];
    for (let r = 0; r < o.repeat; r++) {
      const a = runOurs(task, o);
      ours.push(a);
      o.emit({ ...a, repeat: r + 1 });
      const b = runTorch(task, o);
      torch.push(b);
      o.emit({ ...b, repeat: r + 1 });
    }
    o.emit(summarize(task, ours, torch));
  }
}
