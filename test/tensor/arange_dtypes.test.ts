import { describe, expect, it } from 'vitest';
import { arange } from '../../src/tensor/index.js';

describe('arange in every storage dtype', () => {
  it('bf16 values are converted (not their numbers written as raw bf16 bits)', () => {
    expect(arange(0, 3, 1, { dtype: 'bf16' }).toArray()).toEqual([0, 1, 2]);
    expect(arange(1, -2, -1.5, { dtype: 'bf16' }).toArray()).toEqual([1, -0.5]);
    expect(arange(0, 3, 1, { dtype: 'i64' }).toArray()).toEqual([0, 1, 2]);
    expect(arange(4, undefined, 1, { dtype: 'i32' }).toArray()).toEqual([0, 1, 2, 3]);
  });
});
