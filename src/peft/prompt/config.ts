/** Prompt tuning's settings as PEFT's PromptTuningConfig, and its JSON form. */
import type { CausalLM } from '../../models/common.js';
import { dims } from '../common.js';

export interface PromptConfig {
  numVirtualTokens: number;
  /** RANDOM: N(0, 1) as torch.nn.Embedding; TEXT: the word embeddings of `initTokenIds` (cycled to P tokens). */
  promptTuningInit?: 'RANDOM' | 'TEXT';
  /** Token ids of the init text (tokenize `promptTuningInitText` with the model's tokenizer). */
  initTokenIds?: number[];
  promptTuningInitText?: string | null;
  /** Turns `promptTuningInitText` into ids when `initTokenIds` is not given (the model's tokenizer). */
  tokenize?: (text: string) => number[];
  tokenizerNameOrPath?: string | null;
  baseModelNameOrPath?: string | null;
  seed?: number;
}

export function promptConfigToJson(model: CausalLM, c: PromptConfig): Record<string, unknown> {
  const d = dims(model);
  return {
    auto_mapping: null,
    base_model_name_or_path: c.baseModelNameOrPath ?? null,
    inference_mode: true,
    num_attention_heads: d.heads,
    num_layers: d.layers,
    num_transformer_submodules: 1,
    num_virtual_tokens: c.numVirtualTokens,
    peft_type: 'PROMPT_TUNING',
    prompt_tuning_init: c.promptTuningInit ?? 'RANDOM',
    prompt_tuning_init_text: c.promptTuningInitText ?? null,
    revision: null,
    task_type: 'CAUSAL_LM',
    token_dim: d.hidden,
    tokenizer_kwargs: null,
    tokenizer_name_or_path: c.tokenizerNameOrPath ?? null,
  };
}

export function promptConfigFromJson(j: Record<string, unknown>): PromptConfig {
  if (j.peft_type !== 'PROMPT_TUNING') throw new Error(`adapter_config.json: peft_type ${String(j.peft_type)} is not PROMPT_TUNING`);
  if ((j.num_transformer_submodules ?? 1) !== 1) throw new Error('prompt tuning: num_transformer_submodules must be 1 for a decoder-only model');
  return {
    numVirtualTokens: Number(j.num_virtual_tokens),
    // The saved embeddings replace any initialization.
    promptTuningInit: 'RANDOM',
    promptTuningInitText: (j.prompt_tuning_init_text as string | null) ?? null,
    tokenizerNameOrPath: (j.tokenizer_name_or_path as string | null) ?? null,
    baseModelNameOrPath: (j.base_model_name_or_path as string | null) ?? null,
  };
}
