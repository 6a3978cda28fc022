/**
 * GPT-2, readable in one sitting (after nanoGPT's model.py), in Hugging Face's layout so checkpoints load as
 * they are: `transformer.{wte,wpe,h.N.{ln_1,attn.c_attn,attn.c_proj,ln_2,mlp.c_fc,mlp.c_proj},ln_f}`, Conv1D
 * weights stored [in, out], and the LM head tied to `wte` unless the config unties it.
 *
 * Differences from Hugging Face to know about: dropout on attention probabilities (attn_pdrop) is not applied
 * (the fused attention kernel keeps no probability matrix); residual and embedding dropout are.
 */
import { Conv1D, Embedding, LayerNorm, residual } from '../nn/layers.js';
import { Module, param } from '../nn/module.js';
import { attend, KVCache } from '../nn/attention.js';
import {
  defaultPositions, headGreedy, headLogits, LMHead, type CausalLM, type ForwardOptions, type StepDecoder,
} from './common.js';
import { gpt2StepDecoder, plainModuleTree } from './native_step.js';
import { dropout, gelu } from '../tensor/nn_ops.js';
import { createRng, type Philox } from '../tensor/rng.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';
import type { Gpt2Config } from '../io/hf_config.js';

/** What the model itself needs (a subset of the Hugging Face config, normalized). */
export interface GPT2Options {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** MLP width; default 4 · nEmbd. */
  nInner?: number;
  layerNormEps?: number;
  /** 'gelu_new' (tanh approximation, GPT-2's) or 'gelu' (exact). */
  activation?: 'gelu_new' | 'gelu';
  tieWordEmbeddings?: boolean;
  residDropout?: number;
  embdDropout?: number;
}

export function gpt2OptionsFromConfig(c: Gpt2Config): GPT2Options {
  let activation: 'gelu_new' | 'gelu';
  if (['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'].includes(c.activation)) activation = 'gelu_new';
  else if (c.activation === 'gelu') activation = 'gelu';
  else throw new Error(`GPT-2: activation_function "${c.activation}" is not supported (gelu_new or gelu)`);
  return {
    vocabSize: c.vocabSize,
    nPositions: c.maxPositions,
    nEmbd: c.hiddenSize,
    nLayer: c.numLayers,
    nHead: c.numHeads,
    nInner: c.intermediateSize,
    layerNormEps: c.normEps,
    activation,
    tieWordEmbeddings: c.tieWordEmbeddings,
    residDropout: c.residDropout,
    embdDropout: c.embdDropout,
  };
}

export class CausalSelfAttention extends Module {
  c_attn: Conv1D;
  c_proj: Conv1D;
  constructor(
    readonly nEmbd: number,
    readonly nHead: number,
  ) {
    super();
    this.c_attn = new Conv1D(nEmbd, 3 * nEmbd);
    this.c_proj = new Conv1D(nEmbd, nEmbd);
  }

  forward(x: Tensor, layer: number, opts: ForwardOptions): Tensor {
    const [B, T, C] = x.shape as [number, number, number];
    const H = this.nHead,
      D = C / H;
    const qkv = this.c_attn.forward(x); // [B, T, 3C]
    // Split heads as strided views of the fused projection: [B, T, H, D] → [B, H, T, D], no copies.
    const split = (i: number): Tensor => qkv.slice(2, i * C, (i + 1) * C).reshape(B, T, H, D).permute(0, 2, 1, 3);
    const y = attend(split(0), split(1), split(2), {
      cache: opts.caches?.[layer] ?? null,
      prefix: opts.prefixes?.[layer] ?? null,
      mask: opts.attentionMask ?? null,
    });
    return this.c_proj.forward(y.transpose(1, 2).reshape(B, T, C));
  }
}

export class MLP extends Module {
  c_fc: Conv1D;
  c_proj: Conv1D;
  constructor(
    nEmbd: number,
    nInner: number,
    readonly approximate: boolean,
  ) {
    super();
    this.c_fc = new Conv1D(nEmbd, nInner);
    this.c_proj = new Conv1D(nInner, nEmbd);
  }
  forward(x: Tensor): Tensor {
    return this.c_proj.forward(gelu(this.c_fc.forward(x), this.approximate));
  }
}

export class Block extends Module {
  ln_1: LayerNorm;
  attn: CausalSelfAttention;
  ln_2: LayerNorm;
  mlp: MLP;
  constructor(
    o: Required<GPT2Options>,
    /** Residual dropout (a function, not a module reference, so the module tree stays a tree). */
    private readonly drop: (x: Tensor) => Tensor,
  ) {
    super();
    this.ln_1 = new LayerNorm(o.nEmbd, o.layerNormEps);
    this.attn = new CausalSelfAttention(o.nEmbd, o.nHead);
    this.ln_2 = new LayerNorm(o.nEmbd, o.layerNormEps);
    this.mlp = new MLP(o.nEmbd, o.nInner, o.activation === 'gelu_new');
  }
  forward(x: Tensor, layer: number, opts: ForwardOptions): Tensor {
    x = residual(x, this.drop(this.attn.forward(this.ln_1.forward(x), layer, opts)));
    return residual(x, this.drop(this.mlp.forward(this.ln_2.forward(x))));
  }
}

