/**
 * Quantizing a model's transformer blocks for QLoRA, and undoing it for merges.
 *
 * What is quantized: every Linear and GPT-2 Conv1D in the model (GPT-2's `c_attn`, `c_proj`, `c_fc`; Llama's
 * `q/k/v/o_proj`, `gate/up/down_proj`). Embeddings, norms and the LM head stay unquantized, as bitsandbytes and
 * PEFT leave them (transformers skips `lm_head`; the heads here are not Linear modules anyway, and `lm_head` is
 * also in the default skip list). Modules under a `lora_*` name are never touched, so adapters injected before
 * quantizing stay float32 — but the intended order is PEFT's: quantize the base, then inject.
 */
import { Conv1D, Linear } from '../../nn/layers.js';
import { Module, param } from '../../nn/module.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { HfModelConfig } from '../../io/hf_config.js';
import { QuantLinear } from './linear4bit.js';
import { dequantizeWeight, quantizeLinearWeight, weightBytes, type QuantType, type QuantizedWeight } from './weight.js';

export interface QuantizeModelOptions {
  /** 'nf4' (default), 'fp4' or 'int8' (weight-only, per-row absmax). */
  type?: QuantType;
  /** Double quantization of the 4-bit absmaxes (default true: QLoRA's recipe; transformers defaults to false). */
  doubleQuant?: boolean;
  /** 4-bit block size (default 64). */
  blockSize?: number;
  /**
   * Modules left unquantized: a name matches when it equals the module's dotted path or one of its path
   * segments (`lm_head`, `c_attn`), or a RegExp matches the path. Default ['lm_head'].
   */
  skip?: (string | RegExp)[];
  /** The dtype name recorded in 4-bit quant states (default: the weight's own, 'float32' or 'bfloat16'). */
  dtype?: string;
}

export interface QuantizationReport {
  /** Dotted paths of the replaced modules. */
  replaced: string[];
  /** Their weights' bytes in float32. */
  fp32Bytes: number;
  /** The bytes the quantized weights hold: codes, absmaxes, nested state, each shared table once. */
  quantizedBytes: number;
  /** quantizedBytes / fp32Bytes. */
  ratio: number;
}

type Quantizable = Linear | Conv1D;

export function isQuantizable(m: unknown): m is Quantizable {
  return m instanceof Linear || m instanceof Conv1D;
}

export function isQuantized(m: unknown): m is QuantLinear {
  return m instanceof QuantLinear;
}

function skipped(path: string, skip: (string | RegExp)[]): boolean {
  const segments = path.split('.');
  if (segments.some((s) => s.startsWith('lora_'))) return true;
  return skip.some((s) => (typeof s === 'string' ? path === s || segments.includes(s) : s.test(path)));
}

/**
 * Every (holder, key, path) slot of the module tree that holds a module, in registration order; arrays give
 * numbered paths like Module.namedModules.
 */
function moduleSlots(root: Module, prefix = ''): { holder: Record<string | number, unknown>; key: string | number; path: string; module: Module }[] {
  const out: { holder: Record<string | number, unknown>; key: string | number; path: string; module: Module }[] = [];
  const visit = (m: Module, pre: string): void => {
    for (const [k, v] of Object.entries(m)) {
      const path = pre ? `${pre}.${k}` : k;
      if (v instanceof Module) {
        out.push({ holder: m as unknown as Record<string, unknown>, key: k, path, module: v });
        visit(v, path);
      } else if (Array.isArray(v)) {
        v.forEach((c, i) => {
          if (!(c instanceof Module)) return;
          out.push({ holder: v as unknown as Record<number, unknown>, key: i, path: `${path}.${i}`, module: c });
          visit(c, `${path}.${i}`);
        });
      }
    }
  };
  visit(root, prefix);
  return out;
}

/** The quantizable Linear/Conv1D layers of a model that `quantizeModel` would replace, by dotted path. */
export function quantizationTargets(model: Module, opts: Pick<QuantizeModelOptions, 'skip'> = {}): string[] {
  const skip = opts.skip ?? ['lm_head'];
  return moduleSlots(model)
    .filter((s) => isQuantizable(s.module) && !skipped(s.path, skip))
    .map((s) => s.path);
}

/** Replace the module at a dotted path (used by loaders that quantize as they read). */
export function replaceModule(model: Module, path: string, next: Module): Module {
  const slot = moduleSlots(model).find((s) => s.path === path);
  if (!slot) throw new Error(`replaceModule: the model has no module "${path}"`);
  slot.holder[slot.key] = next;
  return slot.module;
}

/** The module at a dotted path, or undefined. */
export function getModule(model: Module, path: string): Module | undefined {
  return moduleSlots(model).find((s) => s.path === path)?.module;
}

/**
 * Quantize the model's Linear/Conv1D layers in place, one at a time (each float32 weight is dropped as soon as
 * its replacement exists). Conv1D weights [in, out] are transposed to [out, in] first, as transformers does for
 * bitsandbytes, so the stored codes and the saved `-bnb-4bit` layout are the Linear ones.
 */
