/**
 * Hugging Face `config.json` → a typed, normalized model configuration.
 *
 * Supported `model_type`s: `gpt2`, and the Llama family `llama`, `qwen2`, `mistral` (DeepSeek-R1-Distill-Llama
 * is `llama`). Every family is mapped onto one set of camelCase fields so that model code reads `hiddenSize`
 * whatever the checkpoint called it (GPT-2: n_embd → hiddenSize, n_layer → numLayers, n_head → numHeads,
 * n_positions → maxPositions, n_inner → intermediateSize, layer_norm_epsilon → normEps).
 *
 * Defaults follow the transformers configuration classes (GPT2Config, LlamaConfig, Qwen2Config, MistralConfig)
 * for keys that real checkpoints sometimes omit — with one deliberate exception: the size keys (vocabulary,
 * width, depth, heads, and the Llama family's intermediate_size) are required. transformers would fill them with
 * its 7B-model defaults, which for a checkpoint that lacks them only turns into a baffling shape mismatch later.
 *
 * Family differences kept here so model code need not know them:
 *  - biases: Llama's `attention_bias` puts biases on q/k/v and o_proj; Qwen2 always has q/k/v biases and no
 *    o_proj bias; Mistral has none. `mlp_bias` (Llama) is for gate/up/down. → `qkvBias`, `oBias`, `mlpBias`.
 *  - default num_key_value_heads when absent: Llama = num_attention_heads, Qwen2 = 32, Mistral = 8 (as in
 *    transformers).
 *  - sliding window: Mistral uses `sliding_window` (default 4096; null disables) on every layer. Qwen2 uses it
 *    only when `use_sliding_window` is true (default false), and then only on layers ≥ `max_window_layers`
 *    (default 28) unless `layer_types` says otherwise. → `slidingWindow` (null when unused) and `layerTypes`.
 *  - RoPE: `rope_theta` (default 10000) and `rope_scaling`; also the newer `rope_parameters` form that holds
 *    both. Scaling types accepted: none/`default`, `linear` (factor), `llama3` (factor, low_freq_factor,
 *    high_freq_factor, original_max_position_embeddings). The type may be given as `rope_type` or the older
 *    `type`. Others (yarn, dynamic, longrope, …) are refused with a clear error rather than silently ignored.
 *  - eos_token_id may be one id or a list (Llama 3 instruct models) → `eosTokenIds: number[]`.
 *
 * Errors name the file and the key: `llama/config.json: key "num_attention_heads": expected a positive integer,
 * got "4"`. Unknown extra keys are kept in `raw` and otherwise ignored.
 */
import fs from 'node:fs';
import path from 'node:path';

export type HfModelType = 'gpt2' | 'llama' | 'qwen2' | 'mistral';
export const SUPPORTED_MODEL_TYPES: readonly HfModelType[] = ['gpt2', 'llama', 'qwen2', 'mistral'];

export type RopeScaling =
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

interface CommonConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  maxPositions: number;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  /** Possibly several (Llama 3 instruct). Empty when the config declares none. */
  eosTokenIds: number[];
  padTokenId: number | null;
  /** `torch_dtype` (or the newer `dtype`) as written, e.g. "float32", "bfloat16"; null when absent. */
  torchDtype: string | null;
  /** The parsed JSON as read, for anything not normalized here. */
  raw: Readonly<Record<string, unknown>>;
}

export interface Gpt2Config extends CommonConfig {
  modelType: 'gpt2';
  /** layer_norm_epsilon (default 1e-5). */
  normEps: number;
  /** activation_function, e.g. "gelu_new" (tanh approximation, the GPT-2 default) or "gelu" (exact). */
  activation: string;
  /** resid_pdrop, embd_pdrop, attn_pdrop (defaults 0.1). */
  residDropout: number;
  embdDropout: number;
  attnDropout: number;
  /** scale_attn_weights (default true): divide scores by sqrt(head_dim). */
  scaleAttnWeights: boolean;
  /** scale_attn_by_inverse_layer_idx (default false): additionally divide by layer index + 1. */
  scaleAttnByInverseLayerIdx: boolean;
}

export type LayerType = 'full_attention' | 'sliding_attention';

export interface LlamaFamilyConfig extends CommonConfig {
  modelType: 'llama' | 'qwen2' | 'mistral';
  /** rms_norm_eps (default 1e-6). */
  normEps: number;
  /** hidden_act (default "silu"). */
  activation: string;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  /** Effective attention window in tokens, or null for full causal attention on every layer. */
  slidingWindow: number | null;
  /** Per layer: whether it uses the sliding window. */
  layerTypes: LayerType[];
  attnDropout: number;
}

