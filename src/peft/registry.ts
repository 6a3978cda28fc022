/**
 * Every fine-tuning method, one line each: its name, what it trains, whether it starts exactly at the base
 * model, whether Python PEFT can read its saved adapter, and how to apply it. `applyMethod(model, name, options)`
 * is what the trainer, the study and the CLI call; options are the method's config fields (camelCase).
 */
import type { CausalLM } from '../models/common.js';
import { injectLora } from './lora/model.js';
import { injectIa3 } from './ia3/model.js';
import { injectPrefix } from './prefix/model.js';
import { injectPrompt } from './prompt/model.js';
import { applyBitFit } from './bitfit/model.js';
import { injectBottleneck } from './bottleneck/model.js';
import { applyFull } from './full/model.js';
import { quantizeModel } from './quant/index.js';
import { mergeAndUnload } from './merge.js';
import { trainableParameters, type TrainableCount } from './common.js';

type Opts = Record<string, unknown>;

export interface MethodSpec {
  name: string;
  description: string;
  /** Starts at exactly the base model's outputs (an untrained adapter is the identity). */
  zeroInit: boolean;
  /** Leaves the base weights untouched while training. */
  frozenBase: boolean;
  /** Saved so Hugging Face PEFT loads it. */
  peftFormat: boolean;
  mergeable: boolean;
  apply(model: CausalLM, o: Opts, name: string): void;
}

export interface AppliedMethod {
  name: string;
  method: string;
  counts: TrainableCount;
  /** Fold into the base weights and put the plain layers back (LoRA, DoRA, IA3 only). */
  merge?: () => void;
}

const num = (o: Opts, k: string, d: number): number => (o[k] === undefined ? d : Number(o[k]));

export const METHODS: MethodSpec[] = [
  { name: 'full', description: 'every weight trains (options: freezeEmbeddings, freezeLayers)', zeroInit: true, frozenBase: false, peftFormat: false, mergeable: false, apply: (m, o) => applyFull(m, o) },
  { name: 'lora', description: 'low-rank ΔW = (α/r)·B·A on target linears', zeroInit: true, frozenBase: true, peftFormat: true, mergeable: true, apply: (m, o, n) => void injectLora(m, o, n) },
  { name: 'rslora', description: 'LoRA scaled by α/√r (rank-stabilized)', zeroInit: true, frozenBase: true, peftFormat: true, mergeable: true, apply: (m, o, n) => void injectLora(m, { ...o, useRslora: true }, n) },
  { name: 'dora', description: 'LoRA direction + learned per-output magnitude', zeroInit: true, frozenBase: true, peftFormat: true, mergeable: true, apply: (m, o, n) => void injectLora(m, { ...o, useDora: true }, n) },
  // QLoRA composes src/peft/quant (NF4 base, quantized in place) with LoRA; options: quantType, doubleQuant, LoRA's.
  { name: 'qlora', description: 'LoRA on an NF4-quantized frozen base', zeroInit: false, frozenBase: true, peftFormat: true, mergeable: false, apply: (m, o, n) => { const { quantType, doubleQuant, ...lora } = o; quantizeModel(m, { type: (quantType as 'nf4') ?? 'nf4', doubleQuant: (doubleQuant as boolean) ?? true }); injectLora(m, lora, n); } },
  { name: 'ia3', description: 'learned scales of attention outputs and FFN inputs', zeroInit: true, frozenBase: true, peftFormat: true, mergeable: true, apply: (m, o, n) => void injectIa3(m, o, n) },
  { name: 'prefix', description: 'trainable key/value prefix in every layer', zeroInit: false, frozenBase: true, peftFormat: true, mergeable: false, apply: (m, o, n) => void injectPrefix(m, { ...o, numVirtualTokens: num(o, 'numVirtualTokens', 20) }, n) },
  { name: 'prompt', description: 'trainable virtual token embeddings before the input', zeroInit: false, frozenBase: true, peftFormat: true, mergeable: false, apply: (m, o, n) => void injectPrompt(m, { ...o, numVirtualTokens: num(o, 'numVirtualTokens', 20) }, n) },
  { name: 'bitfit', description: 'bias terms only', zeroInit: true, frozenBase: false, peftFormat: false, mergeable: false, apply: (m, o) => void applyBitFit(m, o) },
  { name: 'houlsby', description: 'bottleneck adapters after attention and FFN', zeroInit: true, frozenBase: true, peftFormat: false, mergeable: false, apply: (m, o, n) => injectBottleneck(m, { ...o, variant: 'houlsby' }, n) },
  { name: 'pfeiffer', description: 'bottleneck adapter after the FFN', zeroInit: true, frozenBase: true, peftFormat: false, mergeable: false, apply: (m, o, n) => injectBottleneck(m, { ...o, variant: 'pfeiffer' }, n) },
  { name: 'parallel', description: 'scaled bottleneck adapter beside the FFN', zeroInit: true, frozenBase: true, peftFormat: false, mergeable: false, apply: (m, o, n) => injectBottleneck(m, { ...o, variant: 'parallel' }, n) },
  { name: 'mql5-stacked', description: 'n_layer adapters stacked before the LM head; whole base trains (MQL5 article)', zeroInit: false, frozenBase: false, peftFormat: false, mergeable: false, apply: (m, o, n) => injectBottleneck(m, { ...o, variant: 'mql5-stacked' }, n) },
];

export function methodNames(): string[] {
  return METHODS.map((m) => m.name);
}

export function getMethod(name: string): MethodSpec {
  const m = METHODS.find((x) => x.name === name);
  if (!m) throw new Error(`unknown method "${name}" (have: ${methodNames().join(', ')})`);
  return m;
}

/** Apply a method to the model (as adapter `options.adapterName`, default "default"). */
export function applyMethod(model: CausalLM, name: string, options: Opts = {}): AppliedMethod {
  const spec = getMethod(name);
  // Options are the configs' camelCase names; PEFT's snake_case (lora_alpha, target_modules) is accepted too.
  const camel = Object.fromEntries(Object.entries(options).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]));
  const { adapterName, ...rest } = camel;
  const an = typeof adapterName === 'string' ? adapterName : 'default';
  spec.apply(model, rest, an);
  const out: AppliedMethod = { name: an, method: name, counts: trainableParameters(model) };
  // Callers merge to get a servable plain model (then save it with saveModel), so merge also unloads the
  // wrappers; to keep them (and unmerge later) call mergeAdapters / unmergeAdapters directly.
  if (spec.mergeable) out.merge = () => void mergeAndUnload(model, [an]);
  return out;
}
