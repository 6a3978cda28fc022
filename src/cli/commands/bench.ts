import { Option, type Command } from 'commander';
import { runAblation } from '../../bench/ablation.js';
import { runDecodeBench } from '../../bench/decode.js';
import { runGemmBench } from '../../bench/gemm.js';
import { runPeer } from '../../bench/peer.js';
import { runTrainBench, type TrainTaskName } from '../../bench/train.js';
import { loadNative, setNativeSimd, setNativeThreads } from '../../tensor/native_backend.js';
import { intArg, UsageError } from '../util.js';

const TASKS = ['gemm', 'full', 'small', 'lora', 'qlora', 'decode'];

export function register(program: Command): void {
  program
    .command('bench')
    .description('Benchmark fintune (GEMM, GPT-2 training, LoRA/QLoRA steps, decoding), optionally against its peers in the same run')
    .option('--task <task>', `${TASKS.join(', ')}, or all (comma-separated list allowed)`, 'gemm')
    .option('--ablation', 'what each part is worth: 1 vs 2 threads, each ISA path, native vs TS (one process each)')
    .option('--peer', 'interleave ours with the peers (PyTorch; onnxruntime for decode), one process per measurement, then print medians')
    .option('--repeat <n>', 'with --peer: measurements per engine and task', intArg('--repeat', 1), 3)
    .option('--threads <n>', 'threads for both engines (1 or 2)', intArg('--threads', 1, 2), 2)
    .option('--steps <n>', 'timed training steps', intArg('--steps', 1), 5)
    .option('--warmup <n>', 'untimed warm-up steps', intArg('--warmup', 0), 2)
    .option('--backend <name>', 'native or ts', 'native')
    .option('--simd <path>', 'force the native ISA path (avx512, avx2, scalar); default: the best this CPU has')
    .option('--dtype <dtype>', 'decode: weights fp32 or bf16 (bf16 storage, fp32 accumulation); --peer runs both', 'fp32')
    .option('--python <path>', 'Python for the peer', process.env.FINTUNE_PYTHON ?? '/usr/bin/python3')
    .option('--json', 'one JSON object a line (the default output; kept for symmetry with the peer)')
    .addOption(new Option('--profile', 'time every kernel call: kernel vs overhead ms per token (decode) or per step (training tasks), by operation').hideHelp())
    .addHelpText(
      'after',
      `
Tasks (GPT-2 124M, random init, seed 0, unless said):
  gemm    fp32 C = A·B at M = 512 and GPT-2's K×N shapes: GFLOP/s each, against the in-process FMA peak
  full    full training step (forward, cross-entropy, backward, AdamW) at batch 4 × 128
  small   the same for a 6-layer, 384-wide GPT at batch 8 × 128
  lora    LoRA r=8 α=16 on attn.c_attn (the library's --method lora), base frozen, batch 4 × 128
  qlora   the same on an NF4 base (double quantization, block size 64; --method qlora); adds base_bytes
  decode  greedy generation, batch 1, 32-token prompt + 128 new tokens with the KV cache (median of 3 runs);
          adds prefill_tok_per_s, weight_bytes_per_token, read_gbs and bandwidth_fraction

Fields match the peer's (../shared/bench/torch_peer.py): task, engine, threads, cpu, simd, dtype, shape, tok_per_s,
s_per_step, trainable_params, peak_rss_mib. With --peer or --ablation each measurement runs in its own process.

--peer: gemm, full, small and lora against torch_peer.py; decode runs ours fp32 and bf16, torch_peer.py and the
onnxruntime-node peer (../shared/bench/ort_peer.mjs) interleaved, the summary carries ratio_vs_torch, ratio_vs_ort,
ratio_bf16_vs_ort and bandwidth_fraction; qlora (no peer does it) runs ours qlora and lora, the summary carries
step_time_vs_lora. The PyTorch peer needs Debian's PyTorch, and the ONNX export the onnx module:
  apt-get install -y python3-torch libopenblas0-pthread python3-onnx
The ONNX model (~650 MB) is exported once to $XDG_CACHE_HOME/fintune/bench/gpt2_step.onnx (else ~/.cache/...)
and reused; without it the onnxruntime peer is skipped and the summary says why.

Examples:
  $ fintune bench --task gemm --json
  $ fintune bench --task gemm,full --peer --repeat 3
  $ fintune bench --task decode --dtype bf16
  $ fintune bench --task decode,lora,qlora --peer --repeat 3
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
        dtype: string;
        profile?: boolean;
      }) => {
        const tasks = o.task === 'all' ? TASKS : o.task.split(',');
        for (const t of tasks) if (!TASKS.includes(t)) throw new UsageError(`--task must be one of ${TASKS.join(', ')}, all; got "${t}"`);
        if (o.backend !== 'native' && o.backend !== 'ts') throw new UsageError(`--backend must be native or ts, got "${o.backend}"`);
        if (o.dtype !== 'fp32' && o.dtype !== 'bf16') throw new UsageError(`--dtype must be fp32 or bf16, got "${o.dtype}"`);
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
          else if (task === 'decode') emit(runDecodeBench({ backend, dtype: o.dtype as 'fp32' | 'bf16', profile: o.profile }));
          else emit(runTrainBench({ task: task as TrainTaskName, backend, steps: o.steps, warmup: o.warmup, profile: o.profile }));
        }
      },
    );
}
