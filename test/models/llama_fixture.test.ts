import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { parityBackends } from '../helpers/backends.js';
import { setBackend } from '../../src/tensor/index.js';
import { loadModel } from '../../src/models/load.js';
import { crossEntropy, fromArray, noGrad } from '../../src/tensor/index.js';
import { FIXTURES } from '../helpers/paths.js';
import { get, maxAbsDiff, readReference, relErr } from '../helpers/fixtures.js';

describe.each(parityBackends())('Llama against the PyTorch fixtures, %s backend', (_name, backend) => {
  beforeEach(() => void setBackend(backend));
  it('reproduces logits, loss and every gradient', () => {
    const ref = readReference('llama-tiny');
    const model = loadModel(path.join(FIXTURES, 'llama-tiny'));
    const logits = model.forward(get(ref, 'input_ids'));
    expect(maxAbsDiff(logits.toFloat32Array(), get(ref, 'logits').toFloat32Array())).toBeLessThan(1e-4);
    const loss = crossEntropy(logits, get(ref, 'labels'));
    expect(Math.abs(loss.item() - get(ref, 'loss').item())).toBeLessThan(1e-4);
    loss.backward();
    const params = new Map(model.namedParameters());
    let n = 0;
    for (const [k, g] of ref) {
      if (!k.startsWith('grad.')) continue;
      const p = params.get(k.slice(5));
      expect(p, k).toBeDefined();
      expect(relErr(p!.grad!.toFloat32Array(), g.toFloat32Array()), k).toBeLessThan(1e-3);
      n++;
    }
    expect(n).toBe(params.size);
  });

  for (const [folder, tol] of [['llama-tiny-trained', 5e-4], ['llama-tiny-rope-scaled', 1e-3]] as const) {
    it(`${folder}: greedy step logits by full recomputation`, () => {
      const ref = readReference(folder);
      const model = loadModel(path.join(FIXTURES, folder));
      const outIds = get(ref, 'greedy.output').toArray() as number[][];
      const P = get(ref, 'greedy.prompt').shape[1]!;
      const stepLogits = get(ref, 'greedy.step_logits').toFloat32Array();
      const V = 512, steps = 40;
      let worst = 0;
      noGrad(() => {
        for (let k = 0; k < steps; k++) {
          const T = P + k;
          const ids = fromArray(Int32Array.from(outIds.flatMap((r) => r.slice(0, T))), [2, T]);
          const logits = model.forward(ids).toFloat32Array();
          for (let b = 0; b < 2; b++) {
            const last = logits.subarray((b * T + T - 1) * V, (b * T + T) * V);
            worst = Math.max(worst, maxAbsDiff(last, stepLogits.subarray((b * steps + k) * V, (b * steps + k + 1) * V)));
            let arg = 0;
            for (let i = 1; i < V; i++) if (last[i]! > last[arg]!) arg = i;
            expect(arg).toBe(outIds[b]![T]);
          }
        }
      });
      expect(worst).toBeLessThan(tol);
    });
  }
});
