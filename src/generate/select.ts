import type { Candidates } from '../models/common.js';

/**
 * Selection over a vocabulary's worth of scores for top-k and top-p sampling, without sorting all of it. Sorting
 * 50,257 logits a token (and again their probabilities for top-p) took ~25 ms a GPT-2 token, more than the model's
 * own forward. These give exactly what the full sorts gave: the same k-th value, and the same nucleus (the leading
 * entries by descending value, ties to the lower index), so sampling picks the same tokens from the same seed.
 */

/** Min-heap of at most `cap` values: after pushing every value, its top is the cap-th largest of them. */
function kLargestMin(values: ArrayLike<number>, cap: number): number {
  const heap = new Float64Array(cap);
  let size = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (size < cap) {
      // Sift up.
      let c = size++;
      while (c > 0) {
        const parent = (c - 1) >> 1;
        if (heap[parent]! <= v) break;
        heap[c] = heap[parent]!;
        c = parent;
      }
      heap[c] = v;
    } else if (v > heap[0]!) {
      // Replace the minimum and sift down.
      let c = 0;
      for (;;) {
        const l = 2 * c + 1;
        if (l >= size) break;
        const r = l + 1;
        const m = r < size && heap[r]! < heap[l]! ? r : l;
        if (heap[m]! >= v) break;
        heap[c] = heap[m]!;
        c = m;
      }
      heap[c] = v;
    }
  }
  return heap[0]!;
}

function hasNaN(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (Number.isNaN(values[i]!)) return true;
  return false;
}

/** The k-th largest value counting repeats (1 <= k <= length): `[...values].sort((a, b) => b - a)[k - 1]`. */
export function kthLargest(values: ArrayLike<number>, k: number): number {
  if (!(k >= 1 && k <= values.length)) throw new Error(`kthLargest: k = ${k} for ${values.length} values`);
  // NaN makes the sort's comparator inconsistent; keep whatever order the sort itself gives then.
  if (hasNaN(values)) return Array.from(values).sort((a, b) => b - a)[k - 1]!;
  return kLargestMin(values, k);
}

/**
 * The nucleus of top-p sampling: the indices (ascending) of the leading entries of the order
 * `[...indices].sort((a, b) => values[b] - values[a] || a - b)`, as many as it takes for their values, summed in
 * that order from 0, to reach `mass`; every index when they never do.
 *
 * The running sum depends only on the values in descending order (equal values add the same amount whichever
 * comes first), so it runs over a numeric sort of the values, far faster than sorting indices with a comparator;
 * the ties at the cut then go to the lowest indices, as the comparator would have put them first.
 */
export function nucleus(values: ArrayLike<number>, mass: number): number[] {
  const n = values.length;
  if (hasNaN(values)) {
    // NaN makes the comparator inconsistent: keep whatever order the sort itself gives then.
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[b]! - values[a]! || a - b);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      sum += values[order[i]!]!;
      if (sum >= mass) return order.slice(0, i + 1).sort((a, b) => a - b);
    }
    return Array.from({ length: n }, (_, i) => i);
  }
  // First the 256 largest values (and any equal to the 256th): with a trained model's peaked distribution the
  // nucleus is among them, and they are the head of the full descending order. Else the full sort.
  let count = 0;
  let cut = NaN;
  for (let m = Math.min(256, n); ; m = n) {
    const threshold = m >= n ? -Infinity : kLargestMin(values, m);
    const head: number[] = [];
    for (let i = 0; i < n; i++) if (values[i]! >= threshold) head.push(values[i]!);
    const sorted = Float64Array.from(head).sort();
    let sum = 0;
    count = 0;
    for (let i = sorted.length - 1; i >= 0; i--) {
      sum += sorted[i]!;
      count++;
      if (sum >= mass) {
        cut = sorted[i]!;
        break;
      }
    }
    if (!Number.isNaN(cut)) break;
    if (m >= n) return Array.from({ length: n }, (_, i) => i);
  }
  let ties = count;
  for (let i = 0; i < n; i++) if (values[i]! > cut) ties--;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (v > cut) out.push(i);
    else if (v === cut && ties > 0) {
      out.push(i);
      ties--;
    }
  }
  return out;
}

/**
 * How many of a row's largest logits top-k sampling takes as candidates: more than k, so that the smallest
 * usually falls below the k-th even after the temperature (see sampleCandidates).
 */
export function candidateCount(topK: number, vocab: number): number {
  return Math.min(vocab, 2 * topK + 16);
}

export type { Candidates };

/**
 * The `cap` largest entries of row[lo, lo + n) (ties to the lower index), as Candidates with indices relative to
 * lo, or null when the row holds a NaN (whose order pickToken's steps define differently). One pass with a
 * size-cap min-heap; then the few candidates are put in index order.
 */