export type HfModelConfig = Gpt2Config | LlamaFamilyConfig;

/** Largest config.json we agree to read; real ones are a few KB. */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

type Json = Record<string, unknown>;

class Reader {
  constructor(
    readonly file: string,
    readonly obj: Json,
  ) {}

  fail(key: string, msg: string): never {
    throw new Error(`${this.file}: key "${key}": ${msg}`);
  }

  private got(v: unknown): string {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
  }

  has(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.obj, key) && this.obj[key] !== undefined;
  }

  /** A key that must be present (any of `keys`, first found wins), a positive integer. */
  requiredInt(...keys: string[]): number {
    for (const k of keys) if (this.has(k) && this.obj[k] !== null) return this.posInt(k, this.obj[k]);
    const alt = keys.length > 1 ? ` (or ${keys.slice(1).map((k) => `"${k}"`).join(', ')})` : '';
    throw new Error(`${this.file}: required key "${keys[0]}"${alt} is missing`);
  }

  posInt(key: string, v: unknown): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) this.fail(key, `expected a positive integer, got ${this.got(v)}`);
    return v;
  }

  /** Optional positive integer; null/absent → `def`. */
  optInt(key: string, def: number): number;
  optInt(key: string, def: null): number | null;
  optInt(key: string, def: number | null): number | null {
    if (!this.has(key) || this.obj[key] === null) return def;
    return this.posInt(key, this.obj[key]);
  }

  /** Optional positive integer where an explicit null means "none" (absent → `def`), e.g. sliding_window. */
  intOrNull(key: string, def: number | null): number | null {
    if (!this.has(key)) return def;
    if (this.obj[key] === null) return null;
    return this.posInt(key, this.obj[key]);
  }

  /** Optional non-negative integer; null/absent → `def`. */
  nonNegInt(key: string, def: number): number {
    if (!this.has(key) || this.obj[key] === null) return def;
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(key, `expected a non-negative integer, got ${this.got(v)}`);
    return v;
  }

  /** Optional token id (a non-negative integer); null/absent → `def`. */
  optId(key: string, def: number | null): number | null {
    if (!this.has(key) || this.obj[key] === null) return def;
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(key, `expected a token id (non-negative integer), got ${this.got(v)}`);
    return v;
  }

  /** One id or a list of ids. */
  ids(key: string, def: number | null): number[] {
    if (!this.has(key) || this.obj[key] === null) return def === null ? [] : [def];
    const v = this.obj[key];
    const list = Array.isArray(v) ? v : [v];
    for (const x of list) {
      if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) this.fail(key, `expected a token id or a list of them, got ${this.got(v)}`);
    }
    return list as number[];
  }

  /** Optional positive finite number. */
  posNum(key: string, def: number): number {
    if (!this.has(key) || this.obj[key] === null) return def;
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) this.fail(key, `expected a positive number, got ${this.got(v)}`);
    return v;
  }

  /** Optional probability in [0, 1). */
  prob(key: string, def: number): number {
    if (!this.has(key) || this.obj[key] === null) return def;
    const v = this.obj[key];
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) this.fail(key, `expected a number in [0, 1), got ${this.got(v)}`);
    return v;
  }

  bool(key: string, def: boolean): boolean {
    if (!this.has(key) || this.obj[key] === null) return def;
    const v = this.obj[key];
    if (typeof v !== 'boolean') this.fail(key, `expected true or false, got ${this.got(v)}`);
    return v;
  }

  str(key: string, def: string): string;
  str(key: string, def: null): string | null;
  str(key: string, def: string | null): string | null {
    if (!this.has(key) || this.obj[key] === null) return def;
    const v = this.obj[key];
    if (typeof v !== 'string') this.fail(key, `expected a string, got ${this.got(v)}`);
    return v;
  }
}

function common(r: Reader, sizes: {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number | null;
  headDimKey: string;
  intermediateSize: number;
  maxPositions: number;
  tie: boolean;
  bos: number | null;
  eos: number | null;
}): CommonConfig {
  const { hiddenSize, numHeads, numKvHeads } = sizes;
  let headDim = sizes.headDim;
  if (headDim === null) {
    if (hiddenSize % numHeads !== 0) {
      r.fail(sizes.headDimKey, `hidden size ${hiddenSize} is not divisible by ${numHeads} attention heads (and no head_dim is given)`);
    }
    headDim = hiddenSize / numHeads;
  }
  if (numHeads % numKvHeads !== 0) {
    r.fail('num_key_value_heads', `${numHeads} attention heads are not a multiple of ${numKvHeads} key/value heads`);
  }
  const torchDtype = r.has('torch_dtype') ? r.str('torch_dtype', null) : r.str('dtype', null);
  return {
    vocabSize: sizes.vocabSize,
    hiddenSize,
    numLayers: sizes.numLayers,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: sizes.intermediateSize,
    maxPositions: sizes.maxPositions,
    tieWordEmbeddings: r.bool('tie_word_embeddings', sizes.tie),
    bosTokenId: r.optId('bos_token_id', sizes.bos),
    eosTokenIds: r.ids('eos_token_id', sizes.eos),
    padTokenId: r.optId('pad_token_id', null),
    torchDtype,
    raw: r.obj,
  };
}

