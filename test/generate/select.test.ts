// Top-k and top-p selection without sorting the vocabulary (src/generate/select.ts): the same k-th value and the
// same nucleus as the full sorts they replace, so sampling picks the same tokens from the same seed.
import { describe, expect, it } from 'vitest';
import { kthLargest, nucleus } from '../../src/generate/select.js';
import { pickToken } from '../../src/generate/generate.js';
import { createRng } from '../../src/tensor/rng.js';

// The definitions: what pickToken computed before.
const refKth = (v: ArrayLike<number>, k: number): number => Array.from(v).sort((a, b) => b - a)[k - 1]!;
function refNucleus(v: ArrayLike<number>, mass: number): number[] {
  const order = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[b]! - v[a]! || a - b);
  let sum = 0;
  for (let i = 0; i < order.length; i++) {
    sum += v[order[i]!]!;
    if (sum >= mass) return order.slice(0, i + 1).sort((a, b) => a - b);
  }
  return order.sort((a, b) => a - b);
}

/** Seeded arrays with the awkward parts: repeated values, zeros, -Infinity, a peak, sizes around the 256 head. */
function cases(): { name: string; v: Float64Array }[] {
  const rng = createRng(7, 'select-test');
  const out: { name: string; v: Float64Array }[] = [];
  for (const n of [1, 2, 5, 255, 256, 257, 1000, 5000]) {
    const flat = new Float64Array(n).map(() => rng.uniform53());
    out.push({ name: `flat ${n}`, v: flat });
    out.push({ name: `ties ${n}`, v: new Float64Array(n).map(() => Math.floor(rng.uniform53() * 4) / 4) });
    const peaked = new Float64Array(n).map(() => rng.uniform53() * 1e-4);
    for (let i = 0; i < Math.min(5, n); i++) peaked[Math.floor(rng.uniform53() * n)] = 0.2 + i * 0.01;
    out.push({ name: `peaked ${n}`, v: peaked });
    out.push({ name: `masked ${n}`, v: flat.map((x, i) => (i % 3 === 0 ? -Infinity : x)) });
    out.push({ name: `zeros ${n}`, v: flat.map((x, i) => (i % 2 ? 0 : x)) });
  }
  return out;
}

describe('top-k and top-p selection', () => {
  it('kthLargest equals the sorted array\'s k-th value, repeats counted', () => {
    for (const { name, v } of cases()) {
      for (const k of [1, 2, 3, 50, 256, v.length]) {
        if (k > v.length) continue;
        expect(kthLargest(v, k), `${name}, k ${k}`).toBe(refKth(v, k));
      }
    }
    expect(() => kthLargest(Float64Array.of(1, 2), 3)).toThrow(/k = 3 for 2 values/);
  });

  it('nucleus equals the sorted prefix that reaches the mass, ties to the lower index', () => {
    for (const { name, v } of cases()) {
      // Probabilities as pickToken has them (summing to 1), and the raw values.
      let z = 0;
      for (const x of v) z += Number.isFinite(x) ? x : 0;
      const probs = v.map((x) => (Number.isFinite(x) ? x : 0) / (z || 1));
      for (const mass of [0, 1e-9, 0.1, 0.5, 0.9, 0.999, 1, 2]) {
        expect(nucleus(probs, mass), `${name}, mass ${mass}`).toEqual(refNucleus(probs, mass));
        expect(nucleus(v, mass), `${name} raw, mass ${mass}`).toEqual(refNucleus(v, mass));
      }
    }
  });

  it('keeps the sort\'s own answer when a value is NaN', () => {
    const v = Float64Array.of(0.3, NaN, 0.5, 0.2, NaN, 0.5);
    for (const k of [1, 2, 4, 6]) expect(kthLargest(v, k)).toBe(refKth(v, k));
    for (const mass of [0.4, 0.9, 5]) expect(nucleus(v, mass)).toEqual(refNucleus(v, mass));
  });

  it('pickToken samples the same tokens as with the full sorts', () => {
    // The former top-k / top-p steps, written out, against pickToken over the same logits and random stream.
    function refPick(logits: Float64Array, o: { temperature?: number; topK?: number; topP?: number }, u: number): number {
      const V = logits.length;
      const l = logits.map((x) => x / (o.temperature ?? 1));
      const k = o.topK ?? 0;
      if (k > 0 && k < V) {
        const kth = refKth(l, k);
        for (let i = 0; i < V; i++) if (l[i]! < kth) l[i] = -Infinity;
      }
      let m = -Infinity;
      for (const x of l) m = Math.max(m, x);
      const probs = new Float64Array(V);
      let z = 0;
      for (let i = 0; i < V; i++) z += probs[i] = Math.exp(l[i]! - m);
      for (let i = 0; i < V; i++) probs[i] = probs[i]! / z;
      if ((o.topP ?? 1) < 1) {
        const keep = new Set(refNucleus(probs, o.topP!));
        let z2 = 0;
        for (let i = 0; i < V; i++) {
          if (!keep.has(i)) probs[i] = 0;
          z2 += probs[i]!;
        }
        for (let i = 0; i < V; i++) probs[i] = probs[i]! / z2;
      }
      let acc = 0;
      let last = 0;
      for (let i = 0; i < V; i++) {
        if (probs[i]! <= 0) continue;
        acc += probs[i]!;
        last = i;
        if (u < acc) return i;
      }
      return last;
    }
    const rng = createRng(3, 'pick-test');
    for (let trial = 0; trial < 60; trial++) {
      const V = [50, 300, 3000][trial % 3]!;
      const logits = new Float64Array(V).map(() => (rng.uniform53() - 0.5) * (trial % 2 ? 20 : 2));
      for (let i = 0; i < V; i += 7) logits[i] = logits[0]!; // repeated logits
      const o = [{ topK: 5 }, { topP: 0.9 }, { topK: 40, topP: 0.5, temperature: 0.7 }, { topP: 0.05 }][trial % 4]!;
      const u = rng.uniform53();
      const got = pickToken(Float64Array.from(logits), [], { doSample: true, ...o }, { uniform53: () => u });
      expect(got, `trial ${trial} ${JSON.stringify(o)}`).toBe(refPick(logits, o, u));
    }
  });
});
