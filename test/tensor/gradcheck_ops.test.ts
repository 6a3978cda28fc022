/** Finite-difference gradient checks (float64) for every differentiable op, through the autograd engine. */
import { describe, it } from 'vitest';
import {
  cat,
  createRng,
  crossEntropy,
  dropout,
  embedding,
  fromArray,
  gelu,
  indexSelect,
  layerNorm,
  linear,
  addLinear,
  rmsNorm,
  rope,
  scaledDotProductAttention,
  silu,
  softmax,
  tensor,
} from '../../src/tensor/index.js';
import { gradcheck, rnd } from '../helpers/gradcheck.js';

describe('gradcheck: elementwise with broadcasting', () => {
  const a = (): ReturnType<typeof rnd> => rnd([3, 4], 1, { low: 0.5, high: 2 });
  const b = (): ReturnType<typeof rnd> => rnd([4], 2, { low: 0.5, high: 2 });
  for (const op of ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'] as const) {
    it(op, () => gradcheck(op, (x, y) => (x[op] as (o: typeof y) => typeof y)(y), [a(), b()]));
  }
  it('broadcast both ways [3,1] with [1,4]', () =>
    gradcheck('mul', (x, y) => x.mul(y), [rnd([3, 1], 3), rnd([1, 4], 4)]));
  it('scalar arithmetic', () => gradcheck('scalar', (x) => x.add(2).mul(3).sub(1).div(4).pow(3), [rnd([5], 5)]));
});

describe('gradcheck: unary', () => {
  const pos = (): ReturnType<typeof rnd> => rnd([2, 5], 11, { low: 0.3, high: 2 });
  const any = (): ReturnType<typeof rnd> => rnd([2, 5], 12, { low: -2, high: 2 });
  for (const op of ['exp', 'log', 'sqrt', 'rsqrt'] as const) it(op, () => gradcheck(op, (x) => x[op](), [pos()]));
  for (const op of ['neg', 'tanh', 'sigmoid', 'square', 'sin', 'cos', 'abs', 'relu'] as const) {
    it(op, () => gradcheck(op, (x) => x[op](), [any()]));
  }
});

describe('gradcheck: views', () => {
  it('reshape / view / flatten', () => gradcheck('reshape', (x) => x.reshape(4, 6).view(2, 12).flatten(), [rnd([2, 3, 4], 20)]));
  it('transpose and permute', () => gradcheck('permute', (x) => x.permute(2, 0, 1).transpose(0, 1).mul(x.transpose(0, 2).permute(2, 0, 1)), [rnd([2, 3, 4], 21)]));
  it('slice with step and negative indices', () => gradcheck('slice', (x) => x.slice(1, 1, -1, 2).slice(0, -2), [rnd([3, 7], 22)]));
  it('select / unsqueeze / squeeze', () => gradcheck('select', (x) => x.select(1, 2).unsqueeze(0).squeeze(0), [rnd([3, 4], 23)]));
  it('expand', () => gradcheck('expand', (x) => x.expand(2, 3, 4), [rnd([3, 1], 24)]));
  it('contiguous of a transposed view', () => gradcheck('contiguous', (x) => x.T.contiguous(), [rnd([3, 5], 25)]));
  it('reshape of a non-contiguous view (copy path)', () => gradcheck('reshape', (x) => x.T.reshape(15), [rnd([3, 5], 26)]));
});

describe('gradcheck: reductions', () => {
  it('sum over all, one dim, several dims, keepdim', () => {
    gradcheck('sum', (x) => x.sum(), [rnd([2, 3, 4], 30)]);
    gradcheck('sum', (x) => x.sum(1), [rnd([2, 3, 4], 31)]);
    gradcheck('sum', (x) => x.sum([0, 2], true), [rnd([2, 3, 4], 32)]);
  });
  it('mean', () => gradcheck('mean', (x) => x.mean(-1), [rnd([2, 3, 4], 33)]));
  it('max along a dim and over all', () => {
    gradcheck('max', (x) => x.max(1), [rnd([3, 5], 34)]);
    gradcheck('max', (x) => x.max(), [rnd([3, 5], 35)]);
  });
});

describe('gradcheck: matmul', () => {
  it('2-D', () => gradcheck('matmul', (a, b) => a.matmul(b), [rnd([3, 4], 40), rnd([4, 5], 41)]));
  it('transposed operands (views passed as flags)', () =>
    gradcheck('matmul', (a, b) => a.T.matmul(b.T), [rnd([4, 3], 42), rnd([5, 4], 43)]));
  it('batched with broadcasting', () =>
    gradcheck('matmul', (a, b) => a.matmul(b), [rnd([2, 3, 4], 44), rnd([4, 2], 45)]));
  it('batched, both sides, broadcast batch dims', () =>
    gradcheck('matmul', (a, b) => a.matmul(b), [rnd([2, 1, 3, 4], 46), rnd([3, 4, 2], 47)]));
  it('matrix-vector', () => gradcheck('matmul', (a, b) => a.matmul(b), [rnd([3, 4], 48), rnd([4], 49)]));
});

