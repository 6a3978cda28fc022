/**
 * modules_to_save (PEFT's ModulesToSaveWrapper): a base module trained in full for an adapter is a *copy* —
 * `original_module` stays as it was and each adapter has its own `modules_to_save.<name>` — so the base is
 * untouched, adapters switch, and "base only" gives the original back. The wrapper forwards calls and exposes
 * `weight` / `bias` of the active copy (our LM heads are read through `.weight`, not called).
 */
import { Module, isParameter, param } from '../nn/module.js';
import type { CausalLM } from '../models/common.js';
import type { Tensor } from '../tensor/tensor.js';
import { AdapterDict, replaceModule } from './common.js';
import type { PeftWrapper } from './state.js';

/** A copy of a leaf-like module with fresh, trainable parameters (same class, same other fields). */
export function cloneModule<T extends Module>(m: T): T {
  const c = Object.create(Object.getPrototypeOf(m) as object) as T;
  for (const key of Object.getOwnPropertyNames(m)) {
    const d = Object.getOwnPropertyDescriptor(m, key)!;
    const v = d.value as unknown;
    if (isParameter(v)) {
      const t = v as Tensor;
      const copy = param(t.shape, { dtype: t.dtype, init: t.contiguous().toFlat() as Float32Array });
      Object.defineProperty(c, key, { ...d, value: copy });
    } else if (v instanceof Module) Object.defineProperty(c, key, { ...d, value: cloneModule(v) });
    else if (Array.isArray(v) && v.some((x) => x instanceof Module)) Object.defineProperty(c, key, { ...d, value: v.map((x) => (x instanceof Module ? cloneModule(x) : x)) });
    else Object.defineProperty(c, key, d);
  }
  return c;
}

export class ModulesToSaveWrapper extends Module implements PeftWrapper {
  readonly peftWrapper = true as const;
  original_module: Module;
  modules_to_save: AdapterDict<Module>;
  activeAdapters: string[] = [];

  constructor(original: Module) {
    super();
    this.original_module = original;
    this.modules_to_save = new AdapterDict();
  }

  /** The module calls go to: the first active adapter's copy, else the original. */
  get active(): Module {
    for (const n of this.activeAdapters) {
      const m = this.modules_to_save.get(n);
      if (m) return m;
    }
    return this.original_module;
  }
  get weight(): Tensor {
    return (this.active as unknown as { weight: Tensor }).weight;
  }
  get bias(): Tensor | null {
    return (this.active as unknown as { bias?: Tensor | null }).bias ?? null;
  }

  adapterNames(): string[] {
    return this.modules_to_save.names();
  }

  addAdapter(name: string): void {
    const copy = cloneModule(this.original_module);
    copy.requiresGrad_(true);
    this.modules_to_save.set(name, copy);
    if (!this.activeAdapters.includes(name)) this.activeAdapters.push(name);
  }

  deleteAdapter(name: string): void {
    this.modules_to_save.delete(name);
    this.activeAdapters = this.activeAdapters.filter((n) => n !== name);
  }

  forward(...args: unknown[]): unknown {
    const f = (this.active as unknown as { forward?: (...a: unknown[]) => unknown }).forward;
    if (typeof f !== 'function') throw new Error('modules_to_save: this module has no forward()');
    return f.apply(this.active, args);
  }
}

/** Wrap (or reuse the wrapper of) every module named in `targets` and give adapter `name` its copy. */
export function addModulesToSave(model: CausalLM, targets: string[] | null | undefined, name: string): string[] {
  const paths: string[] = [];
  for (const target of targets ?? []) {
    const hits = model
      .namedModules()
      .filter(([n, m]) => (n === target || n.endsWith('.' + target)) && !(m instanceof ModulesToSaveWrapper) && !n.includes('.original_module') && !n.includes('.modules_to_save.'));
    const wrapped = model.namedModules().filter(([n, m]) => m instanceof ModulesToSaveWrapper && (n === target || n.endsWith('.' + target)));
    if (hits.length === 0 && wrapped.length === 0) throw new Error(`modules_to_save: no module named "${target}"`);
    for (const [path, m] of hits) {
      if (m === model) continue;
      const w = new ModulesToSaveWrapper(m);
      replaceModule(model, path, w);
      w.addAdapter(name);
      paths.push(path);
    }
    for (const [path, w] of wrapped) {
      (w as ModulesToSaveWrapper).addAdapter(name);
      paths.push(path);
    }
  }
  return paths;
}

/** Replace each wrapper by the active copy (after a merge) or the original (nothing active). */
export function unloadModulesToSave(model: CausalLM): void {
  for (const [path, m] of model.namedModules()) {
    if (m instanceof ModulesToSaveWrapper) replaceModule(model, path, m.active);
  }
}
