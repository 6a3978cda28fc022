/**
 * Adapter files as Hugging Face PEFT writes them (from PEFT's source: get_peft_model_state_dict drops the
 * adapter name, DoRA's magnitude loses ".weight", IA3 saves `ia3_l` [out,1] or [1,in] for feed-forward
 * targets, keys carry `base_model.model.`), the initializations PEFT uses, and several named adapters on one
 * base switched per call.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/models/load.js';
import { noGrad, type Tensor } from '../../src/tensor/index.js';
import { injectLora } from '../../src/peft/lora/model.js';
import { injectIa3 } from '../../src/peft/ia3/model.js';
import { saveAdapter } from '../../src/peft/save.js';
import { loadAdapter } from '../../src/peft/load.js';
import { setAdapter, withAdapter, withBaseOnly } from '../../src/peft/state.js';
import { trainableParameters } from '../../src/peft/common.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { FIXTURES } from '../helpers/paths.js';
import { get, maxAbsDiff, readReference } from '../helpers/fixtures.js';

const gpt2 = path.join(FIXTURES, 'gpt2-tiny');
const llama = path.join(FIXTURES, 'llama-tiny');
const flat = (t: Tensor): Float32Array => t.toFlat() as Float32Array;

function saved(model: ReturnType<typeof loadModel>, name?: string): { shapes: Record<string, number[]>; config: Record<string, unknown> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fmt-'));
  saveAdapter(model, dir, { name });
  const { tensors } = readSafetensors(path.join(dir, 'adapter_model.safetensors'));
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
  fs.rmSync(dir, { recursive: true });
  return { shapes: Object.fromEntries([...tensors].map(([k, t]) => [k, [...t.shape]])), config };
}

describe('PEFT file format', () => {
  it('LoRA + DoRA on every GPT-2 Conv1D: keys, shapes, magnitude, config', () => {
    const m = loadModel(gpt2);
    injectLora(m, { r: 2, loraAlpha: 4, targetModules: ['c_attn', 'c_proj', 'c_fc'], useDora: true });
    const { shapes, config } = saved(m);
    const p = 'base_model.model.transformer.h.0.';
    expect(shapes[p + 'attn.c_attn.lora_A.weight']).toEqual([2, 64]);
    expect(shapes[p + 'attn.c_attn.lora_B.weight']).toEqual([192, 2]);
    expect(shapes[p + 'attn.c_attn.lora_magnitude_vector']).toEqual([192]);
    expect(shapes[p + 'attn.c_proj.lora_B.weight']).toEqual([64, 2]);
    expect(shapes[p + 'mlp.c_fc.lora_B.weight']).toEqual([256, 2]);
    expect(shapes[p + 'mlp.c_proj.lora_A.weight']).toEqual([2, 256]);
    expect(shapes[p + 'mlp.c_proj.lora_magnitude_vector']).toEqual([64]);
    expect(Object.keys(shapes)).toHaveLength(2 * 4 * 3);
    expect(Object.keys(shapes).every((k) => !k.includes('default'))).toBe(true);
    expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', fan_in_fan_out: true, r: 2, lora_alpha: 4, use_dora: true, use_rslora: false, bias: 'none', init_lora_weights: true, modules_to_save: null });
    expect(Object.keys(config)).toEqual([...Object.keys(config)].sort());
    // DoRA's magnitude starts at ‖W‖ per output feature: a column norm of Conv1D's [in, out] weight.
    const W = flat(loadModel(gpt2).stateDict().get('transformer.h.0.attn.c_attn.weight')!);
    const mag = flat(m.stateDict().get('transformer.h.0.attn.c_attn.lora_magnitude_vector.default.weight')!);
    for (const o of [0, 100, 191]) {
      let s = 0;
      for (let i = 0; i < 64; i++) s += W[i * 192 + o]! ** 2;
      expect(mag[o]).toBeCloseTo(Math.sqrt(s), 5);
    }
  });

  it('LoRA on Llama (GQA shapes), rsLoRA scaling, Kaiming and Gaussian init, bias="all"', () => {
    const m = loadModel(llama);
    const { layers } = injectLora(m, { r: 4, loraAlpha: 8, targetModules: ['q_proj', 'k_proj', 'down_proj'], useRslora: true });
    const { shapes, config } = saved(m);
    const p = 'base_model.model.model.layers.1.';
    expect(shapes[p + 'self_attn.q_proj.lora_B.weight']).toEqual([64, 4]);
    expect(shapes[p + 'self_attn.k_proj.lora_B.weight']).toEqual([32, 4]);
    expect(shapes[p + 'mlp.down_proj.lora_A.weight']).toEqual([4, 192]);
    expect(config).toMatchObject({ fan_in_fan_out: false, use_rslora: true, target_modules: ['q_proj', 'k_proj', 'down_proj'] });
    const all = loadModel(llama);
    injectLora(all, { r: 2, loraAlpha: 2, targetModules: 'all-linear' });
    expect(saved(all).config.target_modules).toEqual(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);
    const l = layers[0]![1];
    expect(l.scaling('default')).toBe(8 / 2);
    const A = flat(l.lora_A.get('default')!.weight);
    expect(Math.max(...A.map(Math.abs))).toBeLessThanOrEqual(1 / 8); // U(±1/√in), in = 64
    expect(Math.max(...A.map(Math.abs))).toBeGreaterThan(0.1);
    expect(flat(l.lora_B.get('default')!.weight).every((v) => v === 0)).toBe(true);

    const g = loadModel(gpt2);
    const gl = injectLora(g, { r: 16, loraAlpha: 16, initLoraWeights: 'gaussian', bias: 'all' });
    const a = flat(gl.layers[0]![1].lora_A.get('default')!.weight);
    const sd = Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    expect(sd).toBeGreaterThan(0.05); // N(0, 1/r) = N(0, 0.0625)
    expect(sd).toBeLessThan(0.075);
    const out = saved(g);
    expect(out.shapes['base_model.model.transformer.h.0.attn.c_attn.base_layer.bias']).toEqual([192]);
    expect(out.shapes['base_model.model.transformer.h.0.ln_1.bias']).toEqual([64]);
    expect(out.config.bias).toBe('all');
  });

  it("IA3 with PEFT's default targets: GPT-2 c_attn (output) and mlp.c_proj (input); Llama k/v/down_proj", () => {
    const g = loadModel(gpt2);
    injectIa3(g, {});
    const a = saved(g);
    expect(a.shapes).toEqual({
      'base_model.model.transformer.h.0.attn.c_attn.ia3_l': [192, 1],
      'base_model.model.transformer.h.0.mlp.c_proj.ia3_l': [1, 256],
      'base_model.model.transformer.h.1.attn.c_attn.ia3_l': [192, 1],
      'base_model.model.transformer.h.1.mlp.c_proj.ia3_l': [1, 256],
    });
    expect(a.config).toMatchObject({ peft_type: 'IA3', target_modules: ['c_attn', 'mlp.c_proj'], feedforward_modules: ['mlp.c_proj'], fan_in_fan_out: true, init_ia3_weights: true });
    const l = loadModel(llama);
    injectIa3(l, {});
    const b = saved(l);
    expect(b.shapes['base_model.model.model.layers.0.self_attn.k_proj.ia3_l']).toEqual([32, 1]);
    expect(b.shapes['base_model.model.model.layers.0.self_attn.v_proj.ia3_l']).toEqual([32, 1]);
    expect(b.shapes['base_model.model.model.layers.0.mlp.down_proj.ia3_l']).toEqual([1, 192]);
    expect(Object.keys(b.shapes)).toHaveLength(6);
  });

  it('named adapters on one base, switched per call, with a base-only switch', () => {
    const ref = readReference('gpt2-tiny');
    const ids = get(ref, 'input_ids');
    const m = loadModel(gpt2);
    const baseOut = flat(noGrad(() => m.forward(ids)));
    injectLora(m, { r: 2, loraAlpha: 4, initLoraWeights: false, seed: 1 }, 'a');
    injectLora(m, { r: 3, loraAlpha: 3, targetModules: ['c_fc'], initLoraWeights: false, seed: 2 }, 'b');
    injectLora(m, { r: 2, loraAlpha: 2, useDora: true, initLoraWeights: false, seed: 3 }, 'c');
    expect(() => injectIa3(m, {}, 'd')).toThrow(/cannot be combined/);
    const outs = Object.fromEntries(['a', 'b', 'c'].map((n) => [n, flat(noGrad(() => withAdapter(m, n, () => m.forward(ids))))]));
    expect(maxAbsDiff(outs.a!, outs.b!)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(outs.a!, outs.c!)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(flat(noGrad(() => withBaseOnly(m, () => m.forward(ids)))), baseOut)).toBe(0);
    // Each adapter alone on a fresh base gives the same outputs, and saves without the other adapters' tensors.
    for (const n of ['a', 'b', 'c']) {
      setAdapter(m, n);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'named-'));
      saveAdapter(m, dir, { name: n });
      const fresh = loadModel(gpt2);
      loadAdapter(fresh, dir, { name: 'x' });
      expect(maxAbsDiff(flat(noGrad(() => fresh.forward(ids))), outs[n]!), n).toBe(0);
      fs.rmSync(dir, { recursive: true });
    }
    // Two adapters at once add up (LoRA a + LoRA b).
    const both = flat(noGrad(() => withAdapter(m, ['a', 'b'], () => m.forward(ids))));
    expect(maxAbsDiff(both, outs.a!)).toBeGreaterThan(0);
  });

  it('modules_to_save: a trained copy of the (tied) GPT-2 head, saved as lm_head.weight and loaded back', () => {
    const ids = get(readReference('gpt2-tiny'), 'input_ids');
    const m = loadModel(gpt2);
    const baseOut = flat(noGrad(() => m.forward(ids)));
    const wte = (m.stateDict().get('transformer.wte.weight')!.toFlat() as Float32Array).slice();
    injectLora(m, { r: 2, loraAlpha: 2, modulesToSave: ['lm_head'] });
    expect(m.namedParameters().filter(([, p]) => p.requiresGrad).map(([k]) => k)).toContain('lm_head.modules_to_save.default.weight');
    const w = m.lm_head.weight.data as Float32Array; // the active copy
    for (let i = 0; i < w.length; i += 7) w[i] = w[i]! + 0.01; // stands in for training
    // PEFT's wrapper semantics: the original stays as it was and "base only" uses it.
    expect(Buffer.from((m.stateDict().get('transformer.wte.weight')!.toFlat() as Float32Array).buffer).equals(Buffer.from(wte.buffer))).toBe(true);
    expect(maxAbsDiff(flat(noGrad(() => withBaseOnly(m, () => m.forward(ids)))), baseOut)).toBe(0);
    expect(maxAbsDiff(flat(noGrad(() => m.forward(ids))), baseOut)).toBeGreaterThan(0);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mts-'));
    saveAdapter(m, dir);
    const { tensors } = readSafetensors(path.join(dir, 'adapter_model.safetensors'));
    expect([...tensors.get('base_model.model.lm_head.weight')!.shape]).toEqual([512, 64]);
    const fresh = loadModel(gpt2);
    loadAdapter(fresh, dir);
    expect(maxAbsDiff(flat(noGrad(() => fresh.forward(ids))), flat(noGrad(() => m.forward(ids))))).toBe(0);
    fs.rmSync(dir, { recursive: true });
  });

  it("prints trainable parameters like PEFT's print_trainable_parameters", () => {
    const m = loadModel(gpt2);
    injectLora(m, { r: 4, loraAlpha: 8 });
    const t = trainableParameters(m);
    expect(t.trainable).toBe(2 * (4 * 64 + 192 * 4));
    expect(t.text).toBe(`trainable params: 2,048 || all params: ${t.total.toLocaleString('en-US')} || trainable%: ${((100 * 2048) / t.total).toFixed(4)}`);
  });
});
