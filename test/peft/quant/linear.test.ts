/**
 * QuantLinear: forward equals linear() with the dequantized weight, the input gradient flows (finite
 * differences, and against the float32 path), the weight takes no gradient, int8 weight-only storage, and the
 * memory bound (≤ 0.15× float32 for 4-bit weights, everything counted).
 */
import { describe, expect, it } from 'vitest';
import {
  Int8Weight,
  Params4bit,
  QuantLinear,
  dequantizeModule,
  dequantizeWeight,
  quantizeLinearWeight,
  quantizedWeightBytes,
  weightBytes,
} from '../../../src/peft/quant/index.js';
import { Conv1D } from '../../../src/nn/layers.js';
import { createRng, fromArray, linear, noGrad, tidy } from '../../../src/tensor/index.js';
import { gradcheck, rnd } from '../../helpers/gradcheck.js';

const f32 = Math.fround;

function randomWeight(out: number, inF: number, seed: number): Float32Array {
  return createRng(seed, 'w').fillNormal(new Float32Array(out * inF), 0, 0.05);
}

describe('QuantLinear', () => {
  for (const type of ['nf4', 'fp4', 'int8'] as const) {
    it(`${type}: forward equals linear() with the dequantized weight, bias included`, () => {
      const [out, inF] = [24, 32];
      const q = quantizeLinearWeight(randomWeight(out, inF, 1), [out, inF], { type, blockSize: 64, doubleQuant: true });
      const bias = createRng(2, 'b').fillNormal(new Float32Array(out), 0, 0.1);
      const m = new QuantLinear(q, bias);
      const x = fromArray(createRng(3, 'x').fillNormal(new Float32Array(2 * 5 * inF), 0, 1), [2, 5, inF]);
      const y = m.forward(x);
      const wdq = fromArray(dequantizeWeight(q), [out, inF]);
      const ref = linear(x, wdq, fromArray(bias), 'out_in');
      expect(y.shape).toEqual([2, 5, out]);
      expect([...(y.toFlat() as Float32Array)]).toEqual([...(ref.toFlat() as Float32Array)]);
    });
  }

  it('passes the input gradient through (finite differences in f64) and keeps the weight frozen', () => {
    const q = quantizeLinearWeight(randomWeight(6, 8, 4), [6, 8], { blockSize: 16, doubleQuant: true });
    const m = new QuantLinear(q, createRng(5, 'b').fillNormal(new Float32Array(6), 0, 0.1));
    const x = rnd([3, 8], 6);
    gradcheck('quant linear dx', (t) => m.forward(t), [x]);
    expect(m.parameters().every((p) => !p.requiresGrad)).toBe(true);
    expect(m.parameters().length).toBe(1); // the bias; the quantized weight is not a parameter
  });

  it('gives the same dx as the float32 path with the dequantized weight, and trains an unfrozen bias', () => {
    const [out, inF] = [40, 64];
    const q = quantizeLinearWeight(randomWeight(out, inF, 7), [out, inF], { blockSize: 64 });
    const m = new QuantLinear(q, new Float32Array(out).fill(0.1));
    m.bias!.requiresGrad = true;
    const xv = createRng(8, 'x').fillNormal(new Float32Array(4 * inF), 0, 1);
    const g = fromArray(createRng(9, 'g').fillNormal(new Float32Array(4 * out), 0, 1), [4, out]);

    const x1 = fromArray(xv.slice(), [4, inF], { requiresGrad: true });
    m.forward(x1).backward(g);
    const x2 = fromArray(xv.slice(), [4, inF], { requiresGrad: true });
    const w = fromArray(dequantizeWeight(q), [out, inF]);
    const b = fromArray(new Float32Array(out).fill(0.1), [out], { requiresGrad: true });
    linear(x2, w, b, 'out_in').backward(g);
    expect([...(x1.grad!.toFlat() as Float32Array)]).toEqual([...(x2.grad!.toFlat() as Float32Array)]);
    const gb1 = m.bias!.grad!.toFlat() as Float32Array;
    const gb2 = b.grad!.toFlat() as Float32Array;
    for (let i = 0; i < out; i++) expect(gb1[i]).toBeCloseTo(gb2[i]!, 5);
  });

  it('reuses pooled scratch memory across calls inside tidy scopes', () => {
    const q = quantizeLinearWeight(randomWeight(16, 16, 10), [16, 16], { blockSize: 64 });
    const m = new QuantLinear(q);
    const x = fromArray(new Float32Array(16).fill(1), [1, 16]);
    const a = tidy(() => noGrad(() => m.forward(x).toFloat32Array()));
    const b = tidy(() => noGrad(() => m.forward(x).toFloat32Array()));
    expect([...a]).toEqual([...b]);
  });

  it('int8 weight-only: per-row absmax, round half to even, q·SCB/127', () => {
    // Row 0 = [1, -0.5, 0.25, 0]: SCB 1, scale 127 → [127, -63.5 → -64 (half to even), 31.75 → 32, 0].
    // Row 1 = [0, 0, 0, 0]: SCB 0, all zero.
    const w = Int8Weight.quantize([1, -0.5, 0.25, 0, 0, 0, 0, 0], [2, 4]);
    expect([...w.scb]).toEqual([1, 0]);
    expect([...w.q]).toEqual([127, -64, 32, 0, 0, 0, 0, 0]);
    const back = dequantizeWeight(w);
    const inv = f32(1 / 127);
    expect([...back.slice(0, 4)]).toEqual([f32(127 * inv), f32(-64 * inv), f32(32 * inv), 0]);
    expect(weightBytes(w)).toBe(8 + 8);
  });

  it('4-bit weights take at most 0.15x their float32 bytes, absmax and nested state included', () => {
    for (const doubleQuant of [false, true]) {
      const [out, inF] = [768, 768];
      const q = Params4bit.quantize(randomWeight(out, inF, 11), [out, inF], { doubleQuant });
      const fp32 = out * inF * 4;
      // Counted alone: packed codes (n/2) + absmax (4 B per 64, or 1 B per 64 + 4 B per 256·64 + offset)
      // + the 16-entry code + (nested) the 256-entry map.
      const bytes = weightBytes(q);
      const expected = (out * inF) / 2 + (doubleQuant ? (out * inF) / 64 + 4 * Math.ceil((out * inF) / 64 / 256) + 4 + 1024 : ((out * inF) / 64) * 4) + 64;
      expect(bytes).toBe(expected);
      expect(bytes / fp32).toBeLessThanOrEqual(0.15);
    }
    const int8 = Int8Weight.quantize(randomWeight(768, 768, 12), [768, 768]);
    expect(quantizedWeightBytes([int8]) / (768 * 768 * 4)).toBeLessThan(0.26);
  });

  it('Conv1D weights [in, out] are transposed to [out, in] before quantizing, as transformers does', () => {
    const [inF, out] = [64, 12];
    const conv = randomWeight(inF, out, 13); // stored [in, out]
    const t = new Float32Array(out * inF);
    for (let i = 0; i < inF; i++) for (let o = 0; o < out; o++) t[o * inF + i] = conv[i * out + o]!;
    const a = quantizeLinearWeight(conv, [inF, out], { layout: 'in_out', doubleQuant: false }) as Params4bit;
    const b = quantizeLinearWeight(t, [out, inF], { doubleQuant: false }) as Params4bit;
    expect(a.shape).toEqual([out, inF]);
    expect([...a.packed]).toEqual([...b.packed]);
    expect([...a.absmax!]).toEqual([...b.absmax!]);
  });

  it('dequantizeModule gives back a float32 layer of the original kind and says it is no longer 4-bit', () => {
    const [inF, out] = [64, 12];
    const conv = randomWeight(inF, out, 14);
    const q = quantizeLinearWeight(conv, [inF, out], { layout: 'in_out' });
    const bias = new Float32Array(out).fill(0.5);
    const m = new QuantLinear(q, bias, 'in_out');
    const d = dequantizeModule(m);
    expect(d.module).toBeInstanceOf(Conv1D);
    expect(d.module.weight.shape).toEqual([inF, out]);
    expect(d.message).toMatch(/no longer 4-bit/);
    const x = fromArray(createRng(15, 'x').fillNormal(new Float32Array(3 * inF), 0, 1), [3, inF]);
    // The Conv1D multiplies the [in, out] weight, the 4-bit layer the [out, in] one; for 3 rows the native decode
    // GEMV sums the two layouts in different orders (sequential in k, or lane partials along a row), so they
    // agree to f32 rounding rather than bitwise.
    const yd = d.module.forward(x).toFlat() as Float32Array;
    const yq = m.forward(x).toFlat() as Float32Array;
    expect(yd.length).toBe(yq.length);
    for (let i = 0; i < yd.length; i++) expect(Math.abs(yd[i]! - yq[i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(yq[i]!)));
  });
});
