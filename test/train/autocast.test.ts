import { describe, expect, it } from 'vitest';
import { GPT2 } from '../../src/models/gpt2.js';
import { Trainer } from '../../src/train/trainer.js';
import { RandomWindows } from '../../src/train/data.js';
import { withAutocast } from '../../src/tensor/autocast.js';
import { fromArray, linear, noGrad, tensor } from '../../src/tensor/index.js';
import { roundToBf16 } from '../../src/tensor/half.js';

describe('bf16 autocast', () => {
  it('linear layers take bf16 operands and give bf16 results, with f32 accumulation', () => {
    const x = fromArray(Float32Array.from([1.00390625, 0.333333, -2.5000001]), [1, 3]);
    const w = fromArray(Float32Array.from([0.1, 0.7, 1.0000001, -3.1415926, 2.7182817, 0.5]), [2, 3]);
    const y = withAutocast('bf16', () => linear(x, w, null)).toFloat32Array();
    const xr = roundToBf16(Float32Array.from(x.toFloat32Array())), wr = roundToBf16(Float32Array.from(w.toFloat32Array()));
    const want = roundToBf16(Float32Array.from([0, 1], (r) => Math.fround(xr[0]! * wr[r * 3]! + xr[1]! * wr[r * 3 + 1]! + xr[2]! * wr[r * 3 + 2]!)));
    expect(Array.from(y)).toEqual(Array.from(want));
    expect(Array.from(roundToBf16(Float32Array.from(y)))).toEqual(Array.from(y));
    // outside autocast nothing is rounded
    expect(Array.from(noGrad(() => linear(x, w, null)).toFloat32Array())).not.toEqual(Array.from(y));
  });
  it('gradients pass through the roundings; training under autocast tracks f32 training closely', async () => {
    const x = tensor([[0.3, -0.2, 0.9]], { requiresGrad: true });
    const w = tensor([[0.1, 0.2, 0.3]], { requiresGrad: true });
    withAutocast('bf16', () => linear(x, w, null)).sum().backward();
    // dW = gᵀ·x with the bf16 operand the product used; dX goes straight through the cast
    expect(Array.from(w.grad!.toFloat32Array())).toEqual(Array.from(roundToBf16(Float32Array.from([0.3, -0.2, 0.9]))));
    expect(Array.from(x.grad!.toFloat32Array())).toEqual(Array.from(roundToBf16(Float32Array.from([0.1, 0.2, 0.3]))));
    const run = async (autocast: 'bf16' | null): Promise<number[]> => {
      const m = new GPT2({ vocabSize: 32, nPositions: 32, nEmbd: 32, nLayer: 2, nHead: 2 });
      m.initWeights(1);
      const stream = Int32Array.from({ length: 500 }, (_, i) => (i * 7 + (i >> 3)) % 32);
      const losses: number[] = [];
      await new Trainer({ model: m, train: new RandomWindows(stream, { batchSize: 4, seqLen: 16, seed: 2 }), config: { maxSteps: 8, lr: 3e-3, progress: 'quiet', autocast }, callbacks: { onStep: (s) => void losses.push(s.loss) } }).train();
      return losses;
    };
    const [f32, bf16] = [await run(null), await run('bf16')];
    expect(bf16).not.toEqual(f32);
    for (let i = 0; i < f32.length; i++) expect(Math.abs(bf16[i]! - f32[i]!)).toBeLessThan(0.05);
    expect(bf16[bf16.length - 1]!).toBeLessThan(bf16[0]!);
  });
});
