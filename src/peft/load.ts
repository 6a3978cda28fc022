/**
 * Loading an adapter folder written by PEFT or by fintune (save.ts) onto a base model: the config decides the
 * method, the method is injected under `name`, then every stored tensor is mapped back to its in-memory key
 * (the adapter name put back) and copied in. Every stored tensor must find its parameter and every adapter
 * parameter must be stored.
 */
import fs from 'node:fs';
import path from 'node:path';
import { openSafetensors, toFloat32 } from '../io/safetensors.js';
import type { CausalLM } from '../models/common.js';
import { fmtShape, type Tensor } from '../tensor/tensor.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, KEY_PREFIX } from './save.js';
import { loraConfigFromJson } from './lora/config.js';
import { injectLora } from './lora/model.js';
import { ia3ConfigFromJson } from './ia3/config.js';
import { injectIa3 } from './ia3/model.js';
import { prefixConfigFromJson, prefixShapes } from './prefix/config.js';
import { injectPrefix } from './prefix/model.js';
import { promptConfigFromJson } from './prompt/config.js';
import { injectPrompt } from './prompt/model.js';
import { applyBitFit } from './bitfit/model.js';
import { injectBottleneck } from './bottleneck/model.js';
import type { BottleneckConfig } from './bottleneck/config.js';
import { dims } from './common.js';
import { setAdapter } from './state.js';

export interface LoadAdapterOptions {
  name?: string;
  /** Keep the adapter trainable (PEFT's is_trainable); default false: every parameter frozen (inference). */
  trainable?: boolean;
}

