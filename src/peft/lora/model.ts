/**
 * LoRA on a whole model (PEFT's LoraModel): find the target layers, wrap each in a LoraLayer (or add an adapter
 * to an existing one), freeze everything else, then the bias and modules_to_save options. Merge folds adapters
 * into the base weights; `mergeAndUnload` also puts the plain layers back so the model saves as a normal
 * Hugging Face checkpoint.
 */
import type { CausalLM } from '../../models/common.js';
import { findTargets, freezeAll, getModule, isLinearLike, replaceModule, type LinearLike } from '../common.js';
import { peftState, registerAdapter, setAdapter, wrappers } from '../state.js';
import { loraDefaults, type LoraConfig } from './config.js';
import { LoraLayer } from './layer.js';
import { addModulesToSave } from '../modules_to_save.js';

/** Layer index of a module path ("transformer.h.3.attn.c_attn" → 3), or null outside the blocks. */
export function layerIndex(name: string): number | null {
  const m = /\.(?:h|layers)\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : null;
}

export interface InjectedLora {
  name: string;
  config: LoraConfig;
  layers: [string, LoraLayer][];
  /** True when a wrapped layer stores W as [in, out] (written to adapter_config.json as fan_in_fan_out). */
  fanInFanOut: boolean;
}

/** Add LoRA adapter `name` to the model. The base is frozen except what bias / modulesToSave unfreeze. */
export function injectLora(model: CausalLM, partial: Partial<LoraConfig>, name = 'default'): InjectedLora {
  const config = loraDefaults(model, partial);
  const firstAdapter = peftState(model).adapters.size === 0;
  let targets = findTargets(model, config.targetModules!, config.excludeModules);
  if (config.layersToTransform?.length) targets = targets.filter((t) => config.layersToTransform!.includes(layerIndex(t) ?? -1));
  if (targets.length === 0) {
    throw new Error(`LoRA: target_modules ${JSON.stringify(config.targetModules)} match no linear layer of this model`);
  }
  // PEFT expands "all-linear" into the set of the targets' last name segments, and saves that list.
  if (config.targetModules === 'all-linear') config.targetModules = [...new Set(targets.map((t) => t.slice(t.lastIndexOf('.') + 1)))];
  registerAdapter(model, name, { method: 'lora', config });
  if (firstAdapter) freezeAll(model);
  const layers: [string, LoraLayer][] = [];
  let fanInFanOut = false;
  for (const path of targets) {
    const m = getModule(model, path);
    let layer: LoraLayer;
    if (m instanceof LoraLayer) layer = m;
    else {
      if (!isLinearLike(m)) throw new Error(`LoRA: "${path}" is not a linear layer`);
      layer = new LoraLayer(m as LinearLike, config.seed ?? 0, `lora-dropout:${path}`);
      replaceModule(model, path, layer);
    }
    layer.addAdapter(name, {
      r: config.r,
      loraAlpha: config.loraAlpha,
      loraDropout: config.loraDropout,
      useRslora: config.useRslora ?? false,
      useDora: config.useDora ?? false,
      initLoraWeights: config.initLoraWeights ?? true,
      seed: config.seed ?? 0,
      stream: `lora:${name}:${path}`,
    });
    fanInFanOut ||= layer.fanInFanOut;
    layers.push([path, layer]);
  }
  config.fanInFanOut = fanInFanOut;
  applyBias(model, config.bias ?? 'none', layers.map(([, l]) => l));
  addModulesToSave(model, config.modulesToSave, name);
  setAdapter(model, name);
  return { name, config, layers, fanInFanOut };
}

/** PEFT's bias option: "all" trains every bias of the model, "lora_only" those of the wrapped layers. */
function applyBias(model: CausalLM, bias: 'none' | 'all' | 'lora_only', layers: LoraLayer[]): void {
  if (bias === 'all') for (const [k, p] of model.namedParameters()) if (k.endsWith('.bias')) p.requiresGrad = true;
  if (bias === 'lora_only') for (const l of layers) if (l.base_layer.bias) l.base_layer.bias.requiresGrad = true;
  if (bias !== 'none' && !model.namedParameters().some(([k]) => k.endsWith('.bias'))) {
    throw new Error(`LoRA: bias "${bias}" asked, but this model has no bias parameters`);
  }
}

export function loraLayers(model: CausalLM): [string, LoraLayer][] {
  return wrappers(model).filter((e): e is [string, LoraLayer] => e[1] instanceof LoraLayer);
}

/** Fold the named (default: active) adapters into the base weights. */
export function mergeLora(model: CausalLM, names?: string[]): void {
  const use = names ?? peftState(model).active;
  for (const [, l] of loraLayers(model)) l.merge(use.filter((n) => l.adapterNames().includes(n)));
}

export function unmergeLora(model: CausalLM): void {
  for (const [, l] of loraLayers(model)) l.unmergeAll();
}

/** Put each wrapped layer's base back in its place (after merging, or to drop the adapters). */
export function unloadLora(model: CausalLM): void {
  for (const [path, l] of loraLayers(model)) replaceModule(model, path, l.base_layer);
  const s = peftState(model);
  for (const [n, r] of [...s.adapters]) if (r.method === 'lora') s.adapters.delete(n);
  s.active = s.active.filter((n) => s.adapters.has(n));
}
