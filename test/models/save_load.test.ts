import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/models/load.js';
import { saveModel } from '../../src/models/save.js';
import { GPT2 } from '../../src/models/gpt2.js';
import { Llama } from '../../src/models/llama.js';
import { withMatrixDtype } from '../../src/nn/module.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { crossEntropy, fromArray, noGrad, type Tensor } from '../../src/tensor/index.js';
import { FIXTURES } from '../helpers/paths.js';
import { get, maxAbsDiff, readReference } from '../helpers/fixtures.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-models-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const ref = readReference('gpt2-tiny');
const ids = get(ref, 'input_ids');
const logitsOf = (m: { forward(i: Tensor): Tensor }, x: Tensor = ids): Float32Array =>
  noGrad(() => m.forward(x).toFloat32Array());

describe('save → load round trips', () => {
  it('GPT-2: identical logits, weights byte-stable, second save identical to the first', () => {
    const m = loadModel(path.join(FIXTURES, 'gpt2-tiny'));
    const d1 = path.join(tmp, 'rt1'), d2 = path.join(tmp, 'rt2');
    saveModel(m, d1);
    const m2 = loadModel(d1);
    expect(Array.from(logitsOf(m2))).toEqual(Array.from(logitsOf(m)));
    saveModel(m2, d2);
    expect(Buffer.compare(fs.readFileSync(path.join(d1, 'model.safetensors')), fs.readFileSync(path.join(d2, 'model.safetensors')))).toBe(0);
    const orig = readSafetensors(path.join(FIXTURES, 'gpt2-tiny', 'model.safetensors')).tensors;
    const saved = readSafetensors(path.join(d1, 'model.safetensors')).tensors;
    for (const [k, t] of saved) {
      const o = orig.get(k)!;
      expect(Buffer.compare(Buffer.from((o.data as Float32Array).buffer, (o.data as Float32Array).byteOffset, (o.data as Float32Array).byteLength),
        Buffer.from((t.data as Float32Array).buffer, (t.data as Float32Array).byteOffset, (t.data as Float32Array).byteLength)), k).toBe(0);
    }
    const cfg = JSON.parse(fs.readFileSync(path.join(d1, 'config.json'), 'utf8'));
    expect(cfg.model_type).toBe('gpt2');
    expect(cfg.n_embd).toBe(64);
  });

  it('GPT-2 keys without the transformer. prefix and with mask buffers load the same', () => {
    const d = path.join(tmp, 'noprefix');
    fs.mkdirSync(d);
    fs.copyFileSync(path.join(FIXTURES, 'gpt2-tiny', 'config.json'), path.join(d, 'config.json'));
    const t = readSafetensors(path.join(FIXTURES, 'gpt2-tiny', 'model.safetensors')).tensors;
    const renamed = new Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>();
    for (const [k, v] of t) renamed.set(k.replace(/^transformer\./, ''), { dtype: 'F32', shape: v.shape, data: v.data as Float32Array });
    renamed.set('h.0.attn.bias', { dtype: 'F32', shape: [1, 1, 4, 4], data: new Float32Array(16) });
    renamed.set('h.1.attn.masked_bias', { dtype: 'F32', shape: [], data: new Float32Array(1) });
    writeSafetensors(path.join(d, 'model.safetensors'), renamed);
    expect(maxAbsDiff(logitsOf(loadModel(d)), get(ref, 'logits').toFloat32Array())).toBeLessThan(1e-4);
  });

  it('sharded checkpoints with an index load back identically', () => {
    const m = loadModel(path.join(FIXTURES, 'llama-tiny'));
    const d = path.join(tmp, 'sharded');
    const files = saveModel(m, d, { maxShardBytes: 100_000 });
    expect(files.filter((f) => f.endsWith('.safetensors')).length).toBeGreaterThan(2);
    expect(fs.existsSync(path.join(d, 'model.safetensors.index.json'))).toBe(true);
    const lref = readReference('llama-tiny');
    const x = get(lref, 'input_ids');
    expect(Array.from(logitsOf(loadModel(d), x))).toEqual(Array.from(logitsOf(m, x)));
  });

  it('bf16 weights: half the memory, fp32 accumulation, the fixture bf16 logits', () => {
    const m = loadModel(path.join(FIXTURES, 'gpt2-tiny'), { dtype: 'bf16', weightsFile: 'model.bf16.safetensors' });
    const w = (m as GPT2).transformer.h[0]!.attn.c_attn.weight;
    expect(w.dtype).toBe('bf16');
    expect((m as GPT2).transformer.ln_f.weight.dtype).toBe('f32');
    expect(maxAbsDiff(logitsOf(m), get(ref, 'bf16.logits').toFloat32Array())).toBeLessThan(1e-4);
    // An f32 checkpoint loaded as bf16 rounds its matrices only (norms and biases stay f32): close to both.
    const m2 = loadModel(path.join(FIXTURES, 'gpt2-tiny'), { dtype: 'bf16' });
    const d32 = maxAbsDiff(logitsOf(m2), get(ref, 'logits').toFloat32Array());
    expect(d32).toBeGreaterThan(0);
    expect(d32).toBeLessThan(2e-2);
  });

  it('errors name the folder, file and tensor', () => {
    const d = path.join(tmp, 'broken');
    fs.mkdirSync(d);
    fs.copyFileSync(path.join(FIXTURES, 'gpt2-tiny', 'config.json'), path.join(d, 'config.json'));
    expect(() => loadModel(d)).toThrow(/broken: no model\.safetensors/);
    const t = readSafetensors(path.join(FIXTURES, 'gpt2-tiny', 'model.safetensors')).tensors;
    const partial = new Map([...t].filter(([k]) => !k.includes('ln_f')).map(([k, v]) => [k, { dtype: 'F32' as const, shape: v.shape, data: v.data as Float32Array }]));
    writeSafetensors(path.join(d, 'model.safetensors'), partial);
    expect(() => loadModel(d)).toThrow(/missing weights: transformer\.ln_f\.weight, transformer\.ln_f\.bias/);
    const bad = new Map(partial);
    bad.set('transformer.ln_f.weight', { dtype: 'F32', shape: [3], data: new Float32Array(3) });
    writeSafetensors(path.join(d, 'model.safetensors'), bad);
    expect(() => loadModel(d)).toThrow(/"transformer\.ln_f\.weight" has shape \[3\], the model expects \[64\]/);
  });
});

