/**
 * Differentiable core ops: views, elementwise with broadcasting, reductions, matmul, casts.
 * Neural-network ops (norms, attention, losses, …) are in nn_ops.ts. Every op computes on the backend of its
 * buffers and records its backward with `record` (autograd.ts).
 */
import type { BinaryOp, Buf, UnaryOp } from './backend.js';
import { backendFor } from './backends.js';
import { installGradHelpers, record, RegionGrad } from './autograd.js';
import { isFloat, type FloatDType } from './dtype.js';
import { newStorageUnscoped, wrapStorage } from './storage.js';
import { contiguousStrides, empty, fmtShape, numel, sameFloat, Tensor, type Shape } from './tensor.js';

// ---- views ---------------------------------------------------------------------------------------------------

export function reshape(t: Tensor, shape: number[]): Tensor {
  const strides = viewStrides(t.shape, t.strides, shape);
  const src = strides ? t : contiguous(t);
  const out = new Tensor(src.storage, shape, strides ?? contiguousStrides(shape), src.offset);
  const inShape = t.shape;
  return record(out, 'reshape', [src], (g) => [g.reshape(inShape as number[])]);
}

/**
 * Strides that show a strided tensor in a new shape without copying, or null when its layout does not allow
 * it. Old dims are grouped into runs that are contiguous among themselves; each run must be covered exactly by
 * consecutive new dims, which then take strides inside that run.
 */
export function viewStrides(oldShape: Shape, oldStrides: readonly number[], newShape: readonly number[]): number[] | null {
  if (numel(oldShape) === 0 || oldShape.length === 0) return contiguousStrides(newShape);
  const out = new Array<number>(newShape.length);
  let nd = newShape.length - 1;
  let base = oldStrides[oldShape.length - 1]!;
  let runElems = 1;
  let newElems = 1;
  for (let od = oldShape.length - 1; od >= 0; od--) {
    runElems *= oldShape[od]!;
    const runEnds = od === 0 || (oldShape[od - 1] !== 1 && oldStrides[od - 1] !== runElems * base);
    if (!runEnds) continue;
    while (nd >= 0 && (newElems < runElems || newShape[nd] === 1)) {
      out[nd] = newElems * base;
      newElems *= newShape[nd]!;
      nd--;
    }
    if (newElems !== runElems) return null;
    if (od > 0) {
      base = oldStrides[od - 1]!;
      runElems = 1;
      newElems = 1;
    }
  }
  return nd === -1 ? out : null;
}

export function permute(t: Tensor, perm: number[]): Tensor {
  if (perm.length !== t.ndim || new Set(perm).size !== perm.length) {
    throw new Error(`permute(${perm.join(', ')}): not a permutation of the ${t.ndim} dims of ${t.describe()}`);
  }
  const out = new Tensor(
    t.storage,
    perm.map((p) => t.shape[p]!),
    perm.map((p) => t.strides[p]!),
    t.offset,
  );
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return record(out, 'permute', [t], (g) => [permute(g, inv)]);
}

export function slice(t: Tensor, d: number, start: number, end: number, step: number): Tensor {
  if (!Number.isInteger(step) || step < 1) throw new Error(`slice: step must be a positive integer, got ${step}`);
  const shape = [...t.shape];
  const strides = [...t.strides];
  shape[d] = Math.max(0, Math.ceil((end - start) / step));
  const offset = t.offset + start * t.strides[d]!;
  strides[d] = t.strides[d]! * step;
  const out = new Tensor(t.storage, shape, strides, offset);
  return record(out, 'slice', [t], (g) => [new RegionGrad(g, (full) => slice(full, d, start, end, step))]);
}

export function expand(t: Tensor, shape: number[]): Tensor {
  if (shape.length < t.ndim) {
    throw new Error(`expand(${fmtShape(shape)}): fewer dims than ${t.describe()}`);
  }
  const lead = shape.length - t.ndim;
  const outShape: number[] = [];
  const strides: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const src = i - lead;
    const have = src >= 0 ? t.shape[src]! : 1;
    const want = shape[i] === -1 ? have : shape[i]!;
    if (have !== want && have !== 1) {
      throw new Error(`expand(${fmtShape(shape)}): dim ${i} of ${t.describe()} is ${have}, not 1`);
    }
    outShape.push(want);
    strides.push(src < 0 || (have === 1 && want !== 1) ? 0 : t.strides[src]!);
  }
  const out = new Tensor(t.storage, outShape, strides, t.offset);
  return record(out, 'expand', [t], (g) => [sumToShape(g, t.shape)]);
}

