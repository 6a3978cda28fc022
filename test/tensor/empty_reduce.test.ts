import { describe, expect, it } from 'vitest';
import { full, linear, zeros } from '../../src/tensor/index.js';

describe('sums over an empty dim are zeros (on every backend)', () => {
  it('sum over a 0-length leading dim, and a bias gradient over 0 rows', () => {
    for (const dtype of ['f32', 'f64'] as const) {
      full([3], 7, { dtype }).dispose(); // pooled memory is not zeroed: the result must be written
      expect(zeros([0, 3], { dtype }).sum(0).toArray()).toEqual([0, 0, 0]);
      const w = zeros([3, 2], { dtype }).requiresGrad_();
      const b = full([3], 1, { dtype }).requiresGrad_();
      linear(zeros([0, 2], { dtype }), w, b).sum().backward();
      expect(b.grad!.toArray()).toEqual([0, 0, 0]);
    }
  });
});
