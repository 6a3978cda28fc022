/**
 * NF4, FP4, the dynamic 8-bit map and double quantization, checked against values worked out by hand from
 * bitsandbytes' published tables (get_4bit_type, create_dynamic_map) and the rules of its CUDA kernels
 * (dQuantizeNF4's strict `x > midpoint` tree, dQuantize's midpoint test, absmax · reciprocal scaling, high
 * nibble first). Nothing here is a snapshot of this code's own output.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  NF4_CODE,
  NF4_THRESHOLDS,
  FP4_CODE,
  createDynamicMap,
  dequantize4bitInto,
  dequantizeNestedAbsmax,
  doubleQuantize,
  quantize4bit,
  quantizeBlockwise,
  quantizeFp4Value,
  quantizeNf4Value,
  quantizeToCode,
} from '../../../src/peft/quant/index.js';
import { createRng } from '../../../src/tensor/index.js';

const f32 = Math.fround;

/** The next float32 above a float32 value (positive or negative, non-zero). */
function nextUp(x: number): number {
  const b = new Float32Array([x]);
  const u = new Uint32Array(b.buffer);
  if (x > 0) u[0]! += 1;
  else u[0]! -= 1;
  return b[0]!;
}

/** bitsandbytes' get_4bit_type('nf4'), copied from its source as published. */
const NF4_PUBLISHED = [
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
];

