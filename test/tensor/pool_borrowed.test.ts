import { describe, expect, it } from 'vitest';
import { createRng, fromArray, pool, randint, tidy, zeros } from '../../src/tensor/index.js';

describe('fromArray memory belongs to the caller', () => {
  it('released at the end of tidy, the wrapped array is not handed to later allocations', () => {
    const ids = new Int32Array([1, 2, 3, 4, 5, 6, 7]);
    tidy(() => void fromArray(ids, [7]).toFlat());
    void randint(100, 200, [7], createRng(1, 'pool'));
    expect(Array.from(ids)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const xs = new Float32Array([1, 2, 3, 4, 5]);
    fromArray(xs).dispose();
    void zeros([5]);
    expect(Array.from(xs)).toEqual([1, 2, 3, 4, 5]);
  });
  it('fresh arrays wrapped in each step do not pile up in the pool', () => {
    const before = pool.pooledBytes;
    for (let i = 0; i < 20; i++) tidy(() => void fromArray(new Int32Array(1000 + i), [1000 + i]).toFlat());
    expect(pool.pooledBytes).toBe(before);
  });
});
