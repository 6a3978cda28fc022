import { describe, expect, it } from 'vitest';
import {
  arange,
  createRng,
  crossEntropy,
  full,
  linear,
  ones,
  pool,
  randint,
  randn,
  tensor,
  tidy,
  zeros,
  noGrad,
  fromArray,
} from '../../src/tensor/index.js';

describe('tensor creation and reading', () => {
  it('builds from nested arrays and reads back', () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('f32');
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(tensor(7).item()).toBe(7);
    expect(() => t.item()).toThrow(/one element.*\[2, 3\]/);
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged/);
  });
  it('zeros, ones, full, arange', () => {
    expect(zeros([2]).toArray()).toEqual([0, 0]);
    expect(ones([1, 2]).toArray()).toEqual([[1, 1]]);
    expect(full([2], 2.5, { dtype: 'f64' }).toArray()).toEqual([2.5, 2.5]);
    expect(arange(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(arange(1, 2, 0.25).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(arange(0, 3, 1, { dtype: 'i64' }).toArray()).toEqual([0, 1, 2]);
  });
  it('random tensors are reproducible from seed and stream', () => {
    const a = randn([100], createRng(3, 'init')).toArray() as number[];
    const b = randn([100], createRng(3, 'init')).toArray() as number[];
    const c = randn([100], createRng(3, 'other')).toArray() as number[];
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const r = randint(0, 10, [1000], createRng(1, 'data')).toArray() as number[];
    expect(Math.min(...r)).toBe(0);
    expect(Math.max(...r)).toBe(9);
  });
  it('bf16 storage converts on the way in and out', () => {
    const t = tensor([1, 1.00390625, 3.14159], { dtype: 'bf16' });
    expect(t.dtype).toBe('bf16');
    expect(t.float().toArray()).toEqual([1, 1, 3.140625]);
    expect(t.item === undefined).toBe(false);
  });
});

describe('views share memory and never copy', () => {
  it('transpose, permute, slice, expand are views', () => {
    const t = arange(24).reshape(2, 3, 4);
    const tr = t.transpose(0, 2);
    expect(tr.storage).toBe(t.storage);
    expect(tr.shape).toEqual([4, 3, 2]);
    expect(tr.isContiguous()).toBe(false);
    expect((tr.contiguous().toArray() as number[][][])[3]![2]![1]).toBe(23);
    const s = t.slice(2, 1, 4, 2);
    expect(s.storage).toBe(t.storage);
    expect(s.toArray()).toEqual([[[1, 3], [5, 7], [9, 11]], [[13, 15], [17, 19], [21, 23]]]);
    const e = tensor([[1], [2]]).expand(2, 3);
    expect(e.strides).toEqual([1, 0]);
    expect(e.toArray()).toEqual([[1, 1, 1], [2, 2, 2]]);
  });
  it('reshape of a strided view stays a view when the layout allows', () => {
    const qkv = arange(2 * 3 * 12).reshape(2, 3, 12);
    const k = qkv.slice(2, 4, 8).reshape(2, 3, 2, 2);
    expect(k.storage).toBe(qkv.storage);
    expect((k.toArray() as number[][][][])[1]![2]![1]).toEqual([66, 67]);
    expect(() => qkv.T.view(36, 2)).toThrow(/view/);
  });
  it('matmul takes transposed operands as flags', () => {
    const a = tensor([[1, 2], [3, 4], [5, 6]]);
    const b = tensor([[1, 0, 2], [0, 1, 3]]);
    expect(a.T.matmul(b.T).toArray()).toEqual([[11, 18], [14, 22]]);
    expect(a.matmul(b).toArray()).toEqual([[1, 2, 8], [3, 4, 18], [5, 6, 28]]);
  });
});

describe('clear errors print shapes and dtypes', () => {
  it('shape mismatches', () => {
    expect(() => ones([2, 3]).matmul(ones([4, 5]))).toThrow(/f32 \[2, 3\] @ f32 \[4, 5\].*3 vs 4/);
    expect(() => ones([2, 3]).add(ones([4]))).toThrow(/do not broadcast: f32 \[2, 3\] and f32 \[4\]/);
    expect(() => ones([6]).reshape(4, 2)).toThrow(/6 elements/);
    expect(() => ones([2]).transpose(0, 3)).toThrow(/dim 3 out of range/);
    expect(() => linear(ones([2, 3]), ones([4, 5]), null)).toThrow(/3 features.*takes 5/);
  });
  it('dtype mismatches', () => {
    expect(() => ones([2]).add(ones([2], { dtype: 'f64' }))).toThrow(/dtypes differ: f32 \[2\] and f64 \[2\]/);
    expect(() => ones([2], { dtype: 'i32' }).exp()).toThrow(/float tensor.*i32 \[2\]/);
    expect(() => crossEntropy(ones([2, 3]), ones([2]))).toThrow(/integer tensor.*f32 \[2\]/);
    expect(() => ones([2], { dtype: 'i32' }).requiresGrad_()).toThrow(/only float tensors/);
  });
  it('cross-entropy target out of range', () => {
    expect(() => crossEntropy(ones([2, 3]), tensor([0, 3], { dtype: 'i32' }))).toThrow(/target 3 at position 1.*3 classes/);
  });
});

describe('autograd mechanics', () => {
  it('accumulates gradients across backward calls and over reuse', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    x.mul(x).sum().backward(); // 2x
    x.sum().backward(); // +1
    expect(x.grad!.toArray()).toEqual([3, 5, 7]);
  });
  it('noGrad records nothing; detach cuts the graph', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    const z = x.detach().mul(2);
    expect(z.requiresGrad).toBe(false);
    expect(() => z.sum().backward()).toThrow(/does not require a gradient/);
  });
  it('a graph is used once', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.mul(x);
    const s = y.sum();
    s.backward();
    expect(() => y.mul(2).sum().backward()).toThrow(/already used/);
  });
  it('backward of a non-scalar needs an explicit gradient', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    expect(() => x.mul(2).backward()).toThrow(/not a scalar/);
    x.mul(3).backward(tensor([1, 10]));
    expect(x.grad!.toArray()).toEqual([3, 30]);
  });
});

