/**
 * LoRA's (and DoRA's, rsLoRA's) settings, named as PEFT's LoraConfig, and their adapter_config.json form.
 */
import { modelFamily } from '../common.js';
import type { CausalLM } from '../../models/common.js';

export interface LoraConfig {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  /** Names (a name matches itself or any path ending in ".name"), a regex string (full match), or "all-linear". */
  targetModules?: string[] | string;
  /** Excluded modules, same matching rules. */
  excludeModules?: string[] | string;
  /** W stored [in, out] (GPT-2's Conv1D). Set automatically per layer; recorded in the config as PEFT does. */
  fanInFanOut?: boolean;
  /** Which base biases train: none, all (every bias of the model), lora_only (biases of the wrapped layers). */
  bias?: 'none' | 'all' | 'lora_only';
  /** scaling = α/√r instead of α/r. */
  useRslora?: boolean;
  useDora?: boolean;
  /** true: A Kaiming-uniform(a=√5), B = 0; 'gaussian': A ~ N(0, 1/r), B = 0; false: both random (tests only). */
  initLoraWeights?: boolean | 'gaussian';
  /** Base modules trained in full and saved with the adapter (e.g. ["lm_head"] on an untied head). */
  modulesToSave?: string[] | null;
  /** Only these layer indices. */
  layersToTransform?: number[] | null;
  baseModelNameOrPath?: string | null;
  /** Seed of the adapter initialization (fintune-only; not written to adapter_config.json). */
  seed?: number;
}

/** PEFT's default LoRA targets per model type (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
export const LORA_DEFAULT_TARGETS: Record<string, string[]> = {
  gpt2: ['c_attn'],
  llama: ['q_proj', 'v_proj'],
  mistral: ['q_proj', 'v_proj'],
  qwen2: ['q_proj', 'v_proj'],
};

export function loraDefaults(model: CausalLM, c: Partial<LoraConfig>): LoraConfig {
  return {
    r: 8,
    loraAlpha: 8,
    loraDropout: 0,
    bias: 'none',
    useRslora: false,
    useDora: false,
    initLoraWeights: true,
    modulesToSave: null,
    layersToTransform: null,
    baseModelNameOrPath: null,
    ...c,
    targetModules: c.targetModules ?? LORA_DEFAULT_TARGETS[modelFamily(model)]!,
  };
}

export function loraScaling(c: Pick<LoraConfig, 'r' | 'loraAlpha' | 'useRslora'>): number {
  return c.useRslora ? c.loraAlpha / Math.sqrt(c.r) : c.loraAlpha / c.r;
}

/** adapter_config.json as PEFT (0.13) writes it for LORA: every LoraConfig field, snake_case. */
export function loraConfigToJson(c: LoraConfig, fanInFanOut: boolean): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: c.baseModelNameOrPath ?? null,
    bias: c.bias ?? 'none',
    fan_in_fan_out: fanInFanOut,
    inference_mode: true,
    init_lora_weights: c.initLoraWeights ?? true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: c.layersToTransform ?? null,
    loftq_config: {},
    lora_alpha: c.loraAlpha,
    lora_dropout: c.loraDropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: c.modulesToSave ?? null,
    peft_type: 'LORA',
    r: c.r,
    rank_pattern: {},
    revision: null,
    target_modules: c.targetModules,
    task_type: 'CAUSAL_LM',
    use_dora: c.useDora ?? false,
    use_rslora: c.useRslora ?? false,
  };
}

/** Read PEFT's adapter_config.json (any version's superset of fields); refuses what fintune cannot run. */
export function loraConfigFromJson(j: Record<string, unknown>): LoraConfig {
  if (j.peft_type !== 'LORA') throw new Error(`adapter_config.json: peft_type ${String(j.peft_type)} is not LORA`);
  for (const k of ['alpha_pattern', 'rank_pattern'] as const) {
    const v = j[k];
    if (v && typeof v === 'object' && Object.keys(v).length) throw new Error(`adapter_config.json: ${k} is not supported by fintune`);
  }
  if (j.layer_replication) throw new Error('adapter_config.json: layer_replication is not supported by fintune');
  if (j.lora_bias) throw new Error('adapter_config.json: lora_bias (a bias on lora_B) is not supported by fintune');
  const init = j.init_lora_weights;
  // PiSSA, OLoRA, LoftQ, CorDA and EVA initializations change the base weights (or need data) at creation; an
  // adapter saved with them is only right on that modified base, so it is refused rather than mis-applied.
  if (typeof init === 'string' && init !== 'gaussian') {
    throw new Error(`adapter_config.json: init_lora_weights "${init}" rewrites the base weights; convert the adapter to plain LoRA in PEFT first`);
  }
  const ltt = j.layers_to_transform;
  if (j.layers_pattern && ltt === null) throw new Error('adapter_config.json: layers_pattern without layers_to_transform');
  return {
    r: Number(j.r),
    loraAlpha: Number(j.lora_alpha ?? 8),
    loraDropout: Number(j.lora_dropout ?? 0),
    targetModules: (j.target_modules as string[] | string) ?? undefined,
    excludeModules: (j.exclude_modules as string[] | string | null) ?? undefined,
    fanInFanOut: Boolean(j.fan_in_fan_out),
    bias: ((j.bias as string) ?? 'none') as LoraConfig['bias'],
    useRslora: Boolean(j.use_rslora),
    useDora: Boolean(j.use_dora),
    initLoraWeights: init === 'gaussian' ? 'gaussian' : init === false ? false : true,
    modulesToSave: (j.modules_to_save as string[] | null) ?? null,
    layersToTransform: typeof ltt === 'number' ? [ltt] : ((ltt as number[] | null) ?? null),
    baseModelNameOrPath: (j.base_model_name_or_path as string | null) ?? null,
  };
}
