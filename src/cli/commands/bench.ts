import type { Command } from 'commander';
import { runAblation } from '../../bench/ablation.js';
import { runGemmBench } from '../../bench/gemm.js';
import { runPeer } from '../../bench/peer.js';
import { runTrainBench } from '../../bench/train.js';
import { loadNative, setNativeSimd, setNativeThreads } from '../../tensor/native_backend.js';
import { intArg, UsageError } from '../util.js';

const TASKS = ['gemm', 'full', 'small'];

export function register(program: Command): void {
  program
    .command('bench')
    .description('Benchmark fintune (GEMM, GPT-2 training steps), optionally against the PyTorch peer in the same run')
    .option('--task <task>', `gemm, full, small, or all (comma-separated list allowed)`, 'gemm')
    .option('--ablation', 'what each part is worth: 1 vs 2 threads, each ISA path, native vs TS (one process each)')
    .option('--peer', 'interleave ours with ../shared/bench/torch_peer.py, one process per measurement, then print medians')
    .option('--repeat <n>', 'with --peer: measurements per engine and task', intArg('--repeat', 1), 3)
    .option('--threads <n>', 'threads for both engines (1 or 2)', intArg('--threads', 1, 2), 2)
    .option('--steps <n>', 'timed training steps', intArg('--steps', 1), 5)
    .option('--warmup <n>', 'untimed warm-up steps', intArg('--warmup', 0), 2)
    .option('--backend <name>', 'native or ts', 'native')
    .option('--simd <path>', 'force the native ISA path (avx512, avx2, scalar); default: the best this CPU has')
    .option('--python <path>', 'Python for the peer', process.env.FINTUNE_PYTHON ?? '/usr/bin/python3')
    .option('--json', 'one JSON object a line (the default output; kept for symmetry with the peer)')
    .addHelpText(
      'after',
      `
Fields match the peer's: task, engine, threads, cpu, simd, dtype, shape, tok_per_s, s_per_step, trainable_params,
peak_rss_mib; gemm adds gflops per shape, the in-process FMA peak and peak_fraction (min over shapes of
gflops / peak). The peer needs Debian's PyTorch: apt-get install -y python3-torch libopenblas0-pthread.

Examples:
  $ fintune bench --task gemm --json
  $ fintune bench --task gemm,full --peer --repeat 3
  $ fintune bench --task small --threads 1 --simd avx2
  $ fintune bench --task gemm,small --ablation`,
    )
    .action(
      (o: {
        task: string;
        peer?: boolean;
        ablation?: boolean;
        repeat: number;
        threads: number;
        steps: number;
        warmup: number;
        backend: string;
        simd?: string;
        python: string;
      }) => {
        const tasks = o.task === 'all' ? TASKS : o.task.split(',');
        for (const t of tasks) if (!TASKS.includes(t)) throw new UsageError(`--task must be one of ${TASKS.join(', ')}, all; got "${t}"`);
        if (o.backend !== 'native' && o.backend !== 'ts') throw new UsageError(`--backend must be native or ts, got "${o.backend}"`);
        const emit = (rec: unknown) => process.stdout.write(JSON.stringify(rec) + '\n');
        if (o.ablation) {
          runAblation(tasks, o.steps, o.warmup, emit);
          return;
        }
        if (o.peer) {
          // Children inherit the ISA choice through the environment.
          if (o.simd) process.env.FINTUNE_SIMD = o.simd;
          runPeer({ tasks, repeat: o.repeat, threads: o.threads, steps: o.steps, warmup: o.warmup, python: o.python, emit });
          return;
        }
        if (o.backend === 'native') {
          const s = loadNative();
          if (!s.ok) throw new Error(`bench: the native backend is unavailable: ${s.reason}`);
          if (o.simd) setNativeSimd(o.simd);
          setNativeThreads(o.threads);
        }
        const backend = o.backend as 'native' | 'ts';
        for (const task of tasks) {
          if (task === 'gemm') emit(runGemmBench({ backend }));
          else emit(runTrainBench({ task: task as 'full' | 'small', backend, steps: o.steps, warmup: o.warmup }));
        }
      },
    );
}
