/**
 * Cross-entropy over [N, V] logits, forward and backward, without a softmax buffer: the forward keeps only the
 * row's log-sum-exp, and the backward rebuilds each probability as exp(logit - lse).
 */
import type { Buf } from '../backend.js';
import { checkSameType, checkSize, checkSpan } from './check.js';

function checkTarget(kernel: string, n: number, t: number, V: number, ignoreIndex: number): void {
  if (t !== ignoreIndex && (t < 0 || t >= V)) {
    throw new Error(`${kernel}: target ${t} of row ${n} is outside [0, ${V}) and is not the ignore index ${ignoreIndex}`);
  }
}

/**
 * lse[n] = max + log Σ exp(logit - max) is written for every row, ignored ones included (it costs the same and
 * keeps lse meaningful everywhere); losses[n] = lse - logit[target], or 0 for ignored rows.
 */
export function crossEntropyForward(
  N: number,
  V: number,
  ignoreIndex: number,
  logits: Buf,
  targets: Int32Array,
  losses: Buf,
  lse: Buf,
): void {
  const K = 'crossEntropyForward';
  checkSize(K, 'N', N);
  checkSize(K, 'V', V);
  checkSameType(K, logits, losses, lse);
  checkSpan(K, 'logits', logits, 0, N * V);
  checkSpan(K, 'targets', targets, 0, N);
  checkSpan(K, 'losses', losses, 0, N);
  checkSpan(K, 'lse', lse, 0, N);
  for (let n = 0; n < N; n++) {
    const t = targets[n];
    checkTarget(K, n, t, V, ignoreIndex);
    const row = n * V;
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (logits[row + j] > max) max = logits[row + j];
    let sum = 0;
    for (let j = 0; j < V; j++) sum += Math.exp(logits[row + j] - max);
    // An all -Infinity row has max = -Infinity; lse is then -Infinity too (log of an empty sum).
    const l = max === -Infinity ? -Infinity : max + Math.log(sum);
    lse[n] = l;
    losses[n] = t === ignoreIndex ? 0 : l - logits[row + t];
  }
}

export function crossEntropyBackward(
  N: number,
  V: number,
  ignoreIndex: number,
  logits: Buf,
  targets: Int32Array,
  lse: Buf,
  scale: Buf,
  dlogits: Buf,
): void {
  const K = 'crossEntropyBackward';
  checkSize(K, 'N', N);
  checkSize(K, 'V', V);
  checkSameType(K, logits, lse, scale, dlogits);
  checkSpan(K, 'logits', logits, 0, N * V);
  checkSpan(K, 'targets', targets, 0, N);
  checkSpan(K, 'lse', lse, 0, N);
  checkSpan(K, 'scale', scale, 0, N);
  checkSpan(K, 'dlogits', dlogits, 0, N * V);
  for (let n = 0; n < N; n++) {
    const t = targets[n];
    checkTarget(K, n, t, V, ignoreIndex);
    const row = n * V;
    if (t === ignoreIndex) {
      dlogits.fill(0, row, row + V);
      continue;
    }
    const l = lse[n];
    const s = scale[n];
    // Index by index, logits[row + j] is read before dlogits[row + j] is written: safe when they alias.
    for (let j = 0; j < V; j++) {
      const p = Math.exp(logits[row + j] - l);
      dlogits[row + j] = s * (j === t ? p - 1 : p);
    }
  }
}
