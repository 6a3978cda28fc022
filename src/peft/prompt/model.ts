/** Adding a prompt-tuning adapter: virtual token embeddings run through the prompt hook; the base stays frozen. */
import type { CausalLM } from '../../models/common.js';
import { dims, freezeAll } from '../common.js';
import { peftState, registerAdapter, setAdapter } from '../state.js';
import { promptEncoders } from '../prompt_hook.js';
import { PromptEmbedding } from './layer.js';
import type { PromptConfig } from './config.js';

function paramDtype(model: CausalLM): 'f32' | 'f64' {
  return model.parameters()[0]?.dtype === 'f64' ? 'f64' : 'f32';
}

export function injectPrompt(model: CausalLM, c: PromptConfig, name = 'default'): PromptEmbedding {
  if (!(Number.isInteger(c.numVirtualTokens) && c.numVirtualTokens > 0)) throw new Error('prompt tuning: numVirtualTokens must be a positive integer');
  const d = dims(model);
  let initFrom: Float32Array | undefined;
  if (c.promptTuningInit === 'TEXT') {
    let ids = c.initTokenIds;
    if (!ids && c.promptTuningInitText && c.tokenize) ids = c.tokenize(c.promptTuningInitText);
    if (!ids?.length) throw new Error('prompt tuning: TEXT init needs initTokenIds, or promptTuningInitText with a tokenize function');
    initFrom = PromptEmbedding.initialRows(model, ids, c.numVirtualTokens);
  }
  const first = peftState(model).adapters.size === 0;
  registerAdapter(model, name, { method: 'prompt', config: c });
  if (first) freezeAll(model);
  const enc = new PromptEmbedding(c.numVirtualTokens, d.hidden, { initFrom, seed: c.seed, dtype: paramDtype(model) });
  promptEncoders(model).set(name, enc);
  setAdapter(model, name);
  return enc;
}
