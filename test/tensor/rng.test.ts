import { describe, expect, it } from 'vitest';
import { Philox, createRng, philox4x32_10, streamId, type RngState } from '../../src/tensor/rng.js';

describe('Philox4x32-10 block function', () => {
  it('matches the published known-answer vectors', () => {
    // Random123's kat_vectors file (D. E. Shaw Research, github.com/DEShawResearch/random123, tests/kat_vectors),
    // the three "philox4x32 10" lines; columns: counter (4 words), key (2 words), expected output (4 words).
    const kat: [number[], number[], number[]][] = [
      [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
      [
        [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
        [0xffffffff, 0xffffffff],
        [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
      ],
      [
        [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
        [0xa4093822, 0x299f31d0],
        [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
      ],
    ];
    for (const [c, k, want] of kat) {
      expect([...philox4x32_10(c[0]!, c[1]!, c[2]!, c[3]!, k[0]!, k[1]!)]).toEqual(want);
    }
  });

  it('a generator draws block b of its stream as words 4b..4b+3', () => {
    const rng = createRng(0x299f31d0a4093822n, 'x');
    const [s0, s1] = streamId('x');
    const words = rng.fillUint32(new Uint32Array(12));
    for (let b = 0; b < 3; b++) {
      expect([...words.subarray(4 * b, 4 * b + 4)]).toEqual([...philox4x32_10(b, 0, s0, s1, 0xa4093822, 0x299f31d0)]);
    }
  });

  it('hashes stream names with FNV-1a 64', () => {
    // FNV-1a-64 of the empty string is the offset basis; of "a" it is 0xaf63dc4c8601ec8c (published test value).
    expect(streamId('')).toEqual([0x84222325, 0xcbf29ce4]);
    expect(streamId('a')).toEqual([0x8601ec8c, 0xaf63dc4c]);
  });
});

describe('generator', () => {
  it('save/restore through JSON continues the exact same numbers', () => {
    const rng = createRng(1234, 'data');
    rng.nextUint32(); // leave the block half-used: the state must capture that too
    rng.fillNormal(new Float32Array(5));
    rng.randint(7);
    const saved = JSON.stringify(rng.state());
    const cont = [rng.nextUint32(), rng.uniform(), rng.uniform53(), rng.normal(), rng.randint(1000), rng.randint(2 ** 40)];
    const perm = rng.permutation(20);
    const restored = Philox.fromState(JSON.parse(saved) as RngState);
    expect([
      restored.nextUint32(),
      restored.uniform(),
      restored.uniform53(),
      restored.normal(),
      restored.randint(1000),
      restored.randint(2 ** 40),
    ]).toEqual(cont);
    expect([...restored.permutation(20)]).toEqual([...perm]);
    expect(restored.state()).toEqual(rng.state());
    expect(JSON.parse(saved)).toMatchObject({ algorithm: 'philox4x32-10', seed: '1234', stream: 'data' });
  });

  it('64-bit seeds survive JSON as decimal strings', () => {
    const big = (1n << 64n) - 3n;
    const rng = new Philox(big, 'init');
    const s = JSON.parse(JSON.stringify(rng.state())) as RngState;
    expect(s.seed).toBe('18446744073709551613');
    expect(Philox.fromState(s).nextUint32()).toBe(new Philox(big, 'init').nextUint32());
    expect(new Philox('18446744073709551613', 'init').nextUint32()).toBe(rng.clone().seek(0).nextUint32());
  });

  it('rejects bad seeds and states with clear errors', () => {
    expect(() => createRng(-1)).toThrow(/seed -1/);
    expect(() => createRng(1.5)).toThrow(/seed 1.5/);
    expect(() => createRng(1n << 64n)).toThrow(/outside/);
    expect(() => createRng('12a')).toThrow(/not an unsigned integer/);
    expect(() => Philox.fromState({ algorithm: 'mt19937', seed: '1', stream: 's', position: 0 } as unknown as RngState)).toThrow(/algorithm "mt19937"/);
    expect(() => Philox.fromState({ algorithm: 'philox4x32-10', seed: '1', stream: 's', position: -4 })).toThrow(/position -4/);
    expect(() => createRng(1).randint(0)).toThrow(/positive/);
    expect(() => createRng(1).fillBernoulli(new Uint8Array(2), 1.5)).toThrow(/\[0, 1\]/);
  });

  it('seek and skip are consistent with sequential draws', () => {
    const a = createRng(9, 's');
    const seq = a.fillUint32(new Uint32Array(40));
    const b = createRng(9, 's').seek(17);
    expect(b.nextUint32()).toBe(seq[17]);
    b.skip(5);
    expect(b.position).toBe(23);
    expect(b.nextUint32()).toBe(seq[23]);
    // Far positions work without iterating (counter-based).
    const far = createRng(9, 's').seek(2 ** 50 + 3);
    expect(far.position).toBe(2 ** 50 + 3);
    far.nextUint32();
  });

  it('streams, seeds and forks are distinct; forks are deterministic and position-independent', () => {
    const w = (r: Philox) => [...r.fillUint32(new Uint32Array(8))];
    expect(w(createRng(1, 'init'))).not.toEqual(w(createRng(1, 'dropout')));
    expect(w(createRng(1, 'init'))).not.toEqual(w(createRng(2, 'init')));
    const parent = createRng(1, 'init');
    const f1 = w(parent.fork('layer.0'));
    parent.fillUint32(new Uint32Array(100));
    expect(w(parent.fork('layer.0'))).toEqual(f1);
    expect(parent.fork('layer.0').stream).toBe('init/layer.0');
    expect(w(createRng(1, 'init/layer.0'))).toEqual(f1);
    const parts = createRng(1, 'data').split(3);
    expect(parts.map((p) => p.stream)).toEqual(['data/0', 'data/1', 'data/2']);
    expect(new Set(parts.map((p) => p.nextUint32())).size).toBe(3);
  });

  it('regression: the first draws of a fixed seed and stream never change', () => {
    // Values produced by this implementation (after the KAT test above passed). They pin the documented mapping
    // of seed/stream/position onto key/counter: a change here changes every saved run's randomness.
    const rng = createRng(42, 'init');
    expect([...rng.fillUint32(new Uint32Array(6))]).toEqual([0x3818473c, 0x8ad707cf, 0xf6ecdbdb, 0x82f5d5a1, 0xf34be7f6, 0x02156b55]);
    expect(createRng(42, 'dropout').nextUint32()).toBe(0x94644396);
    // And they are the documented mapping: key = seed, counter = (block, 0, FNV-1a-64 of the stream name).
    const [s0, s1] = streamId('init');
    expect([...philox4x32_10(1, 0, s0, s1, 42, 0)].slice(0, 2)).toEqual([0xf34be7f6, 0x02156b55]);
  });
});

describe('distributions', () => {
  const N = 200_000;

  it('uniform: range, mean 1/2, variance 1/12, in f32 and f64', () => {
    const rng = createRng(7, 'u');
    for (const a of [rng.fillUniform(new Float32Array(N)), rng.fillUniform(new Float64Array(N))]) {
      let s = 0;
      let s2 = 0;
      let min = 1;
      let max = 0;
      for (const x of a) {
        s += x;
        s2 += x * x;
        min = Math.min(min, x);
        max = Math.max(max, x);
      }
      const mean = s / N;
      const v = s2 / N - mean * mean;
      // Standard error of the mean is sqrt(1/12/N) ≈ 6.5e-4; allow 5σ.
      expect(Math.abs(mean - 0.5)).toBeLessThan(3.3e-3);
      expect(Math.abs(v - 1 / 12)).toBeLessThan(2e-3);
      expect(min).toBeGreaterThanOrEqual(0);
      expect(max).toBeLessThan(1);
    }
    const f = createRng(7, 'u').fillUniform(new Float32Array(10), -2, 3);
    expect(f.every((x) => x >= -2 && x <= 3)).toBe(true);
    // 24-bit uniforms are exact float32 multiples of 2^-24.
    const u = createRng(8).uniform();
    expect(Number.isInteger(u * 2 ** 24)).toBe(true);
    expect(Number.isInteger(createRng(8).uniform53() * 2 ** 53)).toBe(true);
  });

  it('normal: mean 0, variance 1, symmetric tails, with mean/std parameters', () => {
    const a = createRng(11, 'n').fillNormal(new Float64Array(N + 1));
    let s = 0;
    let s2 = 0;
    let s4 = 0;
    let beyond2 = 0;
    for (const x of a) {
      s += x;
      s2 += x * x;
      s4 += x ** 4;
      if (Math.abs(x) > 2) beyond2++;
    }
    const n = a.length;
    expect(Math.abs(s / n)).toBeLessThan(0.012); // 5σ of the mean
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.016);
    expect(Math.abs(s4 / n - 3)).toBeLessThan(0.12); // kurtosis of a normal
    expect(Math.abs(beyond2 / n - 0.0455)).toBeLessThan(0.003);
    const b = createRng(11, 'n').fillNormal(new Float32Array(N), 5, 0.1);
    const mb = b.reduce((x, y) => x + y, 0) / N;
    expect(Math.abs(mb - 5)).toBeLessThan(0.002);
    // Pairs: element 2k and 2k+1 come from the same two words; normal() returns the first member of a pair.
    const pair = createRng(3).fillNormal(new Float64Array(2));
    expect(createRng(3).normal()).toBe(pair[0]);
    expect(Number.isFinite(pair[1]!)).toBe(true);
  });

  it('randint: in range and unbiased (chi-square), including n that does not divide 2^32 and n > 2^32', () => {
    const rng = createRng(5, 'i');
    for (const n of [3, 10, 1000]) {
      const counts = new Array<number>(n).fill(0);
      const draws = 100 * n;
      for (let i = 0; i < draws; i++) counts[rng.randint(n)]!++;
      const e = draws / n;
      const chi2 = counts.reduce((acc, c) => acc + (c - e) ** 2 / e, 0);
      // chi-square with n−1 degrees of freedom: mean n−1, sd sqrt(2(n−1)); allow 5 sd.
      expect(chi2).toBeLessThan(n - 1 + 5 * Math.sqrt(2 * (n - 1)) + 5);
    }
    // A bias check that modulo reduction would fail: n = 3 × 2^30 makes w mod n land in [0, 2^30) twice as often.
    const n = 3 * 2 ** 30;
    let low = 0;
    for (let i = 0; i < 30000; i++) if (rng.randint(n) < 2 ** 30) low++;
    expect(Math.abs(low / 30000 - 1 / 3)).toBeLessThan(0.015);
    const big = 2 ** 40 + 7;
    for (let i = 0; i < 1000; i++) {
      const v = rng.randint(big);
      expect(Number.isInteger(v) && v >= 0 && v < big).toBe(true);
    }
    expect(createRng(1).randint(1)).toBe(0);
    const r = createRng(2).fillRandint(new Int32Array(1000), -5, 5);
    expect(r.every((x) => x >= -5 && x < 5)).toBe(true);
  });

  it('bernoulli and dropout masks have the right frequencies', () => {
    const m = createRng(6, 'dropout').fillBernoulli(new Uint8Array(N), 0.3);
    const ones = m.reduce((a, b) => a + b, 0);
    expect(Math.abs(ones / N - 0.3)).toBeLessThan(0.006);
    expect(createRng(1).fillBernoulli(new Uint8Array(100), 0).every((x) => x === 0)).toBe(true);
    expect(createRng(1).fillBernoulli(new Uint8Array(100), 1).every((x) => x === 1)).toBe(true);
    const d = createRng(6, 'dropout').fillDropoutMask(new Float32Array(N), 0.7);
    // Same words as fillBernoulli(keep = 0.3): the mask is that Bernoulli pattern times 1/0.3.
    for (let i = 0; i < 1000; i++) expect(d[i]).toBe(m[i] ? Math.fround(1 / 0.3) : 0);
    const mean = d.reduce((a, b) => a + b, 0) / N;
    expect(Math.abs(mean - 1)).toBeLessThan(0.02);
  });

  it('shuffle: a permutation, every position roughly uniform', () => {
    const rng = createRng(10, 'data');
    const n = 8;
    const pos = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    const T = 8000;
    for (let t = 0; t < T; t++) {
      const p = rng.permutation(n);
      expect([...p].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      for (let i = 0; i < n; i++) pos[i]![p[i]!]!++;
    }
    for (const row of pos) for (const c of row) expect(Math.abs(c / T - 1 / n)).toBeLessThan(0.02);
    const arr = ['a', 'b', 'c', 'd'];
    expect(rng.shuffle(arr)).toBe(arr);
    expect([...arr].sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('is fast enough for weight init', () => {
    const t0 = performance.now();
    createRng(1, 'init').fillNormal(new Float32Array(1_000_000));
    expect(performance.now() - t0).toBeLessThan(1500);
  });
});
