/**
 * Prefix and prompt tuning checked against the base model itself: a prefix made of the keys/values that real
 * tokens produce must give the same logits as running those tokens first (this pins PEFT's (layer, key/value,
 * head, dim) order, the positions after the prefix and the GQA head count); prompt tuning initialized from
 * token embeddings equals prepending the tokens. Also the saved tensors' names and shapes as PEFT writes them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/models/load.js';
import { fromArray, noGrad, type Tensor } from '../../src/tensor/index.js';
import { injectPrefix } from '../../src/peft/prefix/model.js';
import { injectPrompt } from '../../src/peft/prompt/model.js';
import { saveAdapter } from '../../src/peft/save.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { dims } from '../../src/peft/common.js';
import { applyMethod } from '../../src/peft/registry.js';
import { generate } from '../../src/generate/generate.js';
import { FIXTURES } from '../helpers/paths.js';
import { get, maxAbsDiff, readReference } from '../helpers/fixtures.js';

const flat = (t: Tensor): Float32Array => t.toFlat() as Float32Array;

describe.each(['gpt2-tiny', 'llama-tiny'])('prompt learning on %s', (folder) => {
  const dir = path.join(FIXTURES, folder);
  const ref = readReference(folder);
  const all = get(ref, 'input_ids').toFlat() as Int32Array; // [2, 16]
  const P = 4,
    T = 8;
  const row = (b: number, from: number, n: number): number[] => Array.from(all.subarray(b * 16 + from, b * 16 + from + n));
  // One sequence: P "virtual" tokens then T real ones.
  const pre = row(0, 0, P);
  const real = row(0, P, T);
  const ids = fromArray(Int32Array.from(real), [1, T]);
  const full = noGrad(() => loadModel(dir).forward(fromArray(Int32Array.from([...pre, ...real]), [1, P + T])));
  const expected = flat(full.slice(1, P, P + T).contiguous());

  it('a prefix of real keys/values equals running those tokens first (order, positions, GQA)', () => {
    const model = loadModel(dir);
    const d = dims(model);
    const caches = model.makeCaches(1, P);
    noGrad(() => model.forward(fromArray(Int32Array.from(pre), [1, P]), { caches }));
    const enc = injectPrefix(model, { numVirtualTokens: P });
    const kv = d.kvHeads * d.headDim;
    expect(enc.embedding.weight.shape).toEqual([P, d.layers * 2 * kv]);
    const w = enc.embedding.weight.data as Float32Array;
    for (let l = 0; l < d.layers; l++) {
      const k = flat(caches[l]!.k.slice(2, 0, P).contiguous());
      const v = flat(caches[l]!.v.slice(2, 0, P).contiguous());
      for (let p = 0; p < P; p++)
        for (let h = 0; h < d.kvHeads; h++)
          for (let j = 0; j < d.headDim; j++) {
            w[p * d.layers * 2 * kv + ((l * 2 + 0) * d.kvHeads + h) * d.headDim + j] = k[(h * P + p) * d.headDim + j]!;
            w[p * d.layers * 2 * kv + ((l * 2 + 1) * d.kvHeads + h) * d.headDim + j] = v[(h * P + p) * d.headDim + j]!;
          }
    }
    const got = flat(noGrad(() => model.forward(ids)));
    expect(maxAbsDiff(got, expected)).toBeLessThan(2e-5);
    // Generation through a cache: the prefix is written first, then the tokens.
    const gen = model.makeCaches(1, P + T);
    const stepwise = flat(noGrad(() => model.forward(ids, { caches: gen })));
    expect(maxAbsDiff(stepwise, expected)).toBeLessThan(2e-5);

    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'prefix-'));
    saveAdapter(model, out);
    const { tensors } = readSafetensors(path.join(out, 'adapter_model.safetensors'));
    expect([...tensors.keys()]).toEqual(['prompt_embeddings']);
    expect(tensors.get('prompt_embeddings')!.shape).toEqual([P, d.layers * 2 * kv]);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
    expect(cfg).toMatchObject({ peft_type: 'PREFIX_TUNING', task_type: 'CAUSAL_LM', num_virtual_tokens: P, token_dim: kv, num_attention_heads: d.kvHeads, num_layers: d.layers, num_transformer_submodules: 1, prefix_projection: false });
    fs.rmSync(out, { recursive: true });
  });

  it('prefix projection (MLP) trains and saves its output', () => {
    const model = loadModel(dir);
    const enc = injectPrefix(model, { numVirtualTokens: P, prefixProjection: true, encoderHiddenSize: 16 });
    expect(model.namedParameters().filter(([, p]) => p.requiresGrad).map(([k]) => k)).toEqual([
      'prompt_encoder.default.embedding.weight',
      'prompt_encoder.default.transform.0.weight',
      'prompt_encoder.default.transform.0.bias',
      'prompt_encoder.default.transform.2.weight',
      'prompt_encoder.default.transform.2.bias',
    ]);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'prefixp-'));
    saveAdapter(model, out);
    const { tensors } = readSafetensors(path.join(out, 'adapter_model.safetensors'));
    const d = dims(model);
    expect(tensors.get('prompt_embeddings')!.shape).toEqual([P, d.layers * 2 * d.kvHeads * d.headDim]);
    expect(maxAbsDiff(new Float32Array(tensors.get('prompt_embeddings')!.data.buffer.slice(0)), flat(noGrad(() => enc.prefixMatrix())))).toBe(0);
    fs.rmSync(out, { recursive: true });
  });

  it('prompt tuning initialized from tokens equals prepending them', () => {
    const model = loadModel(dir);
    // Init text through a tokenizer function (here a fake one returning the fixture's ids).
    injectPrompt(model, { numVirtualTokens: P, promptTuningInit: 'TEXT', promptTuningInitText: 'four tokens', tokenize: () => pre });
    const got = flat(noGrad(() => model.forward(ids)));
    expect(got.length).toBe(T * expected.length / T);
    expect(maxAbsDiff(got, expected)).toBeLessThan(2e-5);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'prompt-'));
    saveAdapter(model, out);
    const { tensors } = readSafetensors(path.join(out, 'adapter_model.safetensors'));
    expect([...tensors.keys()]).toEqual(['prompt_embeddings']);
    expect(tensors.get('prompt_embeddings')!.shape).toEqual([P, dims(model).hidden]);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
    expect(cfg).toMatchObject({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: P, token_dim: dims(model).hidden, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'four tokens' });
    expect(() => injectPrompt(loadModel(dir), { numVirtualTokens: P, promptTuningInit: 'TEXT' })).toThrow(/initTokenIds/);
    fs.rmSync(out, { recursive: true });
  });
});

describe.each(['gpt2-tiny-trained', 'llama-tiny-trained'])('generation with prompt learning on %s', (folder) => {
  it.each(['prefix', 'prompt'])('%s: cached greedy decoding (padded batch) equals recomputing without a cache', (method) => {
    const model = loadModel(path.join(FIXTURES, folder));
    applyMethod(model, method, { numVirtualTokens: 3, seed: 11 });
    const ref = readReference(folder);
    const prompt = get(ref, 'greedy.prompt').toArray() as number[][];
    const prompts = [prompt[0]!, prompt[1]!.slice(2)]; // different lengths: left padding and a mask
    const N = 6;
    const got = generate(model, prompts, { maxNewTokens: N }).ids;
    for (const [b, p] of prompts.entries()) {
      const seq = [...p];
      for (let s = 0; s < N; s++) {
        const logits = noGrad(() => model.forward(fromArray(Int32Array.from(seq), [1, seq.length])));
        const V = logits.shape[2]!;
        const last = (logits.toFlat() as Float32Array).subarray((seq.length - 1) * V);
        seq.push(last.indexOf(Math.max(...last)));
      }
      expect(got[b], `row ${b}`).toEqual(seq.slice(p.length));
    }
  });
});
