import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadGPT2 } from '../../src/models/load.js';
import { adamwUnfused } from '../../src/tensor/unfused.js';
import { getBackend } from '../../src/tensor/backends.js';
import { crossEntropy, fromArray, setBackend, setFusedKernels, tidy } from '../../src/tensor/index.js';
import { parityBackends } from '../helpers/backends.js';
import { FIXTURES } from '../helpers/paths.js';

const dir = path.join(FIXTURES, 'gpt2-tiny');

/** Loss, every gradient and the weights after one AdamW step on gpt2-tiny, with fused kernels on or off. */
function step(fused: boolean) {
  const prev = setFusedKernels(fused);
  try {
    const model = loadGPT2(dir);
    model.train();
    const params = model.parameters().filter((p) => p.requiresGrad);
    const inp = Int32Array.from({ length: 24 }, (_, i) => (i * 53 + 7) % 512);
    const tgt = Int32Array.from({ length: 24 }, (_, i) => (i % 5 === 0 ? -100 : (i * 29 + 3) % 512));
    let loss = NaN;
    tidy(() => {
      const l = crossEntropy(model.forward(fromArray(inp, [3, 8])), fromArray(tgt, [3, 8]));
      loss = l.item();
      l.backward();
    });
    return { loss, grads: params.map((p) => Float32Array.from(p.grad!.flatBuf())) };
  } finally {
    setFusedKernels(prev);
  }
}

function maxRel(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    let scale = 1e-6, diff = 0;
    for (let j = 0; j < a[i]!.length; j++) {
      scale = Math.max(scale, Math.abs(a[i]![j]!));
      diff = Math.max(diff, Math.abs(a[i]![j]! - b[i]![j]!));
    }
    worst = Math.max(worst, diff / scale);
  }
  return worst;
}

describe.each(parityBackends())('unfused twins of the fused kernels (%s backend)', (_name, backend) => {
  afterEach(() => setFusedKernels(true));
  it('give the same loss and gradients as the fused kernels on gpt2-tiny', () => {
    setBackend(backend);
    const f = step(true);
    const u = step(false);
    expect(Number.isFinite(f.loss)).toBe(true);
    expect(Math.abs(f.loss - u.loss)).toBeLessThan(1e-5 * Math.abs(f.loss));
    expect(maxRel(f.grads, u.grads)).toBeLessThan(1e-4);
    // The switch really changed the computation (composed ops round differently somewhere).
    expect(f.grads.some((g, i) => g.some((v, j) => v !== u.grads[i]![j]))).toBe(true);
  });

  it('AdamW as separate elementwise passes agrees with the fused update over three steps', () => {
    setBackend(backend);
    const n = 1001;
    const rnd = (k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + k * 78.233) * 0.5);
    const be = getBackend();
    const fused = { p: rnd(1), m: new Float32Array(n), v: new Float32Array(n) };
    const unf = { p: rnd(1), m: new Float32Array(n), v: new Float32Array(n) };
    for (let step = 1; step <= 3; step++) {
      const g = rnd(step + 10);
      be.adamw(n, fused.p, g, fused.m, fused.v, 1e-2, 0.9, 0.999, 1e-8, 0.1, step);
      adamwUnfused(be, n, unf.p, g, unf.m, unf.v, 1e-2, 0.9, 0.999, 1e-8, 0.1, step);
    }
    expect(maxRel([fused.p], [unf.p])).toBeLessThan(1e-6);
    expect(maxRel([fused.v], [unf.v])).toBeLessThan(1e-6);
  });
});
