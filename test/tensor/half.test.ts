import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bf16ToF32,
  f16BitsToNumber,
  f16ToF32,
  f32BitsToBf16,
  f32ToBf16,
  f32ToF16,
  numberToBf16Bits,
  numberToF16Bits,
  roundToBf16,
} from '../../src/tensor/half.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { FIXTURES } from '../helpers/paths.js';

/** f32 values from bit patterns, and back. */
const fromBits = (...b: number[]) => new Float32Array(new Uint32Array(b).buffer);
const bitsOf = (f: Float32Array) => [...new Uint32Array(f.buffer, f.byteOffset, f.length)];
const hex = (xs: ArrayLike<number>) => Array.from(xs, (x) => '0x' + x.toString(16).padStart(4, '0'));

describe('bfloat16', () => {
  it('narrows with round-to-nearest-even (values worked out by hand)', () => {
    const cases: [number, number][] = [
      [0x00000000, 0x0000], // +0
      [0x80000000, 0x8000], // -0
      [0x3f800000, 0x3f80], // 1
      [0xc0000000, 0xc000], // -2
      [0x3f808000, 0x3f80], // 1 + 2^-8: tie, 0x3f80 is even → down
      [0x3f818000, 0x3f82], // tie between 0x3f81 (odd) and 0x3f82 → up
      [0x3f808001, 0x3f81], // just above the tie → up
      [0x3f807fff, 0x3f80], // just below → down
      [0xbf818000, 0xbf82], // negative tie, same rule on the magnitude
      [0x3f7fffff, 0x3f80], // 1 - 2^-24 rounds up across the exponent boundary to 1
      [0x7f7f7fff, 0x7f7f], // rounds down to bf16's max 3.3895e38
      [0x7f7fffff, 0x7f80], // FLT_MAX rounds up to +inf
      [0x7f800000, 0x7f80], // +inf
      [0xff800000, 0xff80], // -inf
      [0x00000001, 0x0000], // smallest f32 subnormal → +0
      [0x00008000, 0x0000], // subnormal tie → even (0)
      [0x00018000, 0x0002], // subnormal tie → even (2)
      [0x00400000, 0x0040], // a bf16 subnormal, exact
    ];
    const got = f32ToBf16(fromBits(...cases.map((c) => c[0])));
    expect(hex(got)).toEqual(hex(cases.map((c) => c[1])));
    for (const [x, h] of cases) expect(f32BitsToBf16(x | 0)).toBe(h);
  });

  it('keeps NaN a NaN, even when the payload sits in the dropped bits', () => {
    const nans = fromBits(0x7f800001, 0xff800001, 0x7fc00000, 0xffffffff, 0x7f80ffff);
    const b = f32ToBf16(nans);
    for (const h of b) {
      expect(h & 0x7f80).toBe(0x7f80);
      expect(h & 0x7f).not.toBe(0);
    }
    expect(b[1]! & 0x8000).toBe(0x8000);
    expect(bf16ToF32(b).every((v) => Number.isNaN(v))).toBe(true);
    expect(Number.isNaN(roundToBf16(fromBits(0x7f800001))[0])).toBe(true);
  });

  it('widens exactly and round-trips every non-NaN pattern', () => {
    expect([...bf16ToF32(new Uint16Array([0x3f80, 0xc000, 0x8000, 0x7f80, 0x0001, 0x4049]))]).toEqual([
      1,
      -2,
      -0,
      Infinity,
      2 ** -133, // bf16 subnormal: f32 bits 0x00010000 = 2^16 × 2^-149
      3.140625, // 0x4049: 1.5703125 × 2
    ]);
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = f32ToBf16(bf16ToF32(all));
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0) continue; // NaN
      if (back[h] !== h) throw new Error(`bf16 0x${h.toString(16)} came back as 0x${back[h]!.toString(16)}`);
    }
  });

  it('roundToBf16 equals narrow-then-widen, in place and into an output', () => {
    const x = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 ** ((i % 20) - 10));
    const expected = bf16ToF32(f32ToBf16(x));
    const out = new Float32Array(x.length);
    expect(bitsOf(roundToBf16(x, out))).toEqual(bitsOf(expected));
    roundToBf16(x);
    expect(bitsOf(x)).toEqual(bitsOf(expected));
    expect(numberToBf16Bits(1 / 3)).toBe(0x3eab); // 1/3 = 0x3eaaaaab in f32 → rounds up
  });

  it('reproduces the fixture\'s bf16 weights from its f32 weights', () => {
    const a = readSafetensors(path.join(FIXTURES, 'gpt2-tiny/model.safetensors')).tensors;
    const b = readSafetensors(path.join(FIXTURES, 'gpt2-tiny/model.bf16.safetensors')).tensors;
    for (const [k, t] of a) {
      expect(hex(f32ToBf16(t.data as Float32Array))).toEqual(hex(b.get(k)!.data as Uint16Array));
    }
  });

  it('checks output lengths', () => {
    expect(() => f32ToBf16(new Float32Array(3), new Uint16Array(2))).toThrow(/output has 2 elements, input 3/);
  });
});

