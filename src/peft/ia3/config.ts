/** IA3's settings, named as PEFT's IA3Config, with PEFT's per-model targets and adapter_config.json form. */
import type { CausalLM } from '../../models/common.js';
import { modelFamily } from '../common.js';

export interface IA3Config {
  targetModules?: string[] | string;
  /** Targets whose *input* is scaled (ia3_l [1, in]); the others scale their output (ia3_l [out, 1]). */
  feedforwardModules?: string[] | string;
  /** true: every vector starts at 1 (the base model exactly); false: random (tests). */
  initIa3Weights?: boolean;
  modulesToSave?: string[] | null;
  baseModelNameOrPath?: string | null;
  seed?: number;
}

/** TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING (PEFT utils/constants.py) for the families fintune runs. */
export const IA3_DEFAULT_TARGETS: Record<string, string[]> = {
  gpt2: ['c_attn', 'mlp.c_proj'],
  llama: ['k_proj', 'v_proj', 'down_proj'],
  mistral: ['k_proj', 'v_proj', 'down_proj'],
  qwen2: ['q_proj', 'v_proj', 'down_proj'],
};
/** TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING. */
export const IA3_DEFAULT_FEEDFORWARD: Record<string, string[]> = {
  gpt2: ['mlp.c_proj'],
  llama: ['down_proj'],
  mistral: ['down_proj'],
  qwen2: ['down_proj'],
};

export function ia3Defaults(model: CausalLM, c: Partial<IA3Config>): IA3Config {
  const fam = modelFamily(model);
  const targetModules = c.targetModules ?? IA3_DEFAULT_TARGETS[fam]!;
  return {
    initIa3Weights: true,
    modulesToSave: null,
    baseModelNameOrPath: null,
    ...c,
    targetModules,
    feedforwardModules: c.feedforwardModules ?? (c.targetModules ? [] : IA3_DEFAULT_FEEDFORWARD[fam]!),
  };
}

export function ia3ConfigToJson(c: IA3Config, fanInFanOut: boolean): Record<string, unknown> {
  return {
    auto_mapping: null,
    base_model_name_or_path: c.baseModelNameOrPath ?? null,
    fan_in_fan_out: fanInFanOut,
    feedforward_modules: c.feedforwardModules,
    inference_mode: true,
    init_ia3_weights: c.initIa3Weights ?? true,
    modules_to_save: c.modulesToSave ?? null,
    peft_type: 'IA3',
    revision: null,
    target_modules: c.targetModules,
    task_type: 'CAUSAL_LM',
  };
}

export function ia3ConfigFromJson(j: Record<string, unknown>): IA3Config {
  if (j.peft_type !== 'IA3') throw new Error(`adapter_config.json: peft_type ${String(j.peft_type)} is not IA3`);
  return {
    targetModules: j.target_modules as string[] | string,
    feedforwardModules: (j.feedforward_modules as string[] | string | null) ?? [],
    initIa3Weights: j.init_ia3_weights !== false,
    modulesToSave: (j.modules_to_save as string[] | null) ?? null,
    baseModelNameOrPath: (j.base_model_name_or_path as string | null) ?? null,
  };
}
