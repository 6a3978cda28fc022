/**
 * PromptEmbedding (PEFT's): P trainable virtual-token embeddings put in front of the token embeddings. Their
 * positions are 0…P−1 and the real tokens follow; the returned hidden states (so logits) drop the virtual
 * positions, so they line up with the caller's labels (PEFT instead pads the labels with −100).
 */
import { Module, withMatrixDtype } from '../../nn/module.js';
import { Embedding } from '../../nn/layers.js';
import { cat } from '../../tensor/nn_ops.js';
import { createRng } from '../../tensor/rng.js';
import { defaultPositions, type CausalLM, type ForwardOptions } from '../../models/common.js';
import type { Tensor } from '../../tensor/tensor.js';
import { wordEmbeddings } from '../common.js';
import { extendMask, type PromptAdapter } from '../prompt_hook.js';

export class PromptEmbedding extends Module implements PromptAdapter {
  embedding: Embedding;

  constructor(
    readonly numVirtualTokens: number,
    tokenDim: number,
    opts: { initFrom?: Float32Array | Float64Array; seed?: number; dtype?: 'f32' | 'f64' } = {},
  ) {
    super();
    this.embedding = withMatrixDtype(opts.dtype ?? 'f32', () => new Embedding(numVirtualTokens, tokenDim));
    const w = this.embedding.weight.data as Float32Array;
    if (opts.initFrom) w.set(opts.initFrom);
    else createRng(opts.seed ?? 0, 'prompt').fillNormal(w, 0, 1);
  }

  /** Text init: rows of the word embedding for the given ids, cycled or cut to P (PEFT repeats the ids). */
  static initialRows(model: CausalLM, ids: number[], P: number): Float32Array {
    if (!ids.length) throw new Error('prompt tuning: TEXT init needs at least one token id');
    const W = wordEmbeddings(model).weight;
    const C = W.shape[1]!;
    const all = W.toFlat() as Float32Array;
    const out = new Float32Array(P * C);
    for (let i = 0; i < P; i++) out.set(all.subarray(ids[i % ids.length]! * C, (ids[i % ids.length]! + 1) * C), i * C);
    return out;
  }

  run(model: CausalLM, ids: Tensor | null, opts: ForwardOptions, base: (ids: Tensor | null, opts: ForwardOptions) => Tensor): Tensor {
    const P = this.numVirtualTokens;
    const tok = opts.inputsEmbeds ?? wordEmbeddings(model).forward(ids!);
    const [B, T] = tok.shape as [number, number];
    const caches = opts.caches ?? null;
    if (caches && caches[0]!.length > 0) {
      // Later generation steps: the virtual tokens are already in the cache.
      const mask = opts.attentionMask ?? null;
      const total = caches[0]!.length + T;
      const m = mask && mask.shape[mask.ndim - 1] === total - P ? extendMask(mask, P) : mask;
      const pos = opts.positionIds ? Int32Array.from(opts.positionIds, (p) => p + P) : undefined;
      return base(null, { ...opts, inputsEmbeds: tok, attentionMask: m, positionIds: pos });
    }
    const prompts = this.embedding.weight.unsqueeze(0).expand(B, P, -1);
    const x = cat([prompts, tok], 1);
    const given = opts.positionIds ?? defaultPositions(B, T, 0);
    const pos = new Int32Array(B * (P + T));
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < P; i++) pos[b * (P + T) + i] = i;
      for (let t = 0; t < T; t++) pos[b * (P + T) + P + t] = given[b * T + t]! + P;
    }
    const mask = opts.attentionMask ?? null;
    const m = extendMask(mask, P);
    const h = base(null, { ...opts, inputsEmbeds: x, positionIds: pos, attentionMask: m });
    return h.slice(1, P, P + T);
  }
}
