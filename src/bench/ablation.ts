/**
 * `--ablation`: what each part of the native backend is worth. Every configuration runs in its own process
 * (`bench --task ... --json` with one knob changed) and is reported against the full configuration
 * (native, best ISA path, 2 threads):
 *   - 1 thread instead of 2 (the pool),
 *   - each narrower ISA path the CPU supports (avx2, scalar: the micro-kernels),
 *   - the TS reference backend instead of native (gemm only: a TS training step takes minutes),
 *   - unfused kernels (training tasks): layer norm, GELU, cross-entropy, attention and AdamW composed from
 *     primitive ops (src/tensor/unfused.ts, FINTUNE_UNFUSED=1), as a framework without fused kernels runs them,
 *   - AdamW applied inside backward as each gradient becomes final (FINTUNE_STEP_IN_BACKWARD=1): the one
 *     configuration expected to beat the full one; reported as such (speed-up below 1), not made the default,
 *     because the trainer clips gradients by their global norm, which needs every gradient first,
 *   - (decode) the steps through the tensor API instead of one native call a token (FINTUNE_NATIVE_DECODE=0),
 *     no read-ahead by the pool's worker (FINTUNE_READ_AHEAD=0), and weights on 4 KiB pages
 *     (FINTUNE_HUGE_PAGES=0).
 */
import { spawnSync } from 'node:child_process';
import { loadNative } from '../tensor/native_backend.js';
import { round, type BenchRecord } from './common.js';

interface Config {
  name: string;
  args: string[];
  tasks: string[];
  env?: Record<string, string>;
}

function measure(task: string, c: Config, steps: number, warmup: number): BenchRecord {
  const a = [...process.execArgv, process.argv[1]!, 'bench', '--task', task, '--json', ...c.args];
  if (task !== 'gemm') a.push('--steps', String(steps), '--warmup', String(warmup));
  const env = {
    ...process.env,
    FINTUNE_UNFUSED: '0', FINTUNE_STEP_IN_BACKWARD: '0', FINTUNE_NATIVE_DECODE: '1', FINTUNE_READ_AHEAD: '1', FINTUNE_HUGE_PAGES: '1',
    ...c.env,
  };
  const r = spawnSync(process.execPath, a, { encoding: 'utf8', maxBuffer: 1 << 24, env });
  const line = r.stdout?.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (r.status !== 0 || !line) throw new Error(`bench --ablation: ${a.slice(-8).join(' ')} failed:\n${r.stderr?.slice(-2000)}`);
  return JSON.parse(line) as BenchRecord;
}

/** The figure of merit: tokens/s for training, the slowest shape's GFLOP/s for gemm. */
function value(rec: BenchRecord): number {
  if (rec.task === 'gemm') return Math.min(...Object.values(rec.gflops as Record<string, number>));
  return rec.tok_per_s ?? NaN;
}

/** What each decode feature is worth: the setting that turns it off. */
const decodeToggles: [string, Record<string, string>][] = [
  ['decode steps through the tensor API', { FINTUNE_NATIVE_DECODE: '0' }],
  ['no read-ahead', { FINTUNE_READ_AHEAD: '0' }],
  ['weights on 4 KiB pages', { FINTUNE_HUGE_PAGES: '0' }],
];

export function runAblation(tasks: string[], steps: number, warmup: number, emit: (rec: unknown) => void): void {
  const s = loadNative();
  if (!s.ok) throw new Error(`bench --ablation needs the native backend: ${s.reason}`);
  const best = s.info.supported[0]!;
  const training = tasks.filter((t) => t === 'full' || t === 'small');
  const decode = tasks.filter((t) => t === 'decode');
  const configs: Config[] = [
    { name: `native ${best} 2 threads`, args: ['--threads', '2'], tasks },
    { name: `native ${best} 1 thread`, args: ['--threads', '1'], tasks },
    ...s.info.supported.slice(1).map((simd) => ({ name: `native ${simd} 2 threads`, args: ['--threads', '2', '--simd', simd], tasks })),
    { name: 'ts backend', args: ['--backend', 'ts'], tasks: tasks.filter((t) => t === 'gemm') },
    { name: `native ${best} 2 threads, unfused kernels`, args: ['--threads', '2'], tasks: training, env: { FINTUNE_UNFUSED: '1' } },
    { name: `native ${best} 2 threads, AdamW inside backward`, args: ['--threads', '2'], tasks: training, env: { FINTUNE_STEP_IN_BACKWARD: '1' } },
    ...decodeToggles.map(([what, env]) => ({ name: `native ${best} 2 threads, ${what}`, args: ['--threads', '2'], tasks: decode, env })),
  ];
  for (const task of tasks) {
    let base = NaN;
    for (const c of configs) {
      if (!c.tasks.includes(task)) continue;
      const rec = measure(task, c, steps, warmup);
      const v = value(rec);
      if (Number.isNaN(base)) base = v;
      emit({
        task,
        ablation: c.name,
        metric: task === 'gemm' ? 'min_gflops' : 'tok_per_s',
        value: round(v, 1),
        // How much faster the full configuration is than this one (1 for the full configuration itself).
        full_config_speedup: round(base / v, 2),
        simd: rec.simd,
        threads: rec.threads,
        peak_rss_mib: rec.peak_rss_mib,
        ...(rec.peak_fraction !== undefined ? { peak_fraction: rec.peak_fraction } : {}),
        ...(rec.native_step !== undefined ? { native_step: rec.native_step } : {}),
      });
    }
  }
}
