import { describe, expect, it } from 'vitest';
import { zeros } from '../../src/tensor/index.js';
import { KVCache } from '../../src/nn/attention.js';

describe('KVCache.append checks the values too', () => {
  it('values of another shape or dtype than the keys are an error, not a silent overwrite of other positions', () => {
    const c = new KVCache(1, 2, 4, 3);
    expect(() => c.append(zeros([1, 2, 2, 3]), zeros([1, 2, 3, 3]))).toThrow(/KVCache: keys f32 \[1, 2, 2, 3\] and values f32 \[1, 2, 3, 3\]/);
    expect(() => c.append(zeros([1, 2, 2, 3]), zeros([1, 2, 2, 5]))).toThrow(/KVCache/);
    expect(() => c.append(zeros([1, 2, 2, 3], { dtype: 'f64' }), zeros([1, 2, 2, 3], { dtype: 'f64' }))).toThrow(/dtype f32/);
    expect(c.length).toBe(0);
    c.append(zeros([1, 2, 2, 3]), zeros([1, 2, 2, 3]));
    expect(c.length).toBe(2);
  });
});