describe('NF4 code and rounding rule', () => {
  it('has the 16 published values, as float32', () => {
    expect([...NF4_CODE]).toEqual(NF4_PUBLISHED.map(f32));
  });

  it("thresholds are the midpoints of neighbouring values (dQuantizeNF4's literals)", () => {
    for (let k = 0; k < 15; k++) expect(NF4_THRESHOLDS[k]).toBe(f32((NF4_PUBLISHED[k]! + NF4_PUBLISHED[k + 1]!) / 2));
    // Two of the kernel's literals, read off kernels.cu: 0.03979014977812767 (between 0 and 0.0796) and
    // -0.8480964004993439 (between -1 and -0.6962).
    expect(NF4_THRESHOLDS[7]).toBe(f32(0.03979014977812767));
    expect(NF4_THRESHOLDS[0]).toBe(f32(-0.8480964004993439));
  });

  it('a value exactly on a midpoint takes the lower code; the next float32 up takes the upper', () => {
    for (let k = 0; k < 15; k++) {
      const t = NF4_THRESHOLDS[k]!;
      expect(quantizeNf4Value(t), `midpoint ${k}/${k + 1}`).toBe(k);
      expect(quantizeNf4Value(nextUp(t)), `just above midpoint ${k}/${k + 1}`).toBe(k + 1);
    }
    expect(quantizeNf4Value(NaN)).toBe(0);
    expect(quantizeNf4Value(-1)).toBe(0);
    expect(quantizeNf4Value(1)).toBe(15);
    expect(quantizeNf4Value(0)).toBe(7);
  });

  it('quantizes a block with absmax 1 as worked out by hand', () => {
    // absmax = |-1.0| = 1, so the scale 1/absmax is exactly 1 and each value is compared with the midpoints:
    //   0.5   : 0.4407 (12) < 0.5 < 0.5626 (13), midpoint 0.50166 → 12 = 0b1100
    //  -1.0   : the lowest value → 0 = 0b0000
    //   0.1   : 0.0796 (8) < 0.1 < 0.1609 (9), midpoint 0.12026 → 8 = 0b1000
    //   0.0   : between midpoints -0.04553 and 0.03979 → 7 = 0b0111
    //   0.9   : 0.7230 (14) < 0.9 < 1 (15), midpoint 0.86148 → 15 = 0b1111
    //  -0.3   : -0.3949 (3) < -0.3 < -0.2844 (4), midpoint -0.33968 → 4 = 0b0100
    //   0.25  : 0.2461 (10) < 0.25 < 0.3379 (11), midpoint 0.29201 → 10 = 0b1010
    //  -0.05  : -0.0911 (6) < -0.05 < 0 (7), midpoint -0.04553 → 6 = 0b0110
    // Pairs pack with the first element in the high nibble: C0 87 F4 A6.
    const { packed, absmax } = quantize4bit([0.5, -1.0, 0.1, 0.0, 0.9, -0.3, 0.25, -0.05], 8, 'nf4');
    expect([...absmax]).toEqual([1]);
    expect([...packed]).toEqual([0xc0, 0x87, 0xf4, 0xa6]);
  });

  it('keeps one absmax per block and scales by its reciprocal', () => {
    // Block 0 = [4, -1, 0.5, 2]: absmax 4, scale 1/4 exactly → [1, -0.25, 0.125, 0.5]
    //   1 → 15; -0.25: -0.2844 (4) < x < -0.1848 (5), midpoint -0.23461 → 4; 0.125 > midpoint 0.12026 → 9;
    //   0.5 → 12.  Bytes F4 9C.
    // Block 1 = [-0.1, 0.05, 0, -0.02]: absmax 0.1, scale ≈ 10 → [-1, 0.5, 0, -0.2]
    //   -1 → 0; 0.5 → 12; 0 → 7; -0.2: -0.2844 (4) < x < -0.1848 (5), midpoint -0.23461 → 5.  Bytes 0C 75.
    const { packed, absmax } = quantize4bit([4, -1, 0.5, 2, -0.1, 0.05, 0, -0.02], 4, 'nf4');
    expect([...absmax]).toEqual([4, f32(0.1)]);
    expect([...packed]).toEqual([0xf4, 0x9c, 0x0c, 0x75]);
  });

  it('puts the first element in the high nibble and pads an odd count with a zero', () => {
    // [1, -1, 0]: codes 15, 0, 7 and the pad 0.0 → 7: bytes F0 77.
    const { packed } = quantize4bit([1, -1, 0], 4, 'nf4');
    expect([...packed]).toEqual([0xf0, 0x77]);
    const out = new Float32Array(3);
    dequantize4bitInto(out, packed, [1], 3, 4, NF4_CODE);
    expect([...out]).toEqual([1, -1, 0]);
  });

  it('an all-zero block gets code 0 (0·∞ = NaN in the kernel) and dequantizes to zeros', () => {
    const { packed, absmax } = quantize4bit([0, 0, 0, 0], 4, 'nf4');
    expect([...absmax]).toEqual([0]);
    expect([...packed]).toEqual([0x00, 0x00]);
    const out = new Float32Array(4);
    dequantize4bitInto(out, packed, absmax, 4, 4, NF4_CODE);
    expect([...out].every((v) => v === 0)).toBe(true);
  });

  it('dequantizes to code · absmax', () => {
    // F4 9C with absmax 4: codes 15, 4, 9, 12 → 4·[1, -0.28444138, 0.16093020, 0.44070983].
    const out = new Float32Array(4);
    dequantize4bitInto(out, Uint8Array.of(0xf4, 0x9c), [4], 4, 4, NF4_CODE);
    expect([...out]).toEqual([4, f32(4 * f32(-0.28444138169288635)), f32(4 * f32(0.16093020141124725)), f32(4 * f32(0.44070982933044434))]);
  });

  it('dequantize(quantize(x)) is within half the widest NF4 gap of each block absmax', () => {
    const n = 64 * 50;
    const x = createRng(3, 'nf4').fillNormal(new Float32Array(n), 0, 0.02);
    const { packed, absmax } = quantize4bit(x, 64, 'nf4');
    const y = new Float32Array(n);
    dequantize4bitInto(y, packed, absmax, n, 64, NF4_CODE);
    // The widest gap is between -1 and -0.6962 (0.3038; the positive side's widest is 0.7230…1, 0.2770):
    // any value is at most half of it away from its code.
    const halfGap = (1 - 0.6961928009986877) / 2;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const bound = absmax[Math.floor(i / 64)]! * halfGap * (1 + 1e-6);
      expect(Math.abs(x[i]! - y[i]!)).toBeLessThanOrEqual(bound);
      sq += (x[i]! - y[i]!) ** 2;
    }
    // Normal weights land mostly in the dense middle of NF4: the RMS error is a small fraction of σ.
    expect(Math.sqrt(sq / n)).toBeLessThan(0.2 * 0.02);
    // Every block's largest magnitude is represented exactly (it maps to ±1 · absmax).
    for (let b = 0; b < 50; b++) {
      let arg = b * 64;
      for (let i = b * 64; i < (b + 1) * 64; i++) if (Math.abs(x[i]!) > Math.abs(x[arg]!)) arg = i;
      expect(y[arg]).toBe(x[arg]);
    }
  });
});