export function topCandidates(row: ArrayLike<number>, lo: number, n: number, cap: number): Candidates | null {
  const size = Math.max(0, Math.min(cap, n));
  const hv = new Float64Array(size);
  const hi = new Int32Array(size);
  // Heap order: the root is the worst kept entry, the smallest value, of equal values the highest index.
  const worse = (a: number, b: number): boolean => hv[a]! < hv[b]! || (hv[a] === hv[b] && hi[a]! > hi[b]!);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const v = row[lo + i]!;
    if (v !== v) return null;
    if (count < size) {
      let c = count++;
      hv[c] = v;
      hi[c] = i;
      while (c > 0) {
        const parent = (c - 1) >> 1;
        if (!worse(c, parent)) break;
        [hv[c], hv[parent]] = [hv[parent]!, hv[c]!];
        [hi[c], hi[parent]] = [hi[parent]!, hi[c]!];
        c = parent;
      }
    } else if (size > 0 && v > hv[0]!) {
      // A later index with a value equal to the root's is worse than the root: only larger values enter.
      hv[0] = v;
      hi[0] = i;
      let c = 0;
      for (;;) {
        const l = 2 * c + 1;
        if (l >= count) break;
        const r = l + 1;
        const w = r < count && worse(r, l) ? r : l;
        if (!worse(w, c)) break;
        [hv[c], hv[w]] = [hv[w]!, hv[c]!];
        [hi[c], hi[w]] = [hi[w]!, hi[c]!];
        c = w;
      }
    }
  }
  const order = Array.from({ length: count }, (_, j) => j).sort((a, b) => hi[a]! - hi[b]!);
  return { index: Int32Array.from(order, (j) => hi[j]!), value: Float64Array.from(order, (j) => hv[j]!) };
}

/**
 * Top-k sampling (with top-p inside the top k when topP < 1) from a row's candidates: the token pickToken
 * draws from the whole row of `vocab` logits with the same rng (no repetition penalty, no constraint), or null,
 * having drawn nothing, when the candidates cannot show it is the same.
 *
 * pickToken divides every logit by the temperature, keeps those >= the k-th largest quotient (all its ties) and
 * takes a softmax over them in index order, the others adding exact zeros to every sum. The candidates are the
 * largest logits, and dividing by a positive temperature keeps their order (it may only merge neighbours), so
 * their k-th largest quotient is the row's. Every other logit is <= the smallest candidate, so when some candidate's
 * quotient falls below the k-th, nothing outside the candidates is kept; the same sums then run over the kept
 * candidates alone, in the same order. Non-finite quotients (and too few candidates) give null.
 */
export function sampleCandidates(
  c: Candidates,
  vocab: number,
  topK: number,
  temperature: number,
  topP: number,
  rng: { uniform53(): number },
): number | null {
  const n = c.index.length;
  if (!(temperature > 0) || !(topK >= 1 && topK < vocab) || n < topK) return null;
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s[i] = c.value[i]! / temperature;
    if (!Number.isFinite(s[i]!)) return null;
  }
  const kth = kthLargest(s, topK);
  let below = false;
  for (let i = 0; i < n; i++) if (s[i]! < kth) below = true;
  if (!below && n < vocab) return null;
  const at = drawFromScores(s, kth, topP, rng);
  return at < 0 ? 0 : c.index[at]!;
}

/**
 * pickToken's last steps over float64 scores in index order: a softmax over the entries >= `floor` (every entry,
 * NaN included, when floor is -Infinity: pickToken has already set what top-k drops to -Infinity), the top-p
 * nucleus when topP < 1, then one uniform draw walked through the running sums. The excluded entries would only
 * add exact zeros. Returns the drawn position, or -1 when no probability is positive.
 */
export function drawFromScores(s: Float64Array, floor: number, topP: number, rng: { uniform53(): number }): number {
  const n = s.length;
  const all = floor === -Infinity;
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (all || s[i]! >= floor) m = Math.max(m, s[i]!);
  const probs = new Float64Array(n);
  let z = 0;
  for (let i = 0; i < n; i++) if (all || s[i]! >= floor) z += probs[i] = Math.exp(s[i]! - m);
  for (let i = 0; i < n; i++) probs[i] = probs[i]! / z;
  if (topP < 1) {
    // Keep the most likely tokens until their mass reaches topP (at least one).
    const keep = new Uint8Array(n);
    for (const i of nucleus(probs, topP)) keep[i] = 1;
    let z2 = 0;
    for (let i = 0; i < n; i++) {
      if (!keep[i]) probs[i] = 0;
      z2 += probs[i]!;
    }
    for (let i = 0; i < n; i++) probs[i] = probs[i]! / z2;
  }
  const u = rng.uniform53();
  let acc = 0;
  let last = -1;
  for (let i = 0; i < n; i++) {
    if (probs[i]! <= 0) continue;
    acc += probs[i]!;
    last = i;
    if (u < acc) return i;
  }
  return last;
}
