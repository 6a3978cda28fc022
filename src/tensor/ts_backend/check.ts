/**
 * Cheap argument checks shared by the reference kernels. A wrong size in the caller would otherwise show up as a
 * silent NaN far away (typed arrays read `undefined` → NaN past their end and drop writes), so every kernel
 * checks its extents up front and names itself in the message.
 */
import type { Buf } from '../backend.js';

/** Throws unless `n` is a non-negative integer (sizes, counts). */
export function checkSize(kernel: string, name: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`${kernel}: ${name} must be a non-negative integer, got ${n}`);
  }
}

/**
 * Throws unless elements [off, off + count) lie inside `buf`. `count` = 0 is always fine (nothing is touched),
 * so empty tensors need no special case in the callers.
 */
export function checkSpan(kernel: string, name: string, buf: ArrayLike<number>, off: number, count: number): void {
  if (!Number.isInteger(off) || off < 0) {
    throw new Error(`${kernel}: ${name} offset must be a non-negative integer, got ${off}`);
  }
  if (count > 0 && off + count > buf.length) {
    throw new Error(`${kernel}: ${name} needs ${count} elements from offset ${off} but has length ${buf.length}`);
  }
}

/** Throws unless all float buffers of one call share one element type (the contract forbids mixing f32/f64). */
export function checkSameType(kernel: string, ...bufs: (Buf | null)[]): void {
  let first: Buf | null = null;
  for (const b of bufs) {
    if (b === null) continue;
    if (first === null) first = b;
    else if (b.constructor !== first.constructor) {
      throw new Error(`${kernel}: mixed float types (${first.constructor.name} with ${b.constructor.name})`);
    }
  }
}

/**
 * Lowest and highest element index a strided walk can reach: the start plus each dimension's extent, taken on
 * the negative side for negative strides. Used to bounds-check views before the hot loop.
 */
export function stridedExtent(shape: readonly number[], strides: readonly number[], offset: number): [number, number] {
  let lo = offset;
  let hi = offset;
  for (let d = 0; d < shape.length; d++) {
    const span = (shape[d] - 1) * strides[d];
    if (span > 0) hi += span;
    else lo += span;
  }
  return [lo, hi];
}

/** Product of the dims (1 for a scalar shape). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}
