import { describe, expect, it } from 'vitest';
import { param, withMatrixDtype } from '../../src/nn/module.js';

describe('param() initial values', () => {
  it('are converted to a bf16 matrix dtype (not their float bits truncated into uint16)', () => {
    const p = withMatrixDtype('bf16', () => param([2, 2], { init: Float32Array.of(1, -2, 0.5, 3), requiresGrad: false }));
    expect(p.dtype).toBe('bf16');
    expect(p.toArray()).toEqual([[1, -2], [0.5, 3]]);
  });
  it('must have one value per element (else part of the parameter would be uninitialized pool memory)', () => {
    expect(() => param([2, 3], { init: new Float32Array(5) })).toThrow(/param\(\[2, 3\]\).*5 initial values/);
  });
});