describe('against a torch run of bitsandbytes\' reference backend', () => {
  it('NF4 codes, absmaxes and their double quantization are identical (SHA-256 recorded from torch 1.13)', () => {
    // 64 010 values (1000 full blocks and a partial one), the first block all zeros. The same input was fed to
    // bitsandbytes' pure-torch quantize_4bit / quantize_blockwise (backends/default/ops.py) under torch 1.13;
    // the hash covers its packed codes, float32 absmaxes, nested codes, nested absmaxes and offset.
    const n = 64 * 1000 + 10;
    const x = createRng(42, 'x').fillNormal(new Float32Array(n), 0, 0.05);
    x.fill(0, 0, 64);
    const { packed, absmax } = quantize4bit(x, 64, 'nf4');
    const s = doubleQuantize(absmax);
    const h = createHash('sha256');
    for (const a of [packed, absmax, s.qabsmax, s.absmax2, Float32Array.of(s.offset)]) h.update(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    expect(h.digest('hex')).toBe('5a20c6446acfb38354a540a4fdaae1d1d67304d7ebea172e58a49db125db48e8');
  });
});

describe('FP4 (optional type)', () => {
  it('is E2M1 over 12 with the sign in bit 3, and rounds by the kernel thresholds', () => {
    // get_4bit_type('fp4') = [0, 0.0625, 8, 12, 4, 6, 2, 3, -0, -0.0625, -8, -12, -4, -6, -2, -3] / 12.
    expect(FP4_CODE[3]).toBe(1);
    expect(FP4_CODE[2]).toBe(f32(8 / 12));
    expect(FP4_CODE[11]).toBe(-1);
    expect(quantizeFp4Value(1)).toBe(0b0011);
    expect(quantizeFp4Value(-1)).toBe(0b1011);
    expect(quantizeFp4Value(0.5)).toBe(0b0101); // 6/12
    // 0.3 is above the 0.29166667 threshold (midpoint of 0.25 and 0.3333) → 4/12 = 0b100.
    expect(quantizeFp4Value(0.3)).toBe(0b0100);
    expect(quantizeFp4Value(0.29)).toBe(0b0111); // 3/12
    expect(quantizeFp4Value(0)).toBe(0);
  });
});

describe('the signed dynamic 8-bit map (create_dynamic_map(signed=True))', () => {
  const code = createDynamicMap();
  /** Equal up to float32 rounding of the few float32 operations that build an entry. */
  const near = (a: number, b: number): void => expect(Math.abs(a - b)).toBeLessThanOrEqual(Math.abs(b) * 3e-7);

  it('has 256 sorted values: 127 negative, 0 at index 127, 127 positive and 1.0 on top', () => {
    expect(code.length).toBe(256);
    for (let i = 1; i < 256; i++) expect(code[i]!).toBeGreaterThan(code[i - 1]!);
    expect(code[127]).toBe(0);
    expect(code[255]).toBe(1);
    // No -1: the smallest value is the largest mean of the top exponent, negated.
    near(code[0]!, -0.99296875);
    // Signed entries come in ± pairs.
    for (let k = 0; k < 127; k++) expect(code[126 - k]).toBe(-code[128 + k]!);
  });

  it('has the hand-computed means at each exponent', () => {
    // i = 0: linspace(0.1, 1, 2) = [0.1, 1] → mean 0.55, × 1e-6.
    near(code[128]!, 0.55e-6);
    // i = 1: [0.1, 0.55, 1] → means 0.325, 0.775, × 1e-5.
    near(code[129]!, 0.325e-5);
    near(code[130]!, 0.775e-5);
    // i = 2: [0.1, 0.325, 0.55, 0.775, 1] → means 0.2125, 0.4375, 0.6625, 0.8875, × 1e-4.
    [0.2125, 0.4375, 0.6625, 0.8875].forEach((m, j) => near(code[131 + j]!, m * 1e-4));
    // i = 5 (32 means at step 0.9/32 = 0.028125, × 0.1) ends at index 190: 0.1·(0.1 + 31.5·0.028125).
    near(code[190]!, 0.1 * 0.9859375);
    // i = 6 (64 means at step 0.9/64 = 0.0140625, × 1) spans 191…254.
    near(code[191]!, 0.10703125);
    near(code[253]!, 0.97890625);
    near(code[254]!, 0.99296875);
  });

  it("equals torch's float32 result bit for bit for each CPU kernel (SHA-256 of torch 1.13 runs)", () => {
    // Recorded once by running bitsandbytes' create_dynamic_map() algorithm under torch 1.13 (Debian's
    // python3-torch) with ATEN_CPU_CAPABILITY=avx2 / avx512 / default, hashing its float32 bytes: external
    // references, not this code's output. The hand checks above allow for float32 rounding; these pin the last
    // bit of every entry.
    const sha = (c: Float32Array): string => createHash('sha256').update(Buffer.from(c.buffer, c.byteOffset, c.byteLength)).digest('hex');
    expect(sha(code)).toBe('6d0ca9fed140bc2c31b9be3292029e22a209f6955020e65b13ceb5d7592f4e25');
    expect(sha(createDynamicMap(true, 7, 8, 'avx512'))).toBe('0172f40c04ab6182aea90c77569f49e7b28ec71afed61dfd713cdc80663c5799');
    expect(sha(createDynamicMap(true, 7, 8, 'default'))).toBe('41dea21ab2eec0884a8b4569cf4d5d743340209d6649d93d7f0df6328f81e68d');
  });

  it('quantizes to the nearest entry, ties to the even (pivot) index, as dQuantize does', () => {
    expect(quantizeToCode(code, 0)).toBe(127);
    expect(quantizeToCode(code, 1)).toBe(255);
    expect(quantizeToCode(code, -1)).toBe(0);
    expect(quantizeToCode(code, 0.99)).toBe(254); // 0.99297 is nearer than 0.97891
    expect(quantizeToCode(code, 0.98)).toBe(253);
    // Exactly between 253 and 254: the search ends on the even pivot 254 and the test `x < midpoint` fails.
    expect(quantizeToCode(code, f32(f32(code[253]! + code[254]!) * 0.5))).toBe(254);
    // Exactly between 254 and 255: `x > midpoint` fails, so again the even pivot 254.
    expect(quantizeToCode(code, f32(f32(code[254]! + code[255]!) * 0.5))).toBe(254);
    // Between 252 (even) and 253: a tie goes to 252.
    expect(quantizeToCode(code, f32(f32(code[252]! + code[253]!) * 0.5))).toBe(252);
    // -1/3 lies between -0.34609375 (46) and -0.33203125 (47) and is nearer the latter.
    expect(quantizeToCode(code, -1 / 3)).toBe(47);
  });
});

describe('double quantization of the absmaxes', () => {
  it('matches a hand computation on four absmaxes', () => {
    // absmax [1, 2, 3, 6]: mean 3 → centred [-2, -1, 0, 3]; one block of 256 with absmax 3, scale ≈ 1/3:
    //   -2/3 = -0.6667: means 0.1 + 0.0140625·(k + ½); k = 40 gives 0.66953125 (off 0.0029), k = 39 gives
    //        0.65546875 (off 0.0112) → -0.66953125, the negative twin of index 191 + 40 = 231 → index 23;
    //   -1/3: k = 16 gives 0.33203125 → index 191 + 16 = 207 → negative twin 126 - (207 - 128) = 47;
    //   0 → 127; 3/3 = 1 → 255.
    const s = doubleQuantize(Float32Array.from([1, 2, 3, 6]));
    expect(s.offset).toBe(3);
    expect([...s.absmax2]).toEqual([3]);
    expect([...s.qabsmax]).toEqual([23, 47, 127, 255]);
    expect(s.blockSize2).toBe(256);
    // Dequantized: code · 3 + 3 → [3 - 3·0.66953125, 3 - 3·0.33203125, 3, 6] = [0.99140625, 2.00390625, 3, 6].
    const back = dequantizeNestedAbsmax(s);
    expect(back[0]).toBeCloseTo(0.99140625, 6);
    expect(back[1]).toBeCloseTo(2.00390625, 6);
    expect(back[2]).toBe(3);
    expect(back[3]).toBe(6);
  });

  it('uses blocks of 256 with one absmax each', () => {
    const a = Float32Array.from({ length: 600 }, (_, i) => 0.01 + (i % 37) * 0.001);
    const s = doubleQuantize(a);
    expect(s.qabsmax.length).toBe(600);
    expect(s.absmax2.length).toBe(3);
    const back = dequantizeNestedAbsmax(s);
    // The dynamic map's step near ±1 is ~0.014 of the block's centred absmax (< 0.02 here).
    for (let i = 0; i < 600; i++) expect(Math.abs(back[i]! - a[i]!)).toBeLessThan(0.02 * 0.0141);
  });

  it('quantizeBlockwise keeps per-block absmax', () => {
    const { q, absmax } = quantizeBlockwise([0.5, -1, 0, 2, -4, 1], 3);
    expect([...absmax]).toEqual([1, 4]);
    // 0.5 (block 0, scale 1; and 2/4 in block 1): means k = 27 → 0.48671875, k = 28 → 0.50078125, nearer
    // the latter → index 191 + 28 = 219. -1 and -4/4 → the lowest entry 0; 0 → 127; 1/4 → k = 11:
    // 0.1 + 11.5·0.0140625 = 0.26171875 (off 0.0117) vs k = 10: 0.24765625 (off 0.0023) → index 201.
    expect([...q]).toEqual([219, 0, 127, 219, 0, 201]);
  });
});
