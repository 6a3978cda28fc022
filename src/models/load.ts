/**
 * Loading Hugging Face checkpoint folders (config.json + *.safetensors) into fintune models.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readHfConfig, type Gpt2Config } from '../io/hf_config.js';
import { openSafetensors, toFloat32 } from '../io/safetensors.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';
import { GPT2, gpt2OptionsFromConfig } from './gpt2.js';
import { Llama, llamaOptionsFromConfig } from './llama.js';
import type { CausalLM } from './common.js';
import type { LlamaFamilyConfig } from '../io/hf_config.js';

/** GPT-2 keys come with or without the `transformer.` prefix; causal-mask buffers are not weights. */
export function normalizeGpt2Key(key: string): string | null {
  if (/(^|\.)attn\.(bias|masked_bias)$/.test(key)) return null;
  if (key.startsWith('lm_head.') || key.startsWith('transformer.')) return key;
  return 'transformer.' + key;
}

/** The safetensors files of a checkpoint folder: the single file, or every shard the index names. */
export function checkpointFiles(dir: string): string[] {
  const index = path.join(dir, 'model.safetensors.index.json');
  if (fs.existsSync(index)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(index, 'utf8'));
    } catch (e) {
      throw new Error(`${index}: not valid JSON (${(e as Error).message})`);
    }
    const map = (parsed as { weight_map?: unknown }).weight_map;
    if (!map || typeof map !== 'object') throw new Error(`${index}: no "weight_map" object`);
    const files = [...new Set(Object.values(map as Record<string, unknown>))];
    for (const f of files) {
      if (typeof f !== 'string' || f.includes('/') || f.includes('\\')) throw new Error(`${index}: bad shard name ${JSON.stringify(f)}`);
    }
    return (files as string[]).map((f) => path.join(dir, f));
  }
  const single = path.join(dir, 'model.safetensors');
  if (!fs.existsSync(single)) throw new Error(`${dir}: no model.safetensors or model.safetensors.index.json`);
  return [single];
}

/**
 * Read every float tensor of a checkpoint (f32, converting F16/BF16/F64), tensor by tensor, with keys passed
 * through `rename` (null drops a key).
 */
export function readCheckpointTensors(files: string[], rename: (k: string) => string | null = (k) => k): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const file of files) {
    const f = openSafetensors(file);
    try {
      for (const e of f.entries) {
        const key = rename(e.name);
        if (key === null) continue;
        if (out.has(key)) throw new Error(`${file}: tensor "${e.name}" appears twice in the checkpoint (as ${key})`);
        const raw = f.readTensor(e.name);
        out.set(key, fromArray(new Float32Array(toFloat32(raw.data, raw.dtype)), raw.shape));
      }
    } finally {
      f.close();
    }
  }
  return out;
}

/** Load a GPT-2 checkpoint folder (weights f32). */
export function loadGPT2(dir: string, weightsFile?: string): GPT2 {
  const cfg = readHfConfig(path.join(dir, 'config.json'));
  if (cfg.modelType !== 'gpt2') throw new Error(`${dir}/config.json: model_type "${cfg.modelType}" is not gpt2`);
  const model = new GPT2(gpt2OptionsFromConfig(cfg as Gpt2Config));
  const files = weightsFile ? [path.join(dir, weightsFile)] : checkpointFiles(dir);
  const sd = readCheckpointTensors(files, normalizeGpt2Key);
  if (model.config.tieWordEmbeddings) {
    // A tied head may be stored too (some exporters do); it must equal wte, and is not loaded twice.
    sd.delete('lm_head.weight');
  }
  model.loadStateDict(sd, { source: files.join(', ') });
  return model;
}

/** Llama-family keys are stored as HF writes them; rotary inverse-frequency buffers are derived, not loaded. */
export function normalizeLlamaKey(key: string): string | null {
  if (key.endsWith('.rotary_emb.inv_freq')) return null;
  return key;
}

/** Load any supported checkpoint folder, dispatching on config.json's model_type (weights f32). */
export function loadModel(dir: string): CausalLM {
  const cfg = readHfConfig(path.join(dir, 'config.json'));
  if (cfg.modelType === 'gpt2') return loadGPT2(dir);
  const model = new Llama(llamaOptionsFromConfig(cfg as LlamaFamilyConfig));
  const files = checkpointFiles(dir);
  const sd = readCheckpointTensors(files, normalizeLlamaKey);
  if (model.config.tieWordEmbeddings) sd.delete('lm_head.weight');
  model.loadStateDict(sd, { source: files.join(', ') });
  return model;
}
