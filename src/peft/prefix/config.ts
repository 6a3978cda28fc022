/** Prefix tuning's settings as PEFT's PrefixTuningConfig (a PromptLearningConfig), and its JSON form. */
import type { CausalLM } from '../../models/common.js';
import { dims } from '../common.js';

export interface PrefixConfig {
  numVirtualTokens: number;
  /** Reparameterize through an MLP (embedding [P, token_dim] → Linear → tanh → Linear). */
  prefixProjection?: boolean;
  encoderHiddenSize?: number;
  baseModelNameOrPath?: string | null;
  seed?: number;
}

/**
 * The derived shapes PEFT writes into the config: token_dim is the key/value width per layer and
 * num_attention_heads the key/value head count (PEFT's adjustment for grouped-query attention).
 */
export function prefixShapes(model: CausalLM): { tokenDim: number; numLayers: number; numAttentionHeads: number; headDim: number } {
  const d = dims(model);
  return { tokenDim: d.kvHeads * d.headDim, numLayers: d.layers, numAttentionHeads: d.kvHeads, headDim: d.headDim };
}

export function prefixConfigToJson(model: CausalLM, c: PrefixConfig): Record<string, unknown> {
  const s = prefixShapes(model);
  return {
    auto_mapping: null,
    base_model_name_or_path: c.baseModelNameOrPath ?? null,
    encoder_hidden_size: c.encoderHiddenSize ?? s.tokenDim,
    inference_mode: true,
    num_attention_heads: s.numAttentionHeads,
    num_layers: s.numLayers,
    num_transformer_submodules: 1,
    num_virtual_tokens: c.numVirtualTokens,
    peft_type: 'PREFIX_TUNING',
    prefix_projection: c.prefixProjection ?? false,
    revision: null,
    task_type: 'CAUSAL_LM',
    token_dim: s.tokenDim,
  };
}

export function prefixConfigFromJson(j: Record<string, unknown>): PrefixConfig {
  if (j.peft_type !== 'PREFIX_TUNING') throw new Error(`adapter_config.json: peft_type ${String(j.peft_type)} is not PREFIX_TUNING`);
  if ((j.num_transformer_submodules ?? 1) !== 1) throw new Error('prefix tuning: num_transformer_submodules must be 1 for a decoder-only model');
  return {
    numVirtualTokens: Number(j.num_virtual_tokens),
    // A saved prefix is the encoder's output; loading never needs the MLP (PEFT loads it in inference mode too).
    prefixProjection: false,
    encoderHiddenSize: j.encoder_hidden_size as number | undefined,
    baseModelNameOrPath: (j.base_model_name_or_path as string | null) ?? null,
  };
}
