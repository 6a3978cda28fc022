/**
 * The study's view of a fine-tuning method: make some parameters trainable (and maybe add modules), report how
 * many train, and optionally merge the adapter into the base for inference.
 *
 * `full`, `bitfit` and `layernorm` need no new modules (they only choose which existing weights train), so they
 * are handled here and always available. Every other name goes to the PEFT registry (src/peft/registry.ts),
 * imported at run time so this module builds and runs before the registry is part of the tree; until then those
 * methods fail with a message saying so.
 */
import type { CausalLM } from '../models/common.js';

export interface AppliedMethod {
  name: string;
  /** Parameters with requiresGrad after applying the method. */
  trainable: number;
  /** All parameters of the (possibly extended) model. */
  total: number;
  /** Folds the method's modules into the base weights (LoRA-like methods); absent when there is nothing to fold. */
  merge?: () => void;
}

/** The shape the study expects of src/peft/registry.ts (to be confirmed when it lands). */
interface PeftRegistryModule {
  applyMethod?: (model: CausalLM, name: string, options?: Record<string, unknown>) => unknown;
}

export const BUILTIN_METHODS = ['full', 'bitfit', 'layernorm'] as const;

function countParams(model: CausalLM): { trainable: number; total: number } {
  let trainable = 0;
  let total = 0;
  for (const p of model.parameters()) {
    total += p.size;
    if (p.requiresGrad) trainable += p.size;
  }
  return { trainable, total };
}

/** Norm weights and biases: GPT-2 names them ln_1/ln_2/ln_f, Llama input_layernorm/post_attention_layernorm/norm. */
function isNorm(name: string): boolean {
  return /(^|\.)(ln_\w+|ln_f|\w*layernorm|norm)\.(weight|bias)$/.test(name);
}

export async function applyStudyMethod(model: CausalLM, method: string, params: Record<string, unknown>): Promise<AppliedMethod> {
  if (method === 'full' || method === 'mql5-stacked-full') {
    model.requiresGrad_(true);
    return { name: method, ...countParams(model) };
  }
  if (method === 'bitfit' || method === 'layernorm') {
    // BitFit trains only the bias terms; LayerNorm tuning only the norms' scales and shifts. Both leave the
    // model's structure unchanged, so there is nothing to merge and inference costs exactly the base's.
    for (const [name, p] of model.namedParameters()) {
      p.requiresGrad = method === 'bitfit' ? name.endsWith('.bias') : isNorm(name);
    }
    const c = countParams(model);
    if (c.trainable === 0) throw new Error(`method ${method}: this model has no ${method === 'bitfit' ? 'bias' : 'norm'} parameters to train`);
    return { name: method, ...c };
  }
  let mod: PeftRegistryModule;
  try {
    mod = (await import(new URL('../peft/registry.js', import.meta.url).href)) as PeftRegistryModule;
  } catch (err) {
    throw new Error(
      `method ${method}: needs the PEFT registry (src/peft/registry.ts), which is not in this build (${(err as Error).message.split('\n')[0]}); ` +
        `built-in methods: ${BUILTIN_METHODS.join(', ')}`,
    );
  }
  if (typeof mod.applyMethod !== 'function') throw new Error(`method ${method}: src/peft/registry.ts has no applyMethod(model, name, options)`);
  const applied = (await mod.applyMethod(model, method, params)) as { merge?: () => void } | undefined;
  const merge = applied && typeof applied.merge === 'function' ? () => applied.merge!() : undefined;
  return { name: method, ...countParams(model), merge };
}
