/**
 * The decode benchmark, the same work as the PyTorch peer's `decode` task: GPT-2 124M (random init, seed 0, the
 * `full` task's config), batch 1, greedy, a 32-token prompt then 128 new tokens with the KV cache, through the
 * library's own generation path (`generate()`). tokens/s = 127 decode steps / their seconds and prefill tokens/s =
 * 32 / the prefill's seconds, both from the median of 3 runs (by decode speed), each run with a fresh random
 * prompt, as the peer does.
 *
 * `dtype: 'bf16'` stores every weight matrix in bf16 (the same values as the fp32 init, rounded) and computes in
 * fp32, as `generate --dtype bf16` loads models. Decoding at batch 1 reads every weight matrix once a token, so
 * the record also carries `weight_bytes_per_token` (the matrices of the blocks and the LM head, as stored),
 * the read bandwidth the native backend measures in this process right after the reported run (`read_gbs`,
 * when the addon can measure it) and `bandwidth_fraction` = weight bytes per token × tokens/s / read bandwidth:
 * how close decoding runs to streaming the weights from memory.
 *
 * `native_step` says whether the decode steps ran as one native call a token (GPT2.stepDecoder) or through the
 * tensor API. `profile: true` times every backend call and adds `kernel_ms_per_token` / `overhead_ms_per_token`
 * (the rest: JS glue, allocation, argmax) for the decode steps; since a one-call step makes its kernel calls from
 * C, where they cannot be timed one by one, the profile runs the steps through the tensor API (`native_step`
 * false); the timing wrapper itself costs a little.
 */
import { generate } from '../generate/generate.js';
import { GPT2, type GPT2Options } from '../models/gpt2.js';
import { setNativeDecode } from '../models/native_step.js';
import { withMatrixDtype } from '../nn/module.js';
import type { Module } from '../nn/module.js';
import { setBackend } from '../tensor/backends.js';
import { DTYPE_BYTES } from '../tensor/dtype.js';
import { f32ToBf16 } from '../tensor/half.js';
import { loadNative, nativeReadBandwidth } from '../tensor/native_backend.js';
import { createRng } from '../tensor/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { benchBackend, benchTiny, cpuModel, engineName, kernelMsByOp, peakRssMib, round, timedBackend, type BenchRecord, type Clock } from './common.js';
import { TINY_TASK, TRAIN_TASKS } from './train.js';

export interface DecodeShape {
  prompt: number;
  newTokens: number;
  runs: number;
}

export const DECODE_SHAPE: DecodeShape = { prompt: 32, newTokens: 128, runs: 3 };
/** FINTUNE_BENCH_TINY's decode (tests only), on TINY_TASK's model. */
export const TINY_DECODE_SHAPE: DecodeShape = { prompt: 8, newTokens: 16, runs: 3 };

export type DecodeDtype = 'fp32' | 'bf16';

export interface DecodeBenchOptions {
  backend: 'native' | 'ts';
  dtype?: DecodeDtype;
  profile?: boolean;
  /** Measure the read bandwidth for this long (seconds) when the addon can; 0 skips it. */
  bandwidthSeconds?: number;
}

/** The native backend's in-process read bandwidth (GB/s), or null without the addon or a usable reading. */
export function measuredReadBandwidth(seconds: number): number | null {
  if (!loadNative().ok) return null;
  const v = nativeReadBandwidth(seconds);
  return Number.isFinite(v) && v > 0 ? v : null;
}

/**
 * The benchmark's GPT-2, initialized exactly as `GPT2.initWeights(seed)` (same stream, same order). For bf16 the
 * matrices are allocated in bf16 from the start (a 124M model never sits in fp32) and each one is drawn into a
 * scratch fp32 buffer and rounded, so the bf16 model holds the fp32 model's values rounded to bf16.
 */
export function benchModel(spec: GPT2Options, dtype: DecodeDtype, seed = 0): GPT2 {
  if (dtype === 'fp32') {
    const m = new GPT2(spec);
    m.initWeights(seed);
    return m;
  }
  const model = withMatrixDtype('bf16', () => new GPT2(spec));
  const rng = createRng(seed, 'init');
  const std = 0.02;
  for (const [name, p] of model.namedParameters()) {
    if (name.endsWith('.bias')) (p.data as Float32Array).fill(0);
    else if (/ln_\d\.weight$|ln_f\.weight$/.test(name)) (p.data as Float32Array).fill(1);
    else {
      const s = name.endsWith('c_proj.weight') ? std / Math.sqrt(2 * model.config.nLayer) : std;
      if (p.dtype === 'bf16') (p.data as Uint16Array).set(f32ToBf16(rng.fillNormal(new Float32Array(p.size), 0, s)));
      else rng.fillNormal(p.data as Float32Array, 0, s);
    }
  }
  return model;
}

/**
 * Bytes of the weight matrices one decode step reads: every 2-D weight of the blocks (attention and MLP
 * projections, as stored) and the LM head once; the embedding tables are looked up one row a token and not
 * counted (with a tied head, the table is counted once, as the head).
 */