export function quantizeModel(model: Module, opts: QuantizeModelOptions = {}): QuantizationReport {
  const skip = opts.skip ?? ['lm_head'];
  const replaced: string[] = [];
  const weights: QuantizedWeight[] = [];
  let fp32Bytes = 0;
  for (const slot of moduleSlots(model)) {
    const m = slot.module;
    if (!isQuantizable(m) || skipped(slot.path, skip)) continue;
    const layout = m instanceof Conv1D ? 'in_out' : 'out_in';
    const w = m.weight.contiguous();
    const data = w.toFloat32Array();
    const q = quantizeLinearWeight(data, [w.shape[0]!, w.shape[1]!], {
      type: opts.type,
      blockSize: opts.blockSize,
      doubleQuant: opts.doubleQuant ?? true,
      // bitsandbytes records the dtype the weight had (dequantization returns it): bf16 weights say so.
      dtype: opts.dtype ?? (w.dtype === 'bf16' ? 'bfloat16' : 'float32'),
      layout,
    });
    slot.holder[slot.key] = new QuantLinear(q, m.bias, layout);
    replaced.push(slot.path);
    weights.push(q);
    fp32Bytes += data.length * 4;
  }
  const quantizedBytes = quantizedWeightBytes(weights);
  return { replaced, fp32Bytes, quantizedBytes, ratio: fp32Bytes ? quantizedBytes / fp32Bytes : 0 };
}

/** Bytes held by a set of quantized weights, counting each shared table (code books) once. */
export function quantizedWeightBytes(weights: QuantizedWeight[]): number {
  const shared = new Set<ArrayBufferView>();
  let total = 0;
  for (const w of weights) {
    const m = w.memory();
    total += m.own;
    for (const t of m.shared) shared.add(t);
  }
  for (const t of shared) total += t.byteLength;
  return total;
}

/** Every QuantLinear of a model with its path. */
export function quantizedModules(model: Module): [string, QuantLinear][] {
  return moduleSlots(model)
    .filter((s) => s.module instanceof QuantLinear)
    .map((s) => [s.path, s.module as QuantLinear]);
}

/** The memory report of an already quantized model. */
export function quantizationReport(model: Module): QuantizationReport {
  const mods = quantizedModules(model);
  const fp32Bytes = mods.reduce((s, [, m]) => s + m.inFeatures * m.outFeatures * 4, 0);
  const quantizedBytes = quantizedWeightBytes(mods.map(([, m]) => m.qweight));
  return { replaced: mods.map(([p]) => p), fp32Bytes, quantizedBytes, ratio: fp32Bytes ? quantizedBytes / fp32Bytes : 0 };
}

export interface Dequantized {
  /** A float32 Linear (or Conv1D, for a layer that was one) holding the dequantized weight and the bias. */
  module: Linear | Conv1D;
  /** What the weight was stored as. */
  from: QuantType;
  /** Say this to the user: a merge into a quantized base gives a float32 layer, not a 4-bit one. */
  message: string;
}

/**
 * The float32 layer equivalent to a quantized one (its weight = the dequantized codes, exactly what forward
 * multiplies by). For merging adapters into an NF4 base: the merged weight cannot stay 4-bit without
 * re-quantizing, which would lose most of the adapter's change, so the result is float32 and `message` says so.
 */
export function dequantizeModule(m: QuantLinear): Dequantized {
  const [out, inF] = m.qweight.shape;
  const w = dequantizeWeight(m.qweight);
  let module: Linear | Conv1D;
  if (m.sourceLayout === 'in_out') {
    module = new Conv1D(inF, out);
    const t = module.weight.data as Float32Array;
    for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) t[i * out + o] = w[o * inF + i]!;
  } else {
    module = new Linear(inF, out, { bias: m.bias !== null });
    (module.weight.data as Float32Array).set(w);
  }
  if (m.bias) {
    if (module.bias) (module.bias.data as Float32Array).set(m.bias.toFloat32Array());
  } else if (module instanceof Conv1D) {
    // Conv1D always has a bias; a quantized layer without one maps to a zero bias.
    (module.bias.data as Float32Array).fill(0);
  }
  const name = m.qweight.kind === 'int8' ? 'int8' : m.qweight.kind.toUpperCase();
  return {
    module,
    from: m.qweight.kind,
    message: `dequantized a ${name} weight [${out}, ${inF}] to float32: the result is no longer ${m.qweight.kind === 'int8' ? '8-bit' : '4-bit'} (${weightBytes(m.qweight)} → ${out * inF * 4} bytes)`,
  };
}

/** Dequantize every QuantLinear of a model in place (e.g. before saving a merged model as a normal checkpoint). */
export function dequantizeModel(model: Module): { replaced: string[]; message: string } {
  const replaced: string[] = [];
  for (const slot of moduleSlots(model)) {
    if (!(slot.module instanceof QuantLinear)) continue;
    slot.holder[slot.key] = dequantizeModule(slot.module).module;
    replaced.push(slot.path);
  }
  if (replaced.length) forgetQuantizationConfig(model);
  return {
    replaced,
    message: replaced.length
      ? `dequantized ${replaced.length} quantized layers to float32: the model is no longer quantized`
      : 'no quantized layers',
  };
}

/** A frozen float32 parameter from values (used by loaders). */
export function frozenParam(values: Float32Array, shape: number[]): Tensor {
  return param(shape, { init: values, requiresGrad: false });
}

/**
 * A model loaded from a "-bnb-4bit" folder keeps that folder's config (with its `quantization_config`) for
 * saving; once dequantized it must save as an ordinary checkpoint, so the entry is dropped.
 */
export function forgetQuantizationConfig(model: Module): void {
  const holder = model as Module & { hfConfig?: HfModelConfig };
  const cfg = holder.hfConfig;
  if (cfg && 'quantization_config' in cfg.raw) {
    const raw = { ...cfg.raw };
    delete raw.quantization_config;
    holder.hfConfig = { ...cfg, raw };
  }
}
