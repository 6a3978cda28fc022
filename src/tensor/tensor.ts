/**
 * Tensor: a strided view onto a Storage, with eager autograd.
 *
 * Views (reshape of a contiguous tensor, transpose, permute, slice, expand) share storage and cost nothing;
 * `contiguous()` copies only when the layout needs it. Ops run at once on the active backend and, when any input
 * requires a gradient (and grad mode is on), record a Node for backward (see autograd.ts).
 */
import type { Buf, StridedView } from './backend.js';
import { backendFor } from './backends.js';
// Offers the native backend to backends.ts, which uses it by default when the addon loads (native_backend.ts).
import './native_backend.js';
import { allocTyped, dtypeOfArray, isFloat, type AnyTypedArray, type DType, type FloatDType } from './dtype.js';
import { newStorage, Storage, wrapStorage } from './storage.js';
import type { BackwardOptions, Node } from './autograd.js';
import * as ops from './ops.js';
import { runBackward } from './autograd.js';
import { bf16ToF32, f32ToBf16 } from './half.js';

export type Shape = readonly number[];
export type NestedArray = number | NestedArray[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function fmtShape(shape: Shape): string {
  return '[' + shape.join(', ') + ']';
}

export class Tensor {
  /** Set when created by a differentiable op while grad mode was on. */
  node: Node | null = null;
  grad: Tensor | null = null;
  requiresGrad = false;
  /** Optional name, used in error messages (parameters get their state-dict key). */
  name: string | undefined;

  constructor(
    readonly storage: Storage,
    readonly shape: Shape,
    readonly strides: readonly number[],
    readonly offset: number,
  ) {}

  get dtype(): DType {
    return this.storage.dtype;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return numel(this.shape);
  }
  /** The storage's whole typed array (mind `offset` and `strides`; use toFlat() for a plain copy). */
  get data(): AnyTypedArray {
    return this.storage.data;
  }
  /** The float buffer for kernels; throws for non-float tensors. */
  get buf(): Buf {
    const d = this.storage.data;
    if (!(d instanceof Float32Array || d instanceof Float64Array)) {
      throw new Error(`expected a float tensor (f32/f64), got ${this.describe()}; convert it with .float()`);
    }
    return d;
  }
  get isLeaf(): boolean {
    return this.node === null;
  }

  describe(): string {
    return `${this.name ? `"${this.name}" ` : ''}${this.dtype} ${fmtShape(this.shape)}`;
  }

  toString(): string {
    return `Tensor(${this.describe()})`;
  }

  isContiguous(): boolean {
    let s = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== s) return false;
      s *= this.shape[i]!;
    }
    return true;
  }

  stridedView(): StridedView {
    return { data: this.buf, offset: this.offset, strides: this.strides };
  }

  /** A contiguous float buffer slice for kernels that take [N, C] rows: the tensor itself when contiguous. */
  flatBuf(): Buf {
    const b = this.buf;
    if (!this.isContiguous()) throw new Error(`internal: flatBuf() on a non-contiguous ${this.describe()}`);
    return this.offset === 0 && b.length === this.size ? b : b.subarray(this.offset, this.offset + this.size);
  }

  // ---- lifetime ----------------------------------------------------------------------------------------------

  /** Return this tensor's memory to the pool now. Any view sharing it becomes unusable. */
  dispose(): void {
    this.storage.release();
  }

  /**
   * Return this tensor's memory to the pool now if nothing needs it later: no autograd node saved it for backward,
   * it was not kept, a tidy scope owns it (so the scope would free it at its end anyway) and it is not borrowed.
   * For an intermediate consumed by an op that does not save its inputs (a residual branch once added): it would
   * otherwise stay allocated until the scope ends, through the whole backward pass. Returns whether it released.
   */
  disposeIfUnsaved(): boolean {
    const st = this.storage;
    if (st.savedRefs > 0 || st.kept || st.borrowed || st.scope === null || (this.isLeaf && this.requiresGrad)) return false;
    st.release();
    return true;
  }

  /** Exempt this tensor from release by tidy() scopes and backward(). */
  keep(): this {
    this.storage.kept = true;
    return this;
  }

  // ---- reading -----------------------------------------------------------------------------------------------

  /** A contiguous copy of the elements as a typed array of the tensor's dtype. */
  toFlat(): AnyTypedArray {
    if (this.isContiguous()) {
      return this.data.slice(this.offset, this.offset + this.size) as AnyTypedArray;
    }
    const out = allocTyped(this.dtype, this.size);
    const src = this.data;
    let i = 0;
    forEachIndex(this.shape, this.strides, this.offset, (o) => {
      (out as unknown as unknown[])[i++] = (src as unknown as unknown[])[o];
    });
    return out;
  }

  /** Elements as f32 (bf16 converted; ints converted, exact up to 2^24). */
  toFloat32Array(): Float32Array {
    const flat = this.toFlat();
    if (flat instanceof Float32Array) return flat;
    if (this.dtype === 'bf16') return bf16ToF32(flat as Uint16Array);
    const out = new Float32Array(flat.length);
    for (let i = 0; i < flat.length; i++) out[i] = Number(flat[i]);
    return out;
  }

  /** Nested JS arrays of numbers (i64 converted to number; values beyond 2^53 throw). */
  toArray(): NestedArray {
    const flat = this.dtype === 'bf16' ? bf16ToF32(this.toFlat() as Uint16Array) : this.toFlat();
    const get = (i: number): number => {
      const v = flat[i]!;
      if (typeof v === 'bigint') {
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw new Error(`toArray(): i64 value ${v} does not fit a JS number exactly`);
        }
        return Number(v);
      }
      return v;
    };
    if (this.ndim === 0) return get(0);
    let pos = 0;
    const build = (d: number): NestedArray[] => {
      const n = this.shape[d]!;
      const out: NestedArray[] = [];
      for (let i = 0; i < n; i++) out.push(d === this.ndim - 1 ? get(pos++) : build(d + 1));
      return out;
    };
    return build(0);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item() needs a tensor with one element, got ${this.describe()}`);
    const v = this.data[this.offset]!;
    if (this.dtype === 'bf16') return bf16ToF32(Uint16Array.of(v as number))[0]!;
    return Number(v);
  }

  // ---- dtype -------------------------------------------------------------------------------------------------

  /** Convert to another dtype (a copy; the same tensor if already of that dtype). Float conversions are differentiable. */
  to(dtype: DType): Tensor {
    if (dtype === this.dtype) return this;
    if (isFloat(dtype) && isFloat(this.dtype)) return ops.castFloat(this, dtype);
    const src = this.toFlat();
    let out: AnyTypedArray;
    if (dtype === 'bf16') {
      out = f32ToBf16(src instanceof Float32Array ? src : Float32Array.from(src as ArrayLike<number>, Number));
    } else if (this.dtype === 'bf16') {
      const f = bf16ToF32(src as Uint16Array);
      out = dtype === 'f32' ? f : convertArray(f, dtype);
    } else {
      out = convertArray(src, dtype);
    }
    return new Tensor(wrapStorage(dtype, out), [...this.shape], contiguousStrides(this.shape), 0);
  }

  /** f32 copy for compute (bf16 storage converted). */
  float(): Tensor {
    return this.to('f32');
  }
  double(): Tensor {
    return this.to('f64');
  }

  // ---- autograd ----------------------------------------------------------------------------------------------

  requiresGrad_(flag = true): this {
    if (flag && !isFloat(this.dtype)) {
      throw new Error(`only float tensors can require gradients, got ${this.describe()}`);
    }
    if (!this.isLeaf && !flag) throw new Error('requiresGrad_(false) on a non-leaf tensor: use detach()');
    this.requiresGrad = flag;
    return this;
  }

  /** Same data, no history. */
  detach(): Tensor {
    return new Tensor(this.storage, this.shape, this.strides, this.offset);
  }

  /**
   * Accumulate d(this)/d(leaves) into every leaf's .grad. `grad` defaults to 1 for a one-element tensor.
   * `opts.onGradFinal(leaf)` runs as each leaf's gradient becomes final (see BackwardOptions).
   */
  backward(grad?: Tensor, opts?: BackwardOptions): void {
    runBackward(this, grad, opts);
  }

  zeroGrad(): void {
    this.grad = null;
  }

  // ---- views -------------------------------------------------------------------------------------------------

  reshape(...shape: number[] | [Shape]): Tensor {
    return ops.reshape(this, resolveShape(flatArgs(shape), this.size, this));
  }
  view(...shape: number[] | [Shape]): Tensor {
    const s = resolveShape(flatArgs(shape), this.size, this);
    if (!ops.viewStrides(this.shape, this.strides, s)) {
      throw new Error(`view(${fmtShape(s)}) cannot be a view of ${this.describe()} with strides ${fmtShape(this.strides)}; use reshape()`);
    }
    return ops.reshape(this, s);
  }
  flatten(): Tensor {
    return this.reshape(this.size);
  }
  transpose(d0: number, d1: number): Tensor {
    const perm = [...this.shape.keys()];
    const a = normDim(d0, this.ndim, 'transpose'),
      b = normDim(d1, this.ndim, 'transpose');
    perm[a] = b;
    perm[b] = a;
    return ops.permute(this, perm);
  }
  /** Matrix transpose of the last two dims (a view). */
  get T(): Tensor {
    return this.transpose(-2, -1);
  }
  permute(...perm: number[]): Tensor {
    return ops.permute(
      this,
      perm.map((d) => normDim(d, this.ndim, 'permute')),
    );
  }
  /** Elements start..end (exclusive) of one dim, with an optional step; negative indices count from the end. */
  slice(dim: number, start: number, end?: number, step = 1): Tensor {
    const d = normDim(dim, this.ndim, 'slice');
    const n = this.shape[d]!;
    const s = clampIndex(start, n);
    const e = end === undefined ? n : clampIndex(end, n);
    return ops.slice(this, d, s, Math.max(e, s), step);
  }
  /** Remove one dim by picking an index (a view). */
  select(dim: number, index: number): Tensor {
    const d = normDim(dim, this.ndim, 'select');
    const n = this.shape[d]!;
    const i = index < 0 ? index + n : index;
    if (i < 0 || i >= n) throw new Error(`select(${dim}, ${index}): index out of range for ${this.describe()}`);
    const s = this.slice(d, i, i + 1);
    return s.reshape(this.shape.filter((_, k) => k !== d));
  }
  /** Broadcast size-1 dims to the given shape without copying (-1 keeps a dim). */
  expand(...shape: number[] | [Shape]): Tensor {
    return ops.expand(this, flatArgs(shape));
  }
  unsqueeze(dim: number): Tensor {
    const d = normDim(dim, this.ndim + 1, 'unsqueeze');
    const s = [...this.shape];
    s.splice(d, 0, 1);
    return this.reshape(s);
  }
  squeeze(dim?: number): Tensor {
    if (dim === undefined) return this.reshape(this.shape.filter((x) => x !== 1));
    const d = normDim(dim, this.ndim, 'squeeze');
    if (this.shape[d] !== 1) return this;
    return this.reshape(this.shape.filter((_, k) => k !== d));
  }
  contiguous(): Tensor {
    return this.isContiguous() ? this : ops.contiguous(this);
  }
  /** A contiguous copy that does not share memory (differentiable). */
  clone(): Tensor {
    return ops.contiguous(this, true);
  }

  // ---- elementwise (broadcasting) ----------------------------------------------------------------------------
  add(o: Tensor | number): Tensor {
    return typeof o === 'number' ? ops.affine(this, 1, o) : ops.binary('add', this, o);
  }
  sub(o: Tensor | number): Tensor {
    return typeof o === 'number' ? ops.affine(this, 1, -o) : ops.binary('sub', this, o);
  }
  mul(o: Tensor | number): Tensor {
    return typeof o === 'number' ? ops.affine(this, o, 0) : ops.binary('mul', this, o);
  }
  div(o: Tensor | number): Tensor {
    return typeof o === 'number' ? ops.affine(this, 1 / o, 0) : ops.binary('div', this, o);
  }
  pow(o: Tensor | number): Tensor {
    return typeof o === 'number' ? ops.powScalar(this, o) : ops.binary('pow', this, o);
  }
  maximum(o: Tensor): Tensor {
    return ops.binary('max', this, o);
  }
  minimum(o: Tensor): Tensor {
    return ops.binary('min', this, o);
  }
  neg(): Tensor {
    return ops.affine(this, -1, 0);
  }
  exp(): Tensor {
    return ops.unary('exp', this);
  }
  log(): Tensor {
    return ops.unary('log', this);
  }
  sqrt(): Tensor {
    return ops.unary('sqrt', this);
  }
  rsqrt(): Tensor {
    return ops.unary('rsqrt', this);
  }
  abs(): Tensor {
    return ops.unary('abs', this);
  }
  tanh(): Tensor {
    return ops.unary('tanh', this);
  }
  sigmoid(): Tensor {
    return ops.unary('sigmoid', this);
  }
  relu(): Tensor {
    return ops.unary('relu', this);
  }
  square(): Tensor {
    return ops.unary('square', this);
  }
  sin(): Tensor {
    return ops.unary('sin', this);
  }
  cos(): Tensor {
    return ops.unary('cos', this);
  }
  /** Elementwise comparisons give 0/1 float tensors (no gradient). */
  eq(o: Tensor): Tensor {
    return ops.binary('eq', this, o);
  }
  gt(o: Tensor): Tensor {
    return ops.binary('gt', this, o);
  }
  lt(o: Tensor): Tensor {
    return ops.binary('lt', this, o);
  }

  // ---- reductions --------------------------------------------------------------------------------------------
  sum(dim?: number | number[], keepdim = false): Tensor {
    return ops.sum(this, normDims(dim, this.ndim, 'sum'), keepdim);
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    const dims = normDims(dim, this.ndim, 'mean');
    let count = 1;
    for (const d of dims) count *= this.shape[d]!;
    return ops.sum(this, dims, keepdim).mul(1 / count);
  }
  /** Max over one dim (values, differentiable) or over all elements. */
  max(dim?: number, keepdim = false): Tensor {
    if (dim === undefined) return ops.maxAlong(this.reshape(this.size), 0, false).values;
    return ops.maxAlong(this, normDim(dim, this.ndim, 'max'), keepdim).values;
  }
  /** Index of the first maximum along a dim (i32), or over all elements. */
  argmax(dim?: number, keepdim = false): Tensor {
    if (dim === undefined) return ops.maxAlong(this.detach().reshape(this.size), 0, false).indices;
    return ops.maxAlong(this.detach(), normDim(dim, this.ndim, 'argmax'), keepdim).indices;
  }

  // ---- linear algebra ----------------------------------------------------------------------------------------
  /** Matrix product with batch broadcasting; transposed views are passed to the kernel as flags, never copied. */
  matmul(o: Tensor): Tensor {
    return ops.matmul(this, o);
  }
}

// ---- creation ------------------------------------------------------------------------------------------------

export interface CreateOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

/** A new contiguous tensor over fresh (pooled, uninitialized) memory. Internal building block. */
export function empty(shape: Shape, dtype: DType = 'f32', zeroed = false): Tensor {
  checkShape(shape);
  return new Tensor(newStorage(dtype, numel(shape), zeroed), [...shape], contiguousStrides(shape), 0);
}

/** Wrap an existing typed array (no copy). */
export function fromArray(data: AnyTypedArray, shape?: Shape, opts: { requiresGrad?: boolean } = {}): Tensor {
  const s = shape ?? [data.length];
  checkShape(s);
  if (numel(s) !== data.length) {
    throw new Error(`fromArray: shape ${fmtShape(s)} holds ${numel(s)} elements but the array has ${data.length}`);
  }
  // The caller keeps the array: releasing this tensor must not hand it to later allocations through the pool.
  const t = new Tensor(wrapStorage(dtypeOfArray(data), data, true), [...s], contiguousStrides(s), 0);
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** A tensor from nested JS arrays or a flat list (f32 by default). */
export function tensor(values: NestedArray | ArrayLike<number>, opts: CreateOptions & { shape?: Shape } = {}): Tensor {
  const dtype = opts.dtype ?? 'f32';
  let flat: number[];
  let shape: number[];
  if (typeof values === 'number') {
    flat = [values];
    shape = [];
  } else if (Array.isArray(values)) {
    shape = inferShape(values);
    flat = (values as unknown[]).flat(Infinity) as number[];
  } else {
    flat = Array.from(values as ArrayLike<number>);
    shape = [flat.length];
  }
  if (opts.shape) {
    if (numel(opts.shape) !== flat.length) {
      throw new Error(`tensor(): shape ${fmtShape(opts.shape)} needs ${numel(opts.shape)} values, got ${flat.length}`);
    }
    shape = [...opts.shape];
  }
  const data = allocTyped(dtype, flat.length);
  if (dtype === 'i64') {
    for (let i = 0; i < flat.length; i++) (data as BigInt64Array)[i] = BigInt(Math.trunc(flat[i]!));
  } else if (dtype === 'bf16') {
    data.set(f32ToBf16(Float32Array.from(flat)) as never);
  } else {
    (data as Float32Array).set(flat);
  }
  const t = new Tensor(wrapStorage(dtype, data), shape, contiguousStrides(shape), 0);
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}

export function full(shape: Shape, value: number, opts: CreateOptions = {}): Tensor {
  const dtype = opts.dtype ?? 'f32';
  const t = empty(shape, dtype);
  if (dtype === 'i64') (t.data as BigInt64Array).fill(BigInt(value));
  else if (dtype === 'bf16') (t.data as Uint16Array).fill(f32ToBf16(Float32Array.of(value))[0]!);
  else (t.data as Float32Array).fill(value);
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}
export function zeros(shape: Shape, opts: CreateOptions = {}): Tensor {
  return full(shape, 0, opts);
}
export function ones(shape: Shape, opts: CreateOptions = {}): Tensor {
  return full(shape, 1, opts);
}
export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape, { dtype: t.dtype });
}

/** start, start+step, … < end (like torch.arange). */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (step === 0) throw new Error('arange: step must not be 0');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype = opts.dtype ?? 'f32';
  const t = empty([n], dtype);
  for (let i = 0; i < n; i++) {
    const v = start + i * step;
    if (dtype === 'i64') (t.data as BigInt64Array)[i] = BigInt(v);
    else if (dtype === 'bf16') (t.data as Uint16Array)[i] = f32ToBf16(Float32Array.of(v))[0]!;
    else (t.data as Float32Array)[i] = v;
  }
  return t;
}

/** Token ids / targets as an Int32Array, from an i32 or i64 tensor (range-checked). */
export function indexArray(t: Tensor, what = 'index tensor'): Int32Array {
  if (t.dtype === 'i32') {
    const f = t.isContiguous() && t.offset === 0 && t.data.length === t.size ? t.data : t.toFlat();
    return f as Int32Array;
  }
  if (t.dtype === 'i64') {
    const f = t.toFlat() as BigInt64Array;
    const out = new Int32Array(f.length);
    for (let i = 0; i < f.length; i++) {
      const v = f[i]!;
      if (v > 2147483647n || v < -2147483648n) throw new Error(`${what}: value ${v} does not fit in int32`);
      out[i] = Number(v);
    }
    return out;
  }
  throw new Error(`${what} must be an integer tensor (i32 or i64), got ${t.describe()}`);
}

// ---- helpers -------------------------------------------------------------------------------------------------

function convertArray(src: AnyTypedArray, dtype: DType): AnyTypedArray {
  const out = allocTyped(dtype, src.length);
  if (dtype === 'i64') {
    for (let i = 0; i < src.length; i++) (out as BigInt64Array)[i] = BigInt(Math.trunc(Number(src[i])));
  } else if (dtype === 'i32') {
    for (let i = 0; i < src.length; i++) (out as Int32Array)[i] = Math.trunc(Number(src[i]));
  } else {
    for (let i = 0; i < src.length; i++) (out as Float64Array)[i] = Number(src[i]);
  }
  return out;
}

function inferShape(v: unknown[]): number[] {
  const shape: number[] = [];
  let cur: unknown = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  const check = (x: unknown, d: number): void => {
    if (d === shape.length) {
      if (typeof x !== 'number') throw new Error(`tensor(): ragged or non-numeric nested array at depth ${d}`);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[d]) {
      throw new Error(`tensor(): ragged nested array: expected length ${shape[d]} at depth ${d}`);
    }
    for (const y of x) check(y, d + 1);
  };
  check(v, 0);
  return shape;
}

function flatArgs(a: number[] | [Shape]): number[] {
  return a.length === 1 && Array.isArray(a[0]) ? [...(a[0] as Shape)] : (a as number[]);
}

function checkShape(shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid shape ${fmtShape(shape)}: dims must be integers >= 0`);
  }
}

