/**
 * What every PEFT method here shares: a name-keyed container for per-adapter parameters (PEFT's ModuleDict /
 * ParameterDict, so in-memory keys read `lora_A.default.weight` as PEFT's do), module lookup and replacement by
 * dotted path, PEFT's rules for matching `target_modules`, the model family, freezing, and parameter counts.
 */
import { Module, isParameter } from '../nn/module.js';
import { Conv1D, Linear } from '../nn/layers.js';
import { GPT2 } from '../models/gpt2.js';
import { Llama } from '../models/llama.js';
import type { CausalLM } from '../models/common.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Adapters by name. Entries are own properties, so Module's discovery finds them and state-dict keys carry the
 * adapter name (`ia3_l.default`, `lora_A.default.weight`) exactly like PEFT's in-memory names.
 */
export class AdapterDict<T extends Module | Tensor> extends Module {
  set(name: string, v: T): void {
    checkAdapterName(name);
    (this as unknown as Record<string, T>)[name] = v;
  }
  get(name: string): T | undefined {
    if (!this.has(name)) return undefined;
    return (this as unknown as Record<string, T>)[name];
  }
  has(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this, name) && name !== 'training';
  }
  delete(name: string): void {
    delete (this as unknown as Record<string, T>)[name];
  }
  names(): string[] {
    return Object.entries(this)
      .filter(([, v]) => v instanceof Module || isParameter(v))
      .map(([k]) => k);
  }
}

/** Names that would collide with Module's own fields or break dotted keys are refused. */
export function checkAdapterName(name: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name) || ['training', 'weight', 'bias', 'base_layer'].includes(name)) {
    throw new Error(`adapter name "${name}" is not allowed (letters, digits, _ and -; not a reserved field name)`);
  }
}

/** The module at a dotted path ("transformer.h.0.attn.c_attn"; array entries by index). */
export function getModule(root: Module, path: string): Module {
  let cur: unknown = root;
  for (const part of path ? path.split('.') : []) {
    cur = (cur as Record<string, unknown>)[part];
    if (cur === undefined) throw new Error(`no module "${path}" (stopped at "${part}")`);
  }
  if (!(cur instanceof Module)) throw new Error(`"${path}" is not a module`);
  return cur;
}

/** Put `mod` where the module at `path` was (the parent's property or array slot). */
export function replaceModule(root: Module, path: string, mod: Module): void {
  const i = path.lastIndexOf('.');
  const parent = (i < 0 ? root : getModuleOrArray(root, path.slice(0, i))) as Record<string, unknown>;
  const key = path.slice(i + 1);
  if (!(key in parent)) throw new Error(`replaceModule: "${path}" does not exist`);
  parent[key] = mod;
}

function getModuleOrArray(root: Module, path: string): unknown {
  let cur: unknown = root;
  for (const part of path.split('.')) cur = (cur as Record<string, unknown>)[part];
  return cur;
}

/** A layer computing x·W(+b) that LoRA/IA3 can wrap: Linear, Conv1D, or anything shaped like them (QuantLinear). */
export interface LinearLike extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  bias: Tensor | null;
  forward(x: Tensor): Tensor;
}

export function isLinearLike(m: unknown): m is LinearLike {
  if (!(m instanceof Module)) return false;
  const o = m as unknown as Record<string, unknown>;
  return typeof o.inFeatures === 'number' && typeof o.outFeatures === 'number' && typeof o.forward === 'function';
}

/** GPT-2's Conv1D stores W as [in, out]: PEFT's `fan_in_fan_out`. A quantized base keeps [out, in]. */
export function isFanInFanOut(m: Module): boolean {
  return m instanceof Conv1D;
}

export function isPlainLinear(m: Module): m is Linear | Conv1D {
  return m instanceof Linear || m instanceof Conv1D;
}

export type ModelFamily = 'gpt2' | 'llama' | 'qwen2' | 'mistral';

/** The Hugging Face `model_type` (PEFT keys its default targets on it). */
export function modelFamily(model: CausalLM): ModelFamily {
  const cfg = (model as CausalLM & { hfConfig?: { modelType?: string } }).hfConfig;
  const t = cfg?.modelType;
  if (t === 'gpt2' || t === 'llama' || t === 'qwen2' || t === 'mistral') return t;
  if (model instanceof GPT2) return 'gpt2';
  if (model instanceof Llama) return 'llama';
  throw new Error(`PEFT: unsupported model (model_type ${t ?? 'unknown'}); GPT-2 and the Llama family are`);
}

