import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GPT2, type GPT2Options } from '../../src/models/gpt2.js';
import { makeBatch } from '../../src/train/data.js';
import type { Batch, Json, TrainData } from '../../src/train/types.js';
import { createRng } from '../../src/tensor/rng.js';

export const TINY: GPT2Options = { vocabSize: 32, nPositions: 16, nEmbd: 16, nLayer: 2, nHead: 2 };

export function tinyModel(seed = 1, extra: Partial<GPT2Options> = {}): GPT2 {
  const m = new GPT2({ ...TINY, ...extra });
  m.initWeights(seed);
  return m;
}

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `fintune-${tag}-`));
}

/** A fixed list of batches served in a cycle; the position is the index. */
export class ListData implements TrainData {
  i = 0;
  constructor(private readonly make: () => Batch[]) {}
  next(): Batch {
    const all = this.make();
    return all[this.i++ % all.length]!;
  }
  state(): Json {
    return { i: this.i };
  }
  setState(s: Json): void {
    this.i = (s as { i: number }).i;
  }
}

/** Rows [B, T] where the label of token x is f(x): a learnable mapping. */
export function mappingBatch(B: number, T: number, seed: number, f: (x: number) => number, vocab = 32): Batch {
  const rng = createRng(seed, 'test.batch');
  const ids = new Int32Array(B * T);
  const labels = new Int32Array(B * T);
  for (let i = 0; i < B * T; i++) {
    ids[i] = rng.randint(vocab);
    labels[i] = f(ids[i]!) % vocab;
  }
  return makeBatch(ids, labels, B, T);
}

export function readMetrics(runDir: string): Record<string, number>[] {
  return fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, number>);
}
