/**
 * Options that change behaviour at run time: attention masks (left padding) through prefix and prompt tuning,
 * LoRA dropout (active in training, identity in eval), layers_to_transform, regex targets, the study's entry
 * point into the registry, and adapter configs fintune refuses.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/models/load.js';
import { fromArray, noGrad, type Tensor } from '../../src/tensor/index.js';
import { applyMethod } from '../../src/peft/registry.js';
import { injectLora } from '../../src/peft/lora/model.js';
import { loraConfigFromJson } from '../../src/peft/lora/config.js';
import { applyStudyMethod } from '../../src/study/methods.js';
import { FIXTURES } from '../helpers/paths.js';
import { get, maxAbsDiff, readReference } from '../helpers/fixtures.js';

const flat = (t: Tensor): Float32Array => t.toFlat() as Float32Array;

describe.each(['gpt2-tiny', 'llama-tiny'])('options on %s', (folder) => {
  const dir = path.join(FIXTURES, folder);
  const all = get(readReference(folder), 'input_ids').toFlat() as Int32Array;

  it.each(['prefix', 'prompt'])('%s tuning: a left-padded row equals the same row alone', (method) => {
    const model = loadModel(dir);
    applyMethod(model, method, { numVirtualTokens: 3, seed: 5 });
    const T = 6,
      pad = 2;
    const row = Array.from(all.subarray(0, T - pad));
    const alone = flat(noGrad(() => model.forward(fromArray(Int32Array.from(row), [1, T - pad]))));
    // [pad, pad, tokens…] with the padding masked out and positions starting at 0 on the first real token.
    const ids = fromArray(Int32Array.from([0, 0, ...row]), [1, T]);
    const mask = fromArray(Float32Array.from([-Infinity, -Infinity, 0, 0, 0, 0]), [1, T]);
    const positionIds = Int32Array.from([0, 0, 0, 1, 2, 3]);
    const padded = noGrad(() => model.forward(ids, { attentionMask: mask, positionIds }));
    expect(maxAbsDiff(flat(padded.slice(1, pad, T).contiguous()), alone)).toBeLessThan(2e-5);
  });

  it('LoRA dropout is active in training only; layers_to_transform and regex targets', () => {
    const model = loadModel(dir);
    const { layers } = injectLora(model, { r: 2, loraAlpha: 2, loraDropout: 0.5, initLoraWeights: false, targetModules: '.*\\.(c_attn|q_proj)', layersToTransform: [1] });
    expect(layers.map(([n]) => n)).toEqual([folder === 'gpt2-tiny' ? 'transformer.h.1.attn.c_attn' : 'model.layers.1.self_attn.q_proj']);
    const ids = fromArray(all.slice(0, 8), [1, 8]);
    model.eval();
    const e1 = flat(noGrad(() => model.forward(ids)));
    expect(maxAbsDiff(flat(noGrad(() => model.forward(ids))), e1)).toBe(0);
    model.train();
    expect(maxAbsDiff(flat(noGrad(() => model.forward(ids))), e1)).toBeGreaterThan(0);
  });
});

describe('integration and refusals', () => {
  it("the study's applyStudyMethod reaches the registry", async () => {
    const model = loadModel(path.join(FIXTURES, 'gpt2-tiny'));
    const applied = await applyStudyMethod(model, 'lora', { r: 4, loraAlpha: 8 });
    expect(applied.trainable).toBe(2 * (4 * 64 + 192 * 4));
    expect(typeof applied.merge).toBe('function');
  });

  it('full fine-tuning freezes embeddings or chosen blocks; snake_case options are accepted', () => {
    const model = loadModel(path.join(FIXTURES, 'gpt2-tiny'));
    applyMethod(model, 'full', { freeze_embeddings: true, freezeLayers: [0] });
    const trainable = new Set(model.namedParameters().filter(([, p]) => p.requiresGrad).map(([k]) => k));
    expect(trainable.has('transformer.wte.weight')).toBe(false);
    expect(trainable.has('transformer.wpe.weight')).toBe(false);
    expect([...trainable].some((k) => k.startsWith('transformer.h.0.'))).toBe(false);
    expect(trainable.has('transformer.h.1.attn.c_attn.weight')).toBe(true);
    expect(trainable.has('transformer.ln_f.weight')).toBe(true);
    const l = loadModel(path.join(FIXTURES, 'gpt2-tiny'));
    expect(applyMethod(l, 'lora', { r: 2, lora_alpha: 4, target_modules: ['c_fc'] }).counts.trainable).toBe(2 * 2 * (64 + 256));
  });

  it('refuses adapters it cannot apply faithfully', () => {
    const base = { peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['c_attn'] };
    expect(() => loraConfigFromJson({ ...base, init_lora_weights: 'pissa' })).toThrow(/rewrites the base/);
    expect(() => loraConfigFromJson({ ...base, rank_pattern: { c_attn: 2 } })).toThrow(/rank_pattern/);
    expect(loraConfigFromJson({ ...base, layers_to_transform: 1 }).layersToTransform).toEqual([1]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bin-'));
    fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify(base));
    fs.writeFileSync(path.join(dir, 'adapter_model.bin'), '');
    return import('../../src/peft/load.js').then(({ loadAdapter }) => {
      expect(() => loadAdapter(loadModel(path.join(FIXTURES, 'gpt2-tiny')), dir)).toThrow(/pickle/);
      fs.rmSync(dir, { recursive: true });
    });
  });
});
