/**
 * The one strided iterator behind unary / binary / affine / copyStrided.
 *
 * An N-d strided view is walked in row-major order of its shape, one innermost row at a time: the per-element
 * work then is a plain loop `for j < len: x[xo + j*xs]`, and the odometer that carries the outer dims runs once
 * per row instead of once per element.
 */
import type { Buf, StridedView } from '../backend.js';
import { stridedExtent } from './check.js';

export const MAX_DIMS = 8;

/** Row-major strides of a contiguous tensor of `shape` (how the kernels see their contiguous `out`). */
export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

/** A contiguous view of `data` from `offset`, shaped like `shape`. */
export function contiguousView(data: Buf, offset: number, shape: readonly number[]): StridedView {
  return { data, offset, strides: contiguousStrides(shape) };
}

/**
 * Checks `shape` and every view (rank, integer strides, reachable range inside its buffer). Returns false when
 * the shape is empty (some dim is 0) so the caller has nothing to do.
 */
function checkViews(kernel: string, shape: readonly number[], views: readonly StridedView[], names: readonly string[]): boolean {
  if (shape.length > MAX_DIMS) {
    throw new Error(`${kernel}: at most ${MAX_DIMS} dims are supported, got shape [${shape.join(', ')}]`);
  }
  let empty = false;
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) throw new Error(`${kernel}: bad shape [${shape.join(', ')}]`);
    if (s === 0) empty = true;
  }
  views.forEach((v, k) => {
    if (v.strides.length !== shape.length) {
      throw new Error(
        `${kernel}: ${names[k]} has ${v.strides.length} strides for shape [${shape.join(', ')}] (${shape.length} dims)`,
      );
    }
    for (const st of v.strides) {
      if (!Number.isInteger(st)) throw new Error(`${kernel}: ${names[k]} has a non-integer stride ${st}`);
    }
    if (empty) return;
    const [lo, hi] = stridedExtent(shape, v.strides, v.offset);
    if (!Number.isInteger(v.offset) || lo < 0 || hi >= v.data.length) {
      throw new Error(
        `${kernel}: ${names[k]} (offset ${v.offset}, strides [${v.strides.join(', ')}]) reaches elements ` +
          `${lo}..${hi} of a buffer of length ${v.data.length} for shape [${shape.join(', ')}]`,
      );
    }
  });
  return !empty;
}

/**
 * Calls `body(offs, len)` once per innermost row of `shape`, in row-major order. `offs[k]` is the element offset
 * of the row's first element in view k (the array is reused: read it before returning); the innermost stride of
 * view k is `views[k].strides[last]` (or 0 for a scalar shape, which is one row of length 1).
 */
export function forEachRow(
  kernel: string,
  shape: readonly number[],
  views: readonly StridedView[],
  names: readonly string[],
  body: (offs: number[], len: number) => void,
): void {
  if (!checkViews(kernel, shape, views, names)) return;
  const nd = shape.length;
  const len = nd === 0 ? 1 : shape[nd - 1];
  let rows = 1;
  for (let d = 0; d < nd - 1; d++) rows *= shape[d];

  const nv = views.length;
  const offs = views.map((v) => v.offset);
  const counter = new Array<number>(Math.max(nd - 1, 0)).fill(0);
  for (let r = 0; r < rows; r++) {
    body(offs, len);
    // Odometer over the outer dims: bump the last outer dim; on wrap-around rewind it and carry to the left.
    for (let d = nd - 2; d >= 0; d--) {
      counter[d]++;
      for (let k = 0; k < nv; k++) offs[k] += views[k].strides[d];
      if (counter[d] < shape[d]) break;
      for (let k = 0; k < nv; k++) offs[k] -= views[k].strides[d] * shape[d];
      counter[d] = 0;
    }
  }
}

/** Innermost stride of a view (0 for a scalar shape, where it is never stepped). */
export function innerStride(v: StridedView): number {
  const n = v.strides.length;
  return n === 0 ? 0 : v.strides[n - 1];
}
