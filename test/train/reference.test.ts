import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadGPT2 } from '../../src/models/load.js';
import { Trainer } from '../../src/train/trainer.js';
import { FIXTURES } from '../helpers/paths.js';
import { get, readReference } from '../helpers/fixtures.js';
import { ListData } from './helpers.js';

describe('the trainer against PyTorch (gpt2-tiny fixture)', () => {
  it('three AdamW steps on the reference batch give the same losses and weights as torch.optim.AdamW', async () => {
    const ref = readReference('gpt2-tiny');
    const opt = readReference('gpt2-tiny', 'optimizer.safetensors');
    const batch = { inputIds: get(ref, 'input_ids'), labels: get(ref, 'labels') };
    const model = loadGPT2(path.join(FIXTURES, 'gpt2-tiny'));
    const losses: number[] = [];
    await new Trainer({
      model,
      train: new ListData(() => [batch]),
      // The fixture's recipe: lr 1e-2, betas 0.9/0.95, eps 1e-8, weight decay 0.1 on every parameter, no clipping.
      config: { maxSteps: 3, lr: 1e-2, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1, weightDecayScope: 'all', clipGradNorm: 0, progress: 'quiet' },
      callbacks: { onStep: (m) => void losses.push(m.loss) },
    }).train();
    // step k's loss is computed before step k's update
    for (let k = 1; k <= 3; k++) expect(Math.abs(losses[k - 1]! - get(opt, `step${k}.loss`).item())).toBeLessThan(1e-4);

    let worst = 0;
    for (const [key, p] of model.stateDict()) {
      const want = get(opt, `step3.weight.${key}`).toFloat32Array();
      const got = p.toFloat32Array();
      const grads = [1, 2, 3].map((k) => get(opt, `step${k}.grad.${key}`).toFloat32Array());
      for (let i = 0; i < want.length; i++) {
        // A gradient that is zero up to float noise makes Adam's update a coin flip of ±lr: skip those entries.
        if (grads.some((g) => Math.abs(g[i]!) < 1e-7)) continue;
        worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      }
    }
    expect(worst).toBeLessThan(5e-5);
  });
});
