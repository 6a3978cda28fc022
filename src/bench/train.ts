/**
 * Training-step benchmarks, the same work as the PyTorch peer's `full` and `small` tasks: a randomly initialized
 * GPT (tied head, fp32), random token batches, one step = forward + mean cross-entropy + backward + AdamW
 * (lr 1e-4, weight decay 0.1 on every parameter, like the peer) + zeroing the gradients. Median over the timed
 * steps after warm-up; tokens/s = B·T / median seconds.
 */
import { GPT2, type GPT2Options } from '../models/gpt2.js';
import { AdamW } from '../nn/optim.js';
import { crossEntropy, fromArray, tidy } from '../tensor/index.js';
import { getBackend, setBackend, tsBackend } from '../tensor/backends.js';
import { getNativeBackend, loadNative } from '../tensor/native_backend.js';
import { cpuModel, engineName, median, peakRssMib, round, type BenchRecord } from './common.js';

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

export interface TrainBenchOptions {
  task: 'full' | 'small';
  backend: 'native' | 'ts';
  steps?: number;
  warmup?: number;
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
  const spec = TRAIN_TASKS[o.task];
  if (o.backend === 'native') {
    const nb = getNativeBackend();
    if (!nb) throw new Error(`bench: the native backend is unavailable: ${(loadNative() as { reason: string }).reason}`);
    setBackend(nb);
  } else {
    setBackend(tsBackend);
  }
  const be = getBackend();
  const model = new GPT2(spec.model);
  model.initWeights(0);
  model.train();
  const params = model.parameters().filter((p) => p.requiresGrad);
  const opt = new AdamW(params, { lr: 1e-4, weightDecay: 0.1 });
  const { B, T } = spec;
  const V = spec.model.vocabSize;
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const x = tokenBatch(B * (T + 1), V, i + 1);
    const inp = new Int32Array(B * T);
    const tgt = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      inp.set(x.subarray(b * (T + 1), b * (T + 1) + T), b * T);
      tgt.set(x.subarray(b * (T + 1) + 1, (b + 1) * (T + 1)), b * T);
    }
    const t0 = process.hrtime.bigint();
    tidy(() => {
      const logits = model.forward(fromArray(inp, [B, T]));
      const loss = crossEntropy(logits, fromArray(tgt, [B, T]));
      loss.backward();
    });
    opt.step();
    opt.zeroGrad();
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (i >= warmup) times.push(dt);
  }
  const s = median(times);
  return {
    task: o.task,
    engine: engineName(be.name),
    threads: be.threads,
    cpu: cpuModel(),
    simd: be.simd,
    dtype: 'fp32',
    shape: `B${B}xT${T}`,
    tok_per_s: round((B * T) / s, 1),
    s_per_step: round(s, 3),
    trainable_params: params.reduce((n, p) => n + p.size, 0),
    peak_rss_mib: peakRssMib(),
  };
}
