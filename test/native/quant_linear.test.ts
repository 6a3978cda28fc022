// The layers on top of the bf16 / 4-bit GEMM operands: linear() with a bf16 weight and QuantLinear with an
// NF4/FP4 weight read their compressed weights in place (forward and input gradient) and agree with the f32 path
// on the widened / dequantized weight, on the TS and the native backend; and what bf16 weights cost in accuracy
// on the gpt2-tiny fixture.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/models/load.js';
import { QuantLinear, dequantizeWeight, quantizeLinearWeight, type Params4bit } from '../../src/peft/quant/index.js';
import { bf16ToF32, f32ToBf16 } from '../../src/tensor/half.js';
import { withAutocast } from '../../src/tensor/autocast.js';
import { createRng, fromArray, getBackend, linear, noGrad, setBackend, type Tensor } from '../../src/tensor/index.js';
import { FIXTURES } from '../helpers/paths.js';
import { get, maxAbsDiff, readReference } from '../helpers/fixtures.js';
import { parityBackends } from '../helpers/backends.js';
import type { GemmQuantB } from '../../src/tensor/backend.js';
import { expectBitwise, expectClose } from './helpers.js';

const initial = getBackend();
afterAll(() => void setBackend(initial));

function normal(n: number, seed: number, std = 1): Float32Array {
  return createRng(seed, 'q').fillNormal(new Float32Array(n), 0, std);
}

/** y and dx of `f` at x, with a fixed upstream gradient. */
function run(f: (x: Tensor) => Tensor, xv: Float32Array, shape: number[], gSeed: number): { y: Float32Array; dx: Float32Array } {
  const x = fromArray(xv.slice(), shape, { requiresGrad: true });
  const y = f(x);
  const g = fromArray(normal(y.size, gSeed), [...y.shape]);
  y.mul(g).sum().backward();
  return { y: y.toFlat() as Float32Array, dx: x.grad!.toFlat() as Float32Array };
}

describe.each(parityBackends())('compressed weights in layers (%s backend)', (_name, backend) => {
  it('linear() with a bf16 weight equals the f32 path on the widened weight, forward and dx, both layouts', () => {
    setBackend(backend);
    for (const layout of ['out_in', 'in_out'] as const) {
      for (const rows of [1, 3, 7]) {
        const [inF, outF] = [100, 33];
        const shape = layout === 'out_in' ? [outF, inF] : [inF, outF];
        const bits = f32ToBf16(normal(inF * outF, 1, 0.1));
        const wb = fromArray(bits, shape);
        const wf = fromArray(bf16ToF32(bits), shape);
        const bias = fromArray(normal(outF, 2, 0.1));
        const xv = normal(rows * inF, 3);
        const what = `${layout}, ${rows} rows`;
        // The same kernels read the same values (widened on the fly or beforehand), so the bits agree.
        const a = run((x) => linear(x, wb, bias, layout), xv, [rows, inF], 4);
        const b = run((x) => linear(x, wf, bias, layout), xv, [rows, inF], 4);
        expectBitwise(a.y, b.y, `bf16 linear ${what}: y`);
        expectBitwise(a.dx, b.dx, `bf16 linear ${what}: dx`);
        const c = run((x) => withAutocast('bf16', () => linear(x, wb, bias, layout)), xv, [rows, inF], 4);
        const d = run((x) => withAutocast('bf16', () => linear(x, wf, bias, layout)), xv, [rows, inF], 4);
        expectBitwise(c.y, d.y, `bf16 linear under autocast ${what}: y`);
        expectBitwise(c.dx, d.dx, `bf16 linear under autocast ${what}: dx`);
      }
    }
  });

  it('QuantLinear (NF4/FP4) reads the 4-bit weight in place: forward and dx match the dequantized f32 path', () => {
    setBackend(backend);
    for (const type of ['nf4', 'fp4'] as const) {
      for (const doubleQuant of [false, true]) {
        // in = 100: rows start mid-block and mid-chunk; out·in is not a multiple of the block size.
        const [outF, inF] = [37, 100];
        const q = quantizeLinearWeight(normal(outF * inF, 5, 0.05), [outF, inF], { type, blockSize: 64, doubleQuant }) as Params4bit;
        const m = new QuantLinear(q, normal(outF, 6, 0.1));
        const wdq = fromArray(dequantizeWeight(q), [outF, inF]);
        for (const rows of [1, 4, 9]) {
          const xv = normal(rows * inF, 7 + rows);
          const a = run((x) => m.forward(x), xv, [rows, inF], 8);
          const b = run((x) => linear(x, wdq, m.bias!.detach(), 'out_in'), xv, [rows, inF], 8);
          const what = `${type}${doubleQuant ? ' (double quant)' : ''}, ${rows} rows`;
          // Same products; the 4-bit decode GEMV may sum them in another order (f32 rounding).
          expectClose(a.y, b.y, 1e-5, 1e-6 * inF, `QuantLinear ${what}: y`);
          expectClose(a.dx, b.dx, 1e-5, 1e-6 * outF, `QuantLinear ${what}: dx`);
        }
        // The f32 absmaxes of a double-quantized weight are decoded once and kept.
        const absmax = () => (q.gemmOperand() as Extract<GemmQuantB, { absmax: Float32Array }>).absmax;
        expect(absmax()).toBe(absmax());
      }
    }
  });

  it('bf16 weights on gpt2-tiny: logits within 3e-3 of fp32 (measured 1.3e-3), and PyTorch bf16 to 1e-4', () => {
    setBackend(backend);
    const dir = path.join(FIXTURES, 'gpt2-tiny');
    const ref = readReference('gpt2-tiny');
    const ids = get(ref, 'input_ids');
    const refLogits = get(ref, 'logits').toFloat32Array();
    // The fp32 checkpoint with its matrices (embeddings, projections) cast to bf16 on load; norms and biases f32.
    const bfModel = loadModel(dir, { dtype: 'bf16' });
    const vsF32 = maxAbsDiff(noGrad(() => bfModel.forward(ids)).toFloat32Array(), refLogits);
    // A 4-token prompt (4 rows of A: the decode GEMV reads the bf16 weights) against the fp32 model.
    const ids4 = fromArray(Int32Array.from((ids.toFlat() as Int32Array).subarray(0, 4)), [1, 4]);
    const vsF32Gemv = maxAbsDiff(
      noGrad(() => bfModel.forward(ids4)).toFloat32Array(),
      noGrad(() => loadModel(dir).forward(ids4)).toFloat32Array(),
    );
    // PyTorch's bf16 model rounds every tensor (biases and norms too): load that file the same way and the
    // remaining difference is f32 accumulation order only.
    const torchBf = loadModel(dir, { dtype: 'bf16', weightsFile: 'model.bf16.safetensors' });
    const vsTorchBf16 = maxAbsDiff(noGrad(() => torchBf.forward(ids)).toFloat32Array(), get(ref, 'bf16.logits').toFloat32Array());
    let range = 0;
    for (const v of refLogits) range = Math.max(range, Math.abs(v));
    console.log(
      `gpt2-tiny bf16 weights (${backend.name}): max |logit - fp32| = ${vsF32.toExponential(2)} (batch [2,16]), ` +
        `${vsF32Gemv.toExponential(2)} (4-token prompt, decode GEMV); max |logit| ${range.toFixed(3)}; ` +
        `PyTorch's all-bf16 model reproduced to ${vsTorchBf16.toExponential(2)}`,
    );
    expect(vsF32).toBeLessThan(3e-3);
    expect(vsF32Gemv).toBeLessThan(3e-3);
    expect(vsTorchBf16).toBeLessThan(1e-4);
  });
});