describe('Llama family variants built in tests', () => {
  const base = {
    vocabSize: 40, hiddenSize: 16, intermediateSize: 24, numLayers: 1, numHeads: 4, numKvHeads: 2,
    maxPositions: 32, ropeTheta: 10000, rmsNormEps: 1e-6,
  };
  const seqIds = fromArray(Int32Array.from([3, 7, 1, 9, 12, 5, 30, 2, 8, 4]), [1, 10]);

  function gradcheckModel(m: Llama, names: string[]): void {
    const params = new Map(m.namedParameters());
    const target = fromArray(Int32Array.from([7, 1, 9, 12, 5, 30, 2, 8, 4, 0]), [1, 10]);
    const loss = (): number => noGrad(() => crossEntropy(m.forward(seqIds), target).item());
    for (const p of params.values()) p.grad = null;
    crossEntropy(m.forward(seqIds), target).backward();
    for (const n of names) {
      const p = params.get(n)!;
      const d = p.data as Float64Array;
      for (const i of [0, Math.floor(p.size / 2), p.size - 1]) {
        const keep = d[i]!;
        d[i] = keep + 1e-6;
        const up = loss();
        d[i] = keep - 1e-6;
        const down = loss();
        d[i] = keep;
        const fd = (up - down) / 2e-6;
        expect(Math.abs(fd - (p.grad!.data as Float64Array)[i]!), `${n}[${i}]`).toBeLessThan(1e-6 * Math.max(1, Math.abs(fd)));
      }
    }
  }

  it('Qwen2-style q/k/v biases and an untied head: load, shapes, gradients (float64)', () => {
    const m = withMatrixDtype('f64', () => new Llama({ ...base, qkvBias: true, tieWordEmbeddings: false }));
    m.initWeights(4);
    const names = m.namedParameters().map(([n]) => n);
    expect(names).toContain('model.layers.0.self_attn.q_proj.bias');
    expect(names).toContain('lm_head.weight');
    expect(m.model.layers[0]!.self_attn.k_proj.weight.shape).toEqual([8, 16]);
    gradcheckModel(m, ['model.layers.0.self_attn.q_proj.bias', 'model.layers.0.self_attn.k_proj.weight', 'lm_head.weight', 'model.embed_tokens.weight']);
    // save as qwen2 and load back through config.json
    const d = path.join(tmp, 'qwen2');
    const f32 = new Llama({ ...base, qkvBias: true, tieWordEmbeddings: false });
    f32.initWeights(4);
    saveModel(f32, d, { extraConfig: { model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'] } });
    const back = loadModel(d) as Llama;
    expect(back.config.qkvBias).toBe(true);
    expect(Array.from(logitsOf(back, seqIds))).toEqual(Array.from(logitsOf(f32, seqIds)));
  });

  it('Mistral sliding window: a one-layer model at position t ignores tokens more than window back', () => {
    const m = withMatrixDtype('f64', () => new Llama({ ...base, layerWindows: [3] }));
    m.initWeights(5);
    const changed = fromArray(Int32Array.from([20, 7, 1, 9, 12, 5, 30, 2, 8, 4]), [1, 10]);
    const a = logitsOf(m, seqIds), b = logitsOf(m, changed);
    const V = 40;
    // position 0 is outside the window of positions 3..9, inside for 0..2
    expect(maxAbsDiff(a.subarray(3 * V), b.subarray(3 * V))).toBe(0);
    expect(maxAbsDiff(a.subarray(2 * V, 3 * V), b.subarray(2 * V, 3 * V))).toBeGreaterThan(0);
    gradcheckModel(m, ['model.layers.0.self_attn.v_proj.weight', 'model.layers.0.mlp.down_proj.weight']);
    const full = withMatrixDtype('f64', () => new Llama(base));
    full.initWeights(5);
    expect(maxAbsDiff(logitsOf(full, seqIds).subarray(3 * V), logitsOf(full, changed).subarray(3 * V))).toBeGreaterThan(0);
  });

  it('a Mistral config.json with sliding_window loads its windows', () => {
    const d = path.join(tmp, 'mistral');
    const m = new Llama(base);
    m.initWeights(1);
    saveModel(m, d, { extraConfig: { model_type: 'mistral', sliding_window: 4 } });
    const back = loadModel(d) as Llama;
    expect(back.config.layerWindows).toEqual([4]);
  });
});
