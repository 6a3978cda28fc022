/**
 * The adapters living on one base model: each injected wrapper layer knows its own adapters, and the model keeps
 * a record of every adapter's method and config plus which are active. Switching is per call (`withAdapter`) or
 * sticky (`setAdapter`), and `null` means "base only" — the wrappers then call their base layer alone.
 */
import { Module } from '../nn/module.js';
import type { CausalLM } from '../models/common.js';

/** Implemented by every wrapper module that holds adapters (LoRA, IA3, bottleneck). */
export interface PeftWrapper extends Module {
  readonly peftWrapper: true;
  /** Adapters this layer holds. */
  adapterNames(): string[];
  /** Which of them run (in this order); [] = base only. */
  activeAdapters: string[];
  /** Remove an adapter's parameters (unmerging it first if merged). */
  deleteAdapter(name: string): void;
}

export function isPeftWrapper(m: unknown): m is PeftWrapper {
  return m instanceof Module && (m as unknown as { peftWrapper?: unknown }).peftWrapper === true;
}

export interface AdapterRecord {
  method: string;
  /** The method's config (the registry's config type for that method). */
  config: unknown;
}

export interface PeftState {
  adapters: Map<string, AdapterRecord>;
  /** Active adapter names; empty = base only. */
  active: string[];
}

const STATES = new WeakMap<CausalLM, PeftState>();

/** The model's adapter record (created empty on first use). Kept outside the module tree so it is never saved. */
export function peftState(model: CausalLM): PeftState {
  let s = STATES.get(model);
  if (!s) {
    s = { adapters: new Map(), active: [] };
    STATES.set(model, s);
  }
  return s;
}

export function wrappers(model: CausalLM): [string, PeftWrapper][] {
  return model.namedModules().filter((e): e is [string, PeftWrapper] => isPeftWrapper(e[1]));
}

/** Make `names` the active adapters everywhere (null or [] = base only). Layers without an adapter skip it. */
export function setAdapter(model: CausalLM, names: string | string[] | null): void {
  const list = names === null ? [] : Array.isArray(names) ? names : [names];
  const s = peftState(model);
  for (const n of list) if (!s.adapters.has(n)) throw new Error(`no adapter "${n}" on this model (have: ${[...s.adapters.keys()].join(', ') || 'none'})`);
  s.active = [...list];
  for (const [, w] of wrappers(model)) w.activeAdapters = list.filter((n) => w.adapterNames().includes(n));
}

/** Run fn with `names` active (null = base only), then restore the previous choice — a per-call switch. */
export function withAdapter<T>(model: CausalLM, names: string | string[] | null, fn: () => T): T {
  const prev = [...peftState(model).active];
  setAdapter(model, names);
  try {
    return fn();
  } finally {
    setAdapter(model, prev);
  }
}

/** Base only for the duration of fn. */
export function withBaseOnly<T>(model: CausalLM, fn: () => T): T {
  return withAdapter(model, null, fn);
}

export function registerAdapter(model: CausalLM, name: string, rec: AdapterRecord): void {
  const s = peftState(model);
  if (s.adapters.has(name)) throw new Error(`adapter "${name}" already exists on this model`);
  // As PEFT's PeftModel: adapters on one model share a method (LoRA's variants count as one, so do the
  // bottleneck placements); wrappers of different methods would otherwise nest and their saved keys collide.
  const family = (m: string): string => (['houlsby', 'pfeiffer', 'parallel', 'mql5-stacked'].includes(m) ? 'bottleneck' : m);
  const other = [...s.adapters.values()].find((r) => family(r.method) !== family(rec.method));
  if (other) {
    throw new Error(`adapter "${name}" (${rec.method}): this model already has ${other.method} adapters; adapters of different methods cannot be combined on one model, as in PEFT`);
  }
  s.adapters.set(name, rec);
  s.active = [name];
}

/** The method of a named adapter. */
export function adapterRecord(model: CausalLM, name: string): AdapterRecord {
  const r = peftState(model).adapters.get(name);
  if (!r) throw new Error(`no adapter "${name}" on this model`);
  return r;
}
