import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseHfConfig, readHfConfig, type Gpt2Config, type LlamaFamilyConfig } from '../../src/io/hf_config.js';
import { FIXTURES } from '../helpers/paths.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-cfg-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const llamaBase = {
  model_type: 'llama',
  vocab_size: 128256,
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 16,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 500000.0,
  max_position_embeddings: 131072,
  tie_word_embeddings: true,
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  torch_dtype: 'bfloat16',
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
};

describe('fixture configs', () => {
  it('gpt2-tiny', () => {
    for (const d of ['gpt2-tiny', 'gpt2-tiny-trained']) {
      const c = readHfConfig(path.join(FIXTURES, d)) as Gpt2Config;
      expect(c).toMatchObject({
        modelType: 'gpt2',
        vocabSize: 512,
        hiddenSize: 64,
        numLayers: 2,
        numHeads: 4,
        numKvHeads: 4,
        headDim: 16,
        intermediateSize: 256, // n_inner null → 4 × n_embd
        maxPositions: 64,
        normEps: 1e-5,
        activation: 'gelu_new',
        tieWordEmbeddings: true,
        bosTokenId: 511,
        eosTokenIds: [511],
        padTokenId: null,
        torchDtype: 'float32',
        residDropout: 0,
        embdDropout: 0,
        attnDropout: 0,
        scaleAttnWeights: true,
      });
    }
  });

  it('llama-tiny and the rope-scaled variant', () => {
    for (const d of ['llama-tiny', 'llama-tiny-trained']) {
      const c = readHfConfig(path.join(FIXTURES, d, 'config.json')) as LlamaFamilyConfig;
      expect(c).toMatchObject({
        modelType: 'llama',
        vocabSize: 512,
        hiddenSize: 64,
        intermediateSize: 192,
        numLayers: 2,
        numHeads: 4,
        numKvHeads: 2,
        headDim: 16,
        maxPositions: 64,
        normEps: 1e-5,
        ropeTheta: 500000,
        ropeScaling: null,
        qkvBias: false,
        oBias: false,
        mlpBias: false,
        tieWordEmbeddings: true,
        bosTokenId: 1,
        eosTokenIds: [2],
        slidingWindow: null,
        layerTypes: ['full_attention', 'full_attention'],
        activation: 'silu',
      });
    }
    const s = readHfConfig(path.join(FIXTURES, 'llama-tiny-rope-scaled')) as LlamaFamilyConfig;
    expect(s.ropeScaling).toEqual({ type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 32 });
  });
});

