/**
 * 16-bit float formats ↔ float32, over whole arrays.
 *
 *  - bfloat16: the top 16 bits of a float32 (1 sign, 8 exponent, 7 mantissa bits). Widening is a shift; narrowing
 *    rounds to nearest, ties to even (what PyTorch's `.to(torch.bfloat16)` does), and keeps NaN a NaN (plain
 *    truncation-with-rounding could carry a NaN's payload into the exponent and turn it into ±inf).
 *  - float16 (IEEE binary16): 1 sign, 5 exponent (bias 15), 10 mantissa bits; subnormals below 2^-14, max 65504.
 *    Narrowing rounds to nearest even, overflows to ±inf (from 65520 up, the midpoint between 65504 and 2^16),
 *    and keeps NaN a NaN (quiet, sign kept).
 *
 * Half values travel as their raw bit patterns in Uint16Arrays — the form the safetensors reader returns.
 * Speed: the f32 side is always accessed through a Uint32Array view of the same memory (one buffer, two views),
 * never through a per-element DataView; f16 → f32 uses a 65536-entry table built on first use (256 KB).
 *
 * Every function takes an optional output array (so callers can convert into pooled storage) and returns it.
 */

/** Bit view of an f32 array's memory. A Float32Array's byteOffset is always a multiple of 4. */
function u32View(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

function checkOut<T extends { length: number }>(what: string, out: T, n: number): T {
  if (out.length !== n) throw new Error(`${what}: output has ${out.length} elements, input ${n}`);
  return out;
}

/** bf16 bits → f32 (exact). */
export function bf16ToF32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const bits = u32View(checkOut('bf16ToF32', out, src.length));
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  return out;
}

/** One f32 bit pattern → bf16 bits, round to nearest even, NaN kept. */
export function f32BitsToBf16(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x0040) & 0xffff; // quiet NaN, sign kept
  // Adding 0x7fff plus the lowest kept bit rounds ties to even; a carry out of the mantissa correctly bumps the
  // exponent (and the largest values correctly become inf). The sum stays below 2^32 for every non-NaN input.
  return ((x >>> 0) + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/** f32 → bf16 bits, round to nearest even. */
export function f32ToBf16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  checkOut('f32ToBf16', out, src.length);
  const bits = u32View(src);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i]!;
    out[i] = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x0040 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** Rounds f32 values to bf16 precision in place (or into `out`), e.g. to emulate bf16 storage in f32 compute. */
export function roundToBf16(src: Float32Array, out: Float32Array = src): Float32Array {
  checkOut('roundToBf16', out, src.length);
  const s = u32View(src);
  const o = u32View(out);
  for (let i = 0; i < s.length; i++) {
    const x = s[i]!;
    o[i] = (x & 0x7fffffff) > 0x7f800000 ? (x | 0x00400000) & 0xffff0000 : ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) << 16;
  }
  return out;
}

/** One f16 bit pattern → the f32 value it encodes (exact). */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0x1f) return man === 0 ? sign * Infinity : NaN;
  if (exp === 0) return sign * man * 2 ** -24; // subnormal (and ±0: sign * 0 keeps the sign)
  return sign * (1024 + man) * 2 ** (exp - 25);
}

let F16_TABLE: Uint32Array | undefined;

/** f32 bit patterns of all 65536 halves. NaNs keep their payload, shifted into the f32 mantissa. */
function f16Table(): Uint32Array {
  if (F16_TABLE) return F16_TABLE;
  const t = new Uint32Array(65536);
  const f = new Float32Array(t.buffer);
  for (let h = 0; h < 65536; h++) {
    const exp = (h >>> 10) & 0x1f;
    if (exp === 0x1f) t[h] = ((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13);
    else f[h] = f16BitsToNumber(h);
  }
  F16_TABLE = t;
  return t;
}

/** f16 bits → f32 (exact), subnormals, ±inf and NaN included. */
export function f16ToF32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const bits = u32View(checkOut('f16ToF32', out, src.length));
  const t = f16Table();
  for (let i = 0; i < src.length; i++) bits[i] = t[src[i]!]!;
  return out;
}

/**
 * One f32 bit pattern → f16 bits, round to nearest even. `value` must be the same number (the subnormal path
 * uses it; callers have both at hand, so it is not recomputed).
 */
function f32ToF16One(x: number, value: number): number {
  const sign = (x >>> 16) & 0x8000;
  const a = x & 0x7fffffff;
  if (a >= 0x7f800000) {
    // inf stays inf; a NaN keeps the top of its payload and is forced quiet so it cannot collapse to inf.
    return a === 0x7f800000 ? sign | 0x7c00 : sign | 0x7e00 | ((a >>> 13) & 0x3ff);
  }
  if (a >= 0x477ff000) return sign | 0x7c00; // ≥ 65520 rounds to inf (65520 is the tie; inf's mantissa is even)
  if (a >= 0x38800000) {
    // Normal half (|v| ≥ 2^-14): rebias the exponent (127 → 15) and drop 13 mantissa bits with round-half-even.
    // A mantissa carry propagates into the exponent, which is the right result.
    return sign | ((a + 0xfff + ((a >>> 13) & 1) - 0x38000000) >>> 13);
  }
  // Subnormal half: the result is round(|v| × 2^24) units of 2^-24. |v| × 2^24 is exact in double; round half
  // to even by hand (Math.round rounds halves up). A result of 1024 is the smallest normal, encoded the same way.
  const t = Math.abs(value) * 16777216;
  const fl = Math.floor(t);
  const d = t - fl;
  const r = d > 0.5 || (d === 0.5 && (fl & 1) === 1) ? fl + 1 : fl;
  return sign | r;
}

/** f32 → f16 bits, round to nearest even; overflow → ±inf, tiny → subnormal or ±0, NaN kept NaN. */
export function f32ToF16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  checkOut('f32ToF16', out, src.length);
  const bits = u32View(src);
  for (let i = 0; i < src.length; i++) out[i] = f32ToF16One(bits[i]!, src[i]!);
  return out;
}

/** One number → f16 bits (the number is first rounded to f32, as storing it in a Float32Array would). */
export function numberToF16Bits(v: number): number {
  const f = new Float32Array([v]);
  return f32ToF16One(new Uint32Array(f.buffer)[0]!, f[0]!);
}

/** One number → bf16 bits (via f32, round to nearest even). */
export function numberToBf16Bits(v: number): number {
  const f = new Float32Array([v]);
  return f32BitsToBf16(new Uint32Array(f.buffer)[0]!);
}