export function readAdapterConfig(dir: string): Record<string, unknown> {
  const file = path.join(dir, ADAPTER_CONFIG);
  if (!fs.existsSync(file)) throw new Error(`${dir}: no ${ADAPTER_CONFIG}`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

function readTensors(dir: string): Map<string, { shape: number[]; data: Float32Array }> {
  const file = path.join(dir, ADAPTER_WEIGHTS);
  if (!fs.existsSync(file)) {
    if (fs.existsSync(path.join(dir, 'adapter_model.bin'))) throw new Error(`${dir}: adapter_model.bin (pickle) is not read; re-save with safetensors`);
    throw new Error(`${dir}: no ${ADAPTER_WEIGHTS}`);
  }
  const f = openSafetensors(file);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  try {
    for (const e of f.entries) {
      const raw = f.readTensor(e.name);
      if (!['F32', 'F16', 'BF16', 'F64'].includes(raw.dtype)) throw new Error(`${file}: "${e.name}" is ${raw.dtype}, expected floats`);
      out.set(e.name, { shape: [...e.shape], data: raw.dtype === 'F64' ? new Float32Array(raw.data as Float64Array) : toFloat32(raw.data, raw.dtype) });
    }
  } finally {
    f.close();
  }
  return out;
}

function copyInto(dst: Tensor, src: { shape: number[]; data: Float32Array }, key: string): void {
  if (src.shape.length !== dst.shape.length || src.shape.some((d, i) => d !== dst.shape[i])) {
    throw new Error(`adapter tensor "${key}" has shape ${fmtShape(src.shape)}, the model expects ${fmtShape(dst.shape)}`);
  }
  const c = dst.contiguous();
  if (c !== dst && c.storage !== dst.storage) throw new Error(`adapter tensor "${key}": target is not contiguous`);
  (dst.data as Float32Array).set(src.data, dst.offset);
}

/** Stored PEFT key → in-memory key with the adapter name put back. */
export function inMemoryKey(stored: string, name: string): string {
  let k = stored.startsWith(KEY_PREFIX) ? stored.slice(KEY_PREFIX.length) : stored;
  k = k
    .replace(/\.lora_(A|B)\.weight$/, `.lora_$1.${name}.weight`)
    .replace(/\.lora_magnitude_vector$/, `.lora_magnitude_vector.${name}.weight`)
    .replace(/\.ia3_l$/, `.ia3_l.${name}`)
    .replace(/\.adapters\.(\d+|adapter_)/, `.adapters.${name}.$1`)
    .replace(/^mql5_stack\./, `mql5_${name}.`);
  return k;
}

/** Load an adapter folder onto `model` as adapter `name` (default "default") and make it active. */
export function loadAdapter(model: CausalLM, dir: string, opts: LoadAdapterOptions = {}): { name: string; method: string; config: Record<string, unknown> } {
  const name = opts.name ?? 'default';
  const cfg = readAdapterConfig(dir);
  const stored = readTensors(dir);
  if (cfg.task_type && cfg.task_type !== 'CAUSAL_LM') throw new Error(`${dir}: task_type ${String(cfg.task_type)}; fintune runs CAUSAL_LM adapters`);
  let method: string;
  switch (cfg.peft_type) {
    case 'LORA':
    {
      // Initialized as PEFT's default (the stored tensors replace it), recorded as the file says.
      const parsed = loraConfigFromJson(cfg);
      injectLora(model, { ...parsed, initLoraWeights: true }, name).config.initLoraWeights = parsed.initLoraWeights;
    }
      method = 'lora';
      break;
    case 'IA3':
      injectIa3(model, ia3ConfigFromJson(cfg), name);
      method = 'ia3';
      break;
    case 'PREFIX_TUNING': {
      const c = prefixConfigFromJson(cfg);
      const s = prefixShapes(model);
      if (cfg.num_layers !== undefined && cfg.num_layers !== s.numLayers) throw new Error(`${dir}: prefix for ${String(cfg.num_layers)} layers, the model has ${s.numLayers}`);
      const enc = injectPrefix(model, c, name);
      copyInto(enc.embedding.weight, need(stored, 'prompt_embeddings', dir), 'prompt_embeddings');
      stored.delete('prompt_embeddings');
      method = 'prefix';
      break;
    }
    case 'PROMPT_TUNING': {
      const c = promptConfigFromJson(cfg);
      if (cfg.token_dim !== undefined && cfg.token_dim !== dims(model).hidden) throw new Error(`${dir}: token_dim ${String(cfg.token_dim)} ≠ the model's hidden size ${dims(model).hidden}`);
      const enc = injectPrompt(model, c, name);
      copyInto(enc.embedding.weight, need(stored, 'prompt_embeddings', dir), 'prompt_embeddings');
      stored.delete('prompt_embeddings');
      method = 'prompt';
      break;
    }
    case 'FINTUNE_BITFIT':
    case 'FINTUNE_BOTTLENECK': {
      const f = cfg.fintune as Record<string, unknown> & { method: string };
      if (f.method === 'bitfit') applyBitFit(model, { pattern: (f.pattern as string | null) ?? null });
      else injectBottleneck(model, f as unknown as BottleneckConfig, name);
      method = f.method;
      break;
    }
    default:
      throw new Error(`${dir}: peft_type ${String(cfg.peft_type)} is not supported (LORA, IA3, PREFIX_TUNING, PROMPT_TUNING, FINTUNE_*)`);
  }
  if (stored.size) {
    const sd = model.stateDict();
    for (const [k, v] of stored) {
      const key = inMemoryKey(k, name);
      const dst = sd.get(key) ?? tensorAt(model, key);
      if (!dst) throw new Error(`${dir}: tensor "${k}" matches no parameter of the model with this adapter (looked for "${key}")`);
      copyInto(dst, v, k);
    }
    // Every adapter parameter must have come from the file (a partial adapter would run on random init).
    const loaded = new Set([...stored.keys()].map((k) => inMemoryKey(k, name)));
    const own = [...sd.keys()].filter((k) => new RegExp(`\\.(lora_A|lora_B|lora_magnitude_vector|ia3_l|adapters)\\.${name}(\\.|$)`).test(k));
    const missing = own.filter((k) => !loaded.has(k));
    if (missing.length) throw new Error(`${dir}: the adapter file lacks ${missing.length} tensors, e.g. ${missing.slice(0, 3).join(', ')}`);
  }
  if (!opts.trainable) for (const p of model.parameters()) p.requiresGrad = false;
  setAdapter(model, name);
  return { name, method, config: cfg };
}

/** The tensor at a dotted property path (finds shared tensors stateDict lists under their first name only). */
function tensorAt(model: CausalLM, key: string): Tensor | undefined {
  let cur: unknown = model;
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur instanceof Object && 'shape' in cur && 'storage' in cur ? (cur as Tensor) : undefined;
}

function need(m: Map<string, { shape: number[]; data: Float32Array }>, k: string, dir: string): { shape: number[]; data: Float32Array } {
  const v = m.get(k);
  if (!v) throw new Error(`${dir}: ${ADAPTER_WEIGHTS} has no "${k}"`);
  return v;
}