describe('families and defaults', () => {
  it('Llama 3.2 style: GQA, llama3 rope, eos list', () => {
    const c = parseHfConfig(llamaBase) as LlamaFamilyConfig;
    expect(c.headDim).toBe(64);
    expect(c.numKvHeads).toBe(8);
    expect(c.eosTokenIds).toEqual([128001, 128008, 128009]);
    expect(c.ropeScaling).toEqual({ type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    expect(c.torchDtype).toBe('bfloat16');
  });

  it('Llama defaults as in transformers', () => {
    const { rope_scaling, rope_theta, num_key_value_heads, rms_norm_eps, max_position_embeddings, tie_word_embeddings, bos_token_id, eos_token_id, torch_dtype, ...min } = llamaBase;
    const c = parseHfConfig(min) as LlamaFamilyConfig;
    expect(c).toMatchObject({
      numKvHeads: 32, // = num_attention_heads
      normEps: 1e-6,
      ropeTheta: 10000,
      ropeScaling: null,
      maxPositions: 2048,
      tieWordEmbeddings: false,
      bosTokenId: 1,
      eosTokenIds: [2],
      torchDtype: null,
    });
    const b = parseHfConfig({ ...llamaBase, attention_bias: true, mlp_bias: true, head_dim: 128 }) as LlamaFamilyConfig;
    expect(b).toMatchObject({ qkvBias: true, oBias: true, mlpBias: true, headDim: 128 });
    // Older configs spell the scaling type "type"; the newer form nests everything in rope_parameters.
    const old = parseHfConfig({ ...llamaBase, rope_scaling: { type: 'linear', factor: 2 } }) as LlamaFamilyConfig;
    expect(old.ropeScaling).toEqual({ type: 'linear', factor: 2 });
    const v5 = parseHfConfig({ ...min, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } }) as LlamaFamilyConfig;
    expect(v5.ropeTheta).toBe(1e6);
    expect(v5.ropeScaling).toBeNull();
    const v5s = parseHfConfig({ ...min, rope_parameters: { ...llamaBase.rope_scaling, rope_theta: 5e5 } }) as LlamaFamilyConfig;
    expect(v5s.ropeTheta).toBe(5e5);
    expect(v5s.ropeScaling?.type).toBe('llama3');
  });

  it('Qwen2: q/k/v biases, sliding window only when enabled and only above max_window_layers', () => {
    const q = {
      model_type: 'qwen2',
      vocab_size: 151936,
      hidden_size: 896,
      intermediate_size: 4864,
      num_hidden_layers: 4,
      num_attention_heads: 14,
      num_key_value_heads: 2,
      rope_theta: 1000000.0,
      sliding_window: 32768,
      use_sliding_window: false,
      max_window_layers: 2,
      tie_word_embeddings: true,
      bos_token_id: 151643,
      eos_token_id: 151643,
    };
    const c = parseHfConfig(q) as LlamaFamilyConfig;
    expect(c).toMatchObject({ modelType: 'qwen2', qkvBias: true, oBias: false, mlpBias: false, headDim: 64, slidingWindow: null });
    expect(c.layerTypes).toEqual(Array(4).fill('full_attention'));
    const s = parseHfConfig({ ...q, use_sliding_window: true, sliding_window: 16 }) as LlamaFamilyConfig;
    expect(s.slidingWindow).toBe(16);
    expect(s.layerTypes).toEqual(['full_attention', 'full_attention', 'sliding_attention', 'sliding_attention']);
    const { num_key_value_heads, bos_token_id, eos_token_id, ...noKv } = q;
    const d = parseHfConfig({ ...noKv, num_attention_heads: 32, hidden_size: 1024 }) as LlamaFamilyConfig;
    expect(d.numKvHeads).toBe(32); // Qwen2Config's default
    expect(d.bosTokenId).toBeNull();
    expect(d.eosTokenIds).toEqual([]);
  });

  it('Mistral: sliding window on every layer (default 4096), null disables', () => {
    const m = { model_type: 'mistral', vocab_size: 32000, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 3, num_attention_heads: 16 };
    const c = parseHfConfig(m) as LlamaFamilyConfig;
    expect(c).toMatchObject({ slidingWindow: 4096, numKvHeads: 8, headDim: 4, qkvBias: false, oBias: false, maxPositions: 131072 });
    expect(c.layerTypes).toEqual(Array(3).fill('sliding_attention'));
    // MistralConfig's default of 8 key/value heads must divide the head count.
    expect(() => parseHfConfig({ ...m, num_attention_heads: 4 })).toThrow(/config\.json: key "num_key_value_heads": 4 attention heads are not a multiple of 8/);
    const w = parseHfConfig({ ...m, num_key_value_heads: 2, sliding_window: 8 }) as LlamaFamilyConfig;
    expect(w.slidingWindow).toBe(8);
    const n = parseHfConfig({ ...m, num_key_value_heads: 2, sliding_window: null }) as LlamaFamilyConfig;
    expect(n.slidingWindow).toBeNull();
    expect(n.layerTypes).toEqual(Array(3).fill('full_attention'));
  });

  it('GPT-2 as the original checkpoint writes it, with defaults', () => {
    const c = parseHfConfig({ model_type: 'gpt2', vocab_size: 50257, n_ctx: 1024, n_embd: 768, n_head: 12, n_layer: 12 }) as Gpt2Config;
    expect(c).toMatchObject({
      maxPositions: 1024,
      intermediateSize: 3072,
      activation: 'gelu_new',
      normEps: 1e-5,
      tieWordEmbeddings: true,
      bosTokenId: 50256,
      eosTokenIds: [50256],
      residDropout: 0.1,
    });
  });
});

describe('errors', () => {
  const file = path.join(tmp, 'config.json');
  const bad = (obj: unknown, re: RegExp) => {
    fs.writeFileSync(file, typeof obj === 'string' ? obj : JSON.stringify(obj));
    expect(() => readHfConfig(tmp)).toThrow(re);
    try {
      readHfConfig(tmp);
    } catch (e) {
      expect((e as Error).message.startsWith(`${file}: `)).toBe(true);
    }
  };

  it('names the file and the key', () => {
    bad('{"model_type": "llama",', /not valid JSON/);
    bad('[1]', /expected a JSON object/);
    bad({ vocab_size: 3 }, /required key "model_type" is missing/);
    bad({ model_type: 'bert' }, /model_type "bert" is not supported \(supported: gpt2, llama, qwen2, mistral\)/);
    bad({ model_type: 7 }, /key "model_type": expected a string, got 7/);
    bad({ ...llamaBase, num_attention_heads: '32' }, /key "num_attention_heads": expected a positive integer, got "32"/);
    bad({ ...llamaBase, hidden_size: undefined }, /required key "hidden_size" is missing/);
    bad({ ...llamaBase, intermediate_size: 0 }, /key "intermediate_size": expected a positive integer, got 0/);
    bad({ ...llamaBase, num_key_value_heads: 5 }, /key "num_key_value_heads": 32 attention heads are not a multiple of 5/);
    bad({ ...llamaBase, hidden_size: 2050 }, /key "hidden_size": hidden size 2050 is not divisible by 32 attention heads/);
    bad({ ...llamaBase, rms_norm_eps: -1 }, /key "rms_norm_eps": expected a positive number/);
    bad({ ...llamaBase, tie_word_embeddings: 'yes' }, /key "tie_word_embeddings": expected true or false/);
    bad({ ...llamaBase, eos_token_id: [1, 'x'] }, /key "eos_token_id": expected a token id or a list/);
    bad({ ...llamaBase, rope_scaling: { rope_type: 'yarn', factor: 4 } }, /key "rope_scaling.rope_type": rope type "yarn" is not supported/);
    bad({ ...llamaBase, rope_scaling: { rope_type: 'llama3', factor: 8 } }, /key "rope_scaling.low_freq_factor": required for rope type "llama3" but missing/);
    bad({ ...llamaBase, rope_scaling: { ...llamaBase.rope_scaling, high_freq_factor: 1 } }, /rope_scaling.high_freq_factor": must exceed low_freq_factor/);
    bad({ ...llamaBase, rope_scaling: 'llama3' }, /key "rope_scaling": expected an object or null/);
    bad({ ...llamaBase, model_type: 'qwen2', use_sliding_window: true, max_window_layers: -1 }, /key "max_window_layers": expected a non-negative integer, got -1/);
    bad({ ...llamaBase, model_type: 'mistral', sliding_window: '4k' }, /key "sliding_window": expected a positive integer, got "4k"/);
    bad({ ...llamaBase, layer_types: ['full_attention'] }, /key "layer_types": expected 16 entries/);
    bad({ model_type: 'gpt2', vocab_size: 10, n_embd: 64, n_layer: 2 }, /required key "n_head" \(or "num_attention_heads"\) is missing/);
    bad({ model_type: 'gpt2', vocab_size: 10, n_embd: 64, n_layer: 2, n_head: 4, resid_pdrop: 1.5 }, /key "resid_pdrop": expected a number in \[0, 1\)/);
    expect(() => readHfConfig(path.join(tmp, 'missing'))).toThrow(/missing: not found/);
  });

  it('fuzz: truncated and mutated configs end in an Error naming the file', () => {
    let seed = 99;
    const rnd = () => ((seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 4294967296);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const sources = [
      fs.readFileSync(path.join(FIXTURES, 'gpt2-tiny/config.json'), 'utf8'),
      fs.readFileSync(path.join(FIXTURES, 'llama-tiny-rope-scaled/config.json'), 'utf8'),
      JSON.stringify({ ...llamaBase, model_type: 'qwen2', use_sliding_window: true, sliding_window: 64, max_window_layers: 3 }),
      JSON.stringify({ ...llamaBase, model_type: 'mistral', sliding_window: 128 }),
    ];
    const weird: unknown[] = [null, -1, 0, 0.5, 1e308, 'x', '', [], {}, [1, 2], true, { rope_type: 'llama3' }, 2 ** 60];
    let threw = 0;
    for (let c = 0; c < 300; c++) {
      const src = pick(sources);
      let text: string;
      const kind = c % 3;
      if (kind === 0) text = src.slice(0, Math.floor(rnd() * src.length));
      else if (kind === 1) {
        const o = JSON.parse(src) as Record<string, unknown>;
        const keys = Object.keys(o);
        for (let m = 0; m < 1 + Math.floor(rnd() * 3); m++) {
          const k = pick(keys);
          if (rnd() < 0.2) delete o[k];
          else o[k] = pick(weird);
        }
        text = JSON.stringify(o);
      } else {
        const at = Math.floor(rnd() * src.length);
        text = src.slice(0, at) + pick(['"', '{', '}', ',', ':', 'x', '[', '\u0000']) + src.slice(at + 1);
      }
      fs.writeFileSync(file, text);
      try {
        readHfConfig(file);
      } catch (e) {
        threw++;
        if (!(e instanceof Error) || e.constructor !== Error || !e.message.startsWith(`${file}: `)) {
          throw new Error(`case ${c}: unexpected failure ${String(e)} for ${text}`);
        }
      }
    }
    expect(threw).toBeGreaterThan(150);
  });
});
