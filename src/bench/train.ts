/**
 * Training-step benchmarks, the same work as the PyTorch peer's `full`, `small` and `lora` tasks: a randomly
 * initialized GPT (tied head, fp32), random token batches, one step = forward + mean cross-entropy + backward +
 * AdamW (lr 1e-4, weight decay 0.1 on every trainable parameter, like the peer) + zeroing the gradients. Median
 * over the timed steps after warm-up; tokens/s = B·T / median seconds.
 *
 * `lora` applies the library's own LoRA (the registry `finetune --method lora` uses): r = 8, α = 16, no dropout,
 * on attn.c_attn, base frozen. `qlora` is the registry's qlora method: every linear of the blocks quantized to
 * NF4 (double quantization, block size 64), then the same LoRA; its record adds the base's bytes as stored.
 */
import { GPT2, type GPT2Options } from '../models/gpt2.js';
import { AdamW } from '../nn/optim.js';
import { applyMethod } from '../peft/registry.js';
import { quantizedModules, quantizedWeightBytes } from '../peft/quant/model.js';
import type { Module } from '../nn/module.js';
import { DTYPE_BYTES } from '../tensor/dtype.js';
import { crossEntropy, fromArray, tidy } from '../tensor/index.js';
import { setBackend } from '../tensor/backends.js';
import { benchBackend, benchTiny, cpuModel, engineName, kernelMsByOp, gemmMsByShape, median, peakRssMib, round, timedBackend, type BenchRecord, type Clock } from './common.js';

export interface TrainTask {
  model: GPT2Options;
  B: number;
  T: number;
}

export const TRAIN_TASKS: Record<'full' | 'small', TrainTask> = {
  // GPT-2 124M: 12 layers, 12 heads, 768 wide, vocab 50257, context 1024; batch 4 × 128.
  full: { model: { vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12 }, B: 4, T: 128 },
  // 6 layers, 6 heads, 384 wide, same vocabulary; batch 8 × 128.
  small: { model: { vocabSize: 50257, nPositions: 1024, nEmbd: 384, nLayer: 6, nHead: 6 }, B: 8, T: 128 },
};

/** FINTUNE_BENCH_TINY's model and batch (tests only): 2 layers, 64 wide, vocabulary 512; batch 2 × 16. */
export const TINY_TASK: TrainTask = { model: { vocabSize: 512, nPositions: 128, nEmbd: 64, nLayer: 2, nHead: 2 }, B: 2, T: 16 };

export type TrainTaskName = 'full' | 'small' | 'lora' | 'qlora';

/** The model and batch a task runs: lora and qlora train GPT-2 124M at `full`'s shape. */
export function trainTaskSpec(task: TrainTaskName): TrainTask {
  if (benchTiny()) return TINY_TASK;
  return task === 'small' ? TRAIN_TASKS.small : TRAIN_TASKS.full;
}

/** The peer's LoRA: r = 8, α = 16 on attn.c_attn (q, k, v), no dropout. */
export const BENCH_LORA = { r: 8, loraAlpha: 16, loraDropout: 0, targetModules: ['c_attn'] };

/**
 * Bytes the frozen base holds as stored: every parameter that does not train (in its own dtype) plus the
 * quantized weights (codes, absmaxes, nested state, shared tables once). Adapters and trainable parameters are
 * not counted.
 */
export function baseBytes(model: Module): number {
  let n = 0;
  for (const p of model.parameters()) if (!p.requiresGrad) n += p.size * DTYPE_BYTES[p.dtype];
  return n + quantizedWeightBytes(quantizedModules(model).map(([, m]) => m.qweight));
}

export interface TrainBenchOptions {
  task: TrainTaskName;
  backend: 'native' | 'ts';
  steps?: number;
  warmup?: number;
  /**
   * Apply AdamW to each parameter as soon as its gradient is final, inside backward (Optimizer.stepInBackward);
   * default: FINTUNE_STEP_IN_BACKWARD=1 in the environment (how `bench --ablation` toggles it).
   */
  stepInBackward?: boolean;
  /** Time every backend call: adds kernel and overhead milliseconds per step, and kernel time by operation. */
  profile?: boolean;
}

/** Deterministic token ids in [0, V) (a fresh batch each step, like the peer's torch.randint). */
function tokenBatch(n: number, V: number, seed: number): Int32Array {
  const ids = new Int32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    ids[i] = s % V;
  }
  return ids;
}

export function runTrainBench(o: TrainBenchOptions): BenchRecord {
  const steps = o.steps ?? 5;
  const warmup = o.warmup ?? 2;
  const spec = trainTaskSpec(o.task);
  const be = benchBackend(o.backend);
  const clock: Clock = { ns: 0n, byOp: new Map(), byGemm: new Map() };
  const model = new GPT2(spec.model);
  model.initWeights(0);
  if (o.task === 'lora') applyMethod(model, 'lora', BENCH_LORA);
  // The registry's qlora: NF4 with double quantization at the default block size (64), then the same LoRA.
  if (o.task === 'qlora') applyMethod(model, 'qlora', { ...BENCH_LORA, quantType: 'nf4', doubleQuant: true });
  model.train();
  const params = model.parameters().filter((p) => p.requiresGrad);
  const opt = new AdamW(params, { lr: 1e-4, weightDecay: 0.1 });
  const { B, T } = spec;
  const V = spec.model.vocabSize;
  const inBackward = o.stepInBackward ?? process.env.FINTUNE_STEP_IN_BACKWARD === '1';
  const onGradFinal = inBackward ? opt.stepInBackward() : undefined;
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const x = tokenBatch(B * (T + 1), V, i + 1);
    const inp = new Int32Array(B * T);
    const tgt = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      inp.set(x.subarray(b * (T + 1), b * (T + 1) + T), b * T);
      tgt.set(x.subarray(b * (T + 1) + 1, (b + 1) * (T + 1)), b * T);
    }
    if (o.profile && i === warmup) setBackend(timedBackend(be, clock)); // time the timed steps only
    const t0 = process.hrtime.bigint();
    tidy(() => {
      const logits = model.forward(fromArray(inp, [B, T]));
      const loss = crossEntropy(logits, fromArray(tgt, [B, T]));
      loss.backward(undefined, { onGradFinal });
    });
    if (!inBackward) opt.step();
    opt.zeroGrad();
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (i >= warmup) times.push(dt);
  }
  if (o.profile) setBackend(be);
  const s = median(times);
  const totalS = times.reduce((a, b) => a + b, 0);
  const kernelMs = Number(clock.ns) / 1e6 / steps;
  return {
    task: o.task,
    engine: engineName(be.name),
    threads: be.threads,
    cpu: cpuModel(),
    simd: be.simd,
    dtype: 'fp32',
    shape: `B${B}xT${T}`,
    tok_per_s: round((B * T) / s, 1),
    s_per_step: round(s, 4),
    trainable_params: params.reduce((n, p) => n + p.size, 0),
    ...(o.task === 'lora' || o.task === 'qlora' ? { base_bytes: baseBytes(model) } : {}),
    ...(o.task === 'qlora' ? { base_dtype: 'nf4' } : {}),
    peak_rss_mib: peakRssMib(),
    ...(inBackward ? { adamw_in_backward: true } : {}),
    ...(o.profile
      ? {
          kernel_ms_per_step: round(kernelMs, 1),
          overhead_ms_per_step: round((totalS * 1e3) / steps - kernelMs, 1),
          kernel_ms_per_step_by_op: kernelMsByOp(clock.byOp, steps),
          gemm_ms_per_step_by_shape: gemmMsByShape(clock.byGemm!, steps),
        }
      : {}),
  };
}