export function contiguous(t: Tensor, force = false): Tensor {
  if (!force && t.isContiguous()) return t;
  if (!isFloat(t.dtype)) {
    const c = t.toFlat();
    return new Tensor(wrapStorage(t.dtype, c), [...t.shape], contiguousStrides(t.shape), 0);
  }
  const out = empty(t.shape, t.dtype);
  backendFor(t.buf).affine(t.shape, t.stridedView(), 1, 0, out.buf, 0);
  return record(out, 'contiguous', [t], (g) => [g]);
}

export function castFloat(t: Tensor, dtype: FloatDType): Tensor {
  const out = empty(t.shape, dtype);
  const src = t.contiguous().flatBuf();
  out.buf.set(src);
  const from = t.dtype as FloatDType;
  return record(out, 'cast', [t], (g) => [castFloat(g, from)]);
}

// ---- elementwise ---------------------------------------------------------------------------------------------

export function broadcastShapes(a: Shape, b: Shape, op: string, at?: Tensor, bt?: Tensor): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) {
      const what = at && bt ? `${at.describe()} and ${bt.describe()}` : `${fmtShape(a)} and ${fmtShape(b)}`;
      throw new Error(`${op}: shapes do not broadcast: ${what}`);
    }
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Strides that read t as if expanded to `shape` (0 on broadcast dims). */
function broadcastStrides(t: Tensor, shape: Shape): number[] {
  const lead = shape.length - t.ndim;
  return shape.map((d, i) => {
    const src = i - lead;
    if (src < 0) return 0;
    return t.shape[src] === 1 && d !== 1 ? 0 : t.strides[src]!;
  });
}

