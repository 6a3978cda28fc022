/**
 * Choosing a method before training: for one model, each method's trainable parameters, the size of what it
 * saves, an estimate of training memory, and a recommendation from the data size and a memory budget.
 *
 * Counts are computed from the model's structure (the same targets the methods inject into; a test checks
 * them against applying every method). Memory is an estimate — weights + gradients + AdamW's two moments +
 * activations kept for backward + a fixed runtime overhead — not a measurement.
 */
import type { CausalLM } from '../models/common.js';
import { blocks, dims, findTargets, getModule, matchesTarget, modelFamily, type LinearLike } from './common.js';
import { LORA_DEFAULT_TARGETS } from './lora/config.js';
import { IA3_DEFAULT_FEEDFORWARD, IA3_DEFAULT_TARGETS } from './ia3/config.js';

export interface PlanOptions {
  r?: number;
  numVirtualTokens?: number;
  batch?: number;
  seqLen?: number;
  /** Training examples available (drives the recommendation). */
  examples?: number;
  /** Memory budget in bytes. */
  budgetBytes?: number;
}

export interface PlanRow {
  method: string;
  trainable: number;
  total: number;
  percent: number;
  /** Bytes of what the method saves (adapter file, or the whole model). */
  artefactBytes: number;
  /** Estimated peak training memory in bytes. */
  memoryBytes: number;
  /** Why the method cannot run on this model, if it cannot. */
  unavailable?: string;
}

/** Node + the tensor library's fixed cost, measured as the RSS of an idle process with the library loaded. */
const RUNTIME_BYTES = 80e6;
/** Bytes per weight of an NF4 layer: 4-bit codes + a double-quantized absmax per 64 (≈ 0.127 bits) + tables. */
const NF4_BYTES_PER_WEIGHT = 0.5 + 0.127 / 8 + 0.01;

export function planMethods(model: CausalLM, o: PlanOptions = {}): PlanRow[] {
  const r = o.r ?? 8;
  const P = o.numVirtualTokens ?? 20;
  const B = o.batch ?? 8;
  const T = o.seqLen ?? 256;
  const d = dims(model);
  const fam = modelFamily(model);
  const params = model.namedParameters();
  const total = params.reduce((s, [, p]) => s + p.size, 0);
  const biases = params.filter(([k]) => k.endsWith('.bias')).reduce((s, [, p]) => s + p.size, 0);
  const linears = (targets: string[] | string): [string, LinearLike][] => findTargets(model, targets).map((n) => [n, getModule(model, n) as LinearLike]);
  const loraCount = linears(LORA_DEFAULT_TARGETS[fam]!).reduce((s, [, l]) => s + r * (l.inFeatures + l.outFeatures), 0);
  const doraExtra = linears(LORA_DEFAULT_TARGETS[fam]!).reduce((s, [, l]) => s + l.outFeatures, 0);
  const ff = IA3_DEFAULT_FEEDFORWARD[fam]!;
  const ia3 = linears(IA3_DEFAULT_TARGETS[fam]!).reduce((s, [n, l]) => s + (matchesTarget(n, ff) ? l.inFeatures : l.outFeatures), 0);
  const nb = blocks(model).length;
  const adapter = (m: number): number => 2 * d.hidden * m + m + d.hidden;
  const seqM = Math.max(1, Math.floor(d.hidden / 16));
  const parM = Math.max(1, Math.floor(d.hidden / 2));
  const mql5 = nb * adapter(64);
  // Linear weights a QLoRA base stores in NF4 (everything but embeddings, norms and the head).
  const linearWeights = linears('all-linear').reduce((s, [, l]) => s + l.inFeatures * l.outFeatures, 0);

  const inter = (() => {
    const first = blocks(model)[0];
    if (!first) return 4 * d.hidden;
    const mlp = getModule(model, `${first.path}.${first.mlp}`) as unknown as Record<string, LinearLike>;
    return (mlp.c_fc ?? mlp.up_proj)?.outFeatures ?? 4 * d.hidden;
  })();
  // Activations kept for backward, in float32 values: per layer ≈ 10 hidden-wide tensors (norm outputs,
  // projections, attention output, residuals) and 2–3 MLP-wide ones; the logits and their gradient.
  const activations = (extraT = 0): number => 4 * (d.layers * B * (T + extraT) * (10 * d.hidden + 3 * inter) + 2 * B * T * d.vocab);
  const weightBytes = total * 4;

  const row = (method: string, trainable: number, artefact: number, opts: { weights?: number; extraT?: number; total?: number; unavailable?: string } = {}): PlanRow => {
    const tot = opts.total ?? total + (method === 'full' || method === 'bitfit' ? 0 : trainable);
    const memory = (opts.weights ?? weightBytes) + trainable * 4 * 3 + activations(opts.extraT ?? 0) + RUNTIME_BYTES;
    return { method, trainable, total: tot, percent: tot ? (100 * trainable) / tot : 0, artefactBytes: artefact, memoryBytes: memory, ...(opts.unavailable ? { unavailable: opts.unavailable } : {}) };
  };
  const file = (n: number): number => n * 4 + 1024; // float32 tensors + JSON header
  return [
    row('full', total, total * 4, { total }),
    row('lora', loraCount, file(loraCount)),
    row('rslora', loraCount, file(loraCount)),
    row('dora', loraCount + doraExtra, file(loraCount + doraExtra)),
    row('qlora', loraCount, file(loraCount), { weights: weightBytes - linearWeights * (4 - NF4_BYTES_PER_WEIGHT) }),
    row('ia3', ia3, file(ia3)),
    row('prefix', P * d.layers * 2 * d.kvHeads * d.headDim, file(P * d.layers * 2 * d.kvHeads * d.headDim), { extraT: P }),
    row('prompt', P * d.hidden, file(P * d.hidden), { extraT: P }),
    row('bitfit', biases, file(biases), { total, unavailable: biases ? undefined : 'the model has no bias parameters' }),
    row('houlsby', 2 * nb * adapter(seqM), file(2 * nb * adapter(seqM))),
    row('pfeiffer', nb * adapter(seqM), file(nb * adapter(seqM))),
    row('parallel', nb * adapter(parM), file(nb * adapter(parM))),
    row('mql5-stacked', total + mql5, (total + mql5) * 4, { total: total + mql5 }),
  ];
}