describe('gradcheck: neural-network ops', () => {
  it('linear, torch layout, with bias', () =>
    gradcheck('linear', (x, w, b) => linear(x, w, b, 'out_in'), [rnd([2, 3, 4], 50), rnd([5, 4], 51), rnd([5], 52)]));
  it('addLinear into an owned intermediate (in place) and into a leaf (copied)', () => {
    gradcheck('addLinear', (a, x, w) => addLinear(a.mul(1), x, w, 0.7, { inPlace: true }), [rnd([2, 3, 5], 56), rnd([2, 3, 4], 57), rnd([5, 4], 58)]);
    gradcheck('addLinear', (a, x, w) => addLinear(a, x, w, -1.3), [rnd([3, 5], 59), rnd([3, 4], 60), rnd([5, 4], 61)]);
  });
  it('linear, Conv1D layout', () =>
    gradcheck('linear', (x, w, b) => linear(x, w, b, 'in_out'), [rnd([3, 4], 53), rnd([4, 5], 54), rnd([5], 55)]));
  it('linear on a non-leaf weight', () =>
    gradcheck('linear', (x, w) => linear(x, w.mul(2), null), [rnd([3, 4], 56), rnd([5, 4], 57)]));
  it('embedding (repeated ids)', () => {
    const ids = tensor([[1, 3, 1], [0, 3, 2]], { dtype: 'i64' });
    gradcheck('embedding', (w) => embedding(ids, w), [rnd([4, 3], 58)]);
    gradcheck('embedding (non-leaf)', (w) => embedding(ids, w.mul(1.5)), [rnd([4, 3], 59)]);
  });
  it('layer norm (with and without affine)', () => {
    gradcheck('layerNorm', (x, w, b) => layerNorm(x, w, b, 1e-5), [rnd([3, 6], 60), rnd([6], 61), rnd([6], 62)]);
    gradcheck('layerNorm', (x) => layerNorm(x, null, null), [rnd([2, 2, 5], 63)]);
  });
  it('RMS norm', () => gradcheck('rmsNorm', (x, w) => rmsNorm(x, w, 1e-6), [rnd([3, 6], 64), rnd([6], 65)]));
  it('GELU tanh and exact', () => {
    gradcheck('gelu tanh', (x) => gelu(x, true), [rnd([3, 5], 66, { low: -3, high: 3 })]);
    gradcheck('gelu exact', (x) => gelu(x, false), [rnd([3, 5], 67, { low: -3, high: 3 })]);
  });
  it('SiLU', () => gradcheck('silu', (x) => silu(x), [rnd([3, 5], 68, { low: -3, high: 3 })]));
  it('softmax', () => gradcheck('softmax', (x) => softmax(x), [rnd([3, 5], 69, { low: -3, high: 3 })]));
  it('cross-entropy mean / sum / none with ignored rows', () => {
    const tg = tensor([2, -100, 0, 4], { dtype: 'i64' });
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      gradcheck(`crossEntropy ${reduction}`, (x) => crossEntropy(x, tg, { reduction }), [rnd([4, 5], 70, { low: -3, high: 3 })]);
    }
    const tg3 = tensor([[1, 2], [-100, 0]], { dtype: 'i32' });
    gradcheck('crossEntropy 3-D', (x) => crossEntropy(x, tg3), [rnd([2, 2, 3], 71)]);
  });
  it('attention: causal, GQA, keys longer than queries, mask and window', () => {
    const opts = [
      { causal: true },
      { causal: false },
      { causal: true, window: 2 },
    ];
    for (const o of opts) {
      gradcheck(`attention ${JSON.stringify(o)}`, (q, k, v) => scaledDotProductAttention(q, k, v, o), [
        rnd([2, 4, 3, 4], 72),
        rnd([2, 2, 5, 4], 73),
        rnd([2, 2, 5, 4], 74),
      ]);
    }
    const mask = fromArray(Float64Array.from([0, 0, -Infinity, 0, 0, 0, 0, 0, 0, -Infinity]), [2, 5]).unsqueeze(1);
    gradcheck('attention masked', (q, k, v) => scaledDotProductAttention(q, k, v, { mask }), [
      rnd([2, 2, 3, 4], 75),
      rnd([2, 2, 5, 4], 76),
      rnd([2, 2, 5, 4], 77),
    ]);
  });
  it('attention on strided views of a fused projection', () => {
    gradcheck('attention views', (qkv) => {
      const [B, T, H, D] = [2, 3, 2, 4];
      const C = H * D;
      const split = (i: number) => qkv.slice(2, i * C, (i + 1) * C).reshape(B, T, H, D).permute(0, 2, 1, 3);
      return scaledDotProductAttention(split(0), split(1), split(2)).transpose(1, 2).reshape(B, T, C);
    }, [rnd([2, 3, 24], 78)]);
  });
  it('rotary embedding', () => {
    const P = 8, D = 4;
    const inv = [1, 0.1];
    const cos = fromArray(Float64Array.from({ length: P * D / 2 }, (_, i) => Math.cos(Math.floor(i / 2) * inv[i % 2]!)), [P, D / 2]);
    const sin = fromArray(Float64Array.from({ length: P * D / 2 }, (_, i) => Math.sin(Math.floor(i / 2) * inv[i % 2]!)), [P, D / 2]);
    gradcheck('rope', (x) => rope(x, Int32Array.from([3, 4, 5, 0, 1, 2]), cos, sin), [rnd([2, 3, 2, 4], 79)]);
  });
  it('dropout (fixed seed: the mask is the same in every evaluation)', () => {
    gradcheck('dropout', (x) => dropout(x, 0.3, createRng(5, 'dropout')), [rnd([4, 6], 80)]);
  });
  it('cat and indexSelect', () => {
    gradcheck('cat', (a, b) => cat([a, b], 1), [rnd([2, 3], 81), rnd([2, 2], 82)]);
    gradcheck('indexSelect', (x) => indexSelect(x, 1, tensor([2, 0, 2], { dtype: 'i32' })), [rnd([2, 3, 2], 83)]);
  });
  it('f32 ↔ f64 cast', () => gradcheck('cast', (x) => x.to('f32').mul(2).to('f64'), [rnd([4], 84)], { h: 1e-2, tol: 1e-5 }));
});
