/**
 * The one model-level hook of the prompt-learning methods: an instance-level `hidden()` that asks the active
 * adapter's encoder for virtual tokens (prompt tuning) or per-layer key/value prefixes (prefix tuning) and
 * calls the model's own `hidden()` with them through its ForwardOptions. The model classes are unchanged;
 * `forward()` reaches this through `this.hidden`.
 */
import type { CausalLM, ForwardOptions } from '../models/common.js';
import { AdapterDict } from './common.js';
import { peftState } from './state.js';
import type { Module } from '../nn/module.js';
import { zeros, type Tensor } from '../tensor/tensor.js';
import { cat } from '../tensor/nn_ops.js';

export interface PromptAdapter extends Module {
  /** Positions this adapter puts in front of the tokens (and in a KV cache). */
  readonly numVirtualTokens: number;
  /** Run the model's own hidden() with this adapter's virtual tokens / prefixes. */
  run(model: CausalLM, ids: Tensor | null, opts: ForwardOptions, base: (ids: Tensor | null, opts: ForwardOptions) => Tensor): Tensor;
}

type Hooked = CausalLM & { prompt_encoder?: AdapterDict<PromptAdapter> };

/** The model's prompt encoders (created, and the hook installed, on first use). */
export function promptEncoders(model: CausalLM): AdapterDict<PromptAdapter> {
  const m = model as Hooked;
  if (!m.prompt_encoder) {
    m.prompt_encoder = new AdapterDict();
    const base = (Object.getPrototypeOf(model) as { hidden: CausalLM['hidden'] }).hidden;
    const call = (ids: Tensor | null, opts: ForwardOptions): Tensor => base.call(model, ids, opts);
    Object.defineProperty(model, 'hidden', {
      enumerable: false,
      configurable: true,
      writable: true,
      value: (ids: Tensor | null, opts: ForwardOptions = {}): Tensor => {
        const active = peftState(model).active;
        const enc = active.length ? m.prompt_encoder!.get(active[0]!) : undefined;
        return enc ? enc.run(model, ids, opts, call) : call(ids, opts);
      },
    });
    // Caches made for generation need room for the virtual tokens as well.
    const makeCaches = (Object.getPrototypeOf(model) as { makeCaches: CausalLM['makeCaches'] }).makeCaches;
    Object.defineProperty(model, 'makeCaches', {
      enumerable: false,
      configurable: true,
      writable: true,
      value: (batch: number, maxLen: number) => {
        const active = peftState(model).active;
        const enc = active.length ? m.prompt_encoder!.get(active[0]!) : undefined;
        return makeCaches.call(model, batch, maxLen + (enc ? enc.numVirtualTokens : 0));
      },
    });
  }
  return m.prompt_encoder;
}

/** Remove the hook and the encoders (the model is the base again). */
export function removePromptEncoders(model: CausalLM): void {
  const m = model as Hooked;
  delete (m as { hidden?: unknown }).hidden;
  delete (m as { makeCaches?: unknown }).makeCaches;
  delete m.prompt_encoder;
}

/** Prepend `n` always-kept key columns (0 in an additive mask) to a caller's mask over the real keys. */
export function extendMask(mask: Tensor | null | undefined, n: number): Tensor | null {
  if (!mask) return null;
  const shape = [...mask.shape];
  shape[shape.length - 1] = n;
  return cat([zeros(shape, { dtype: mask.dtype as 'f32' }), mask], mask.ndim - 1);
}
