import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadGPT2 } from '../../src/models/load.js';
import { AdamW } from '../../src/nn/optim.js';
import { crossEntropy, fromArray, noGrad } from '../../src/tensor/index.js';
import { readSafetensors, toFloat32 } from '../../src/io/safetensors.js';
import { FIXTURES } from '../helpers/paths.js';
import { get, maxAbsDiff, readReference, relErr } from '../helpers/fixtures.js';
import { parityBackends } from '../helpers/backends.js';
import { setBackend } from '../../src/tensor/index.js';

const dir = path.join(FIXTURES, 'gpt2-tiny');
const ref = readReference('gpt2-tiny');

describe.each(parityBackends())('GPT-2 against the PyTorch fixtures (gpt2-tiny), %s backend', (_name, backend) => {
  beforeEach(() => void setBackend(backend));
  it('reproduces logits and loss, and every gradient', () => {
    const model = loadGPT2(dir);
    const ids = get(ref, 'input_ids');
    const labels = get(ref, 'labels');
    const logits = model.forward(ids);
    expect(logits.shape).toEqual([2, 16, 512]);
    expect(maxAbsDiff(logits.toFloat32Array(), get(ref, 'logits').toFloat32Array())).toBeLessThan(1e-4);
    const loss = crossEntropy(logits, labels);
    expect(Math.abs(loss.item() - get(ref, 'loss').item())).toBeLessThan(1e-4);
    loss.backward();
    const params = new Map(model.namedParameters());
    let checked = 0;
    for (const [k, g] of ref) {
      if (!k.startsWith('grad.')) continue;
      const p = params.get(k.slice(5));
      expect(p, `model has parameter ${k.slice(5)}`).toBeDefined();
      expect(p!.grad, `gradient of ${k.slice(5)}`).not.toBeNull();
      const e = relErr(p!.grad!.toFloat32Array(), g.toFloat32Array());
      expect(e, `relative error of ${k}`).toBeLessThan(1e-3);
      checked++;
    }
    expect(checked).toBe(params.size);
  });

  it('reproduces the bf16 checkpoint logits', () => {
    const model = loadGPT2(dir, 'model.bf16.safetensors');
    const logits = noGrad(() => model.forward(get(ref, 'input_ids')));
    expect(maxAbsDiff(logits.toFloat32Array(), get(ref, 'bf16.logits').toFloat32Array())).toBeLessThan(1e-4);
  });

  it('matches one AdamW step (where the gradient is not float noise)', () => {
    const model = loadGPT2(dir);
    const params = new Map(model.namedParameters());
    for (const [k, p] of params) p.grad = fromArray(get(ref, `grad.${k}`).toFloat32Array(), p.shape);
    const opt = new AdamW([...params.values()], { lr: 1e-2, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 });
    opt.step();
    for (const [k, p] of params) {
      const want = get(ref, `adamw.${k}`).toFloat32Array();
      const g = get(ref, `grad.${k}`).toFloat32Array();
      const got = p.toFloat32Array();
      let worst = 0;
      for (let i = 0; i < want.length; i++) if (Math.abs(g[i]!) > 1e-9) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      expect(worst, k).toBeLessThan(1e-6);
    }
  });

  it('matches three AdamW steps fed the stored gradients', () => {
    const opt3 = readSafetensors(path.join(dir, 'optimizer.safetensors')).tensors;
    const f32 = (k: string): Float32Array => {
      const t = opt3.get(k);
      if (!t) throw new Error(`optimizer.safetensors has no ${k}`);
      return new Float32Array(toFloat32(t.data, t.dtype));
    };
    const model = loadGPT2(dir);
    const params = new Map(model.namedParameters());
    const opt = new AdamW([...params.values()], { lr: 1e-2, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 });
    for (let s = 1; s <= 3; s++) {
      for (const [k, p] of params) p.grad = fromArray(f32(`step${s}.grad.${k}`), p.shape);
      opt.step();
    }
    for (const [k, p] of params) {
      expect(maxAbsDiff(p.toFloat32Array(), f32(`step3.weight.${k}`)), k).toBeLessThan(1e-6);
    }
  });
});

describe.each(parityBackends())('GPT-2 greedy steps (gpt2-tiny-trained), by full recomputation, %s backend', (_name, backend) => {
  beforeEach(() => void setBackend(backend));
  it('reproduces every step logit and token (tells tanh GELU from exact)', () => {
    const tref = readReference('gpt2-tiny-trained');
    const model = loadGPT2(path.join(FIXTURES, 'gpt2-tiny-trained'));
    const out = get(tref, 'greedy.output'); // [2, 48]
    const stepLogits = get(tref, 'greedy.step_logits').toFloat32Array(); // [2, 40, 512]
    const outIds = out.toArray() as number[][];
    const P = get(tref, 'greedy.prompt').shape[1]!;
    const steps = 40, V = 512;
    let worst = 0;
    noGrad(() => {
      for (let k = 0; k < steps; k++) {
        const T = P + k;
        const ids = fromArray(Int32Array.from(outIds.flatMap((row) => row.slice(0, T))), [2, T]);
        const logits = model.forward(ids).toFloat32Array();
        for (let b = 0; b < 2; b++) {
          const last = logits.subarray((b * T + T - 1) * V, (b * T + T) * V);
          const want = stepLogits.subarray((b * steps + k) * V, (b * steps + k + 1) * V);
          worst = Math.max(worst, maxAbsDiff(last, want));
          let arg = 0;
          for (let i = 1; i < V; i++) if (last[i]! > last[arg]!) arg = i;
          expect(arg).toBe(outIds[b]![T]);
        }
      }
    });
    expect(worst).toBeLessThan(5e-4);
  });
});
