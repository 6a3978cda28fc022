/**
 * Module: a tree of parameters, buffers and child modules, discovered from the object's own properties in the
 * order they were assigned (as PyTorch registers them), so `stateDict()` keys read like Hugging Face's:
 * `transformer.h.0.attn.c_attn.weight`. Arrays of modules are numbered lists (PyTorch's ModuleList).
 *
 * Parameters are tensors made with `param()` (trainable or frozen: freezing only clears requiresGrad, the
 * tensor stays a parameter). Buffers are registered with `registerBuffer()` and are saved in the state dict
 * only when persistent.
 */
import { contiguousStrides, fmtShape, Tensor } from '../tensor/tensor.js';
import { adviseWeightMemory, newStorageUnscoped } from '../tensor/storage.js';
import type { DType } from '../tensor/dtype.js';
import { f32ToBf16 } from '../tensor/half.js';

const PARAMS = new WeakSet<Tensor>();

let matrixDtype: DType = 'f32';

/**
 * Build modules whose parameters are stored in `dtype`. For bf16 (inference weights, allocated at half size from
 * the start so a large model never sits in f32) only matrices (2-D and up) are bf16 and vectors (norms,
 * biases) stay f32; f64 (reference checks) applies to every parameter.
 */
export function withMatrixDtype<T>(dtype: DType, fn: () => T): T {
  const prev = matrixDtype;
  matrixDtype = dtype;
  try {
    return fn();
  } finally {
    matrixDtype = prev;
  }
}

/** Make a parameter: memory outside any tidy scope, requiresGrad on unless frozen (or not f32/f64). */
export function param(shape: readonly number[], opts: { dtype?: DType; requiresGrad?: boolean; init?: Float32Array } = {}): Tensor {
  const dtype = opts.dtype ?? (shape.length >= 2 || matrixDtype !== 'bf16' ? matrixDtype : 'f32');
  const n = shape.reduce((a, b) => a * b, 1);
  if (opts.init && opts.init.length !== n) {
    throw new Error(`param(${fmtShape(shape)}): ${opts.init.length} initial values for ${n} elements`);
  }
  const t = new Tensor(newStorageUnscoped(dtype, n, opts.init === undefined), [...shape], contiguousStrides(shape), 0);
  adviseWeightMemory(t.data);
  if (opts.init) {
    // Float values into a bf16 parameter are rounded to bf16 (raw bf16 bits, a Uint16Array, are copied as is).
    const init = dtype === 'bf16' && !(opts.init instanceof Uint16Array) ? f32ToBf16(Float32Array.from(opts.init)) : opts.init;
    (t.data as Float32Array | Float64Array).set(init);
  }
  t.storage.kept = true;
  if ((opts.requiresGrad ?? true) && (dtype === 'f32' || dtype === 'f64')) t.requiresGrad_(true);
  PARAMS.add(t);
  return t;
}

export function isParameter(t: unknown): t is Tensor {
  return t instanceof Tensor && PARAMS.has(t);
}

export class Module {
  training = true;
  private _buffers?: Map<string, { persistent: boolean }>;

  /** Register a tensor property as a buffer (not a parameter). Non-persistent buffers are not saved. */
  registerBuffer(name: string, t: Tensor | null, persistent = true): void {
    (this as unknown as Record<string, unknown>)[name] = t;
    if (t) t.storage.kept = true;
    if (!this._buffers) Object.defineProperty(this, '_buffers', { value: new Map(), enumerable: false, writable: true });
    this._buffers!.set(name, { persistent });
  }

  /** Child modules by name (arrays become "name.0", "name.1", …). */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Module) out.push([k, v]);
      else if (Array.isArray(v)) v.forEach((m, i) => m instanceof Module && out.push([`${k}.${i}`, m]));
    }
    return out;
  }

  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [k, m] of this.namedChildren()) out.push(...m.namedModules(prefix ? `${prefix}.${k}` : k));
    return out;
  }

  /** This module's own parameters (not its children's). */
  ownParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [k, v] of Object.entries(this)) if (isParameter(v)) out.push([k, v]);
    return out;
  }

  /** Every parameter, each once even when shared (tied weights keep their first name). */
  namedParameters(prefix = ''): [string, Tensor][] {
    const seen = new Set<Tensor>();
    const out: [string, Tensor][] = [];
    for (const [mname, m] of this.namedModules(prefix)) {
      for (const [k, p] of m.ownParameters()) {
        if (seen.has(p)) continue;
        seen.add(p);
        out.push([mname ? `${mname}.${k}` : k, p]);
      }
    }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  namedBuffers(prefix = '', persistentOnly = false): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [mname, m] of this.namedModules(prefix)) {
      for (const [k, info] of m._buffers ?? []) {
        const t = (m as unknown as Record<string, unknown>)[k];
        if (!(t instanceof Tensor) || (persistentOnly && !info.persistent)) continue;
        out.push([mname ? `${mname}.${k}` : k, t]);
      }
    }
    return out;
  }

  /** Parameters and persistent buffers by key. Shared (tied) tensors appear once, under their first name. */
  stateDict(): Map<string, Tensor> {
    const sd = new Map<string, Tensor>();
    for (const [k, p] of this.namedParameters()) sd.set(k, p);
    for (const [k, b] of this.namedBuffers('', true)) sd.set(k, b);
    return sd;
  }

  /**
   * Copy values into this module's tensors (converted to each tensor's dtype). strict: every key of both sides
   * must match. Errors name the key and both shapes.
   */
  loadStateDict(sd: Map<string, Tensor>, opts: { strict?: boolean; source?: string } = {}): { missing: string[]; unexpected: string[] } {
    const strict = opts.strict ?? true;
    const own = this.stateDict();
    const where = opts.source ? ` (${opts.source})` : '';
    const missing = [...own.keys()].filter((k) => !sd.has(k));
    const unexpected = [...sd.keys()].filter((k) => !own.has(k));
    if (strict && (missing.length || unexpected.length)) {
      const parts = [];
      if (missing.length) parts.push(`missing keys: ${missing.join(', ')}`);
      if (unexpected.length) parts.push(`unexpected keys: ${unexpected.join(', ')}`);
      throw new Error(`loadStateDict${where}: ${parts.join('; ')}`);
    }
    for (const [k, dst] of own) {
      const src = sd.get(k);
      if (!src) continue;
      if (src.shape.length !== dst.shape.length || src.shape.some((d, i) => d !== dst.shape[i])) {
        throw new Error(`loadStateDict${where}: "${k}" has shape ${fmtShape(src.shape)}, the model expects ${fmtShape(dst.shape)}`);
      }
      const vals = src.dtype === dst.dtype ? src.toFlat() : src.to(dst.dtype).toFlat();
      (dst.data as Float32Array).set(vals as Float32Array, dst.offset);
    }
    return { missing, unexpected };
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Freeze or unfreeze every parameter. */
  requiresGrad_(flag: boolean): this {
    for (const p of this.parameters()) p.requiresGrad = flag;
    return this;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) {
      if (p.grad) {
        p.grad.dispose();
        p.grad = null;
      }
    }
  }
}
