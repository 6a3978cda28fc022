/**
 * The Llama family (Llama 2/3, Qwen2, Mistral, DeepSeek-R1-Distill-Llama) in Hugging Face's layout:
 * `model.{embed_tokens, layers.N.{input_layernorm, self_attn.{q,k,v,o}_proj, post_attention_layernorm,
 * mlp.{gate,up,down}_proj}, norm}` and `lm_head` (tied to embed_tokens when the config says so).
 *
 * Per family: Qwen2 adds biases to q/k/v; Mistral (and Qwen2 with use_sliding_window) restricts attention to a
 * sliding window on the layers the config names. Rotary embeddings use the rotate-half convention of HF's
 * checkpoints, with rope_theta and Llama 3.1's `llama3` frequency scaling.
 */
import { Embedding, Linear, RMSNorm, residual } from '../nn/layers.js';
import { Module, param } from '../nn/module.js';
import { attend, KVCache } from '../nn/attention.js';
import { rope, silu } from '../tensor/nn_ops.js';
import { createRng } from '../tensor/rng.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';
import type { LlamaFamilyConfig, RopeScaling } from '../io/hf_config.js';
import {
  defaultPositions, headGreedy, headLogits, LMHead, type CausalLM, type ForwardOptions, type StepDecoder,
} from './common.js';
import { llamaStepDecoder, plainModuleTree } from './native_step.js';

export interface LlamaOptions {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads?: number;
  headDim?: number;
  maxPositions: number;
  rmsNormEps?: number;
  ropeTheta?: number;
  ropeScaling?: RopeScaling | null;
  tieWordEmbeddings?: boolean;
  qkvBias?: boolean;
  oBias?: boolean;
  mlpBias?: boolean;
  /** Attention window per layer (0 = full causal attention). */
  layerWindows?: number[];
  /** Activation of the gated MLP: 'silu' (all supported families). */
  activation?: string;
}

export function llamaOptionsFromConfig(c: LlamaFamilyConfig): LlamaOptions {
  if (c.activation !== 'silu') throw new Error(`${c.modelType}: hidden_act "${c.activation}" is not supported (silu)`);
  return {
    vocabSize: c.vocabSize,
    hiddenSize: c.hiddenSize,
    intermediateSize: c.intermediateSize,
    numLayers: c.numLayers,
    numHeads: c.numHeads,
    numKvHeads: c.numKvHeads,
    headDim: c.headDim,
    maxPositions: c.maxPositions,
    rmsNormEps: c.normEps,
    ropeTheta: c.ropeTheta,
    ropeScaling: c.ropeScaling,
    tieWordEmbeddings: c.tieWordEmbeddings,
    qkvBias: c.qkvBias,
    oBias: c.oBias,
    mlpBias: c.mlpBias,
    layerWindows: c.layerTypes.map((t) => (t === 'sliding_attention' && c.slidingWindow ? c.slidingWindow : 0)),
  };
}

/**
 * Inverse frequencies of the rotary embedding, with Llama 3.1's scaling when configured: long wavelengths
 * (beyond original_max_position / low_freq_factor) are divided by `factor`, short ones (below
 * original_max_position / high_freq_factor) kept, and the band between interpolated smoothly.
 */
export function ropeInverseFrequencies(headDim: number, theta: number, scaling: RopeScaling | null | undefined): Float64Array {
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(theta, (2 * i) / headDim);
  if (!scaling) return inv;
  if (scaling.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] = inv[i]! / scaling.factor;
    return inv;
  }
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: orig } = scaling;
  const lowWavelen = orig / lowFreqFactor;
  const highWavelen = orig / highFreqFactor;
  for (let i = 0; i < half; i++) {
    const f = inv[i]!;
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) continue;
    if (wavelen > lowWavelen) {
      inv[i] = f / factor;
      continue;
    }
    const smooth = (orig / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    inv[i] = (1 - smooth) * (f / factor) + smooth * f;
  }
  return inv;
}

/** cos/sin tables [positions, headDim/2], computed in float64 and rounded once to float32. */
export function ropeTables(
  headDim: number,
  positions: number,
  theta: number,
  scaling?: RopeScaling | null,
  dtype: 'f32' | 'f64' = 'f32',
): { cos: Tensor; sin: Tensor } {
  const inv = ropeInverseFrequencies(headDim, theta, scaling);
  const half = headDim / 2;
  const cos = dtype === 'f64' ? new Float64Array(positions * half) : new Float32Array(positions * half);
  const sin = dtype === 'f64' ? new Float64Array(positions * half) : new Float32Array(positions * half);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      // float32 angle, as the reference implementations compute positions × inv_freq in float32
      const angle = Math.fround(Math.fround(p) * Math.fround(inv[i]!));
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos: fromArray(cos, [positions, half]).keep(), sin: fromArray(sin, [positions, half]).keep() };
}

