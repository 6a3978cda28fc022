/** Embedding lookup ([N] ids → [N, C] rows of a [numEmbeddings, C] weight) and its accumulating backward. */
import type { Buf } from '../backend.js';
import { checkSameType, checkSize, checkSpan } from './check.js';

/** Throws unless every id indexes a full row of the weight. */
function checkIds(kernel: string, N: number, C: number, ids: Int32Array, weight: Buf): void {
  checkSpan(kernel, 'ids', ids, 0, N);
  if (C === 0) return;
  const rows = Math.floor(weight.length / C);
  for (let n = 0; n < N; n++) {
    const id = ids[n];
    if (id < 0 || id >= rows) {
      throw new Error(`${kernel}: id ${id} at position ${n} is outside [0, ${rows}) (weight of ${weight.length} = ${rows}×${C} elements)`);
    }
  }
}

export function embeddingForward(N: number, C: number, ids: Int32Array, weight: Buf, out: Buf): void {
  const K = 'embeddingForward';
  checkSize(K, 'N', N);
  checkSize(K, 'C', C);
  checkSameType(K, weight, out);
  checkSpan(K, 'out', out, 0, N * C);
  checkIds(K, N, C, ids, weight);
  for (let n = 0; n < N; n++) out.set(weight.subarray(ids[n] * C, ids[n] * C + C), n * C);
}

export function embeddingBackward(N: number, C: number, ids: Int32Array, dout: Buf, dweight: Buf): void {
  const K = 'embeddingBackward';
  checkSize(K, 'N', N);
  checkSize(K, 'C', C);
  checkSameType(K, dout, dweight);
  checkSpan(K, 'dout', dout, 0, N * C);
  checkIds(K, N, C, ids, dweight);
  // In order of n: a repeated id sums its rows in the same order every time, so the result is reproducible.
  for (let n = 0; n < N; n++) {
    const w = ids[n] * C;
    const d = n * C;
    for (let i = 0; i < C; i++) dweight[w + i] += dout[d + i];
  }
}
