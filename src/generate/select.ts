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
