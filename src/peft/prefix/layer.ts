/**
 * PrefixEncoder (PEFT's): virtual-token parameters that become one key/value prefix per layer. Without
 * projection, `embedding.weight` [P, layers·2·kv_dim] is the prefix itself; with projection an MLP maps an
 * [P, kv_dim] embedding to it. The last axis is ordered (layer, key/value, head, dim), as PEFT reshapes it.
 */
import { Module, withMatrixDtype } from '../../nn/module.js';
import { Linear, Embedding } from '../../nn/layers.js';
import { linear } from '../../tensor/nn_ops.js';
import { createRng } from '../../tensor/rng.js';
import { defaultPositions, type CausalLM, type ForwardOptions } from '../../models/common.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { KVPrefix } from '../../nn/attention.js';
import { noGrad } from '../../tensor/autograd.js';
import { extendMask, type PromptAdapter } from '../prompt_hook.js';

class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}

export class PrefixEncoder extends Module implements PromptAdapter {
  embedding!: Embedding;
  /** [Linear, Tanh, Linear] when projecting (PEFT's `transform.0` / `transform.2`). */
  transform?: Module[];

  constructor(
    readonly numVirtualTokens: number,
    readonly layers: number,
    readonly kvHeads: number,
    readonly headDim: number,
    opts: { projection?: boolean; encoderHiddenSize?: number; seed?: number; dtype?: 'f32' | 'f64' } = {},
  ) {
    super();
    const kv = kvHeads * headDim;
    const width = opts.projection ? kv : layers * 2 * kv;
    const rng = createRng(opts.seed ?? 0, 'prefix');
    withMatrixDtype(opts.dtype ?? 'f32', () => {
      this.embedding = new Embedding(numVirtualTokens, width);
      rng.fillNormal(this.embedding.weight.data as Float32Array, 0, 1); // torch.nn.Embedding's default N(0, 1)
      if (opts.projection) {
        const hid = opts.encoderHiddenSize ?? kv;
        const l1 = new Linear(kv, hid);
        const l2 = new Linear(hid, layers * 2 * kv);
        for (const l of [l1, l2]) {
          // torch.nn.Linear's default: U(±1/√in) for weight (kaiming a=√5) and bias.
          const b = 1 / Math.sqrt(l.inFeatures);
          rng.fillUniform(l.weight.data as Float32Array, -b, b);
          rng.fillUniform(l.bias!.data as Float32Array, -b, b);
        }
        this.transform = [l1, new Tanh(), l2];
      }
    });
  }

  /** [P, layers·2·kv_dim]: the prefixes (what PEFT saves as prompt_embeddings). */
  prefixMatrix(): Tensor {
    const e = this.embedding.weight;
    if (!this.transform) return e;
    const [l1, , l2] = this.transform as [Linear, Tanh, Linear];
    return linear(linear(e, l1.weight, l1.bias, 'out_in').tanh(), l2.weight, l2.bias, 'out_in');
  }

  /** Per-layer prefixes [Hkv, P, D] (shared by the batch). */
  prefixes(): KVPrefix[] {
    const P = this.numVirtualTokens;
    const all = this.prefixMatrix().reshape(P, this.layers * 2, this.kvHeads, this.headDim).permute(1, 2, 0, 3);
    return Array.from({ length: this.layers }, (_, i) => ({ k: all.select(0, 2 * i), v: all.select(0, 2 * i + 1) }));
  }

  run(model: CausalLM, ids: Tensor | null, opts: ForwardOptions, base: (ids: Tensor | null, opts: ForwardOptions) => Tensor): Tensor {
    const P = this.numVirtualTokens;
    const src = ids ?? opts.inputsEmbeds!;
    const [B, T] = src.shape as [number, number];
    const prefixes = this.prefixes();
    const caches = opts.caches ?? null;
    const mask = opts.attentionMask ?? null;
    if (caches) {
      // Generation: the prefix goes into each cache once, ahead of the prompt; later steps read it from there.
      if (caches[0]!.length === 0) {
        noGrad(() => caches.forEach((c, i) => c.append(prefixes[i]!.k.unsqueeze(0).expand(B, -1, -1, -1), prefixes[i]!.v.unsqueeze(0).expand(B, -1, -1, -1))));
      }
      const total = caches[0]!.length + T;
      const m = mask && mask.shape[mask.ndim - 1] === total - P ? extendMask(mask, P) : mask;
      // Given positions count real tokens only (as the caller sees them); the prefix shifts them by P.
      const pos = opts.positionIds ? Int32Array.from(opts.positionIds, (p) => p + P) : defaultPositions(B, T, caches[0]!.length);
      return base(ids, { ...opts, attentionMask: m, positionIds: pos });
    }
    // Real tokens sit after the virtual ones: positions P…P+T−1 (Hugging Face counts the past length), and
    // every query may attend to the whole prefix.
    const given = opts.positionIds ?? defaultPositions(B, T, 0);
    const pos = Int32Array.from(given, (p) => p + P);
    const m = extendMask(mask, P);
    return base(ids, { ...opts, prefixes, positionIds: pos, attentionMask: m });
  }
}
