/**
 * Merging across methods: LoRA, DoRA and IA3 fold into the base weights; `mergeAndUnload` then puts the plain
 * layers back so the model is an ordinary checkpoint again (save it with saveModel). Other methods add
 * computation that has no weight to fold into, and say so.
 */
import type { CausalLM } from '../models/common.js';
import { peftState } from './state.js';
import { loraLayers, mergeLora, unloadLora, unmergeLora } from './lora/model.js';
import { ia3Layers, mergeIa3, unloadIa3, unmergeIa3 } from './ia3/model.js';
import { unloadModulesToSave } from './modules_to_save.js';

export const MERGEABLE = ['lora', 'ia3'];

function methodsOf(model: CausalLM, names: string[]): Set<string> {
  const s = peftState(model);
  return new Set(names.map((n) => s.adapters.get(n)?.method ?? '?'));
}

/** Fold the active adapters (or `names`) into the base weights; forwards then run the base layers alone. */
export function mergeAdapters(model: CausalLM, names?: string[]): void {
  const use = names ?? peftState(model).active;
  const bad = [...methodsOf(model, use)].filter((m) => !MERGEABLE.includes(m));
  if (bad.length) throw new Error(`merge: ${bad.join(', ')} adapters cannot be merged into the base weights (only LoRA, DoRA and IA3 can)`);
  mergeLora(model, use);
  mergeIa3(model, use);
}

export function unmergeAdapters(model: CausalLM): void {
  unmergeLora(model);
  unmergeIa3(model);
}

/** Merge, then drop every wrapper: the model has its original structure and the merged weights. */
export function mergeAndUnload(model: CausalLM, names?: string[]): CausalLM {
  mergeAdapters(model, names);
  unloadLora(model);
  unloadIa3(model);
  // modules_to_save: the merged model keeps the adapter's trained copies.
  unloadModulesToSave(model);
  if (loraLayers(model).length || ia3Layers(model).length) throw new Error('mergeAndUnload: wrappers remain');
  return model;
}