function parseGpt2(r: Reader): Gpt2Config {
  const hiddenSize = r.requiredInt('n_embd', 'hidden_size');
  const numHeads = r.requiredInt('n_head', 'num_attention_heads');
  const base = common(r, {
    vocabSize: r.requiredInt('vocab_size'),
    hiddenSize,
    numLayers: r.requiredInt('n_layer', 'num_hidden_layers'),
    numHeads,
    numKvHeads: numHeads,
    headDim: null,
    headDimKey: 'n_head',
    intermediateSize: r.optInt('n_inner', 4 * hiddenSize),
    // n_ctx is the older name of the same context length; n_positions (default 1024) is what GPT2Config uses.
    maxPositions: r.has('n_positions') ? r.optInt('n_positions', 1024) : r.optInt('n_ctx', 1024),
    tie: true,
    bos: 50256,
    eos: 50256,
  });
  return {
    modelType: 'gpt2',
    ...base,
    normEps: r.posNum('layer_norm_epsilon', 1e-5),
    activation: r.str('activation_function', 'gelu_new'),
    residDropout: r.prob('resid_pdrop', 0.1),
    embdDropout: r.prob('embd_pdrop', 0.1),
    attnDropout: r.prob('attn_pdrop', 0.1),
    scaleAttnWeights: r.bool('scale_attn_weights', true),
    scaleAttnByInverseLayerIdx: r.bool('scale_attn_by_inverse_layer_idx', false),
  };
}

