/**
 * Packed blocks (packing.ts) → trainer batches: right padding, per-document attention masks, restarted
 * positions, and a seeded, resumable order. Unpacked examples are batched by `padBatch` / `ShuffledExamples`
 * in src/train/data.ts (with `keyPaddingMask: true` for an explicit [B, S] mask).
 */
import { IGNORE_INDEX, keyPaddingMask } from '../train/data.js';
import type { Batch, EvalData, Json, TrainData } from '../train/types.js';
import { createRng } from '../tensor/rng.js';
import { fromArray } from '../tensor/tensor.js';
import type { PackedBlock } from './packing.js';

export interface BlockBatchOptions {
  /** Id written into padding positions (never scored, never attended to by real tokens). */
  padId: number;
  /** Row length: 'longest' (default) pads to the longest block of the batch; a number fixes the shape. */
  padTo?: 'longest' | number;
}

/**
 * One batch of packed blocks: inputIds/labels [B, T] right-padded (pads: padId, label -100), positionIds
 * restarting at 0 per document (pads: 0), and an additive [B, T, T] mask where position i keeps key j only when
 * j ≤ i and j is in i's document. A padding position keeps only itself, so no row of the softmax is empty. When
 * every block holds a single document the mask is the [B, T] key-padding mask instead (same result, T× smaller).
 */
export function blockBatch(blocks: readonly PackedBlock[], opts: BlockBatchOptions): Batch {
  if (blocks.length === 0) throw new Error('blockBatch: no blocks');
  if (!Number.isInteger(opts.padId) || opts.padId < 0) throw new Error(`blockBatch: padId must be a token id (an integer ≥ 0), got ${String(opts.padId)}`);
  const longest = Math.max(...blocks.map((b) => b.inputIds.length));
  const T = opts.padTo === undefined || opts.padTo === 'longest' ? longest : opts.padTo;
  if (!Number.isInteger(T) || T < longest) throw new Error(`blockBatch: padTo ${String(opts.padTo)} is shorter than a block of ${longest} tokens`);
  const B = blocks.length;
  const ids = new Int32Array(B * T).fill(opts.padId);
  const labels = new Int32Array(B * T).fill(IGNORE_INDEX);
  const pos = new Int32Array(B * T);
  blocks.forEach((blk, b) => {
    ids.set(blk.inputIds, b * T);
    labels.set(blk.labels, b * T);
    pos.set(blk.positionIds, b * T);
  });
  const batch = { inputIds: fromArray(ids, [B, T]), labels: fromArray(labels, [B, T]), positionIds: pos };
  // Rows of one document each (a long corpus cut into pieces) need no document mask: causal attention plus a
  // [B, T] key-padding mask is the same for every real token, at B·T floats instead of B·T·T.
  if (blocks.every((blk) => blk.segments.length <= 1)) {
    return { ...batch, attentionMask: keyPaddingMask(blocks.map((blk) => blk.inputIds.length), T) };
  }
  const mask = new Float32Array(B * T * T).fill(-Infinity);
  blocks.forEach((blk, b) => {
    const n = blk.inputIds.length;
    for (let i = 0; i < T; i++) {
      const row = (b * T + i) * T;
      // Positions restart at 0 per document, so a token's document begins positionIds[i] tokens before it.
      const from = i < n ? i - blk.positionIds[i]! : i;
      mask.fill(0, row + from, row + i + 1);
    }
  });
  return { ...batch, attentionMask: fromArray(mask, [B, T, T]) };
}

export interface PackedBlocksOptions extends BlockBatchOptions {
  batchSize: number;
  seed: number;
}

/**
 * A 32-bit hash of the blocks' lengths, ids, labels and positions: tells a resumed run whether it packs the same
 * data. Word at a time (FNV's multiplier plus a shift so high bits feed back), one pass over the tokens.
 */
