/**
 * Saving an adapter folder: `adapter_config.json` + `adapter_model.safetensors`.
 *
 * LoRA, DoRA, IA3, prefix and prompt tuning are written as Hugging Face PEFT writes them, so PEFT loads them
 * with `PeftModel.from_pretrained`: keys `base_model.model.<module>.lora_A.weight` (the adapter name removed),
 * DoRA's `…lora_magnitude_vector` without `.weight`, IA3's `…ia3_l`, and the prompt methods' single
 * `prompt_embeddings` tensor (prefix tuning: the encoder's output, so no MLP is needed to load it).
 * BitFit and bottleneck adapters use fintune's own layout (peft_type FINTUNE_*; docs/peft.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { serializeSafetensors, type SafetensorsTensor } from '../io/safetensors.js';
import type { CausalLM } from '../models/common.js';
import { noGrad } from '../tensor/autograd.js';
import type { Tensor } from '../tensor/tensor.js';
import { adapterRecord } from './state.js';
import { loraConfigToJson, type LoraConfig } from './lora/config.js';
import { loraLayers } from './lora/model.js';
import { ia3ConfigToJson, type IA3Config } from './ia3/config.js';
import { ia3Layers } from './ia3/model.js';
import { prefixConfigToJson, type PrefixConfig } from './prefix/config.js';
import { promptConfigToJson, type PromptConfig } from './prompt/config.js';
import { promptEncoders } from './prompt_hook.js';
import { PrefixEncoder } from './prefix/layer.js';
import { PromptEmbedding } from './prompt/layer.js';
import { ModulesToSaveWrapper } from './modules_to_save.js';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
/** PEFT's prefix for LoRA/IA3 keys of a *ForCausalLM model (PeftModel.base_model = LoraModel, .model = the LM). */
export const KEY_PREFIX = 'base_model.model.';

export interface SavedAdapter {
  config: Record<string, unknown>;
  tensors: Map<string, Tensor>;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The adapter's config and tensors under the names PEFT (or fintune's layout) stores them. */
export function adapterStateDict(model: CausalLM, name = 'default', opts: { baseModelNameOrPath?: string | null } = {}): SavedAdapter {
  const rec = adapterRecord(model, name);
  const sd = model.stateDict();
  const tensors = new Map<string, Tensor>();
  const base = opts.baseModelNameOrPath;
  const seg = new RegExp(`\\.${escapeRe(name)}(?=\\.|$)`);
  switch (rec.method) {
    case 'lora': {
      const c = { ...(rec.config as LoraConfig) };
      if (base !== undefined) c.baseModelNameOrPath = base;
      const wrapped = new Set(loraLayers(model).filter(([, l]) => l.adapterNames().includes(name)).map(([p]) => p));
      for (const [k, t] of sd) {
        const isLora = /\.lora_(A|B|magnitude_vector)\./.test(k);
        if (isLora) {
          if (!seg.test(k)) continue; // another adapter's
          tensors.set(KEY_PREFIX + k.replace(seg, '').replace(/\.lora_magnitude_vector\.weight$/, '.lora_magnitude_vector'), t);
          continue;
        }
        const bias = c.bias ?? 'none';
        if (k.endsWith('.bias') && (bias === 'all' || (bias === 'lora_only' && wrapped.has(k.replace(/\.base_layer\.bias$/, ''))))) tensors.set(KEY_PREFIX + k, t);
      }
      saveModulesToSave(model, name, tensors);
      const fan = loraLayers(model).some(([, l]) => l.adapterNames().includes(name) && l.fanInFanOut);
      return { config: loraConfigToJson(c, fan), tensors };
    }
    case 'ia3': {
      const c = { ...(rec.config as IA3Config) };
      if (base !== undefined) c.baseModelNameOrPath = base;
      for (const [k, t] of sd) {
        if (/\.ia3_l\./.test(k) && seg.test(k)) tensors.set(KEY_PREFIX + k.replace(seg, ''), t);
      }
      saveModulesToSave(model, name, tensors);
      const fan = ia3Layers(model).some(([, l]) => l.adapterNames().includes(name) && l.fanInFanOut);
      return { config: ia3ConfigToJson(c, fan), tensors };
    }
    case 'prefix':
    case 'prompt': {
      const enc = promptEncoders(model).get(name);
      let pe: Tensor;
      if (enc instanceof PrefixEncoder) pe = noGrad(() => enc.prefixMatrix().contiguous());
      else if (enc instanceof PromptEmbedding) pe = enc.embedding.weight;
      else throw new Error(`adapter "${name}": no prompt encoder`);
      tensors.set('prompt_embeddings', pe);
      const cfg = { ...(rec.config as PrefixConfig & PromptConfig) };
      delete cfg.tokenize; // a function, not a setting
      if (base !== undefined) cfg.baseModelNameOrPath = base;
      return { config: rec.method === 'prefix' ? prefixConfigToJson(model, cfg) : promptConfigToJson(model, cfg), tensors };
    }
    default: {
      // fintune's layout: every parameter the method trains, under its model name (adapter name removed).
      const c = rec.config as Record<string, unknown>;
      const re = typeof c.pattern === 'string' && c.pattern ? new RegExp(`^(?:${c.pattern})$`) : null;
      for (const [k, p] of model.namedParameters()) {
        void p;
        const own = rec.method === 'bitfit' ? k.endsWith('.bias') && (!re || re.test(k)) : rec.method === 'mql5-stacked' ? true : /\.adapters\./.test(k);
        if (!own) continue;
        if (/\.adapters\./.test(k) && !seg.test(k)) continue;
        if (/^mql5_/.test(k) && !k.startsWith(`mql5_${name}.`)) continue;
        tensors.set(KEY_PREFIX + k.replace(seg, '').replace(/^mql5_[^.]+\./, 'mql5_stack.'), p);
      }
      return {
        config: {
          base_model_name_or_path: base ?? null,
          fintune: { method: rec.method, ...c },
          peft_type: rec.method === 'bitfit' ? 'FINTUNE_BITFIT' : 'FINTUNE_BOTTLENECK',
          task_type: 'CAUSAL_LM',
        },
        tensors,
      };
    }
  }
}

