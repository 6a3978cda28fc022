import { describe, expect, it } from 'vitest';
import { createRng, fromArray, layerNorm, rmsNorm, tidy, type Tensor } from '../../src/tensor/index.js';

function rnd(shape: number[], seed: number): Tensor {
  const a = new Float64Array(shape.reduce((x, y) => x * y, 1));
  createRng(seed, 'lifetime').fillUniform(a, -1, 1);
  return fromArray(a, shape);
}

describe('backward keeps what it still reads', () => {
  it('layerNorm / rmsNorm with a computed weight that another op also saved: same gradients inside tidy', () => {
    // Inside tidy, the mul node that saved w runs first in backward and releases w; the norm's backward still
    // reads w, so it must hold its own reference (else it reads a pooled buffer that was reused and zeroed).
    for (const norm of ['layerNorm', 'rmsNorm'] as const) {
      const run = (scoped: boolean): number[] => {
        const wp = rnd([8], 1).requiresGrad_();
        const x = rnd([3, 8], 2).requiresGrad_();
        const body = (): void => {
          const w = wp.mul(1.5);
          const y = norm === 'layerNorm' ? layerNorm(x, w, null) : rmsNorm(x, w);
          y.mul(w).sum().backward();
        };
        if (scoped) tidy(body);
        else body();
        return [...(x.grad!.toFlat() as Float64Array), ...(wp.grad!.toFlat() as Float64Array)];
      };
      expect(run(true), norm).toEqual(run(false));
    }
  });
});
