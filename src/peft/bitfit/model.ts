/**
 * BitFit: train only the bias terms; nothing is added, so there is nothing to merge and inference costs exactly
 * the base model's. Models without biases (Llama, Mistral; Qwen2 has q/k/v biases only) are said so plainly.
 */
import type { CausalLM } from '../../models/common.js';
import { freezeAll } from '../common.js';
import { registerAdapter } from '../state.js';
import type { BitFitConfig } from './config.js';

export function applyBitFit(model: CausalLM, c: BitFitConfig = {}): string[] {
  const re = c.pattern ? new RegExp(`^(?:${c.pattern})$`) : null;
  const biases = model.namedParameters().filter(([k]) => k.endsWith('.bias') && (!re || re.test(k)));
  if (biases.length === 0) {
    throw new Error(
      'BitFit: this model has no bias parameters' + (re ? ` matching ${c.pattern}` : '') +
        ' (Llama and Mistral use none; Qwen2 has them on q/k/v only): choose another method',
    );
  }
  registerAdapter(model, 'default', { method: 'bitfit', config: c });
  freezeAll(model);
  for (const [, p] of biases) p.requiresGrad = true;
  return biases.map(([k]) => k);
}
