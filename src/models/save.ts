/**
 * Saving a model as a Hugging Face checkpoint folder: config.json + model.safetensors (or shards with
 * model.safetensors.index.json above a size limit). Every file is written to a temporary name and renamed.
 * Weights are written in their stored dtype unless asked otherwise, so a load → save round trip is byte-stable.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { DTYPE_SIZE, writeSafetensors, type SafetensorsDtype } from '../io/safetensors.js';
import { bf16ToF32, f32ToBf16 } from '../tensor/half.js';
import type { HfModelConfig } from '../io/hf_config.js';
import type { CausalLM } from './common.js';
import { GPT2 } from './gpt2.js';
import { Llama } from './llama.js';
import type { Tensor } from '../tensor/tensor.js';

export interface SaveOptions {
  /** Convert float weights to this dtype ('keep' = as stored). */
  dtype?: 'keep' | 'f32' | 'bf16';
  /** Split into shards of at most this many bytes (default 5 GB, Hugging Face's default). */
  maxShardBytes?: number;
  /** Extra entries for config.json. */
  extraConfig?: Record<string, unknown>;
}

const TORCH_DTYPE: Record<string, string> = { f32: 'float32', bf16: 'bfloat16', f64: 'float64' };

/** The config.json a model would be loaded back from. */
export function hfConfigOf(model: CausalLM): Record<string, unknown> {
  const loaded = (model as CausalLM & { hfConfig?: HfModelConfig }).hfConfig;
  if (loaded) return { ...loaded.raw };
  if (model instanceof GPT2) {
    const c = model.config;
    return {
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      vocab_size: c.vocabSize,
      n_positions: c.nPositions,
      n_ctx: c.nPositions,
      n_embd: c.nEmbd,
      n_layer: c.nLayer,
      n_head: c.nHead,
      n_inner: c.nInner,
      activation_function: c.activation,
      layer_norm_epsilon: c.layerNormEps,
      resid_pdrop: c.residDropout,
      embd_pdrop: c.embdDropout,
      attn_pdrop: 0,
      tie_word_embeddings: c.tieWordEmbeddings,
    };
  }
  if (model instanceof Llama) {
    const c = model.config;
    const scaling = c.ropeScaling;
    return {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      vocab_size: c.vocabSize,
      hidden_size: c.hiddenSize,
      intermediate_size: c.intermediateSize,
      num_hidden_layers: c.numLayers,
      num_attention_heads: c.numHeads,
      num_key_value_heads: c.numKvHeads,
      head_dim: c.headDim,
      hidden_act: 'silu',
      max_position_embeddings: c.maxPositions,
      rms_norm_eps: c.rmsNormEps,
      rope_theta: c.ropeTheta,
      rope_scaling:
        scaling === null
          ? null
          : scaling.type === 'linear'
            ? { rope_type: 'linear', factor: scaling.factor }
            : {
                rope_type: 'llama3',
                factor: scaling.factor,
                low_freq_factor: scaling.lowFreqFactor,
                high_freq_factor: scaling.highFreqFactor,
                original_max_position_embeddings: scaling.originalMaxPositionEmbeddings,
              },
      attention_bias: c.qkvBias,
      mlp_bias: c.mlpBias,
      tie_word_embeddings: c.tieWordEmbeddings,
    };
  }
  throw new Error('saveModel: unsupported model class');
}

/** Write `model` to `dir` (created if needed) as a Hugging Face checkpoint. Returns the files written. */
export function saveModel(model: CausalLM, dir: string, opts: SaveOptions = {}): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const sd = model.stateDict();
  const want = opts.dtype ?? 'keep';
  const entries: [string, { dtype: SafetensorsDtype; shape: number[]; load: () => ArrayBufferView }][] = [];
  const storedDtypes = new Set<string>();
  for (const [key, t] of sd) {
    const target = want === 'keep' ? t.dtype : t.ndim >= 2 || want === 'f32' ? want : 'f32';
    storedDtypes.add(target);
    entries.push([key, { dtype: target === 'bf16' ? 'BF16' : target === 'f64' ? 'F64' : 'F32', shape: [...t.shape], load: () => convert(t, target) }]);
  }
  const maxShard = opts.maxShardBytes ?? 5e9;
  const shards: (typeof entries)[] = [[]];
  let size = 0;
  for (const e of entries) {
    const bytes = byteSize(e[1]);
    if (size > 0 && size + bytes > maxShard) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1]!.push(e);
    size += bytes;
  }
  const written: string[] = [];
  const meta = { format: 'pt' };
  if (shards.length === 1) {
    const file = path.join(dir, 'model.safetensors');
    writeSafetensors(file, new Map(shards[0]!), meta);
    written.push(file);
  } else {
    const weightMap: Record<string, string> = {};
    let total = 0;
    shards.forEach((shard, i) => {
      const name = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
      writeSafetensors(path.join(dir, name), new Map(shard), meta);
      written.push(path.join(dir, name));
      for (const [k, v] of shard) {
        weightMap[k] = name;
        total += byteSize(v);
      }
    });
    const index = path.join(dir, 'model.safetensors.index.json');
    writeFileAtomic(index, JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n');
    written.push(index);
  }
  const config = { ...hfConfigOf(model), ...opts.extraConfig };
  const main = [...storedDtypes].includes('bf16') ? 'bf16' : [...storedDtypes][0] ?? 'f32';
  config.torch_dtype = TORCH_DTYPE[main] ?? 'float32';
  const cfgFile = path.join(dir, 'config.json');
  writeFileAtomic(cfgFile, JSON.stringify(config, null, 2) + '\n');
  written.push(cfgFile);
  return written;
}

/** Bytes a tensor takes in the file (the safetensors module's dtype sizes). */
function byteSize(t: { dtype: SafetensorsDtype; shape: number[] }): number {
  return t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[t.dtype];
}

function convert(t: Tensor, target: string): ArrayBufferView {
  const flat = t.toFlat();
  if (t.dtype === target) return flat;
  if (target === 'bf16') return f32ToBf16(t.dtype === 'f32' ? (flat as Float32Array) : Float32Array.from(flat as Float64Array));
  if (t.dtype === 'bf16') {
    const f = bf16ToF32(flat as Uint16Array);
    return target === 'f64' ? Float64Array.from(f) : f;
  }
  return target === 'f64' ? Float64Array.from(flat as Float32Array) : Float32Array.from(flat as Float64Array);
}
