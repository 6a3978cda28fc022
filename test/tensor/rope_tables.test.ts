import { describe, expect, it } from 'vitest';
import { ones, rope, zeros } from '../../src/tensor/index.js';

describe('rope checks its cos/sin tables', () => {
  it('full-width [P, D] tables (Hugging Face cache layout) are an error, not rows read at the wrong stride', () => {
    const x = ones([1, 2, 1, 4]);
    const pos = new Int32Array([0, 1]);
    expect(() => rope(x, pos, ones([8, 4]), zeros([8, 4]))).toThrow(/rope: cos f32 \[8, 4\] and sin f32 \[8, 4\] must both be \[positions, 2\]/);
    expect(() => rope(x, pos, ones([8, 2]), zeros([4, 2]))).toThrow(/rope: cos/);
    expect(rope(x, pos, ones([8, 2]), zeros([8, 2])).toArray()).toEqual(x.toArray());
  });
});
