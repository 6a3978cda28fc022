/** Loading a model for a command: a checkpoint folder, optionally with a PEFT adapter on top. */
import { loadModel } from '../models/load.js';
import type { CausalLM } from '../models/common.js';
import { loadAdapter } from '../peft/load.js';
import { mergeAndUnload } from '../peft/merge.js';

export interface ModelArgs {
  model: string;
  adapter?: string;
  dtype?: 'f32' | 'bf16';
}

/** The base model with the adapter applied (inference); `merge` folds it into the weights (LoRA, DoRA, IA3). */
export function loadModelWithAdapter(a: ModelArgs, opts: { merge?: boolean } = {}): CausalLM {
  const model = loadModel(a.model, { dtype: a.dtype ?? 'f32' });
  if (!a.adapter) return model;
  const info = loadAdapter(model, a.adapter);
  if (opts.merge) {
    try {
      mergeAndUnload(model);
    } catch (e) {
      throw new Error(`${a.adapter}: a ${info.method} adapter cannot be merged into the weights here (${(e as Error).message})`);
    }
  }
  return model;
}