export function weightBytesPerToken(model: GPT2): number {
  const head = model.lm_head.weight;
  const tables = new Set<Tensor>([model.transformer.wte.weight, model.transformer.wpe.weight]);
  let n = head.size * DTYPE_BYTES[head.dtype];
  for (const p of (model.transformer.h as Module[]).flatMap((b) => b.parameters())) {
    if (p.ndim === 2 && !tables.has(p) && p !== head) n += p.size * DTYPE_BYTES[p.dtype];
  }
  return n;
}

interface RunTimes {
  prefillS: number;
  decodeS: number;
  kernelNs: bigint;
  byOp: Map<PropertyKey, bigint>;
}

/** One greedy generation; times the prefill (to the first token) and the decode steps after it. */
function decodeRun(model: GPT2, prompt: number[], newTokens: number, clock: Clock): RunTimes {
  let t1 = 0n;
  let t2 = 0n;
  let k1 = 0n;
  let k2 = 0n;
  let ops1 = new Map<PropertyKey, bigint>();
  let ops2 = new Map<PropertyKey, bigint>();
  const t0 = process.hrtime.bigint();
  generate(model, [prompt], {
    maxNewTokens: newTokens,
    onToken: (step) => {
      if (step === 0) {
        t1 = process.hrtime.bigint();
        k1 = clock.ns;
        ops1 = new Map(clock.byOp);
      }
      if (step === newTokens - 1) {
        t2 = process.hrtime.bigint();
        k2 = clock.ns;
        ops2 = new Map(clock.byOp);
      }
    },
  });
  const byOp = new Map([...ops2].map(([k, v]) => [k, v - (ops1.get(k) ?? 0n)] as const));
  return { prefillS: Number(t1 - t0) / 1e9, decodeS: Number(t2 - t1) / 1e9, kernelNs: k2 - k1, byOp };
}

export function runDecodeBench(o: DecodeBenchOptions): BenchRecord {
  const dtype = o.dtype ?? 'fp32';
  const spec = benchTiny() ? TINY_TASK.model : TRAIN_TASKS.full.model;
  const shape = benchTiny() ? TINY_DECODE_SHAPE : DECODE_SHAPE;
  const be = benchBackend(o.backend);
  const clock: Clock = { ns: 0n, byOp: new Map() };
  const model = benchModel(spec, dtype, 0);
  model.eval();
  // Set right before the try whose finally restores them.
  if (o.profile) setBackend(timedBackend(be, clock));
  const nativeStepWas = o.profile ? setNativeDecode(false) : null;
  const V = spec.vocabSize;
  const rng = createRng(1, 'bench-prompt');
  const probeS = o.backend === 'native' ? (o.bandwidthSeconds ?? 0.5) / shape.runs : 0;
  const runs: (RunTimes & { gbs: number | null })[] = [];
  let rss = 0;
  let nativeStep = false;
  try {
    const probe = model.makeCaches(1, 2);
    nativeStep = model.stepDecoder(probe, null) !== null;
    for (const c of probe) c.dispose();
    for (let r = 0; r < shape.runs; r++) {
      const prompt = Array.from({ length: shape.prompt }, () => rng.randint(V));
      const times = decodeRun(model, prompt, shape.newTokens, clock);
      // Peak RSS of the decoding itself, before the bandwidth probe's buffer (256 MiB) first exists.
      if (r === 0) rss = peakRssMib();
      // The yardstick is measured right after each run rather than once: this VM's read bandwidth moves by a
      // factor of up to 1.7 from one minute to the next (other tenants), so a reading taken at another time
      // says more about the host than about the GEMV.
      runs.push({ ...times, gbs: probeS > 0 ? measuredReadBandwidth(probeS) : null });
    }
  } finally {
    if (o.profile) setBackend(be);
    if (nativeStepWas !== null) setNativeDecode(nativeStepWas);
  }
  // The median run by decode speed (the peer's rule); its prefill and its bandwidth reading are reported with it.
  const steps = shape.newTokens - 1;
  const run = [...runs].sort((a, b) => a.decodeS - b.decodeS)[Math.floor(runs.length / 2)]!;
  const tokPerS = steps / run.decodeS;
  const wbytes = weightBytesPerToken(model);
  const gbs = run.gbs;
  const kernelMs = Number(run.kernelNs) / 1e6 / steps;
  const stepMs = (run.decodeS * 1e3) / steps;
  return {
    task: 'decode',
    engine: engineName(be.name),
    threads: be.threads,
    cpu: cpuModel(),
    simd: be.simd,
    dtype,
    shape: `prompt${shape.prompt}+new${shape.newTokens}`,
    prefill_tok_per_s: round(shape.prompt / run.prefillS, 1),
    tok_per_s: round(tokPerS, 1),
    s_per_step: round(run.decodeS / steps, 5),
    weight_bytes_per_token: wbytes,
    read_gbs: gbs === null ? null : round(gbs, 2),
    bandwidth_fraction: gbs === null ? null : round((wbytes * tokPerS) / (gbs * 1e9), 3),
    native_step: nativeStep,
    ...(o.profile
      ? {
          kernel_ms_per_token: round(kernelMs, 3),
          overhead_ms_per_token: round(stepMs - kernelMs, 3),
          overhead_fraction: round((stepMs - kernelMs) / stepMs, 4),
          kernel_ms_per_token_by_op: kernelMsByOp(run.byOp, steps),
        }
      : {}),
    peak_rss_mib: rss,
  };
}