describe('memory: tidy scopes and release during backward', () => {
  it('tidy releases everything not returned; released memory gives a clear error', () => {
    let inner: ReturnType<typeof ones> | null = null;
    const kept = tidy(() => {
      inner = ones([4]).mul(2);
      return inner.add(1);
    });
    expect(kept.toArray()).toEqual([3, 3, 3, 3]);
    expect(() => inner!.toArray()).toThrow(/released/);
  });
  it('inside tidy, backward frees activations once used and writes the CE gradient over the logits', () => {
    const w = randn([8, 16], createRng(1, 'init')).requiresGrad_();
    const x = randn([4, 16], createRng(2, 'init'));
    const t = tensor([1, 2, 3, 4], { dtype: 'i32' });
    let logits: ReturnType<typeof ones> | null = null;
    let hidden: ReturnType<typeof ones> | null = null;
    const loss = tidy(() => {
      hidden = x.mul(2);
      logits = linear(hidden, w, null);
      const l = crossEntropy(logits, t);
      l.backward();
      return l;
    });
    expect(Number.isFinite(loss.item())).toBe(true);
    expect(() => logits!.toArray()).toThrow(/released/);
    expect(() => hidden!.toArray()).toThrow(/released/);
    expect(w.grad).not.toBeNull();
  });
  it('the same gradient results inside and outside tidy', () => {
    const run = (scoped: boolean): number[] => {
      const w = randn([8, 16], createRng(1, 'init')).requiresGrad_();
      const x = randn([4, 16], createRng(2, 'init'));
      const t = tensor([1, 2, 3, 4], { dtype: 'i32' });
      const f = () => crossEntropy(linear(x.mul(2).tanh(), w, null), t).backward();
      if (scoped) tidy(f);
      else f();
      return Array.from(w.grad!.toFloat32Array());
    };
    expect(run(true)).toEqual(run(false));
  });
  it('a repeated step reuses pooled buffers instead of allocating', () => {
    const w = randn([32, 64], createRng(1, 'init')).requiresGrad_();
    const x = randn([16, 64], createRng(2, 'init'));
    const t = fromArray(new Int32Array(16).fill(3), [16]);
    const step = () => tidy(() => crossEntropy(linear(x, w, null).tanh(), t).backward());
    step();
    step();
    const before = pool.misses;
    step();
    step();
    expect(pool.misses).toBe(before);
  });
});
