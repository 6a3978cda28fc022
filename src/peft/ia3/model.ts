/** IA3 on a whole model: wrap PEFT's per-model targets, freeze the rest; merge / unload as LoRA's. */
import type { CausalLM } from '../../models/common.js';
import { findTargets, freezeAll, getModule, isLinearLike, matchesTarget, replaceModule, type LinearLike } from '../common.js';
import { peftState, registerAdapter, setAdapter, wrappers } from '../state.js';
import { ia3Defaults, type IA3Config } from './config.js';
import { IA3Layer } from './layer.js';
import { addModulesToSave } from '../modules_to_save.js';

export function injectIa3(model: CausalLM, partial: Partial<IA3Config>, name = 'default'): { name: string; config: IA3Config; layers: [string, IA3Layer][]; fanInFanOut: boolean } {
  const config = ia3Defaults(model, partial);
  const ff = config.feedforwardModules ?? [];
  const targets = findTargets(model, config.targetModules!);
  if (targets.length === 0) throw new Error(`IA3: target_modules ${JSON.stringify(config.targetModules)} match no linear layer`);
  // PEFT requires feed-forward modules to be a subset of the targets.
  const first = peftState(model).adapters.size === 0;
  registerAdapter(model, name, { method: 'ia3', config });
  if (first) freezeAll(model);
  const layers: [string, IA3Layer][] = [];
  let fanInFanOut = false;
  for (const path of targets) {
    const m = getModule(model, path);
    const isFf = typeof ff === 'string' ? matchesTarget(path, ff) : ff.length > 0 && matchesTarget(path, ff);
    let layer: IA3Layer;
    if (m instanceof IA3Layer) layer = m;
    else {
      if (!isLinearLike(m)) throw new Error(`IA3: "${path}" is not a linear layer`);
      layer = new IA3Layer(m as LinearLike, isFf);
      replaceModule(model, path, layer);
    }
    layer.addAdapter(name, config.initIa3Weights ?? true, config.seed ?? 0, `ia3:${name}:${path}`);
    fanInFanOut ||= layer.fanInFanOut;
    layers.push([path, layer]);
  }
  addModulesToSave(model, config.modulesToSave, name);
  setAdapter(model, name);
  return { name, config, layers, fanInFanOut };
}

export function ia3Layers(model: CausalLM): [string, IA3Layer][] {
  return wrappers(model).filter((e): e is [string, IA3Layer] => e[1] instanceof IA3Layer);
}

export function mergeIa3(model: CausalLM, names?: string[]): void {
  const use = names ?? peftState(model).active;
  for (const [, l] of ia3Layers(model)) l.merge(use.filter((n) => l.adapterNames().includes(n)));
}

export function unmergeIa3(model: CausalLM): void {
  for (const [, l] of ia3Layers(model)) l.unmerge();
}

export function unloadIa3(model: CausalLM): void {
  for (const [path, l] of ia3Layers(model)) replaceModule(model, path, l.base_layer);
  const s = peftState(model);
  for (const [n, r] of [...s.adapters]) if (r.method === 'ia3') s.adapters.delete(n);
  s.active = s.active.filter((n) => s.adapters.has(n));
}