function resolveShape(shape: number[], size: number, t: Tensor): number[] {
  const neg = shape.indexOf(-1);
  const out = [...shape];
  if (neg >= 0) {
    if (shape.indexOf(-1, neg + 1) >= 0) throw new Error(`reshape(${fmtShape(shape)}): only one dim can be -1`);
    const rest = numel(shape.filter((_, i) => i !== neg));
    if (rest === 0 || size % rest !== 0) {
      throw new Error(`reshape(${fmtShape(shape)}): cannot infer -1 for ${t.describe()}`);
    }
    out[neg] = size / rest;
  }
  checkShape(out);
  if (numel(out) !== size) {
    throw new Error(`reshape(${fmtShape(shape)}): ${t.describe()} has ${size} elements, the new shape ${numel(out)}`);
  }
  return out;
}

export function normDim(d: number, ndim: number, op: string): number {
  const r = d < 0 ? d + ndim : d;
  if (!Number.isInteger(r) || r < 0 || r >= ndim) {
    throw new Error(`${op}: dim ${d} out of range for a ${ndim}-dim tensor`);
  }
  return r;
}

function normDims(dim: number | number[] | undefined, ndim: number, op: string): number[] {
  if (dim === undefined) return [...Array(ndim).keys()];
  const list = (Array.isArray(dim) ? dim : [dim]).map((d) => normDim(d, ndim, op));
  return [...new Set(list)].sort((a, b) => a - b);
}