export class LlamaAttention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  o_proj: Linear;
  constructor(
    readonly o: Required<LlamaOptions>,
    readonly layer: number,
    private readonly rotary: () => { cos: Tensor; sin: Tensor },
  ) {
    super();
    const D = o.headDim;
    this.q_proj = new Linear(o.hiddenSize, o.numHeads * D, { bias: o.qkvBias });
    this.k_proj = new Linear(o.hiddenSize, o.numKvHeads * D, { bias: o.qkvBias });
    this.v_proj = new Linear(o.hiddenSize, o.numKvHeads * D, { bias: o.qkvBias });
    this.o_proj = new Linear(o.numHeads * D, o.hiddenSize, { bias: o.oBias });
  }

  forward(x: Tensor, pos: Int32Array, opts: ForwardOptions): Tensor {
    const [B, T] = x.shape as [number, number];
    const { numHeads: H, numKvHeads: Hkv, headDim: D } = this.o;
    const { cos, sin } = this.rotary();
    // Project, rotate in [B, T, heads, D] (contiguous rows of D), then view as [B, heads, T, D].
    const q = rope(this.q_proj.forward(x).reshape(B, T, H, D), pos, cos, sin).permute(0, 2, 1, 3);
    const k = rope(this.k_proj.forward(x).reshape(B, T, Hkv, D), pos, cos, sin).permute(0, 2, 1, 3);
    const v = this.v_proj.forward(x).reshape(B, T, Hkv, D).permute(0, 2, 1, 3);
    const y = attend(q, k, v, {
      cache: opts.caches?.[this.layer] ?? null,
      prefix: opts.prefixes?.[this.layer] ?? null,
      mask: opts.attentionMask ?? null,
      window: this.o.layerWindows[this.layer] ?? 0,
    });
    return this.o_proj.forward(y.transpose(1, 2).reshape(B, T, H * D));
  }
}

export class LlamaMLP extends Module {
  gate_proj: Linear;
  up_proj: Linear;
  down_proj: Linear;
  constructor(o: Required<LlamaOptions>) {
    super();
    this.gate_proj = new Linear(o.hiddenSize, o.intermediateSize, { bias: o.mlpBias });
    this.up_proj = new Linear(o.hiddenSize, o.intermediateSize, { bias: o.mlpBias });
    this.down_proj = new Linear(o.intermediateSize, o.hiddenSize, { bias: o.mlpBias });
  }
  forward(x: Tensor): Tensor {
    return this.down_proj.forward(silu(this.gate_proj.forward(x)).mul(this.up_proj.forward(x)));
  }
}

export class LlamaDecoderLayer extends Module {
  input_layernorm: RMSNorm;
  self_attn: LlamaAttention;
  post_attention_layernorm: RMSNorm;
  mlp: LlamaMLP;
  constructor(o: Required<LlamaOptions>, layer: number, rotary: () => { cos: Tensor; sin: Tensor }) {
    super();
    this.input_layernorm = new RMSNorm(o.hiddenSize, o.rmsNormEps);
    this.self_attn = new LlamaAttention(o, layer, rotary);
    this.post_attention_layernorm = new RMSNorm(o.hiddenSize, o.rmsNormEps);
    this.mlp = new LlamaMLP(o);
  }
  forward(x: Tensor, pos: Int32Array, opts: ForwardOptions): Tensor {
    x = residual(x, this.self_attn.forward(this.input_layernorm.forward(x), pos, opts));
    return residual(x, this.mlp.forward(this.post_attention_layernorm.forward(x)));
  }
}

export class LlamaBody extends Module {
  embed_tokens: Embedding;
  layers: LlamaDecoderLayer[];
  norm: RMSNorm;
  constructor(o: Required<LlamaOptions>, rotary: () => { cos: Tensor; sin: Tensor }) {
    super();
    this.embed_tokens = new Embedding(o.vocabSize, o.hiddenSize);
    this.layers = Array.from({ length: o.numLayers }, (_, i) => new LlamaDecoderLayer(o, i, rotary));
    this.norm = new RMSNorm(o.hiddenSize, o.rmsNormEps);
  }
}

