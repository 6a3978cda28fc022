/**
 * Generic strided elementwise kernels (unary, binary, affine, copyStrided) and the contiguous helpers (axpy,
 * fill). Math is done in JS doubles and rounded once on store, so an f32 result is the correctly rounded value of
 * the double computation.
 */
import type { BinaryOp, Buf, StridedView, UnaryOp } from '../backend.js';
import { checkSameType, checkSize, checkSpan } from './check.js';
import { contiguousView, forEachRow, innerStride } from './strided.js';

/** Logistic function without overflow: exp is only ever taken of a non-positive number. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/**
 * The scalar function of each unary op, with PyTorch's semantics at the edges: NaN propagates (relu too), except
 * through sign, which PyTorch computes as (0 < x) - (x < 0) and so maps NaN (and ±0) to +0.
 */
function unaryFn(op: UnaryOp): (x: number) => number {
  switch (op) {
    case 'neg':
      return (x) => -x;
    case 'exp':
      return Math.exp;
    case 'log':
      return Math.log;
    case 'sqrt':
      return Math.sqrt;
    case 'rsqrt':
      return (x) => 1 / Math.sqrt(x);
    case 'abs':
      return Math.abs;
    case 'sign':
      // Not Math.sign, which returns NaN for NaN and keeps -0.
      return (x) => (x > 0 ? 1 : x < 0 ? -1 : 0);
    case 'tanh':
      return Math.tanh;
    case 'sigmoid':
      return sigmoid;
    case 'relu':
      // `x > 0 ? x : 0` would turn NaN into 0; PyTorch propagates it.
      return (x) => (x > 0 ? x : x <= 0 ? 0 : x);
    case 'square':
      return (x) => x * x;
    case 'reciprocal':
      return (x) => 1 / x;
    case 'sin':
      return Math.sin;
    case 'cos':
      return Math.cos;
    default:
      throw new Error(`unary: unknown op '${String(op)}'`);
  }
}

/**
 * C's pow, which PyTorch and the native twin use. Math.pow differs from it in exactly two places: pow(1, y) is 1
 * for every y (even NaN) and pow(-1, ±Infinity) is 1, where Math.pow gives NaN.
 */
function powC(a: number, b: number): number {
  if (a === 1) return 1;
  if (a === -1 && (b === Infinity || b === -Infinity)) return 1;
  return Math.pow(a, b);
}

/** The scalar function of each binary op. Comparisons give 1 / 0; max / min propagate NaN like torch.maximum. */
function binaryFn(op: BinaryOp): (a: number, b: number) => number {
  switch (op) {
    case 'add':
      return (a, b) => a + b;
    case 'sub':
      return (a, b) => a - b;
    case 'mul':
      return (a, b) => a * b;
    case 'div':
      return (a, b) => a / b;
    case 'pow':
      return powC;
    case 'max':
      return (a, b) => (a !== a || b !== b ? NaN : a > b ? a : b);
    case 'min':
      return (a, b) => (a !== a || b !== b ? NaN : a < b ? a : b);
    case 'eq':
      return (a, b) => (a === b ? 1 : 0);
    case 'gt':
      return (a, b) => (a > b ? 1 : 0);
    case 'lt':
      return (a, b) => (a < b ? 1 : 0);
    default:
      throw new Error(`binary: unknown op '${String(op)}'`);
  }
}

export function unary(op: UnaryOp, shape: readonly number[], x: StridedView, out: Buf, outOff: number): void {
  checkSameType('unary', x.data, out);
  const f = unaryFn(op);
  const o = contiguousView(out, outOff, shape);
  const xs = innerStride(x);
  forEachRow('unary', shape, [x, o], ['x', 'out'], (offs, len) => {
    const xd = x.data;
    const xo = offs[0];
    const oo = offs[1];
    for (let j = 0; j < len; j++) out[oo + j] = f(xd[xo + j * xs]);
  });
}

export function binary(
  op: BinaryOp,
  shape: readonly number[],
  a: StridedView,
  b: StridedView,
  out: Buf,
  outOff: number,
): void {
  checkSameType('binary', a.data, b.data, out);
  const f = binaryFn(op);
  const o = contiguousView(out, outOff, shape);
  const as = innerStride(a);
  const bs = innerStride(b);
  forEachRow('binary', shape, [a, b, o], ['a', 'b', 'out'], (offs, len) => {
    const ad = a.data;
    const bd = b.data;
    const ao = offs[0];
    const bo = offs[1];
    const oo = offs[2];
    for (let j = 0; j < len; j++) out[oo + j] = f(ad[ao + j * as], bd[bo + j * bs]);
  });
}

export function affine(
  shape: readonly number[],
  x: StridedView,
  alpha: number,
  beta: number,
  out: Buf,
  outOff: number,
): void {
  checkSameType('affine', x.data, out);
  const o = contiguousView(out, outOff, shape);
  const xs = innerStride(x);
  forEachRow('affine', shape, [x, o], ['x', 'out'], (offs, len) => {
    const xd = x.data;
    const xo = offs[0];
    const oo = offs[1];
    for (let j = 0; j < len; j++) out[oo + j] = xd[xo + j * xs] * alpha + beta;
  });
}

export function copyStrided(shape: readonly number[], src: StridedView, dst: StridedView): void {
  checkSameType('copyStrided', src.data, dst.data);
  const ss = innerStride(src);
  const ds = innerStride(dst);
  forEachRow('copyStrided', shape, [src, dst], ['src', 'dst'], (offs, len) => {
    const sd = src.data;
    const dd = dst.data;
    const so = offs[0];
    const doff = offs[1];
    for (let j = 0; j < len; j++) dd[doff + j * ds] = sd[so + j * ss];
  });
}

export function axpy(n: number, alpha: number, x: Buf, xOff: number, y: Buf, yOff: number): void {
  checkSize('axpy', 'n', n);
  checkSameType('axpy', x, y);
  checkSpan('axpy', 'x', x, xOff, n);
  checkSpan('axpy', 'y', y, yOff, n);
  for (let i = 0; i < n; i++) y[yOff + i] += alpha * x[xOff + i];
}

export function fill(n: number, value: number, out: Buf, outOff: number): void {
  checkSize('fill', 'n', n);
  checkSpan('fill', 'out', out, outOff, n);
  out.fill(value, outOff, outOff + n);
}
