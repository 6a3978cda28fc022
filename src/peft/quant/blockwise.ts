/**
 * Blockwise quantization kernels, following bitsandbytes' CUDA kernels (`kQuantizeBlockwise`,
 * `kDequantizeBlockwise` in csrc/kernels.cu) value for value:
 *
 *  - the tensor is flattened (row-major) and cut into blocks of `blockSize` consecutive elements; the last
 *    block may be short;
 *  - absmax = max |x| over the block (float32), and each x is scaled by the float32 reciprocal, x · (1/absmax),
 *    not divided — the kernel multiplies, and the two can differ in the last bit;
 *  - 4-bit: two codes a byte, element 2i in the HIGH nibble and 2i+1 in the low one; an odd element count is
 *    padded with a zero (which takes the code of 0.0); the packed tensor holds ceil(n/2) bytes;
 *  - dequantization is code[q] · absmax, one float32 multiply.
 *
 * Plain loops over typed arrays: these run once per weight on load, and per forward in `dequantizeInto` until
 * the fused native kernel replaces it.
 */
import { dynamicMap, fourBitQuantizer, quantizeToCode, type FourBitType } from './codes.js';

const f32 = Math.fround;

export type FloatArray = Float32Array | Float64Array;

function checkBlockSize(blockSize: number, what: string): void {
  if (!Number.isInteger(blockSize) || blockSize < 2 || blockSize % 2 !== 0) {
    throw new Error(`${what}: block size must be an even integer >= 2, got ${blockSize}`);
  }
}

/** float32 max |x| over src[start, end). */
function blockAbsmax(src: ArrayLike<number>, start: number, end: number): number {
  let m = 0;
  for (let i = start; i < end; i++) {
    const a = Math.abs(f32(src[i]!));
    // NaN compares false and is skipped, as fmaxf does.
    if (a > m) m = a;
  }
  return m;
}

export interface Packed4bit {
  /** ceil(n/2) bytes, first element of each pair in the high nibble. */
  packed: Uint8Array;
  /** One float32 absmax per block. */
  absmax: Float32Array;
}

/** bitsandbytes' `quantize_4bit` (without the double quantization of the absmaxes). */
export function quantize4bit(src: ArrayLike<number>, blockSize = 64, type: FourBitType = 'nf4'): Packed4bit {
  checkBlockSize(blockSize, 'quantize4bit');
  const n = src.length;
  const blocks = Math.ceil(n / blockSize);
  const absmax = new Float32Array(blocks);
  const packed = new Uint8Array(Math.ceil(n / 2));
  const q = fourBitQuantizer(type);
  for (let b = 0; b < blocks; b++) {
    const start = b * blockSize;
    const end = Math.min(n, start + blockSize);
    const amax = blockAbsmax(src, start, end);
    absmax[b] = amax;
    // 1/0 = ∞ and 0·∞ = NaN for an all-zero block: NaN takes code 0, and dequantizes to code[0]·0 = 0.
    const inv = f32(1 / amax);
    for (let i = start; i < end; i += 2) {
      const hi = q(f32(f32(src[i]!) * inv));
      // The pad of an odd count is 0.0 (bitsandbytes loads missing items as zero).
      const lo = i + 1 < end ? q(f32(f32(src[i + 1]!) * inv)) : q(f32(0 * inv));
      packed[i >> 1] = (hi << 4) | lo;
    }
  }
  return { packed, absmax };
}

/**
 * Write the dequantized values of elements [0, n) into dst (float32 values; a Float64Array receives them
 * widened exactly). `absmax` holds one float32 per block. Per block, the 16 possible outputs code[k]·absmax are
 * computed once and looked up per nibble.
 */
export function dequantize4bitInto(
  dst: FloatArray,
  packed: Uint8Array,
  absmax: ArrayLike<number> | NestedAbsmax,
  n: number,
  blockSize: number,
  code: Float32Array,
): void {
  checkBlockSize(blockSize, 'dequantize4bit');
  if (dst.length < n) throw new Error(`dequantize4bit: destination holds ${dst.length} values, need ${n}`);
  if (packed.length < Math.ceil(n / 2)) throw new Error(`dequantize4bit: ${packed.length} packed bytes for ${n} values`);
  const blocks = Math.ceil(n / blockSize);
  // A double-quantized state is decoded block by block, so no float32 absmax array is allocated per call.
  const nested = 'qabsmax' in absmax ? absmax : null;
  const plain = nested ? null : (absmax as ArrayLike<number>);
  const have = nested ? nested.qabsmax.length : plain!.length;
  if (have < blocks) throw new Error(`dequantize4bit: ${have} absmax values for ${blocks} blocks`);
  const lut = new Float64Array(16);
  for (let b = 0; b < blocks; b++) {
    const a = nested ? nestedAbsmaxAt(nested, b) : plain![b]!;
    for (let k = 0; k < 16; k++) lut[k] = f32(code[k]! * a);
    const start = b * blockSize;
    const end = Math.min(n, start + blockSize);
    let i = start;
    for (; i + 1 < end; i += 2) {
      const byte = packed[i >> 1]!;
      dst[i] = lut[byte >> 4]!;
      dst[i + 1] = lut[byte & 15]!;
    }
    if (i < end) dst[i] = lut[packed[i >> 1]! >> 4]!;
  }
}