export class Llama extends Module implements CausalLM {
  readonly config: Required<LlamaOptions>;
  model: LlamaBody;
  lm_head: LMHead;
  private tables: { cos: Tensor; sin: Tensor } | null = null;

  constructor(opts: LlamaOptions) {
    super();
    const headDim = opts.headDim ?? opts.hiddenSize / opts.numHeads;
    const o: Required<LlamaOptions> = {
      numKvHeads: opts.numHeads,
      rmsNormEps: 1e-6,
      ropeTheta: 10000,
      ropeScaling: null,
      tieWordEmbeddings: false,
      qkvBias: false,
      oBias: false,
      mlpBias: false,
      layerWindows: [],
      activation: 'silu',
      ...opts,
      headDim,
    };
    if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new Error(`Llama: head_dim ${headDim} must be an even integer`);
    if (o.numHeads % o.numKvHeads !== 0) {
      throw new Error(`Llama: ${o.numHeads} attention heads are not a multiple of ${o.numKvHeads} key/value heads`);
    }
    this.config = o;
    this.model = new LlamaBody(o, () => this.rotary());
    this.lm_head = new LMHead(o.tieWordEmbeddings ? this.model.embed_tokens.weight : param([o.vocabSize, o.hiddenSize]));
  }

  get numLayers(): number {
    return this.config.numLayers;
  }

  /** Rotary tables, built on first use (kept outside any memory scope). */
  rotary(): { cos: Tensor; sin: Tensor } {
    if (!this.tables) {
      const o = this.config;
      const dtype = this.model.norm.weight.dtype === 'f64' ? 'f64' : 'f32';
      this.tables = ropeTables(o.headDim, o.maxPositions, o.ropeTheta, o.ropeScaling, dtype);
    }
    return this.tables;
  }

  hidden(ids: Tensor | null, opts: ForwardOptions = {}): Tensor {
    const m = this.model;
    let x = opts.inputsEmbeds ?? (ids ? m.embed_tokens.forward(ids) : null);
    if (!x) throw new Error('Llama: pass token ids or inputsEmbeds');
    const [B, T] = x.shape as [number, number];
    const past = opts.caches?.[0]?.length ?? 0;
    const pos = opts.positionIds ?? defaultPositions(B, T, past);
    if (pos.length !== B * T) throw new Error(`Llama: ${pos.length} position ids for a [${B}, ${T}] batch`);
    this.checkPositions(pos);
    for (const layer of m.layers) x = layer.forward(x, pos, opts);
    return m.norm.forward(x);
  }

  private checkPositions(pos: Int32Array): void {
    for (const p of pos) {
      if (p < 0 || p >= this.config.maxPositions) {
        throw new Error(`Llama: position ${p} is beyond max_position_embeddings ${this.config.maxPositions}`);
      }
    }
  }

  forward(ids: Tensor | null, opts: ForwardOptions = {}): Tensor {
    return headLogits(this, ids, opts);
  }

  greedyTokens(ids: Tensor | null, opts: ForwardOptions = {}): Int32Array {
    return headGreedy(this, ids, opts);
  }

  /** One native call per decoded token (native_step.ts) while the model is a plain Llama; otherwise null. */
  stepDecoder(caches: KVCache[], keyMask: Float32Array | null): StepDecoder | null {
    const plain = plainModuleTree(this, [
      Llama, LlamaBody, LlamaDecoderLayer, LlamaAttention, LlamaMLP, Linear, RMSNorm, Embedding, LMHead,
    ]);
    return plain ? llamaStepDecoder(this, caches, keyMask, (pos) => this.checkPositions(pos)) : null;
  }

  makeCaches(batch: number, maxLen: number): KVCache[] {
    const o = this.config;
    return Array.from({ length: o.numLayers }, () => new KVCache(batch, o.numKvHeads, maxLen, o.headDim));
  }

  /** From-scratch initialization as transformers does for Llama: N(0, 0.02) matrices, zero biases, unit norms. */
  initWeights(seed: number): void {
    const rng = createRng(seed, 'init');
    for (const [name, p] of this.namedParameters()) {
      const buf = p.data as Float32Array;
      if (name.endsWith('.bias')) buf.fill(0);
      else if (name.endsWith('norm.weight')) buf.fill(1);
      else rng.fillNormal(buf, 0, 0.02);
    }
  }
}
