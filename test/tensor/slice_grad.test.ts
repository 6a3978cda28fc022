import { describe, expect, it } from 'vitest';
import { fromArray, tidy, type Tensor } from '../../src/tensor/index.js';

// Slices hand the engine their gradient for one region of the input (RegionGrad); the engine adds it into that
// region of the input's gradient. Every case is checked against the gradient written out by hand.
const X = () => fromArray(Float64Array.from({ length: 24 }, (_, i) => i / 10 - 1), [2, 12]);
const weights = (n: number, seed: number) => fromArray(Float64Array.from({ length: n }, (_, i) => ((i * 7 + seed) % 11) - 5), [2, n / 2]);

/** d/dx of Σ_i sum(slice_i(x) * w_i) for column ranges [a, b) of x (2×12): w_i scattered and summed. */
function expected(ranges: [number, number][], ws: Tensor[], extra: number[] = new Array(24).fill(0)): number[] {
  const g = [...extra];
  ranges.forEach(([a, b], i) => {
    const w = ws[i]!.toFlat() as Float64Array;
    for (let r = 0; r < 2; r++) for (let c = a; c < b; c++) g[r * 12 + c]! += w[r * (b - a) + (c - a)]!;
  });
  return g;
}

function run(ranges: [number, number][], opts: { scoped: boolean; leaf: boolean; alsoFull?: boolean }): number[] {
  const x = X().requiresGrad_();
  const ws = ranges.map(([a, b], i) => weights(2 * (b - a), i));
  const body = (): void => {
    const base = opts.leaf ? x : x.mul(1); // through an intermediate, so the engine accumulates in its map
    let loss = ranges.map(([a, b], i) => base.slice(1, a, b).mul(ws[i]!).sum()).reduce((p, q) => p.add(q));
    if (opts.alsoFull) loss = loss.add(base.mul(base).sum());
    loss.backward();
  };
  if (opts.scoped) tidy(body);
  else body();
  return [...(x.grad!.toFlat() as Float64Array)];
}

describe('slice gradients by region', () => {
  const qkv: [number, number][] = [
    [0, 4],
    [4, 8],
    [8, 12],
  ];
  const overlapping: [number, number][] = [
    [0, 6],
    [3, 9],
    [3, 9],
  ];
  for (const [name, ranges] of [['tiling', qkv], ['overlapping and repeated', overlapping]] as const) {
    for (const scoped of [true, false]) {
      for (const leaf of [true, false]) {
        it(`${name} slices, ${leaf ? 'of a leaf' : 'of an intermediate'}${scoped ? ', inside tidy' : ''}`, () => {
          const ws = ranges.map(([a, b], i) => weights(2 * (b - a), i));
          expect(run([...ranges], { scoped, leaf })).toEqual(expected([...ranges], ws));
        });
      }
    }
  }

  it('slices beside a use of the whole tensor (the full gradient arrives first or last)', () => {
    const x = X().toFlat() as Float64Array;
    const ws = qkv.map(([a, b], i) => weights(2 * (b - a), i));
    const full = [...x].map((v) => 2 * v);
    const got = run(qkv, { scoped: true, leaf: false, alsoFull: true });
    expected(qkv, ws, full).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 12));
  });

  it('a stepped slice', () => {
    const x = X().requiresGrad_();
    const w = weights(12, 3);
    tidy(() => x.mul(1).slice(1, 1, 12, 2).mul(w).sum().backward());
    const g = new Array(24).fill(0);
    const wf = w.toFlat() as Float64Array;
    for (let r = 0; r < 2; r++) for (let j = 0; j < 6; j++) g[r * 12 + 1 + 2 * j] = wf[r * 6 + j];
    expect([...(x.grad!.toFlat() as Float64Array)]).toEqual(g);
  });
});