export class GPT2Body extends Module {
  wte: Embedding;
  wpe: Embedding;
  h: Block[];
  ln_f: LayerNorm;
  constructor(o: Required<GPT2Options>, model: GPT2) {
    super();
    this.wte = new Embedding(o.vocabSize, o.nEmbd);
    this.wpe = new Embedding(o.nPositions, o.nEmbd);
    this.h = Array.from({ length: o.nLayer }, () => new Block(o, (x) => model.residDrop(x)));
    this.ln_f = new LayerNorm(o.nEmbd, o.layerNormEps);
  }
}

export class GPT2 extends Module implements CausalLM {
  readonly config: Required<GPT2Options>;
  transformer: GPT2Body;
  /** The LM head; its weight is wte's own tensor when tied (then saved once, as transformer.wte.weight). */
  lm_head: LMHead;
  /** Stream for dropout masks (seeded; saved in checkpoints through its state). */
  dropoutRng: Philox = createRng(0, 'dropout');

  constructor(opts: GPT2Options) {
    super();
    const o: Required<GPT2Options> = {
      nInner: 4 * opts.nEmbd,
      layerNormEps: 1e-5,
      activation: 'gelu_new',
      tieWordEmbeddings: true,
      residDropout: 0,
      embdDropout: 0,
      ...opts,
    };
    if (o.nEmbd % o.nHead !== 0) throw new Error(`GPT-2: n_embd ${o.nEmbd} is not divisible by n_head ${o.nHead}`);
    this.config = o;
    this.transformer = new GPT2Body(o, this);
    this.lm_head = new LMHead(o.tieWordEmbeddings ? this.transformer.wte.weight : param([o.vocabSize, o.nEmbd]));
  }

  get numLayers(): number {
    return this.config.nLayer;
  }

  residDrop(x: Tensor): Tensor {
    return this.training && this.config.residDropout > 0 ? dropout(x, this.config.residDropout, this.dropoutRng) : x;
  }

  /** Final hidden states [B, T, C] (after ln_f). */
  hidden(ids: Tensor | null, opts: ForwardOptions = {}): Tensor {
    const t = this.transformer;
    const tok = opts.inputsEmbeds ?? (ids ? t.wte.forward(ids) : null);
    if (!tok) throw new Error('GPT-2: pass token ids or inputsEmbeds');
    const [B, T] = tok.shape as [number, number];
    const pos = opts.positionIds ?? defaultPositions(B, T, opts.caches?.[0]?.length ?? 0);
    if (pos.length !== B * T) throw new Error(`GPT-2: ${pos.length} position ids for a [${B}, ${T}] batch`);
    this.checkPositions(pos);
    let x = tok.add(t.wpe.forward(fromArray(pos, [B, T])));
    if (this.training && this.config.embdDropout > 0) x = dropout(x, this.config.embdDropout, this.dropoutRng);
    t.h.forEach((block, i) => (x = block.forward(x, i, opts)));
    return t.ln_f.forward(x);
  }

  private checkPositions(pos: Int32Array): void {
    for (const p of pos) {
      if (p < 0 || p >= this.config.nPositions) {
        throw new Error(`GPT-2: position ${p} is beyond the model's ${this.config.nPositions} positions (n_positions)`);
      }
    }
  }

  /** Logits [B, T, vocab]. */
  forward(ids: Tensor | null, opts: ForwardOptions = {}): Tensor {
    return headLogits(this, ids, opts);
  }

  greedyTokens(ids: Tensor | null, opts: ForwardOptions = {}): Int32Array {
    return headGreedy(this, ids, opts);
  }

  /** One native call per decoded token (native_step.ts) while the model is plain GPT-2; otherwise null. */
  stepDecoder(caches: KVCache[], keyMask: Float32Array | null): StepDecoder | null {
    return isPlainGpt2(this) ? gpt2StepDecoder(this, caches, keyMask, (pos) => this.checkPositions(pos)) : null;
  }

  /** One KV cache per layer for generation. */
  makeCaches(batch: number, maxLen: number): KVCache[] {
    const { nLayer, nHead, nEmbd } = this.config;
    return Array.from({ length: nLayer }, () => new KVCache(batch, nHead, maxLen, nEmbd / nHead));
  }

  /**
   * GPT-2's initialization for training from scratch: weights N(0, 0.02), the residual projections
   * (attn.c_proj, mlp.c_proj) N(0, 0.02/√(2·n_layer)), biases 0, layer norms 1/0.
   */
  initWeights(seed: number): void {
    const rng = createRng(seed, 'init');
    const std = 0.02;
    for (const [name, p] of this.namedParameters()) {
      const buf = p.data as Float32Array;
      if (name.endsWith('.bias')) buf.fill(0);
      else if (/ln_\d\.weight$|ln_f\.weight$/.test(name)) buf.fill(1);
      else rng.fillNormal(buf, 0, name.endsWith('c_proj.weight') ? std / Math.sqrt(2 * this.config.nLayer) : std);
    }
  }
}

/** Every module one of GPT-2's own classes: adapters (LoRA, IA3, bottlenecks, …) replace or wrap modules. */
function isPlainGpt2(model: GPT2): boolean {
  return plainModuleTree(model, [GPT2, GPT2Body, Block, CausalSelfAttention, MLP, Conv1D, LayerNorm, Embedding, LMHead]);
}

export { LMHead, type ForwardOptions } from './common.js';