describe('float16', () => {
  it('narrows edge values worked out by hand', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff], // max finite
      [65519, 0x7bff], // below the midpoint to 2^16
      [65520, 0x7c00], // the midpoint: ties to even, and inf's mantissa (0) is even
      [1e5, 0x7c00],
      [-1e9, 0xfc00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [-(2 ** -24), 0x8001],
      [1023 * 2 ** -24, 0x03ff], // largest subnormal
      [1023.5 * 2 ** -24, 0x0400], // tie between 1023 (odd) and 1024 → the smallest normal
      [2 ** -25, 0x0000], // tie between 0 and 2^-24 → 0 (even)
      [1.5 * 2 ** -25, 0x0001],
      [3 * 2 ** -25, 0x0002], // 1.5 units: tie between 1 (odd) and 2 → 2
      [5 * 2 ** -25, 0x0002], // 2.5 units: tie between 2 (even) and 3 → 2
      [2 ** -26, 0x0000],
      [-(2 ** -26), 0x8000], // underflows to -0
      [1 + 2 ** -11, 0x3c00], // tie → even (down)
      [1 + 3 * 2 ** -11, 0x3c02], // tie between 0x3c01 (odd) and 0x3c02 → up
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // above the tie
      [2047 / 1024 + 1 / 2048, 0x4000], // 0x3fff (1.9990234, odd) + half a unit: tie → even, carrying into the exponent: 2
      [0.1, 0x2e66], // 0.1 ≈ 1.6 × 2^-4: mantissa 0.6 × 1024 = 614.4 → 614 = 0x266
      [1 / 3, 0x3555], // 1.333 × 2^-2: 0.333 × 1024 = 341.33 → 341 = 0x155
      [1e-8, 0x0000], // 0.168 units of 2^-24 → 0
      [3e-8, 0x0001], // 0.503 units → 1
    ];
    const got = f32ToF16(new Float32Array(cases.map((c) => c[0])));
    expect(hex(got)).toEqual(hex(cases.map((c) => c[1])));
    for (const [v, h] of cases) expect(numberToF16Bits(v)).toBe(h);
  });

  it('keeps NaN a NaN', () => {
    const h = f32ToF16(fromBits(0x7f800001, 0xffc00000, 0x7fffffff, 0x7f802000));
    for (const x of h) {
      expect(x & 0x7c00).toBe(0x7c00);
      expect(x & 0x3ff).not.toBe(0);
    }
    expect(h[1]! & 0x8000).toBe(0x8000);
    expect(f16ToF32(h).every((v) => Number.isNaN(v))).toBe(true);
  });

  it('widens edge values exactly', () => {
    const bits = new Uint16Array([0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0x7c00, 0xfc00, 0x3555, 0xc000, 0x8001]);
    const want = [0, -0, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 1, 65504, Infinity, -Infinity, 0.333251953125, -2, -(2 ** -24)];
    expect([...f16ToF32(bits)]).toEqual(want);
    expect(Object.is(f16ToF32(new Uint16Array([0x8000]))[0], -0)).toBe(true);
    expect(Number.isNaN(f16ToF32(new Uint16Array([0x7e00]))[0])).toBe(true);
    expect(Number.isNaN(f16ToF32(new Uint16Array([0xfc01]))[0])).toBe(true);
    for (let h = 0; h < 65536; h += 97) {
      const v = f16BitsToNumber(h);
      const w = f16ToF32(new Uint16Array([h]))[0]!;
      if (!Number.isNaN(v)) expect(Object.is(v, w)).toBe(true);
    }
  });

  it('round-trips all 65536 patterns (NaNs stay NaN)', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = f32ToF16(f16ToF32(all));
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN ? (back[h]! & 0x7c00) !== 0x7c00 || (back[h]! & 0x3ff) === 0 : back[h] !== h) {
        throw new Error(`f16 0x${h.toString(16)} came back as 0x${back[h]!.toString(16)}`);
      }
    }
  });

  it('agrees with a brute-force nearest-even search on random values', () => {
    // Independent reference: all finite non-negative halves in increasing order; find the nearest by binary
    // search, ties to the even pattern, overflow by the IEEE rule (≥ 65520 → inf).
    const vals: number[] = [];
    for (let h = 0; h < 0x7c00; h++) vals.push(f16BitsToNumber(h));
    const nearest = (v: number): number => {
      const a = Math.abs(v);
      const s = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
      if (a >= 65520) return s | 0x7c00;
      let lo = 0;
      let hi = vals.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (vals[mid]! <= a) lo = mid;
        else hi = mid;
      }
      const dl = a - vals[lo]!;
      const dh = vals[hi]! - a;
      const h = dl < dh ? lo : dh < dl ? hi : lo % 2 === 0 ? lo : hi;
      return s | h;
    };
    let seed = 12345;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    const xs = new Float32Array(20000);
    for (let i = 0; i < xs.length; i++) xs[i] = (rnd() - 0.5) * 2 ** Math.floor(rnd() * 46 - 28);
    // Plant exact ties too: midpoints between neighbouring halves (representable in f32).
    for (let i = 0; i < 2000; i++) {
      const h = Math.floor(rnd() * (0x7bff - 1));
      xs[i] = (vals[h]! + vals[h + 1]!) / 2;
    }
    const got = f32ToF16(xs);
    for (let i = 0; i < xs.length; i++) {
      const want = nearest(xs[i]!);
      if (got[i] !== want) throw new Error(`${xs[i]}: got 0x${got[i]!.toString(16)}, want 0x${want.toString(16)}`);
    }
  });
});
