import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadGPT2 } from '../../src/models/load.js';
import { AdamW, SGD, type Optimizer } from '../../src/nn/optim.js';
import { crossEntropy, fromArray, setBackend, tidy, type Tensor } from '../../src/tensor/index.js';
import { parityBackends } from '../helpers/backends.js';
import { FIXTURES } from '../helpers/paths.js';

const dir = path.join(FIXTURES, 'gpt2-tiny');

/** Three training steps on gpt2-tiny (tied embedding/head: one parameter used by two nodes); returns the weights. */
function train(make: (ps: Tensor[]) => Optimizer, inBackward: boolean, seen?: Set<Tensor>): Float32Array[] {
  const model = loadGPT2(dir);
  model.train();
  const params = model.parameters().filter((p) => p.requiresGrad);
  const opt = make(params);
  const hook = opt.stepInBackward();
  const ids = Int32Array.from({ length: 2 * 9 }, (_, i) => (i * 37 + 11) % 512);
  for (let step = 0; step < 3; step++) {
    const inp = new Int32Array(16), tgt = new Int32Array(16);
    for (let b = 0; b < 2; b++) {
      for (let t = 0; t < 8; t++) {
        inp[b * 8 + t] = (ids[b * 9 + t]! + step) % 512;
        tgt[b * 8 + t] = (ids[b * 9 + t + 1]! + step) % 512;
      }
    }
    tidy(() => {
      const loss = crossEntropy(model.forward(fromArray(inp, [2, 8])), fromArray(tgt, [2, 8]));
      const onGradFinal = inBackward
        ? (p: Tensor) => {
            // Each parameter is reported once a step, after every use (the tied weight after both).
            expect(seen?.has(p)).toBe(false);
            seen?.add(p);
            expect(p.grad).not.toBeNull();
            hook(p);
            expect(p.grad).toBeNull();
          }
        : undefined;
      loss.backward(undefined, { onGradFinal });
    });
    if (inBackward) {
      expect(seen?.size).toBe(params.length);
      seen?.clear();
      for (const p of params) expect(p.grad).toBeNull(); // every gradient was freed during backward
    } else opt.step();
    opt.zeroGrad();
  }
  return params.map((p) => Float32Array.from(p.flatBuf()));
}

describe.each(parityBackends())('optimizer step inside backward (%s backend)', (_name, backend) => {
  const makers: [string, (ps: Tensor[]) => Optimizer][] = [
    ['AdamW', (ps) => new AdamW(ps, { lr: 1e-2, weightDecay: 0.1 })],
    ['SGD momentum', (ps) => new SGD(ps, { lr: 1e-2, momentum: 0.9, weightDecay: 0.01 })],
  ];
  it.each(makers)('%s: the same weights, bit for bit, as stepping after backward', (_n, make) => {
    setBackend(backend);
    const after = train(make, false);
    const during = train(make, true, new Set());
    expect(during.length).toBe(after.length);
    let changed = 0;
    for (let i = 0; i < after.length; i++) {
      expect(Buffer.from(during[i]!.buffer).equals(Buffer.from(after[i]!.buffer))).toBe(true);
      changed += after[i]!.some((v, j) => v !== loadedOnce()[i]![j]) ? 1 : 0;
    }
    expect(changed).toBe(after.length); // the steps did move every parameter
  });
});

let initial: Float32Array[] | null = null;
function loadedOnce(): Float32Array[] {
  initial ??= loadGPT2(dir)
    .parameters()
    .filter((p) => p.requiresGrad)
    .map((p) => Float32Array.from(p.flatBuf()));
  return initial;
}
