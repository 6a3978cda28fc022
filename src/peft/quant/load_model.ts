/**
 * Checkpoint folders for quantized bases: load a Hugging Face folder straight into a quantized model (either a
 * "-bnb-4bit" folder, whose layers are stored quantized, or an ordinary one, quantized tensor by tensor as it
 * is read), and save a quantized model as a folder that transformers loads as a bitsandbytes model.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { readHfConfig } from '../../io/hf_config.js';
import type { CausalLM } from '../../models/common.js';
import { checkpointFiles, modelFromConfig, normalizeGpt2Key, normalizeLlamaKey } from '../../models/load.js';
import { hfConfigOf } from '../../models/save.js';
import type { Module } from '../../nn/module.js';
import { bnbQuantizationConfig, loadQuantizedCheckpoint, saveQuantizedCheckpoint, type LoadQuantizedReport } from './bnb_format.js';
import { quantizedModules, type QuantizeModelOptions } from './model.js';
import { Params4bit } from './weight.js';

export interface LoadQuantizedModelOptions extends QuantizeModelOptions {
  /** Storage of the unquantized matrices (embeddings, an untied head): 'f32' (default) or 'bf16'. */
  matrixDtype?: 'f32' | 'bf16';
  /** Read this weights file of the folder instead of model.safetensors / the shard index. */
  weightsFile?: string;
}

/**
 * A quantized model from a checkpoint folder. Layers stored in bitsandbytes' format load as they are; float
 * Linear weights are quantized as they are read (with `type`, `blockSize`, `doubleQuant`, `skip`), so the
 * float32 model never exists in memory.
 */
export function loadQuantizedModel(dir: string, opts: LoadQuantizedModelOptions = {}): { model: CausalLM; report: LoadQuantizedReport } {
  const cfg = readHfConfig(path.join(dir, 'config.json'));
  const model = modelFromConfig(cfg, opts.matrixDtype ?? 'f32');
  const files = opts.weightsFile ? [path.join(dir, opts.weightsFile)] : checkpointFiles(dir);
  const rename = cfg.modelType === 'gpt2' ? normalizeGpt2Key : normalizeLlamaKey;
  const report = loadQuantizedCheckpoint(model as unknown as Module, files, { rename, quantize: opts });
  return { model, report };
}

/**
 * Write a quantized model as a folder: model.safetensors in bitsandbytes' layout and config.json with the
 * `quantization_config` transformers expects. Unquantized tensors are written as float32 (or bf16).
 */
export function saveQuantizedModel(model: CausalLM, dir: string, opts: { dtype?: 'F32' | 'BF16' } = {}): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'model.safetensors');
  saveQuantizedCheckpoint(model as unknown as Module, file, { dtype: opts.dtype });
  const mods = quantizedModules(model as unknown as Module);
  const kinds = new Set(mods.map(([, m]) => m.quantType));
  if (kinds.size > 1) throw new Error(`saveQuantizedModel: the model mixes quantization types (${[...kinds].join(', ')})`);
  const first = mods[0]?.[1].qweight;
  const config: Record<string, unknown> = { ...hfConfigOf(model) };
  if (first instanceof Params4bit) {
    config.quantization_config = bnbQuantizationConfig({ type: first.kind, doubleQuant: first.nested !== null });
  } else if (first) {
    config.quantization_config = {
      _load_in_4bit: false,
      _load_in_8bit: true,
      llm_int8_has_fp16_weight: false,
      llm_int8_skip_modules: null,
      llm_int8_threshold: 6.0,
      load_in_4bit: false,
      load_in_8bit: true,
      quant_method: 'bitsandbytes',
    };
  } else {
    delete config.quantization_config;
  }
  config.torch_dtype = opts.dtype === 'BF16' ? 'bfloat16' : 'float32';
  const cfgFile = path.join(dir, 'config.json');
  writeFileAtomic(cfgFile, JSON.stringify(config, null, 2) + '\n');
  return [file, cfgFile];
}
