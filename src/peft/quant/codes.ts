/**
 * The code books of bitsandbytes' data types, as float32 values, and the rules that pick a code for a value.
 *
 * Everything here is float32 arithmetic, emulated with Math.fround after every operation. A product, sum or
 * quotient of two float32 values computed in float64 and then rounded to float32 is the correctly rounded
 * float32 result (float64 has more than 2·24+2 bits), so `fround(a * b)` is exactly what a float32 multiply on
 * the GPU gives.
 */

const f32 = Math.fround;

export type FourBitType = 'nf4' | 'fp4';

/**
 * NF4's 16 values (bitsandbytes `get_4bit_type('nf4')`, the same literals as `nf4_dequantization_lut` in its
 * CUDA kernels): quantiles of N(0, 1) normalized to [-1, 1], with an exact zero at index 7 and one more
 * positive value than negative ones. Index = the 4-bit code.
 */
export const NF4_CODE: Float32Array = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]);

/**
 * The decision thresholds of bitsandbytes' `dQuantizeNF4` (kernels.cu), ascending: threshold k is the midpoint
 * of NF4 values k and k+1 (computed in double, then written as float literals). The kernel walks a binary tree
 * with strict `x > t` tests, so a value exactly on a midpoint takes the LOWER code, and NaN (0 · ∞ when a block
 * is all zeros) fails every test and takes code 0. Counting the thresholds below x gives the same code.
 */
export const NF4_THRESHOLDS: Float32Array = Float32Array.from([
  -0.8480964004993439, -0.6106329262256622, -0.4599952697753906, -0.33967943489551544, -0.23460740596055984,
  -0.13791173323988914, -0.045525018125772476, 0.03979014977812767, 0.1202552504837513, 0.2035212516784668,
  0.2920137718319893, 0.3893125355243683, 0.5016634166240692, 0.6427869200706482, 0.8614784181118011,
]);

/**
 * FP4 (E2M1 without infinities) as bitsandbytes lays it out: bit 3 is the sign, bits 0-2 index the magnitudes
 * {0, 0.0625, 8, 12, 4, 6, 2, 3} / 12 — not in increasing order. This is `get_4bit_type('fp4')` (the values
 * divided by their maximum, 12, in float32), which is also the table `dDequantizeFP4Tree` multiplies by.
 */
export const FP4_CODE: Float32Array = Float32Array.from(
  [0, 0.0625, 8, 12, 4, 6, 2, 3, -0, -0.0625, -8, -12, -4, -6, -2, -3].map((v) => f32(f32(v) / 12)),
);

/** `dQuantizeFP4`'s magnitude thresholds, ascending, with the 3-bit code each interval above it maps to. */
const FP4_THRESHOLDS = Float32Array.from([0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667, 0.583333, 0.8333333]);
const FP4_RANK_TO_CODE = [0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011];

