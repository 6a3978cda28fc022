/**
 * Loading Hugging Face checkpoint folders (config.json + *.safetensors, single or sharded) into fintune models.
 *
 * Weights are read tensor by tensor with positional reads straight into the parameters' own memory when the
 * stored dtype is the parameter's (no second copy, so a checkpoint is never held twice); other dtypes are
 * converted one tensor at a time. With `dtype: 'bf16'`, matrices (embeddings, projections) are kept in bf16 —
 * half the memory, computed with fp32 accumulation — while norms and biases stay f32.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readHfConfig, type Gpt2Config, type HfModelConfig, type LlamaFamilyConfig } from '../io/hf_config.js';
import { openSafetensors, toFloat32, type SafetensorsDtype } from '../io/safetensors.js';
import { f32ToBf16 } from '../tensor/half.js';
import { fmtShape, type Tensor } from '../tensor/tensor.js';
import { withMatrixDtype } from '../nn/module.js';
import { GPT2, gpt2OptionsFromConfig } from './gpt2.js';
import { Llama, llamaOptionsFromConfig } from './llama.js';
import type { CausalLM } from './common.js';

export interface LoadOptions {
  /** Storage of matrix weights: 'f32' (default, trainable) or 'bf16' (inference, frozen). */
  dtype?: 'f32' | 'bf16';
  /** Read this weights file of the folder instead of model.safetensors / the shard index. */
  weightsFile?: string;
}

/** GPT-2 keys come with or without the `transformer.` prefix; causal-mask buffers are not weights. */
export function normalizeGpt2Key(key: string): string | null {
  if (/(^|\.)attn\.(bias|masked_bias)$/.test(key)) return null;
  if (key.startsWith('lm_head.') || key.startsWith('transformer.')) return key;
  return 'transformer.' + key;
}

/** Llama-family keys are stored as HF writes them; rotary inverse-frequency buffers are derived, not loaded. */
export function normalizeLlamaKey(key: string): string | null {
  if (key.endsWith('.rotary_emb.inv_freq')) return null;
  return key;
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
    if (!map || typeof map !== 'object' || Array.isArray(map)) throw new Error(`${index}: no "weight_map" object`);
    const files = [...new Set(Object.values(map as Record<string, unknown>))];
    for (const f of files) {
      if (typeof f !== 'string' || f.includes('/') || f.includes('\\') || f === '..') {
        throw new Error(`${index}: bad shard name ${JSON.stringify(f)}`);
      }
      if (!fs.existsSync(path.join(dir, f))) throw new Error(`${index}: shard "${f}" is missing from ${dir}`);
    }
    if (files.length === 0) throw new Error(`${index}: "weight_map" names no shards`);
    return (files as string[]).map((f) => path.join(dir, f));
  }
  const single = path.join(dir, 'model.safetensors');
  if (!fs.existsSync(single)) throw new Error(`${dir}: no model.safetensors or model.safetensors.index.json`);
  return [single];
}

/**
 * Fill a module's state dict from checkpoint files. Every model key must be found exactly once; stored keys the
 * model does not have are an error unless `ignore(key)` says otherwise.
 */
export function loadWeightsInto(
  target: Map<string, Tensor>,
  files: string[],
  rename: (k: string) => string | null,
  ignore: (k: string) => boolean = () => false,
): void {
  const seen = new Set<string>();
  for (const file of files) {
    const f = openSafetensors(file);
    try {
      for (const e of f.entries) {
        const key = rename(e.name);
        if (key === null || ignore(key)) continue;
        const dst = target.get(key);
        if (!dst) throw new Error(`${file}: tensor "${e.name}" is not a weight of this model (as "${key}")`);
        if (seen.has(key)) throw new Error(`${file}: tensor "${e.name}" appears twice in the checkpoint (as "${key}")`);
        seen.add(key);
        if (e.shape.length !== dst.shape.length || e.shape.some((d, i) => d !== dst.shape[i])) {
          throw new Error(`${file}: tensor "${e.name}" has shape ${fmtShape(e.shape)}, the model expects ${fmtShape(dst.shape)}`);
        }
        const d = dst.data;
        const bytes = new Uint8Array(d.buffer, d.byteOffset + dst.offset * d.BYTES_PER_ELEMENT, dst.size * d.BYTES_PER_ELEMENT);
        if (sameStorage(e.dtype, dst.dtype)) {
          f.readInto(e.name, bytes); // straight into the parameter: no intermediate copy
          continue;
        }
        const raw = f.readTensor(e.name);
        if (raw.dtype === 'I64' || raw.dtype === 'I32' || raw.dtype === 'BOOL' || raw.dtype === 'U8' || raw.dtype === 'I8' || raw.dtype === 'I16') {
          throw new Error(`${file}: tensor "${e.name}" is ${raw.dtype}, expected a float weight`);
        }
        const f32 = toFloat32(raw.data, raw.dtype);
        if (dst.dtype === 'bf16') (d as Uint16Array).set(f32ToBf16(f32), dst.offset);
        else (d as Float32Array).set(f32, dst.offset);
      }
    } finally {
      f.close();
    }
  }
  const missing = [...target.keys()].filter((k) => !seen.has(k));
  if (missing.length) throw new Error(`${files.join(', ')}: missing weights: ${missing.join(', ')}`);
}

function sameStorage(stored: SafetensorsDtype, dtype: string): boolean {
  return (stored === 'F32' && dtype === 'f32') || (stored === 'BF16' && dtype === 'bf16') || (stored === 'F64' && dtype === 'f64');
}

/** A model object for a parsed config, with its matrices in `dtype` (weights uninitialized: load or init them). */
export function modelFromConfig(cfg: HfModelConfig, dtype: 'f32' | 'bf16' = 'f32'): CausalLM {
  return withMatrixDtype(dtype, () => {
    const m: CausalLM =
      cfg.modelType === 'gpt2'
        ? new GPT2(gpt2OptionsFromConfig(cfg as Gpt2Config))
        : new Llama(llamaOptionsFromConfig(cfg as LlamaFamilyConfig));
    (m as CausalLM & { hfConfig?: HfModelConfig }).hfConfig = cfg;
    return m;
  });
}

/** Load any supported checkpoint folder, dispatching on config.json's model_type. */
export function loadModel(dir: string, opts: LoadOptions = {}): CausalLM {
  const cfg = readHfConfig(path.join(dir, 'config.json'));
  const model = modelFromConfig(cfg, opts.dtype ?? 'f32');
  const files = opts.weightsFile ? [path.join(dir, opts.weightsFile)] : checkpointFiles(dir);
  const rename = cfg.modelType === 'gpt2' ? normalizeGpt2Key : normalizeLlamaKey;
  // A tied head may also be stored (some exporters do); the model's head is the embedding itself.
  const tied = cfg.tieWordEmbeddings;
  loadWeightsInto(model.stateDict(), files, rename, (k) => tied && k === 'lm_head.weight');
  return model;
}

/** Load a GPT-2 checkpoint folder. */
export function loadGPT2(dir: string, weightsFile?: string): GPT2 {
  const cfg = readHfConfig(path.join(dir, 'config.json'));
  if (cfg.modelType !== 'gpt2') throw new Error(`${dir}/config.json: model_type "${cfg.modelType}" is not gpt2`);
  return loadModel(dir, { weightsFile }) as GPT2;
}
