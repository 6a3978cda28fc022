/** Adding a prefix-tuning adapter: a PrefixEncoder run through the prompt hook; the base stays frozen. */
import type { CausalLM } from '../../models/common.js';
import { freezeAll } from '../common.js';
import { peftState, registerAdapter, setAdapter } from '../state.js';
import { promptEncoders } from '../prompt_hook.js';
import { PrefixEncoder } from './layer.js';
import { prefixShapes, type PrefixConfig } from './config.js';

function paramDtype(model: CausalLM): 'f32' | 'f64' {
  return model.parameters()[0]?.dtype === 'f64' ? 'f64' : 'f32';
}

export function injectPrefix(model: CausalLM, c: PrefixConfig, name = 'default'): PrefixEncoder {
  if (!(Number.isInteger(c.numVirtualTokens) && c.numVirtualTokens > 0)) throw new Error('prefix tuning: numVirtualTokens must be a positive integer');
  const s = prefixShapes(model);
  const first = peftState(model).adapters.size === 0;
  registerAdapter(model, name, { method: 'prefix', config: c });
  if (first) freezeAll(model);
  const enc = new PrefixEncoder(c.numVirtualTokens, s.numLayers, s.numAttentionHeads, s.headDim, {
    projection: c.prefixProjection,
    encoderHiddenSize: c.encoderHiddenSize,
    seed: c.seed,
    dtype: paramDtype(model),
  });
  promptEncoders(model).set(name, enc);
  setAdapter(model, name);
  return enc;
}
