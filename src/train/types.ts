/**
 * The contracts between the trainer and everything around it: what a batch is, where batches come from, and
 * what a model must offer. They are deliberately small so the data code (src/data/), the models and the PEFT
 * wrappers can evolve without the trainer knowing their details.
 */
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * One micro-batch.
 *
 * `labels` are *target-aligned*: `labels[b, t]` is the token the model should predict after reading
 * `inputIds[b, 0..t]` (for plain language modelling, the input shifted left by one). This is the convention of
 * `crossEntropy` here; it differs from Hugging Face, whose models shift `labels` themselves. `-100` marks a
 * position that is not scored (padding, prompt tokens when only the answer is trained).
 */
export interface Batch {
  /** Token ids, an integer tensor [B, T] (i32 or i64). */
  inputIds: Tensor;
  /** Target ids [B, T], -100 = ignored. */
  labels: Tensor;
  /** Additive attention mask as the models take it: [B, S] / [B, T, S] / [B, 1, T, S], 0 keep, -Infinity drop. */
  attentionMask?: Tensor | null;
  /** Position of every token, B·T values (packed documents restart their positions). */
  positionIds?: Int32Array;
}

/** Anything JSON can hold (the data position in a checkpoint must survive JSON.stringify / JSON.parse). */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * The training stream. It is endless from the trainer's point of view (a source wraps around epochs itself) and
 * must be resumable: `state()` after n calls to `next()`, given back to `setState()` on a fresh source built
 * from the same data, makes the following `next()` calls return exactly what the original source would have.
 */
export interface TrainData {
  next(): Batch;
  state(): Json;
  setState(state: Json): void;
}

/** Held-out batches: called once per evaluation; must yield the same batches every time. */
export type EvalData = () => Iterable<Batch>;

/** Options a causal language model accepts per call (the subset the trainer uses). */
export interface LMForwardOptions {
  positionIds?: Int32Array;
  attentionMask?: Tensor | null;
}

/** What the trainer needs of a model: a Module whose forward maps ids [B, T] to logits [B, T, V]. */
export interface TrainableModel extends Module {
  forward(ids: Tensor | null, opts?: LMForwardOptions): Tensor;
}
