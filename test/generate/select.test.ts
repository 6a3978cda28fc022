// Top-k and top-p selection without sorting the vocabulary (src/generate/select.ts): the same k-th value and the
// same nucleus as the full sorts they replace, so sampling picks the same tokens from the same seed.
import { describe, expect, it } from 'vitest';
import { candidateCount, kthLargest, nucleus, sampleCandidates, topCandidates } from '../../src/generate/select.js';
import { pickToken } from '../../src/generate/generate.js';
import { createRng } from '../../src/tensor/rng.js';
import { generate } from '../../src/generate/generate.js';
import { GPT2 } from '../../src/models/gpt2.js';

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

type SampleOpts = { temperature?: number; topK?: number; topP?: number };

/** pickToken's former top-k / top-p steps written out: the probabilities its walk runs over. */
function refProbs(logits: Float64Array, o: SampleOpts): Float64Array {
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
  return probs;
}

/** pickToken's walk: the pick for u, and the running sums it compares u with (index, sum). */
function walk(probs: Float64Array, u: number): { pick: number; sums: [number, number][] } {
  const sums: [number, number][] = [];
  let acc = 0;
  let last = 0;
  let pick = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i]! <= 0) continue;
    acc += probs[i]!;
    last = i;
    sums.push([i, acc]);
    if (pick < 0 && u < acc) pick = i;
  }
  return { pick: pick < 0 ? last : pick, sums };
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
    function refPick(logits: Float64Array, o: SampleOpts, u: number): number {
      return walk(refProbs(logits, o), u).pick;
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

  it('topCandidates keeps the cap largest entries, ties to the lower index, in index order', () => {
    const rng = createRng(5, 'cand-test');
    const ref = (row: Float64Array, lo: number, n: number, cap: number): number[] =>
      Array.from({ length: n }, (_, i) => i)
        .sort((a, b) => row[lo + b]! - row[lo + a]! || a - b)
        .slice(0, Math.max(0, cap))
        .sort((a, b) => a - b);
    for (const n of [1, 7, 100, 3000]) {
      const lo = 3;
      const row = new Float64Array(n + 5).map(() => Math.floor(rng.uniform53() * 40) - 20); // many repeats
      row[lo + (n >> 1)] = -Infinity;
      row[lo + n - 1] = Infinity;
      for (const cap of [0, 1, 5, 50, n, n + 10]) {
        const c = topCandidates(row, lo, n, cap)!;
        const want = ref(row, lo, n, cap);
        expect(Array.from(c.index), `n ${n} cap ${cap}`).toEqual(want);
        expect(Array.from(c.value)).toEqual(want.map((i) => row[lo + i]!));
      }
      row[lo + 2 * (n >> 2)] = NaN;
      expect(topCandidates(row, lo, n, 5)).toBeNull();
    }
  });

  it('sampleCandidates draws what pickToken draws from the whole row, or declines without drawing', () => {
    const rng = createRng(11, 'cand-pick');
    let drawn = 0, declined = 0;
    for (let trial = 0; trial < 300; trial++) {
      const V = [40, 500, 5000][trial % 3]!;
      const scale = [0.5, 4, 40][(trial >> 2) % 3]!;
      // Logits as a model gives them: float32 values, here with repeats (every 5th trial quantized hard).
      const row = new Float32Array(V).map(() => (rng.uniform53() - 0.5) * scale);
      if (trial % 5 === 0) for (let i = 0; i < V; i++) row[i] = Math.round(row[i]! * 2) / 2;
      const topK = [1, 3, 20, V - 1, 64][trial % 5]!;
      const temperature = [1, 0.7, 1.3, 1e-3, 5e-324][trial % 7 === 6 ? 4 : trial % 4]!;
      const topP = [1, 0.9, 0.3, 1][(trial >> 1) % 4]!;
      const c = topCandidates(row, 0, V, candidateCount(topK, V))!;
      // Every third draw sits exactly on one of the walk's running sums, where a sum off by one bit picks
      // another token.
      const sums = walk(refProbs(Float64Array.from(row), { topK, temperature, topP }), 0).sums;
      const u = trial % 3 === 0 && sums.length > 1 ? sums[Math.floor(rng.uniform53() * (sums.length - 1))]![1] : rng.uniform53();
      let draws = 0;
      const got = sampleCandidates(c, V, topK, temperature, topP, { uniform53: () => (draws++, u) });
      const want = pickToken(Float64Array.from(row), [], { doSample: true, topK, temperature, topP }, { uniform53: () => u });
      const what = `trial ${trial}: V ${V}, k ${topK}, T ${temperature}, p ${topP}`;
      if (got === null) {
        declined++;
        expect(draws, what).toBe(0);
      } else {
        drawn++;
        expect(draws, what).toBe(1);
        expect(got, what).toBe(want);
      }
    }
    // The fast path is the common one; declining happens for ties across the candidates' edge and overflow.
    expect(drawn).toBeGreaterThan(200);
    expect(declined).toBeGreaterThan(0);
    // Ties running past the candidates: the k-th value repeats beyond them, so the candidates cannot decide.
    const flat = new Float32Array(100).fill(1);
    expect(sampleCandidates(topCandidates(flat, 0, 100, 10)!, 100, 5, 1, 1, { uniform53: () => 0.5 })).toBeNull();
    // A temperature that sends quotients to infinity, no top-k, or too few candidates: declined.
    const row = Float32Array.of(3, 1, 2, 0);
    const all = topCandidates(row, 0, 4, 4)!;
    expect(sampleCandidates(all, 4, 2, 1e-310, 1, { uniform53: () => 0.5 })).toBeNull();
    expect(sampleCandidates(all, 4, 4, 1, 1, { uniform53: () => 0.5 })).toBeNull();
    expect(sampleCandidates(topCandidates(row, 0, 4, 1)!, 4, 2, 1, 1, { uniform53: () => 0.5 })).toBeNull();
  });

  it('generate() samples the same tokens through the candidates as through pickToken', () => {
    const model = new GPT2({ vocabSize: 300, nPositions: 64, nEmbd: 16, nLayer: 1, nHead: 2 });
    model.initWeights(4);
    // A constraint that allows every token changes no pick but sends every step through pickToken.
    const everything = (): { allowed(): Uint8Array; advance(): void; done(): boolean } => ({
      allowed: () => new Uint8Array(300).fill(1),
      advance: () => undefined,
      done: () => false,
    });
    for (const o of [{ topK: 5 }, { topK: 40, temperature: 0.6 }, { topK: 100, topP: 0.8, temperature: 2 }]) {
      for (const seed of [1, 2, 3]) {
        const opts = { maxNewTokens: 24, doSample: true, seed, ...o };
        const fast = generate(model, [[1, 2, 3], [7]], opts).ids;
        const full = generate(model, [[1, 2, 3], [7]], { ...opts, constraints: [everything(), everything()] }).ids;
        expect(fast, JSON.stringify(opts)).toEqual(full);
      }
    }
  });
});