export function blocksFingerprint(blocks: readonly PackedBlock[]): string {
  let h = 0x811c9dc5;
  const mix = (v: number): void => {
    h = Math.imul(h ^ v, 0x01000193);
    h ^= h >>> 15;
  };
  mix(blocks.length);
  for (const b of blocks) {
    mix(b.inputIds.length);
    for (const v of b.inputIds) mix(v);
    for (const v of b.labels) mix(v);
    for (const v of b.positionIds) mix(v);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * Training stream over packed blocks: a fresh seeded permutation of the blocks each epoch, batchSize blocks at
 * a time (an epoch's last, smaller batch is kept, so every block is seen once per epoch). The order of epoch e is
 * `order(e)`, a function of the seed alone; the state is the epoch and the index in it, plus a fingerprint of the
 * blocks so a resume against differently packed data is refused instead of silently continuing elsewhere.
 */
export class PackedBlocks implements TrainData {
  private epoch = 0;
  private index = 0;
  private perm: Int32Array;
  private last: number[] = [];
  readonly fingerprint: string;

  constructor(
    private readonly blocks: readonly PackedBlock[],
    private readonly o: PackedBlocksOptions,
  ) {
    if (blocks.length === 0) throw new Error('PackedBlocks: no blocks to train on');
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new Error(`PackedBlocks: batchSize must be a positive integer, got ${String(o.batchSize)}`);
    this.fingerprint = blocksFingerprint(blocks);
    this.perm = this.order(0);
  }

  /** The block order of an epoch. */
  order(epoch: number): Int32Array {
    return createRng(this.o.seed, `data.blocks.${epoch}`).permutation(this.blocks.length);
  }

  next(): Batch {
    if (this.index >= this.blocks.length) {
      this.epoch++;
      this.index = 0;
      this.perm = this.order(this.epoch);
    }
    const end = Math.min(this.index + this.o.batchSize, this.blocks.length);
    this.last = Array.from(this.perm.subarray(this.index, end));
    this.index = end;
    return blockBatch(
      this.last.map((i) => this.blocks[i]!),
      this.o,
    );
  }

  /** Epochs completed. */
  get epochs(): number {
    return this.epoch;
  }

  /** Indices of the blocks in the batch last returned by next(). */
  get lastBlocks(): readonly number[] {
    return this.last;
  }

  state(): Json {
    return { epoch: this.epoch, index: this.index, blocks: this.blocks.length, fingerprint: this.fingerprint };
  }

  setState(s: Json): void {
    const st = s as { epoch?: unknown; index?: unknown; blocks?: unknown; fingerprint?: unknown } | null;
    if (!st || typeof st !== 'object' || !Number.isInteger(st.epoch) || !Number.isInteger(st.index)) {
      throw new Error('PackedBlocks.setState: bad data position (expected {epoch, index, blocks, fingerprint})');
    }
    if (st.blocks !== this.blocks.length || st.fingerprint !== this.fingerprint) {
      throw new Error(
        `PackedBlocks.setState: the saved position is for ${String(st.blocks)} blocks (fingerprint ${String(st.fingerprint)}), ` +
          `but these data pack into ${this.blocks.length} blocks (fingerprint ${this.fingerprint}); resume with the same data, tokenizer and packing options`,
      );
    }
    const index = st.index as number;
    if (index < 0 || index > this.blocks.length) throw new Error(`PackedBlocks.setState: index ${index} is outside 0..${this.blocks.length}`);
    this.epoch = st.epoch as number;
    this.index = index;
    this.perm = this.order(this.epoch);
    this.last = [];
  }
}

/** Evaluation over packed blocks in their packed order, batchSize at a time (same batches every call). */
export function packedEvalBatches(blocks: readonly PackedBlock[], batchSize: number, opts: BlockBatchOptions): EvalData {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`packedEvalBatches: batchSize must be a positive integer, got ${String(batchSize)}`);
  return function* () {
    for (let i = 0; i < blocks.length; i += batchSize) yield blockBatch(blocks.slice(i, i + batchSize), opts);
  };
}
