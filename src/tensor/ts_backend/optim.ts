/** PyTorch's AdamW step (torch.optim.AdamW, amsgrad off, maximize off), in place on param, m and v. */
import type { Buf } from '../backend.js';
import { checkSameType, checkSize, checkSpan } from './check.js';

export function adamw(
  n: number,
  param: Buf,
  grad: Buf,
  m: Buf,
  v: Buf,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  weightDecay: number,
  step: number,
): void {
  const K = 'adamw';
  checkSize(K, 'n', n);
  if (!Number.isInteger(step) || step < 1) throw new Error(`${K}: step must be a 1-based integer, got ${step}`);
  checkSameType(K, param, grad, m, v);
  checkSpan(K, 'param', param, 0, n);
  checkSpan(K, 'grad', grad, 0, n);
  checkSpan(K, 'm', m, 0, n);
  checkSpan(K, 'v', v, 0, n);
  // Operations grouped as in PyTorch's single-tensor (CPU default) path, so float64 results agree to the last
  // bits: m.lerp_(g, 1 - beta1), v.mul_(beta2).addcmul_(g, g, 1 - beta2), denom = sqrt(v)/sqrt(bc2) + eps,
  // param.addcdiv_(m, denom, -lr/bc1). The lerp is the contract's b1*m + (1-b1)*g, rounded differently.
  const bias1 = 1 - Math.pow(beta1, step);
  const bias2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
  const stepSize = lr / bias1;
  const decay = 1 - lr * weightDecay;
  const w = 1 - beta1;
  for (let i = 0; i < n; i++) {
    const g = grad[i];
    param[i] = param[i] * decay;
    const m0 = m[i];
    // torch.lerp's two-sided form: from the nearer end, which is exact at both weight = 0 and weight = 1.
    m[i] = Math.abs(w) < 0.5 ? m0 + w * (g - m0) : g - (g - m0) * (1 - w);
    v[i] = v[i] * beta2 + (1 - beta2) * g * g;
    // Read back the stored moments: with f32 buffers they are rounded, and the next step reads them rounded too.
    const denom = Math.sqrt(v[i]) / bias2Sqrt + eps;
    param[i] = param[i] + -stepSize * (m[i] / denom);
  }
}