/** Sum a gradient of a broadcast result back to an input's shape. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  }
  const s = sum(g, dims, true);
  return s.reshape(shape as number[]);
}

const NO_GRAD_BINARY = new Set<BinaryOp>(['eq', 'gt', 'lt']);

export function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const dtype = sameFloat(a, b, op);
  const shape = broadcastShapes(a.shape, b.shape, op, a, b);
  const out = empty(shape, dtype);
  backendFor(out.buf).binary(
    op,
    shape,
    { data: a.buf, offset: a.offset, strides: broadcastStrides(a, shape) },
    { data: b.buf, offset: b.offset, strides: broadcastStrides(b, shape) },
    out.buf,
    0,
  );
  if (NO_GRAD_BINARY.has(op)) return out;
  const saved = op === 'add' || op === 'sub' ? [] : op === 'pow' ? [a, b, out] : [a, b];
  return record(
    out,
    op,
    [a, b],
    (g) => {
      let ga: Tensor | null = null;
      let gb: Tensor | null = null;
      const wa = a.requiresGrad,
        wb = b.requiresGrad;
      switch (op) {
        case 'add':
          ga = wa ? g : null;
          gb = wb ? g : null;
          break;
        case 'sub':
          ga = wa ? g : null;
          gb = wb ? affine(g, -1, 0) : null;
          break;
        case 'mul':
          ga = wa ? binary('mul', g, b) : null;
          gb = wb ? binary('mul', g, a) : null;
          break;
        case 'div': {
          ga = wa ? binary('div', g, b) : null;
          // d(a/b)/db = -a / b²
          gb = wb ? binary('mul', g, binary('div', affine(a, -1, 0), binary('mul', b, b))) : null;
          break;
        }
        case 'pow': {
          // d(a^b)/da = b·a^(b-1); d(a^b)/db = a^b·ln a
          ga = wa ? binary('mul', g, binary('mul', b, binary('pow', a, affine(b, 1, -1)))) : null;
          gb = wb ? binary('mul', g, binary('mul', out, unary('log', a))) : null;
          break;
        }
        case 'max':
        case 'min': {
          // The gradient goes to the chosen side; ties split evenly (as PyTorch does for maximum/minimum).
          const pick = binary(op === 'max' ? 'gt' : 'lt', a, b);
          const tie = binary('eq', a, b);
          const wA = binary('add', pick, affine(tie, 0.5, 0));
          ga = wa ? binary('mul', g, wA) : null;
          gb = wb ? binary('mul', g, affine(wA, -1, 1)) : null;
          break;
        }
        default:
          throw new Error(`internal: no gradient for ${op}`);
      }
      return [ga && sumToShape(ga, a.shape), gb && sumToShape(gb, b.shape)];
    },
    saved,
  );
}

export function unary(op: UnaryOp, x: Tensor): Tensor {
  if (!isFloat(x.dtype)) throw new Error(`${op}: needs a float tensor, got ${x.describe()}`);
  const out = empty(x.shape, x.dtype);
  backendFor(x.buf).unary(op, x.shape, x.stridedView(), out.buf, 0);
  const usesOut = op === 'exp' || op === 'sqrt' || op === 'rsqrt' || op === 'tanh' || op === 'sigmoid' || op === 'reciprocal';
  return record(
    out,
    op,
    [x],
    (g) => {
      let d: Tensor;
      switch (op) {
        case 'neg':
          return [affine(g, -1, 0)];
        case 'exp':
          return [binary('mul', g, out)];
        case 'log':
          return [binary('div', g, x)];
        case 'sqrt':
          return [binary('div', affine(g, 0.5, 0), out)];
        case 'rsqrt': // d x^-1/2 = -1/2 x^-3/2 = -1/2 y³
          d = binary('mul', binary('mul', out, out), out);
          return [binary('mul', g, affine(d, -0.5, 0))];
        case 'abs':
          return [binary('mul', g, unary('sign', x))];
        case 'sign':
          return [affine(g, 0, 0)];
        case 'tanh':
          return [binary('mul', g, affine(binary('mul', out, out), -1, 1))];
        case 'sigmoid':
          return [binary('mul', g, binary('mul', out, affine(out, -1, 1)))];
        case 'relu':
          return [binary('mul', g, unary('sign', unary('relu', x)))];
        case 'square':
          return [binary('mul', g, affine(x, 2, 0))];
        case 'reciprocal':
          return [binary('mul', g, affine(binary('mul', out, out), -1, 0))];
        case 'sin':
          return [binary('mul', g, unary('cos', x))];
        case 'cos':
          return [binary('mul', g, affine(unary('sin', x), -1, 0))];
      }
    },
    usesOut ? [out] : [x],
  );
}

/** x * alpha + beta. */
export function affine(x: Tensor, alpha: number, beta: number): Tensor {
  if (!isFloat(x.dtype)) throw new Error(`arithmetic needs a float tensor, got ${x.describe()}`);
  const out = empty(x.shape, x.dtype);
  backendFor(x.buf).affine(x.shape, x.stridedView(), alpha, beta, out.buf, 0);
  return record(out, 'affine', [x], (g) => [alpha === 1 ? g : affine(g, alpha, 0)]);
}

export function powScalar(x: Tensor, p: number): Tensor {
  if (!isFloat(x.dtype)) throw new Error(`pow: needs a float tensor, got ${x.describe()}`);
  const out = empty(x.shape, x.dtype);
  const pt = empty([], x.dtype);
  pt.buf[0] = p;
  backendFor(x.buf).binary('pow', x.shape, x.stridedView(), { data: pt.buf, offset: 0, strides: x.shape.map(() => 0) }, out.buf, 0);
  pt.dispose();
  return record(out, 'pow', [x], (g) => [binary('mul', g, affine(powScalar(x, p - 1), p, 0))], [x]);
}

// ---- reductions ----------------------------------------------------------------------------------------------

export function sum(x: Tensor, dims: number[], keepdim: boolean): Tensor {
  if (!isFloat(x.dtype)) throw new Error(`sum: needs a float tensor, got ${x.describe()}`);
  const be = backendFor(x.buf);
  let cur = x.contiguous();
  let shape = [...x.shape];
  // Reduce one dim at a time, last first, keeping the dim as size 1 (contiguous layouts stay valid).
  for (let k = dims.length - 1; k >= 0; k--) {
    const d = dims[k]!;
    const outer = numel(shape.slice(0, d));
    const axis = shape[d]!;
    const inner = numel(shape.slice(d + 1));
    const nextShape = [...shape];
    nextShape[d] = 1;
    const next = empty(nextShape, x.dtype);
    be.reduceSum(outer, axis, inner, cur.buf, cur.offset, next.buf, 0);
    if (cur !== x && cur.storage !== x.storage) cur.dispose();
    cur = next;
    shape = nextShape;
  }
  if (cur === x || cur.storage === x.storage) cur = contiguous(x, true).detach();
  const outShape = keepdim ? shape : x.shape.filter((_, i) => !dims.includes(i));
  const out = new Tensor(cur.storage, outShape, contiguousStrides(outShape), 0);
  const inShape = x.shape;
  return record(out, 'sum', [x], (g) => {
    const kd = g.reshape(shape);
    return [expand(kd, inShape as number[])];
  });
}