/**
 * modules_to_save: the adapter's copy of each wrapped module under the module's own path, as PEFT saves it
 * (`lm_head.modules_to_save.default.weight` → `base_model.model.lm_head.weight`).
 */
function saveModulesToSave(model: CausalLM, name: string, into: Map<string, Tensor>): void {
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof ModulesToSaveWrapper)) continue;
    const copy = m.modules_to_save.get(name);
    if (!copy) continue;
    const seen = new Set<Tensor>();
    for (const [k, p] of copy.namedModules(path).flatMap(([mp, mod]) => mod.ownParameters().map(([pk, t]) => [`${mp}.${pk}`, t] as const))) {
      if (seen.has(p)) continue;
      seen.add(p);
      into.set(KEY_PREFIX + k, p);
    }
  }
}

function toEntry(t: Tensor): SafetensorsTensor {
  if (t.dtype === 'f64') return { dtype: 'F64', shape: [...t.shape], data: t.toFlat() as Float64Array };
  if (t.dtype === 'bf16') return { dtype: 'BF16', shape: [...t.shape], data: t.contiguous().toFlat() as Uint16Array };
  return { dtype: 'F32', shape: [...t.shape], data: t.toFlat() as Float32Array };
}

/** Write the adapter folder (created if needed; each file written atomically). Returns the files. */
export function saveAdapter(model: CausalLM, dir: string, opts: { name?: string; baseModelNameOrPath?: string | null } = {}): string[] {
  const { config, tensors } = adapterStateDict(model, opts.name ?? 'default', opts);
  fs.mkdirSync(dir, { recursive: true });
  const entries = new Map<string, SafetensorsTensor>();
  for (const [k, t] of tensors) entries.set(k, toEntry(t));
  const cfgFile = path.join(dir, ADAPTER_CONFIG);
  const wFile = path.join(dir, ADAPTER_WEIGHTS);
  writeFileAtomic(wFile, serializeSafetensors(entries, { format: 'pt' }));
  writeFileAtomic(cfgFile, JSON.stringify(sortKeys(config), null, 2) + '\n');
  return [cfgFile, wFile];
}

/** Python's json.dumps(sort_keys=True), which PEFT's save_pretrained uses. */
function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}
