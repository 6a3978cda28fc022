/**
 * Small, resumable batch sources for the common cases the CLI and the tests need: random windows over one long
 * token stream (pre-training), sequential windows for evaluation, and shuffled, padded prompt/answer examples
 * (fine-tuning). Richer pipelines (packing with document masks, chronological splits) live in src/data/ and
 * only have to implement `TrainData` (types.ts).
 */
import { createRng, Philox, type RngState } from '../tensor/rng.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';
import type { Batch, EvalData, Json, TrainData } from './types.js';

export const IGNORE_INDEX = -100;

/** A [B, T] batch from flat row-major arrays. */
export function makeBatch(inputIds: Int32Array, labels: Int32Array, batchSize: number, seqLen: number): Batch {
  if (inputIds.length !== batchSize * seqLen || labels.length !== batchSize * seqLen) {
    throw new Error(
      `makeBatch: [${batchSize}, ${seqLen}] needs ${batchSize * seqLen} ids and labels, got ${inputIds.length} and ${labels.length}`,
    );
  }
  return { inputIds: fromArray(inputIds, [batchSize, seqLen]), labels: fromArray(labels, [batchSize, seqLen]) };
}

export interface WindowOptions {
  batchSize: number;
  seqLen: number;
  seed: number;
}

function checkStream(tokens: Int32Array, seqLen: number, what: string): void {
  if (tokens.length < seqLen + 1) {
    throw new Error(`${what}: ${tokens.length} tokens cannot fill one window of seqLen ${seqLen} (+1 for the last target); use a shorter --seq-len or more data`);
  }
}

/**
 * Pre-training stream: each row is a window of seqLen tokens at a uniformly random start; labels are the next
 * tokens. The only state is the Philox position, so resuming is exact.
 */
export class RandomWindows implements TrainData {
  private rng: Philox;
  constructor(
    private readonly tokens: Int32Array,
    private readonly o: WindowOptions,
  ) {
    checkStream(tokens, o.seqLen, 'RandomWindows');
    this.rng = createRng(o.seed, 'data.windows');
  }

  next(): Batch {
    const { batchSize: B, seqLen: T } = this.o;
    const ids = new Int32Array(B * T);
    const labels = new Int32Array(B * T);
    const starts = this.tokens.length - T; // valid starts: 0 .. n-T-1 (the last target must exist)
    for (let b = 0; b < B; b++) {
      const s = this.rng.randint(starts);
      ids.set(this.tokens.subarray(s, s + T), b * T);
      labels.set(this.tokens.subarray(s + 1, s + T + 1), b * T);
    }
    return makeBatch(ids, labels, B, T);
  }

  state(): Json {
    return { rng: this.rng.state() as unknown as Json };
  }

  setState(s: Json): void {
    const st = (s as { rng?: unknown } | null)?.rng;
    if (!st || typeof st !== 'object') throw new Error('RandomWindows.setState: no "rng" in the saved data position');
    this.rng = Philox.fromState(st as RngState);
  }
}

/**
 * Held-out windows: consecutive, non-overlapping windows covering the stream once (the last partial window is
 * dropped), in batches of batchSize. Deterministic, so every evaluation sees the same tokens.
 */
export function sequentialWindows(tokens: Int32Array, batchSize: number, seqLen: number, maxBatches = Infinity): EvalData {
  checkStream(tokens, seqLen, 'sequentialWindows');
  const nWin = Math.floor((tokens.length - 1) / seqLen);
  return function* () {
    let made = 0;
    for (let w = 0; w < nWin && made < maxBatches; w += batchSize, made++) {
      const B = Math.min(batchSize, nWin - w);
      const ids = new Int32Array(B * seqLen);
      const labels = new Int32Array(B * seqLen);
      for (let b = 0; b < B; b++) {
        const s = (w + b) * seqLen;
        ids.set(tokens.subarray(s, s + seqLen), b * seqLen);
        labels.set(tokens.subarray(s + 1, s + seqLen + 1), b * seqLen);
      }
      yield makeBatch(ids, labels, B, seqLen);
    }
  };
}