function parseRope(r: Reader): { theta: number; scaling: RopeScaling | null } {
  // Newer transformers write one `rope_parameters` object holding rope_theta and the scaling fields.
  let theta = r.posNum('rope_theta', 10000);
  let key = 'rope_scaling';
  let spec: unknown = r.has('rope_scaling') ? r.obj['rope_scaling'] : null;
  if (r.has('rope_parameters') && r.obj['rope_parameters'] !== null) {
    key = 'rope_parameters';
    spec = r.obj['rope_parameters'];
  }
  if (spec === null || spec === undefined) return { theta, scaling: null };
  if (typeof spec !== 'object' || Array.isArray(spec)) r.fail(key, `expected an object or null, got ${JSON.stringify(spec)}`);
  const s = new Reader(r.file, spec as Json);
  // Declared with an explicit type so TypeScript narrows after calls (control flow needs annotated never-functions).
  const fail: (k: string, msg: string) => never = (k, msg) => r.fail(`${key}.${k}`, msg);
  if (key === 'rope_parameters' && s.has('rope_theta')) {
    const t = s.obj['rope_theta'];
    if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) return fail('rope_theta', `expected a positive number, got ${JSON.stringify(t)}`);
    theta = t;
  }
  const typeKey = s.has('rope_type') ? 'rope_type' : 'type';
  const type = s.obj[typeKey] ?? 'default';
  if (typeof type !== 'string') fail(typeKey, `expected a string, got ${JSON.stringify(type)}`);
  const num = (k: string, integer = false): number => {
    const v = s.obj[k];
    if (v === undefined || v === null) return fail(k, `required for rope type "${type}" but missing`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isSafeInteger(v))) {
      return fail(k, `expected a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  switch (type) {
    case 'default':
      return { theta, scaling: null };
    case 'linear':
      return { theta, scaling: { type: 'linear', factor: num('factor') } };
    case 'llama3': {
      const scaling: RopeScaling = {
        type: 'llama3',
        factor: num('factor'),
        lowFreqFactor: num('low_freq_factor'),
        highFreqFactor: num('high_freq_factor'),
        originalMaxPositionEmbeddings: num('original_max_position_embeddings', true),
      };
      // The llama3 formula interpolates between the two factors; it divides by their difference.
      if (scaling.highFreqFactor <= scaling.lowFreqFactor) {
        fail('high_freq_factor', `must exceed low_freq_factor (${scaling.lowFreqFactor}), got ${scaling.highFreqFactor}`);
      }
      return { theta, scaling };
    }
    default:
      return fail(typeKey, `rope type "${type}" is not supported (supported: default, linear, llama3)`);
  }
}

function parseLlamaFamily(r: Reader, modelType: 'llama' | 'qwen2' | 'mistral'): LlamaFamilyConfig {
  const numHeads = r.requiredInt('num_attention_heads');
  const kvDefault = modelType === 'llama' ? numHeads : modelType === 'qwen2' ? 32 : 8;
  const numLayers = r.requiredInt('num_hidden_layers');
  const d = {
    llama: { maxPos: 2048, bos: 1, eos: 2 },
    qwen2: { maxPos: 32768, bos: null, eos: null },
    mistral: { maxPos: 4096 * 32, bos: 1, eos: 2 },
  }[modelType];
  const base = common(r, {
    vocabSize: r.requiredInt('vocab_size'),
    hiddenSize: r.requiredInt('hidden_size'),
    numLayers,
    numHeads,
    numKvHeads: r.optInt('num_key_value_heads', kvDefault),
    headDim: r.optInt('head_dim', null),
    headDimKey: 'hidden_size',
    intermediateSize: r.requiredInt('intermediate_size'),
    maxPositions: r.optInt('max_position_embeddings', d.maxPos),
    tie: false,
    bos: d.bos,
    eos: d.eos,
  });
  const rope = parseRope(r);

  let qkvBias = false;
  let oBias = false;
  let mlpBias = false;
  if (modelType === 'llama') {
    qkvBias = oBias = r.bool('attention_bias', false);
    mlpBias = r.bool('mlp_bias', false);
  } else if (modelType === 'qwen2') {
    qkvBias = true;
  }

  let slidingWindow: number | null = null;
  let layerTypes: LayerType[] = new Array<LayerType>(numLayers).fill('full_attention');
  if (modelType === 'mistral') {
    slidingWindow = r.intOrNull('sliding_window', 4096);
    if (slidingWindow !== null) layerTypes.fill('sliding_attention');
  } else if (modelType === 'qwen2') {
    const use = r.bool('use_sliding_window', false);
    const window = r.intOrNull('sliding_window', 4096);
    slidingWindow = use ? window : null;
    if (slidingWindow !== null) {
      const maxWindowLayers = r.nonNegInt('max_window_layers', 28);
      layerTypes = layerTypes.map((_, i) => (i >= maxWindowLayers ? 'sliding_attention' : 'full_attention'));
    }
  }
  if (r.has('layer_types') && r.obj['layer_types'] !== null) {
    const lt = r.obj['layer_types'];
    if (!Array.isArray(lt) || lt.length !== numLayers || !lt.every((x) => x === 'full_attention' || x === 'sliding_attention')) {
      r.fail('layer_types', `expected ${numLayers} entries of "full_attention" or "sliding_attention"`);
    }
    layerTypes = (lt as LayerType[]).slice();
    if (layerTypes.includes('sliding_attention') && slidingWindow === null) {
      r.fail('layer_types', 'names sliding_attention layers but no sliding window is in use');
    }
  }
  if (!layerTypes.includes('sliding_attention')) slidingWindow = null;

  return {
    modelType,
    ...base,
    normEps: r.posNum('rms_norm_eps', 1e-6),
    activation: r.str('hidden_act', 'silu'),
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    qkvBias,
    oBias,
    mlpBias,
    slidingWindow,
    layerTypes,
    attnDropout: r.prob('attention_dropout', 0),
  };
}

/** Normalizes an already-parsed config object. `file` labels errors. */
export function parseHfConfig(json: unknown, file = 'config.json'): HfModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`${file}: expected a JSON object at the top level`);
  }
  const r = new Reader(file, json as Json);
  if (!r.has('model_type')) throw new Error(`${file}: required key "model_type" is missing`);
  const mt = r.obj['model_type'];
  if (typeof mt !== 'string') r.fail('model_type', `expected a string, got ${JSON.stringify(mt)}`);
  switch (mt) {
    case 'gpt2':
      return parseGpt2(r);
    case 'llama':
    case 'qwen2':
    case 'mistral':
      return parseLlamaFamily(r, mt);
    default:
      throw new Error(`${file}: model_type "${mt}" is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);
  }
}

/** Reads and normalizes `config.json`; `p` is the file or the model folder holding it. */
export function readHfConfig(p: string): HfModelConfig {
  let file = p;
  if (fs.existsSync(p) && fs.statSync(p).isDirectory()) file = path.join(p, 'config.json');
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    throw new Error(`${file}: not found (a Hugging Face model folder needs a config.json)`);
  }
  if (size > MAX_CONFIG_BYTES) throw new Error(`${file}: ${size} bytes is too large for a config.json`);
  const text = fs.readFileSync(file, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  return parseHfConfig(json, file);
}
