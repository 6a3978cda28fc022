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

describe('residual frees the branch it consumed', () => {
  it('releases an unsaved branch at once, keeps one a node saved, and gives the same gradients as x.add', async () => {
    const { residual } = await import('../../src/nn/layers.js');
    const run = (fused: boolean): { grads: number[]; freed: boolean[] } => {
      const x = rnd([4, 6], 3).requiresGrad_();
      const w = rnd([4, 6], 4).requiresGrad_();
      const freed: boolean[] = [];
      tidy(() => {
        const unsaved = x.mul(2).add(1); // add saves nothing: nobody reads this branch in backward
        const saved = x.mul(w);
        const reader = saved.mul(w); // saves `saved` for its backward before the residual consumes it
        const a = fused ? residual(x, unsaved) : x.add(unsaved);
        const b = fused ? residual(a, saved) : a.add(saved);
        const loss = b.mul(reader).sum();
        for (const t of [unsaved, saved]) {
          let ok = true;
          try {
            t.toFlat();
          } catch {
            ok = false;
          }
          freed.push(!ok);
        }
        loss.backward();
      });
      return { grads: [...(x.grad!.toFlat() as Float64Array), ...(w.grad!.toFlat() as Float64Array)], freed };
    };
    const fused = run(true);
    const plain = run(false);
    expect(fused.grads).toEqual(plain.grads);
    expect(fused.freed).toEqual([true, false]);
    expect(plain.freed).toEqual([false, false]);
  });

  it('never frees outside a tidy scope or a tensor the caller kept', async () => {
    const { residual } = await import('../../src/nn/layers.js');
    const x = rnd([2, 3], 5);
    const branch = x.mul(3);
    residual(x, branch);
    expect(() => branch.toFlat()).not.toThrow(); // no scope owns it: the caller's
    tidy(() => {
      const kept = x.mul(3).keep();
      residual(x, kept);
      expect(() => kept.toFlat()).not.toThrow();
    });
  });
});
