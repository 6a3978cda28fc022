/**
 * The real PEFT adapter in fixtures/gpt2-tiny-lora, loaded onto gpt2-tiny, must reproduce PyTorch + PEFT's
 * logits, loss, every adapter gradient and the merged weights (README tolerances: 1e-4 absolute, 1e-3 relative).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadGPT2, loadModel } from '../../src/models/load.js';
import { crossEntropy, noGrad } from '../../src/tensor/index.js';
import { loadAdapter } from '../../src/peft/load.js';
import { saveAdapter } from '../../src/peft/save.js';
import { mergeAdapters, mergeAndUnload, unmergeAdapters } from '../../src/peft/merge.js';
import { trainableParameters } from '../../src/peft/common.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { FIXTURES } from '../helpers/paths.js';
import { get, maxAbsDiff, readReference, relErr } from '../helpers/fixtures.js';

const base = path.join(FIXTURES, 'gpt2-tiny');
const adapter = path.join(FIXTURES, 'gpt2-tiny-lora');
const ref = readReference('gpt2-tiny-lora');
const baseRef = readReference('gpt2-tiny');

describe('gpt2-tiny-lora fixture (Hugging Face PEFT adapter)', () => {
  it('reproduces logits, loss and every adapter gradient', () => {
    const model = loadGPT2(base);
    loadAdapter(model, adapter, { trainable: true });
    const logits = model.forward(get(baseRef, 'input_ids'));
    expect(maxAbsDiff(logits.toFlat() as Float32Array, get(ref, 'logits').toFlat() as Float32Array)).toBeLessThan(1e-4);
    const loss = crossEntropy(logits, get(baseRef, 'labels'));
    expect(Math.abs(loss.item() - get(ref, 'loss').item())).toBeLessThan(1e-4);
    loss.backward();
    const params = new Map(model.namedParameters());
    let checked = 0;
    for (const [k, g] of ref) {
      if (!k.startsWith('grad.')) continue;
      // PEFT's saved key → our in-memory key: base_model.model. dropped, adapter name put back.
      const key = k.slice('grad.base_model.model.'.length).replace(/lora_(A|B)\.weight$/, 'lora_$1.default.weight');
      const p = params.get(key);
      expect(p, key).toBeDefined();
      expect(relErr(p!.grad!.toFlat() as Float32Array, g.toFlat() as Float32Array), k).toBeLessThan(1e-3);
      checked++;
    }
    expect(checked).toBe(4);
    // Only the adapter trains: 2 layers × (4·64 + 192·4).
    expect(trainableParameters(model).trainable).toBe(2 * (4 * 64 + 192 * 4));
    for (const [k, p] of params) if (!k.includes('lora_')) expect(p.grad, k).toBeNull();
  });

  it('loads onto a bf16 inference base (adapter kept in float32)', () => {
    const ids = get(baseRef, 'input_ids');
    const bf = loadModel(base, { dtype: 'bf16' });
    const plain = noGrad(() => bf.forward(ids)).toFlat() as Float32Array;
    loadAdapter(bf, adapter);
    expect(bf.namedParameters().filter(([k]) => k.includes('lora_')).every(([, p]) => p.dtype === 'f32')).toBe(true);
    const a = noGrad(() => bf.forward(ids)).toFlat() as Float32Array;
    expect(maxAbsDiff(a, plain)).toBeGreaterThan(1e-3);
    // bf16 weights: within bf16 rounding of PyTorch's float32 adapter logits.
    expect(maxAbsDiff(a, get(ref, 'logits').toFlat() as Float32Array)).toBeLessThan(0.05);
  });

  it('merges into the reference weights, and unmerging restores the adapter model', () => {
    const model = loadGPT2(base);
    loadAdapter(model, adapter);
    const ids = get(baseRef, 'input_ids');
    mergeAdapters(model);
    const sd = model.stateDict();
    for (const i of [0, 1]) {
      const w = sd.get(`transformer.h.${i}.attn.c_attn.base_layer.weight`)!;
      expect(maxAbsDiff(w.toFlat() as Float32Array, get(ref, `merged.transformer.h.${i}.attn.c_attn.weight`).toFlat() as Float32Array)).toBeLessThan(1e-6);
    }
    const merged = noGrad(() => model.forward(ids));
    expect(maxAbsDiff(merged.toFlat() as Float32Array, get(ref, 'logits').toFlat() as Float32Array)).toBeLessThan(1e-4);
    unmergeAdapters(model);
    const orig = loadGPT2(base).stateDict().get('transformer.h.0.attn.c_attn.weight')!;
    expect(maxAbsDiff(model.stateDict().get('transformer.h.0.attn.c_attn.base_layer.weight')!.toFlat() as Float32Array, orig.toFlat() as Float32Array)).toBeLessThan(1e-6);
    mergeAndUnload(model);
    expect([...model.stateDict().keys()]).toEqual([...loadGPT2(base).stateDict().keys()]);
  });

  it('re-saves the adapter with PEFT\'s keys, shapes and config fields', () => {
    const model = loadGPT2(base);
    loadAdapter(model, adapter);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-fix-'));
    saveAdapter(model, dir, { baseModelNameOrPath: '../gpt2-tiny' });
    const mine = readSafetensors(path.join(dir, 'adapter_model.safetensors')).tensors;
    const theirs = readSafetensors(path.join(adapter, 'adapter_model.safetensors')).tensors;
    expect([...mine.keys()].sort()).toEqual([...theirs.keys()].sort());
    for (const [k, t] of theirs) {
      expect(mine.get(k)!.shape).toEqual(t.shape);
      expect(Buffer.from(mine.get(k)!.data.buffer, mine.get(k)!.data.byteOffset, mine.get(k)!.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(true);
    }
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    const want = JSON.parse(fs.readFileSync(path.join(adapter, 'adapter_config.json'), 'utf8'));
    for (const k of Object.keys(want)) if (k !== 'peft_version') expect(cfg[k], k).toEqual(want[k]);
    fs.rmSync(dir, { recursive: true });
  });
});