export function maxAlong(x: Tensor, d: number, keepdim: boolean): { values: Tensor; indices: Tensor } {
  if (!isFloat(x.dtype)) throw new Error(`max: needs a float tensor, got ${x.describe()}`);
  if (x.shape[d] === 0) throw new Error(`max: dim ${d} of ${x.describe()} is empty`);
  const c = x.contiguous();
  const outer = numel(x.shape.slice(0, d));
  const axis = x.shape[d]!;
  const inner = numel(x.shape.slice(d + 1));
  const kshape = [...x.shape];
  kshape[d] = 1;
  const outShape = keepdim ? kshape : x.shape.filter((_, i) => i !== d);
  const values = empty(outShape, x.dtype);
  const indices = empty(outShape, 'i32');
  backendFor(c.buf).reduceMax(outer, axis, inner, c.buf, c.offset, values.buf, 0, indices.data as Int32Array);
  record(
    values,
    'max',
    [x],
    (g) => {
      const gi = empty(x.shape, g.dtype, true);
      const gc = g.contiguous().flatBuf();
      const idx = indices.data as Int32Array;
      const dst = gi.buf;
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const r = o * inner + i;
          dst[(o * axis + idx[r]!) * inner + i] = gc[r]!;
        }
      }
      return [gi];
    },
    [indices],
  );
  return { values, indices };
}

// ---- matmul --------------------------------------------------------------------------------------------------

interface MatOperand {
  trans: boolean;
  ld: number;
  t: Tensor; // the (possibly made-contiguous) tensor read
}

/** How to pass the last two dims to GEMM: row-major as is, transposed by flag, or copied when neither fits. */
function matOperand(t: Tensor): MatOperand {
  const n = t.ndim;
  const rows = t.shape[n - 2]!,
    cols = t.shape[n - 1]!;
  const rs = t.strides[n - 2]!,
    cs = t.strides[n - 1]!;
  if (cs === 1 && (rows === 1 || rs >= cols)) return { trans: false, ld: rows === 1 ? Math.max(cols, 1) : rs, t };
  if (rs === 1 && (cols === 1 || cs >= rows)) return { trans: true, ld: cols === 1 ? Math.max(rows, 1) : cs, t };
  const c = t.contiguous();
  return { trans: false, ld: Math.max(cols, 1), t: c };
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  const dtype = sameFloat(a, b, 'matmul');
  if (a.ndim < 1 || b.ndim < 1) throw new Error(`matmul: scalars are not matrices: ${a.describe()} @ ${b.describe()}`);
  // Vectors: promote like torch.matmul, then drop the added dim.
  if (a.ndim === 1) return matmul(a.unsqueeze(0), b).squeeze(-2);
  if (b.ndim === 1) return matmul(a, b.unsqueeze(-1)).squeeze(-1);
  const M = a.shape[a.ndim - 2]!,
    K = a.shape[a.ndim - 1]!;
  const K2 = b.shape[b.ndim - 2]!,
    N = b.shape[b.ndim - 1]!;
  if (K !== K2) {
    throw new Error(`matmul: inner dims differ: ${a.describe()} @ ${b.describe()} (${K} vs ${K2})`);
  }
  const batchShape = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'matmul', a, b);
  const outShape = [...batchShape, M, N];
  const out = empty(outShape, dtype);
  gemmInto(a, b, out, batchShape, 0);
  return record(
    out,
    'matmul',
    [a, b],
    (g) => {
      const gc = g.contiguous();
      // dA = dC · Bᵀ, dB = Aᵀ · dC (transposes as views: no copies)
      const ga = a.requiresGrad ? sumToShape(matmul(gc, b.transpose(-2, -1)), a.shape) : null;
      const gb = b.requiresGrad ? sumToShape(matmul(a.transpose(-2, -1), gc), b.shape) : null;
      return [ga, gb];
    },
    [a, b],
  );
}