export interface Blockwise8bit {
  /** One code index per element. */
  q: Uint8Array;
  absmax: Float32Array;
}

/** bitsandbytes' `quantize_blockwise` (8-bit, with a 256-entry code; the signed dynamic map by default). */
export function quantizeBlockwise(src: ArrayLike<number>, blockSize = 256, code: Float32Array = dynamicMap()): Blockwise8bit {
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new Error(`quantizeBlockwise: bad block size ${blockSize}`);
  if (code.length !== 256) throw new Error(`quantizeBlockwise: the code must have 256 entries, got ${code.length}`);
  const n = src.length;
  const blocks = Math.ceil(n / blockSize);
  const absmax = new Float32Array(blocks);
  const q = new Uint8Array(n);
  for (let b = 0; b < blocks; b++) {
    const start = b * blockSize;
    const end = Math.min(n, start + blockSize);
    const amax = blockAbsmax(src, start, end);
    absmax[b] = amax;
    const inv = f32(1 / amax);
    for (let i = start; i < end; i++) q[i] = quantizeToCode(code, f32(f32(src[i]!) * inv));
  }
  return { q, absmax };
}

/** bitsandbytes' `dequantize_blockwise`: code[q] · absmax per element. */
export function dequantizeBlockwise(q: Uint8Array, absmax: ArrayLike<number>, blockSize: number, code: Float32Array): Float32Array {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = f32(code[q[i]!]! * absmax[Math.floor(i / blockSize)]!);
  return out;
}

/**
 * Double quantization ("compress_statistics"): the float32 absmaxes of a 4-bit tensor are centred on their mean
 * and quantized with the signed dynamic 8-bit map in blocks of 256. Stores one byte per 4-bit block, plus one
 * float32 per 256 blocks and the offset.
 */
export interface NestedAbsmax {
  /** One byte per 4-bit block (saved as `weight.absmax`, U8). */
  qabsmax: Uint8Array;
  /** One float32 per nested block (`weight.nested_absmax`). */
  absmax2: Float32Array;
  /** The 256-entry map (`weight.nested_quant_map`). */
  code2: Float32Array;
  /** Nested block size (`nested_blocksize`, 256). */
  blockSize2: number;
  /** The mean that was subtracted (`nested_offset`). */
  offset: number;
}

export function doubleQuantize(absmax: Float32Array, blockSize2 = 256, code2: Float32Array = dynamicMap()): NestedAbsmax {
  // torch's float32 mean; summed here in float64 and rounded once, which can differ from torch's reduction
  // order in the last bit (a saved checkpoint carries its own offset, so loading is unaffected).
  let sum = 0;
  for (let i = 0; i < absmax.length; i++) sum += absmax[i]!;
  const offset = absmax.length ? f32(sum / absmax.length) : 0;
  const centred = new Float32Array(absmax.length);
  for (let i = 0; i < absmax.length; i++) centred[i] = f32(absmax[i]! - offset);
  const { q, absmax: absmax2 } = quantizeBlockwise(centred, blockSize2, code2);
  return { qabsmax: q, absmax2, code2, blockSize2, offset };
}

/** The float32 absmax of 4-bit block b from its double-quantized form: code2[q]·absmax2 + offset. */
export function nestedAbsmaxAt(s: NestedAbsmax, b: number): number {
  return f32(f32(s.code2[s.qabsmax[b]!]! * s.absmax2[Math.floor(b / s.blockSize2)]!) + s.offset);
}

/** Every absmax of a double-quantized state, as float32. */
export function dequantizeNestedAbsmax(s: NestedAbsmax): Float32Array {
  const out = new Float32Array(s.qabsmax.length);
  for (let b = 0; b < out.length; b++) out[b] = nestedAbsmaxAt(s, b);
  return out;
}
