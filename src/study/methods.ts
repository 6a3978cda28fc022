/**
 * The study's view of a fine-tuning method: make some parameters trainable (and maybe add modules), report how
 * many train, and optionally merge the adapter into the base for inference.
 *
 * Methods come from the PEFT registry (src/peft/registry.ts), imported at run time so this module also works in
 * a build without it. `full`, `bitfit` and `layernorm` need no new modules (they only choose which existing
 * weights train), so they are also handled here: `layernorm` always (the registry has no such method), the
 * other two only when the registry is missing.
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
  methodNames?: () => string[];
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

/** The registry module, or null when this build has none (loaded once). */
let registry: PeftRegistryModule | null | undefined;
async function loadRegistry(): Promise<PeftRegistryModule | null> {
  if (registry === undefined) {
    try {
      registry = (await import('../peft/registry.js')) as PeftRegistryModule;
    } catch {
      registry = null;
    }
  }
  return registry;
}

export async function applyStudyMethod(model: CausalLM, method: string, params: Record<string, unknown>): Promise<AppliedMethod> {
  const reg = await loadRegistry();
  const known = reg?.methodNames?.() ?? [];
  // The registry is the reference for every method it knows (it takes their options); the built-ins below only
  // cover what it lacks (layernorm) and builds without it.
  if (reg && typeof reg.applyMethod === 'function' && known.includes(method)) {
    const applied = (await reg.applyMethod(model, method, params)) as { merge?: () => void; counts?: { trainable: number; total: number } } | undefined;
    const merge = applied && typeof applied.merge === 'function' ? () => applied.merge!() : undefined;
    // The registry counts quantized weights as the parameters they stand for (packed 4-bit storage would not).
    const counts = applied?.counts ? { trainable: applied.counts.trainable, total: applied.counts.total } : countParams(model);
    return { name: method, ...counts, merge };
  }
  if (method === 'full') {
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
  if (!reg) throw new Error(`method ${method}: needs the PEFT registry (src/peft/registry.ts), which is not in this build; built-in methods: ${BUILTIN_METHODS.join(', ')}`);
  throw new Error(`unknown method "${method}" (have: ${[...new Set([...known, ...BUILTIN_METHODS])].join(', ')})`);
}
