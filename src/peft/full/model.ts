/** Full fine-tuning: unfreeze everything, then freeze the embeddings and/or chosen blocks if asked. */
import type { CausalLM } from '../../models/common.js';
import { blocks, getModule, wordEmbeddings } from '../common.js';
import type { FullConfig } from './config.js';

export function applyFull(model: CausalLM, c: FullConfig = {}): void {
  model.requiresGrad_(true);
  if (c.freezeEmbeddings) {
    wordEmbeddings(model).requiresGrad_(false);
    for (const [k, p] of model.namedParameters()) if (/(^|\.)wpe\.weight$/.test(k)) p.requiresGrad = false;
  }
  const bl = blocks(model);
  for (const i of c.freezeLayers ?? []) {
    if (!(Number.isInteger(i) && i >= 0 && i < bl.length)) throw new Error(`full: freezeLayers has ${i}, the model has blocks 0…${bl.length - 1}`);
    getModule(model, bl[i]!.path).requiresGrad_(false);
  }
}