/**
 * out[...batch] = a[...] @ b[...] (+ beta·out). Batch dims are flattened into one GEMM batch stride when the
 * layout allows it, else looped.
 */
export function gemmInto(a: Tensor, b: Tensor, out: Tensor, batchShape: number[], beta: number): void {
  const M = a.shape[a.ndim - 2]!,
    K = a.shape[a.ndim - 1]!,
    N = b.shape[b.ndim - 1]!;
  const A = matOperand(a),
    B = matOperand(b);
  const be = backendFor(out.buf);
  const nb = numel(batchShape);
  const aStr = broadcastStridesOf(A.t, batchShape),
    bStr = broadcastStridesOf(B.t, batchShape);
  const uniA = uniformStride(batchShape, aStr),
    uniB = uniformStride(batchShape, bStr);
  const base = {
    transA: A.trans,
    transB: B.trans,
    M,
    N,
    K,
    alpha: 1,
    beta,
    a: A.t.buf,
    lda: A.ld,
    b: B.t.buf,
    ldb: B.ld,
    c: out.buf,
    ldc: N,
    strideC: M * N,
  };
  if (uniA !== null && uniB !== null) {
    be.gemm({ ...base, aOff: A.t.offset, strideA: uniA, bOff: B.t.offset, strideB: uniB, cOff: out.offset, batch: nb });
    return;
  }
  const idx = new Array<number>(batchShape.length).fill(0);
  for (let i = 0; i < nb; i++) {
    let ao = A.t.offset,
      bo = B.t.offset;
    for (let d = 0; d < batchShape.length; d++) {
      ao += idx[d]! * aStr[d]!;
      bo += idx[d]! * bStr[d]!;
    }
    be.gemm({ ...base, aOff: ao, strideA: 0, bOff: bo, strideB: 0, cOff: out.offset + i * M * N, batch: 1 });
    for (let d = batchShape.length - 1; d >= 0; d--) {
      if (++idx[d]! < batchShape[d]!) break;
      idx[d] = 0;
    }
  }
}

function broadcastStridesOf(t: Tensor, batchShape: number[]): number[] {
  const tb = t.ndim - 2;
  const lead = batchShape.length - tb;
  return batchShape.map((d, i) => {
    const src = i - lead;
    if (src < 0) return 0;
    return t.shape[src] === 1 && d !== 1 ? 0 : t.strides[src]!;
  });
}

/** The single stride that walks all batch dims in order, or null when the dims do not collapse. */
function uniformStride(shape: number[], strides: number[]): number | null {
  if (shape.length === 0) return 0;
  let s: number | null = null;
  let expect = 0;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] === 1) continue;
    if (s === null) {
      s = strides[d]!;
      expect = s * shape[d]!;
    } else {
      if (strides[d] !== expect) return null;
      expect *= shape[d]!;
    }
  }
  return s ?? 0;
}

// ---- helpers for the autograd engine -------------------------------------------------------------------------

function addOutOfPlace(a: Tensor, b: Tensor): Tensor {
  const out = empty(a.shape, a.dtype);
  backendFor(out.buf).binary('add', a.shape, a.stridedView(), b.stridedView(), out.buf, 0);
  return out;
}

function accumulateInto(dst: Tensor, src: Tensor): void {
  const be = backendFor(dst.buf);
  if (src.isContiguous()) {
    be.axpy(dst.size, 1, src.buf, src.offset, dst.buf, dst.offset);
  } else {
    be.binary('add', dst.shape, dst.stridedView(), src.stridedView(), dst.buf, dst.offset);
  }
}

installGradHelpers({
  addOutOfPlace,
  accumulateInto,
  addIntoView(dst, src) {
    const sum = addOutOfPlace(dst, src);
    backendFor(dst.buf).copyStrided(dst.shape, sum.stridedView(), dst.stridedView());
    sum.dispose();
  },
  placeInZeros(like, src, region) {
    const full = empty(like.shape, src.dtype as FloatDType, true);
    backendFor(full.buf).copyStrided(src.shape, src.stridedView(), region(full).stridedView());
    return full;
  },
  ones(shape, like) {
    const t = empty(shape, like.dtype);
    (t.buf as Float32Array).fill(1);
    return t;
  },
  zerosUnscoped(like) {
    const s = newStorageUnscoped(like.dtype, like.size, true);
    return new Tensor(s, [...like.shape], contiguousStrides(like.shape), 0);
  },
});

export type { Buf };