/** A supervised example: the ids to read and, aligned with them, the ids to predict (-100 = not scored). */
export interface Example {
  inputIds: Int32Array;
  labels: Int32Array;
}

export interface PadOptions {
  /**
   * Also return a [B, T] key-padding mask (0 on real tokens, -Infinity on pads). Causal attention already keeps
   * real tokens from seeing right padding, so this changes no real token's output; it is there for callers that
   * want the mask explicit (and pads then attend only to real tokens).
   */
  keyPaddingMask?: boolean;
}

/** A [B, T] additive key-padding mask for right-padded rows of the given lengths. */
export function keyPaddingMask(lengths: readonly number[], seqLen: number): Tensor {
  const m = new Float32Array(lengths.length * seqLen).fill(-Infinity);
  lengths.forEach((n, b) => m.fill(0, b * seqLen, b * seqLen + Math.min(n, seqLen)));
  return fromArray(m, [lengths.length, seqLen]);
}

/**
 * Right-pads examples into one batch. With causal attention a token never sees positions after it, so padding
 * on the right needs no attention mask: real tokens compute exactly what they would alone.
 */
export function padBatch(examples: Example[], padId: number, opts: PadOptions = {}): Batch {
  if (examples.length === 0) throw new Error('padBatch: no examples');
  const T = Math.max(...examples.map((e) => e.inputIds.length));
  const B = examples.length;
  const ids = new Int32Array(B * T).fill(padId);
  const labels = new Int32Array(B * T).fill(IGNORE_INDEX);
  examples.forEach((e, b) => {
    if (e.labels.length !== e.inputIds.length) throw new Error(`padBatch: example ${b} has ${e.inputIds.length} ids but ${e.labels.length} labels`);
    ids.set(e.inputIds, b * T);
    labels.set(e.labels, b * T);
  });
  const batch = makeBatch(ids, labels, B, T);
  if (opts.keyPaddingMask) batch.attentionMask = keyPaddingMask(examples.map((e) => e.inputIds.length), T);
  return batch;
}

/**
 * Fine-tuning stream: examples in a fresh seeded permutation each epoch, batchSize at a time (an epoch's last,
 * smaller batch is kept so every example is seen). State: epoch and index, from which the permutation is
 * recomputed.
 */
export class ShuffledExamples implements TrainData {
  private epoch = 0;
  private index = 0;
  private order: Int32Array;
  constructor(
    private readonly examples: Example[],
    private readonly o: { batchSize: number; seed: number; padId?: number } & PadOptions,
  ) {
    if (examples.length === 0) throw new Error('ShuffledExamples: no training examples');
    this.order = this.permutation(0);
  }

  private permutation(epoch: number): Int32Array {
    return createRng(this.o.seed, `data.shuffle.${epoch}`).permutation(this.examples.length);
  }

  next(): Batch {
    if (this.index >= this.examples.length) {
      this.epoch++;
      this.index = 0;
      this.order = this.permutation(this.epoch);
    }
    const pick: Example[] = [];
    const end = Math.min(this.index + this.o.batchSize, this.examples.length);
    for (let i = this.index; i < end; i++) pick.push(this.examples[this.order[i]!]!);
    this.index = end;
    return padBatch(pick, this.o.padId ?? 0, this.o);
  }

  get epochs(): number {
    return this.epoch;
  }

  state(): Json {
    return { epoch: this.epoch, index: this.index };
  }

  setState(s: Json): void {
    const st = s as { epoch?: unknown; index?: unknown } | null;
    if (!st || !Number.isInteger(st.epoch) || !Number.isInteger(st.index)) throw new Error('ShuffledExamples.setState: bad data position');
    this.epoch = st.epoch as number;
    this.index = st.index as number;
    this.order = this.permutation(this.epoch);
  }
}

/** Evaluation over fixed examples in their given order. */
export function exampleBatches(examples: Example[], batchSize: number, padId = 0, opts: PadOptions = {}): EvalData {
  return function* () {
    for (let i = 0; i < examples.length; i += batchSize) yield padBatch(examples.slice(i, i + batchSize), padId, opts);
  };
}