export interface Recommendation {
  method: string;
  reason: string;
}

/**
 * A method for this data size and budget. Few examples favour few trainable parameters (prompt tuning, LoRA
 * of small rank) because they overfit less; plenty favour capacity (LoRA of higher rank, DoRA, full). A tight
 * budget removes what does not fit, QLoRA last of all.
 */
export function recommend(rows: PlanRow[], o: PlanOptions = {}): Recommendation {
  const n = o.examples;
  const budget = o.budgetBytes;
  const fits = (m: string): boolean => {
    const r = rows.find((x) => x.method === m);
    return !!r && !r.unavailable && (budget === undefined || r.memoryBytes <= budget);
  };
  const gb = (b: number): string => `${(b / 1e9).toFixed(2)} GB`;
  let order: string[];
  let why: string;
  if (n !== undefined && n < 200) {
    order = ['prompt', 'lora', 'ia3', 'qlora'];
    why = `${n} examples: few trainable parameters overfit least (prompt tuning, or LoRA with r 4)`;
  } else if (n !== undefined && n < 5000) {
    order = ['lora', 'dora', 'qlora', 'ia3', 'prompt'];
    why = `${n} examples: LoRA (r 8–16) has the capacity without the memory of full fine-tuning`;
  } else {
    order = ['full', 'dora', 'lora', 'qlora', 'ia3', 'prompt'];
    why = n !== undefined ? `${n} examples: enough data to use full fine-tuning's capacity` : 'no example count given: the most capable method that fits';
  }
  for (const m of order) {
    if (fits(m)) {
      const r = rows.find((x) => x.method === m)!;
      const mem = budget !== undefined ? `; needs ≈${gb(r.memoryBytes)} of the ${gb(budget)} budget` : '';
      const skipped = order.slice(0, order.indexOf(m)).filter((x) => !fits(x));
      return { method: m, reason: why + (skipped.length ? `; ${skipped.join(', ')} would not fit` : '') + mem };
    }
  }
  const least = [...rows].filter((r) => !r.unavailable).sort((a, b) => a.memoryBytes - b.memoryBytes)[0]!;
  return { method: least.method, reason: `nothing fits the budget; ${least.method} needs the least (≈${gb(least.memoryBytes)}): shorten sequences or batches` };
}
