/**
 * Element types. Compute happens in f32 (f64 in the reference backend and tests); bf16 is a storage type
 * converted on load and save; i32/i64 hold indices (token ids, targets).
 */
export type DType = 'f32' | 'f64' | 'bf16' | 'i32' | 'i64';
export type FloatDType = 'f32' | 'f64';

export type TypedArrayOf<D extends DType> = D extends 'f32'
  ? Float32Array
  : D extends 'f64'
    ? Float64Array
    : D extends 'bf16'
      ? Uint16Array
      : D extends 'i32'
        ? Int32Array
        : BigInt64Array;

export type AnyTypedArray = Float32Array | Float64Array | Uint16Array | Int32Array | BigInt64Array;

export const DTYPE_BYTES: Record<DType, number> = { f32: 4, f64: 8, bf16: 2, i32: 4, i64: 8 };

export function allocTyped(dtype: DType, n: number): AnyTypedArray {
  switch (dtype) {
    case 'f32':
      return new Float32Array(n);
    case 'f64':
      return new Float64Array(n);
    case 'bf16':
      return new Uint16Array(n);
    case 'i32':
      return new Int32Array(n);
    case 'i64':
      return new BigInt64Array(n);
  }
}

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype === 'f32' || dtype === 'f64';
}

export function isInt(dtype: DType): boolean {
  return dtype === 'i32' || dtype === 'i64';
}

export function dtypeOfArray(a: AnyTypedArray): DType {
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Float64Array) return 'f64';
  if (a instanceof Uint16Array) return 'bf16';
  if (a instanceof Int32Array) return 'i32';
  return 'i64';
}