/** The token embedding module (prompt tuning reads and extends it). */
export function wordEmbeddings(model: CausalLM): Module & { weight: Tensor; forward(ids: Tensor): Tensor } {
  if (model instanceof GPT2) return model.transformer.wte;
  if (model instanceof Llama) return model.model.embed_tokens;
  throw new Error('PEFT: cannot find the token embeddings of this model');
}

/** The transformer blocks and the names of their attention / MLP children. */
export function blocks(model: CausalLM): { path: string; attn: string; mlp: string }[] {
  if (model instanceof GPT2) return model.transformer.h.map((_, i) => ({ path: `transformer.h.${i}`, attn: 'attn', mlp: 'mlp' }));
  if (model instanceof Llama) return model.model.layers.map((_, i) => ({ path: `model.layers.${i}`, attn: 'self_attn', mlp: 'mlp' }));
  throw new Error('PEFT: unsupported model class');
}

/** Hidden size, layers, attention heads and key/value heads with their head size (prefix tuning's shapes). */
export function dims(model: CausalLM): { hidden: number; layers: number; heads: number; kvHeads: number; headDim: number; vocab: number } {
  if (model instanceof GPT2) {
    const c = model.config;
    return { hidden: c.nEmbd, layers: c.nLayer, heads: c.nHead, kvHeads: c.nHead, headDim: c.nEmbd / c.nHead, vocab: c.vocabSize };
  }
  if (model instanceof Llama) {
    const c = model.config;
    return { hidden: c.hiddenSize, layers: c.numLayers, heads: c.numHeads, kvHeads: c.numKvHeads, headDim: c.headDim, vocab: c.vocabSize };
  }
  throw new Error('PEFT: unsupported model class');
}

/**
 * PEFT's target matching (`check_target_module_exists`): a string is a regular expression that must match the
 * whole module name; a list matches a name equal to an entry or ending in "." + entry.
 */
export function matchesTarget(name: string, targets: string | string[]): boolean {
  if (typeof targets === 'string') {
    if (targets === 'all-linear') throw new Error('matchesTarget: resolve "all-linear" first');
    return new RegExp(`^(?:${targets})$`).test(name);
  }
  return targets.some((t) => name === t || name.endsWith('.' + t));
}

/**
 * Names of the linear layers an adapter targets. "all-linear" is PEFT's shorthand for every linear layer except
 * the output head (ours is not a module with a forward, so it is never a candidate).
 */
export function findTargets(model: CausalLM, targets: string | string[], exclude?: string | string[]): string[] {
  const out: string[] = [];
  for (const [name, m] of model.namedModules()) {
    if (!name || !isLinearLike(m)) continue;
    // Never inside another wrapper: its base layer, a modules_to_save copy or the original it keeps.
    if (/(^|\.)(base_layer|original_module|modules_to_save)(\.|$)/.test(name)) continue;
    const hit = targets === 'all-linear' ? true : matchesTarget(name, targets);
    if (!hit) continue;
    if (exclude && matchesTarget(name, exclude)) continue;
    out.push(name);
  }
  return out;
}

/** Freeze every parameter of the model (the starting point of every adapter method). */
export function freezeAll(model: Module): void {
  for (const p of model.parameters()) p.requiresGrad = false;
}

export interface TrainableCount {
  trainable: number;
  total: number;
  percent: number;
  /** As PEFT's print_trainable_parameters prints it. */
  text: string;
}

/**
 * Trainable and total parameter counts (tied weights once). Like PEFT, `total` includes the adapters' own
 * parameters; a quantized base counts its logical weights (out × in), as PEFT counts 4-bit params × 2 per byte.
 */
export function trainableParameters(model: Module): TrainableCount {
  let trainable = 0,
    total = 0;
  for (const p of model.parameters()) {
    total += p.size;
    if (p.requiresGrad) trainable += p.size;
  }
  for (const [, m] of model.namedModules()) {
    const q = m as unknown as { qweight?: { shape: readonly number[] } };
    if (q.qweight) total += q.qweight.shape[0]! * q.qweight.shape[1]!;
  }
  const percent = total ? (100 * trainable) / total : 0;
  const text = `trainable params: ${trainable.toLocaleString('en-US')} || all params: ${total.toLocaleString('en-US')} || trainable%: ${percent.toFixed(4)}`;
  return { trainable, total, percent, text };
}

/** Print the counts as PEFT does. */
export function printTrainableParameters(model: Module): void {
  process.stdout.write(trainableParameters(model).text + '\n');
}
