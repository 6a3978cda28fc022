/** What every causal language model here shares: per-call options, the LM head holder, default positions. */
import { Module } from '../nn/module.js';
import type { KVCache, KVPrefix } from '../nn/attention.js';
import type { Tensor } from '../tensor/tensor.js';
import { linear, linearArgmax } from '../tensor/nn_ops.js';

/** Per-call inputs beyond the token ids. */
export interface ForwardOptions {
  /** Positions of each token, B·T values (default: cached length + t). Left-padded batches pass their own. */
  positionIds?: Int32Array;
  /** Additive attention mask over all key positions: [B, S] / [B, T, S] / [B, 1, T, S] (0 keep, -Infinity drop). */
  attentionMask?: Tensor | null;
  /** One cache per layer (generation). */
  caches?: KVCache[] | null;
  /** One trainable key/value prefix per layer (prefix tuning). */
  prefixes?: KVPrefix[] | null;
  /** Token embeddings to use instead of looking up ids (prompt tuning prepends virtual tokens here). */
  inputsEmbeds?: Tensor | null;
  /**
   * forward() only: logits for the last n positions only ([B, n, vocab]; 0 or absent = every position), as
   * transformers' `logits_to_keep`. Generation asks for 1: the LM head is the largest matrix of a small model,
   * and a prompt's other positions would be thrown away.
   */
  logitsToKeep?: number;
}

/** The hidden states whose logits are wanted: the last `logitsToKeep` positions of [B, T, C] (all when 0). */
export function keptPositions(h: Tensor, logitsToKeep = 0): Tensor {
  const T = h.shape[1]!;
  return logitsToKeep > 0 && logitsToKeep < T ? h.slice(1, T - logitsToKeep, T) : h;
}

/** A causal LM's logits: its final hidden states (the kept positions) through its LM head. */
export function headLogits(model: CausalLM, ids: Tensor | null, opts: ForwardOptions = {}): Tensor {
  return linear(keptPositions(model.hidden(ids, opts), opts.logitsToKeep), model.lm_head.weight, null, 'out_in');
}

/** headLogits' last position per row, reduced to its argmax inside the head's product (one index a row). */
export function headGreedy(model: CausalLM, ids: Tensor | null, opts: ForwardOptions = {}): Int32Array {
  const h = keptPositions(model.hidden(ids, opts), 1);
  return linearArgmax(h, model.lm_head.weight);
}

/** Holds the output projection [vocab, C] (torch.nn.Linear layout, no bias). */
export class LMHead extends Module {
  constructor(public weight: Tensor) {
    super();
  }
}

/** The interface generation, training and PEFT rely on. */
export interface CausalLM extends Module {
  readonly numLayers: number;
  lm_head: LMHead;
  /** Final hidden states [B, T, C] (after the last norm). */
  hidden(ids: Tensor | null, opts?: ForwardOptions): Tensor;
  /** Logits [B, T, vocab]. */
  forward(ids: Tensor | null, opts?: ForwardOptions): Tensor;
  /**
   * Each row's greedy next token: the argmax of forward()'s last-position logits, found without writing the
   * logits (models whose forward is headLogits; generation falls back to forward() without it).
   */
  greedyTokens?(ids: Tensor | null, opts?: ForwardOptions): Int32Array;
  /** One KV cache per layer, for `batch` sequences of up to `maxLen` positions. */
  makeCaches(batch: number, maxLen: number): KVCache[];
  /**
   * Decode steps of one position per row that bypass the tensor API (one native call a token), over `caches`
   * as the prefill left them; null when this model, its state or the backend does not allow it (generation
   * then uses forward() / greedyTokens()). `keyMask` is the additive [batch, maxLen] padding mask, if any.
   */
  stepDecoder?(caches: KVCache[], keyMask: Float32Array | null): StepDecoder | null;
  /** Seeded from-scratch initialization. */
  initWeights(seed: number): void;
}

/** A row's largest logits, top-k sampling's candidates: their indices in the row, ascending, and their values. */
export interface Candidates {
  index: Int32Array;
  value: Float32Array | Float64Array;
}

/**
 * One-position decode steps over a model's caches. Each call appends the step's keys and values to the caches
 * and returns a buffer the next call overwrites; the results are those forward() / greedyTokens() would give.
 */
export interface StepDecoder {
  /** Each row's greedy next token after `ids` at positions `pos` ([batch] each). */
  greedy(ids: Int32Array, pos: Int32Array): Int32Array;
  /** The logits [batch, vocab] of the new position. */
  logits(ids: Int32Array, pos: Int32Array): Float32Array;
  /**
   * The logits, and each row's `cap` largest of them as top-k sampling's candidates (topCandidates' result,
   * computed with the step; null for a row holding a NaN).
   */
  candidates?(ids: Int32Array, pos: Int32Array, cap: number): { logits: Float32Array; rows: (Candidates | null)[] };
}

/** Positions past, past+1, … for every row of a [B, T] batch. */
export function defaultPositions(B: number, T: number, past: number): Int32Array {
  const pos = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) pos[b * T + t] = past + t;
  return pos;
}