function clampIndex(i: number, n: number): number {
  const r = i < 0 ? i + n : i;
  return Math.min(Math.max(r, 0), n);
}

/** Visit every element offset of a strided layout in row-major order. */
export function forEachIndex(shape: Shape, strides: readonly number[], offset: number, fn: (off: number) => void): void {
  const nd = shape.length;
  if (nd === 0) {
    fn(offset);
    return;
  }
  if (numel(shape) === 0) return;
  const idx = new Array<number>(nd).fill(0);
  let off = offset;
  for (;;) {
    fn(off);
    let d = nd - 1;
    while (d >= 0) {
      idx[d]!++;
      off += strides[d]!;
      if (idx[d]! < shape[d]!) break;
      off -= strides[d]! * shape[d]!;
      idx[d] = 0;
      d--;
    }
    if (d < 0) return;
  }
}

export function sameFloat(a: Tensor, b: Tensor, op: string): FloatDType {
  if (!isFloat(a.dtype) || !isFloat(b.dtype)) {
    throw new Error(`${op}: needs float tensors (f32/f64), got ${a.describe()} and ${b.describe()}`);
  }
  if (a.dtype !== b.dtype) {
    throw new Error(`${op}: dtypes differ: ${a.describe()} and ${b.describe()}; convert one with .to()`);
  }
  return a.dtype;
}

export { backendFor };