/** The NF4 code of a float32 value already scaled into [-1, 1] (bitsandbytes' CUDA rule, see NF4_THRESHOLDS). */
export function quantizeNf4Value(x: number): number {
  // Binary search for the number of thresholds strictly below x; every comparison is false for NaN → code 0.
  let lo = 0,
    hi = 15;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x > NF4_THRESHOLDS[mid]!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The FP4 code of a scaled float32 value (`dQuantizeFP4`: sign bit from x < 0, then the magnitude tree). */
export function quantizeFp4Value(x: number): number {
  const sign = x < 0 ? 0b1000 : 0;
  const a = Math.abs(x);
  let rank = 0;
  while (rank < 7 && a > FP4_THRESHOLDS[rank]!) rank++;
  return sign + FP4_RANK_TO_CODE[rank]!;
}

export function fourBitCode(type: FourBitType): Float32Array {
  return type === 'nf4' ? NF4_CODE : FP4_CODE;
}

export function fourBitQuantizer(type: FourBitType): (x: number) => number {
  return type === 'nf4' ? quantizeNf4Value : quantizeFp4Value;
}

// ---- the dynamic 8-bit map ------------------------------------------------------------------------------------

/**
 * Which of torch's CPU kernels to follow when computing float32 linspace (see createDynamicMap): torch picks
 * one at run time from the CPU (`ATEN_CPU_CAPABILITY` overrides it), and the last bit of a few dynamic-map
 * entries depends on it.
 */
export type TorchCpuKernel = 'avx2' | 'avx512' | 'default';

/**
 * bitsandbytes' `create_dynamic_map(signed, max_exponent_bits, total_bits)`: a dynamic-exponent 8-bit type
 * (Dettmers 2015). For each exponent i in [0, max_exponent_bits) it splits [0.1, 1] into 2^(i + non_sign_bits -
 * max_exponent_bits) (+1 bit when unsigned) equal intervals and keeps their midpoints scaled by
 * 10^(i - (max_exponent_bits - 1)), with both signs when signed; then appends 0 and 1.0 and sorts. The signed
 * default therefore spans [-0.99296875, 1]: 127 negative values, 0, 127 positive values and 1.0 (no -1.0).
 *
 * bitsandbytes builds it with float32 torch ops on the CPU — `torch.linspace(0.1, 1, k)`, `(b[:-1] + b[1:]) /
 * 2.0`, then a float32 multiply by the power of ten — so the last bit of each entry depends on how torch's
 * kernel computes a float32 linspace: step = (1 - 0.1f)/(k-1) in float32; the first half counted up from the
 * start, the second half down from the end; runs of two vectors (8 lanes on AVX2 and the generic build, 16 on
 * AVX-512) whose first lane is computed like a scalar entry and whose other lanes add j·step without fusing;
 * the remaining entries one by one. The AVX2 and AVX-512 kernels are compiled with fused multiply-add, so
 * `start + step·idx` rounds once there; the generic ('default') kernel rounds twice. With these rules all 256
 * values equal torch 1.13's output bit for bit for each of the three kernels (checked with Debian's
 * python3-torch and ATEN_CPU_CAPABILITY=avx2/avx512/default on an AVX-512 machine, where torch 1.13 picks AVX2
 * by default). Checkpoints store the map they were quantized with (`nested_quant_map`), and loading always
 * uses that, so the choice only matters for checkpoints written here.
 */
export function createDynamicMap(signed = true, maxExponentBits = 7, totalBits = 8, kernel: TorchCpuKernel = 'avx2'): Float32Array {
  const data: number[] = [];
  // bitsandbytes writes `total_bits - (1 if signed else 1)`: one bit is reserved either way.
  const nonSignBits = totalBits - 1;
  const additionalItems = 2 ** (nonSignBits - maxExponentBits) - 1;
  const addMeans = (count: number, exponent: number): void => {
    const b = torchLinspaceF32(0.1, 1, count + 1, kernel);
    const scale = f32(10 ** (exponent - (maxExponentBits - 1)));
    for (let k = 0; k < count; k++) {
      const mean = f32(f32(b[k]! + b[k + 1]!) / 2);
      data.push(f32(scale * mean));
      if (signed) data.push(f32(-scale * mean));
    }
  };
  let last = 0;
  for (let i = 0; i < maxExponentBits; i++) {
    addMeans(signed ? 2 ** (i + nonSignBits - maxExponentBits) : 2 ** (i + nonSignBits - maxExponentBits + 1), i);
    last = i;
  }
  // The extra items reuse the last exponent (a quirk of the reference: its loop variable leaks).
  if (additionalItems > 0) addMeans(additionalItems, last);
  data.push(0, 1.0);
  if (data.length > 256) throw new Error(`createDynamicMap: ${data.length} values do not fit 8 bits`);
  while (data.length < 256) data.push(0);
  data.sort((a, b) => a - b);
  return Float32Array.from(data);
}

/** torch.linspace(start, end, steps) in float32 on the CPU, as the given kernel computes it. */
function torchLinspaceF32(start: number, end: number, steps: number, kernel: TorchCpuKernel): Float32Array {
  const s = f32(start),
    e = f32(end);
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = s;
    return out;
  }
  const step = f32(f32(e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  // With FMA, start + step·idx rounds once (step·idx is exact in float64: a small integer times a float32);
  // without, the product rounds to float32 first.
  const fma = kernel !== 'default';
  const entry = (idx: number): number => {
    if (idx < half) return fma ? f32(step * idx + s) : f32(s + f32(step * idx));
    const k = steps - idx - 1;
    return fma ? f32(e - step * k) : f32(e - f32(step * k));
  };
  const LANES = kernel === 'avx512' ? 16 : 8;
  let idx = 0;
  // torch's vectorized loop takes two vectors per iteration while that many entries remain, then goes scalar.
  for (; idx + 2 * LANES <= steps; idx += 2 * LANES) {
    for (const v of [idx, idx + LANES]) {
      const base = entry(v);
      for (let j = 0; j < LANES; j++) out[v + j] = f32(base + f32(j * step));
    }
  }
  for (; idx < steps; idx++) out[idx] = entry(idx);
  return out;
}

/** The default signed dynamic map, built once (double quantization's `nested_quant_map`). */
let dynamicMapCache: Float32Array | null = null;
export function dynamicMap(): Float32Array {
  return (dynamicMapCache ??= createDynamicMap(true));
}

/**
 * The index of `x` in a sorted 256-entry code (bitsandbytes' `dQuantize<0>` in kernels.cu). A 7-step binary
 * search compares only odd indices and leaves an even `pivot` with its odd neighbours as lower/upper bounds; the
 * value then goes to whichever side its float32 midpoint test picks: above val, strictly above (upper+val)/2
 * → upper; at or below val, strictly below (lower+val)/2 → lower; otherwise the even pivot. So ties go to the
 * even index in the middle. NaN (an all-zero block) ends at index 0.
 */
export function quantizeToCode(code: Float32Array, x: number): number {
  let pivot = 127,
    upperPivot = 255,
    lowerPivot = 0;
  let lower = -1.0,
    upper = 1.0;
  let val = code[pivot]!;
  for (let i = 64; i > 0; i >>= 1) {
    if (x > val) {
      lowerPivot = pivot;
      lower = val;
      pivot += i;
    } else {
      upperPivot = pivot;
      upper = val;
      pivot -= i;
    }
    val = code[pivot]!;
  }
  if (upperPivot === 255) upper = code[255]!;
  if (lowerPivot === 0) lower = code[0]!;
  if (x > val) return x > f32(f32(upper + val) * 0.5) ? upperPivot : pivot;
  return x < f32(f32(lower + val) * 0.5) ? lowerPivot : pivot;
}
