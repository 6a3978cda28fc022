/**
 * bitsandbytes' serialized 4-bit (and 8-bit) layers in safetensors, as transformers writes "-bnb-4bit" models.
 *
 * A `Linear4bit` at module path P is saved as (bitsandbytes `Linear4bit._save_to_state_dict`, which adds
 * `QuantState.as_dict(packed=True)` under `P.weight.`):
 *
 *   P.weight                                 U8  [ceil(n/2), 1]  codes, first element in the high nibble
 *   P.weight.absmax                          F32 [blocks]        — or U8 [blocks] when double-quantized
 *   P.weight.quant_map                       F32 [16]            the 4-bit code
 *   P.weight.nested_absmax                   F32 [ceil(blocks/256)]   (double quantization only)
 *   P.weight.nested_quant_map                F32 [256]           the dynamic map (double quantization only)
 *   P.weight.quant_state.bitsandbytes__nf4   U8  [len]           `json.dumps` of the non-tensor fields
 *   P.bias                                   (unquantized)
 *
 * The JSON holds, in this order: quant_type, blocksize, dtype, shape, and when nested nested_blocksize,
 * nested_dtype, nested_offset — written by Python's json.dumps (", " and ": " separators, floats as Python's
 * repr). The shape is the Linear's [out, in]: transformers transposes GPT-2's Conv1D weights before quantizing,
 * so a Conv1D layer is stored like a Linear one and loads without a transpose.
 *
 * An 8-bit layer (LLM.int8 storage) is `P.weight` I8 [out, in] and `P.SCB` F32 [out] (older files add a
 * `P.weight_format` byte, which is ignored on load and not written).
 */
import type { Module } from '../../nn/module.js';
import { Conv1D, Linear } from '../../nn/layers.js';
import {
  openSafetensors,
  toFloat32,
  writeSafetensors,
  type LazySafetensorsTensor,
  type SafetensorsDtype,
  type SafetensorsFile,
  type SafetensorsTensorSource,
} from '../../io/safetensors.js';
import { f32ToBf16 } from '../../tensor/half.js';
import type { NestedAbsmax } from './blockwise.js';
import type { FourBitType } from './codes.js';
import { QuantLinear } from './linear4bit.js';
import { getModule, quantizationTargets, quantizedModules, replaceModule, type QuantizeModelOptions } from './model.js';
import { Int8Weight, Params4bit, quantizeLinearWeight } from './weight.js';

// ---- the quant-state JSON ------------------------------------------------------------------------------------

/** Python's repr() of a float, which json.dumps uses: shortest round-trip digits, Python's notation. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  // toExponential() without an argument gives the shortest digits that round-trip, like Python's repr.
  const [mant, expStr] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mant.replace('.', '');
  const e = Number(expStr);
  if (e < -4 || e >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  if (digits.length <= e + 1) return `${sign}${digits}${'0'.repeat(e + 1 - digits.length)}.0`;
  return `${sign}${digits.slice(0, e + 1)}.${digits.slice(e + 1)}`;
}

/** The non-tensor fields of a 4-bit quant state (bitsandbytes `QuantState.as_dict`). */
export interface QuantStateJson {
  quant_type: FourBitType;
  blocksize: number;
  dtype: string;
  shape: number[];
  nested_blocksize?: number;
  nested_dtype?: string;
  nested_offset?: number;
}

/** `json.dumps(dict)` bytes for a weight's quant state, byte for byte as Python writes them. */
export function packQuantState(w: Params4bit): Uint8Array {
  const parts = [
    `"quant_type": "${w.kind}"`,
    `"blocksize": ${w.blockSize}`,
    `"dtype": ${JSON.stringify(w.dtype)}`,
    `"shape": [${w.shape.join(', ')}]`,
  ];
  if (w.nested) {
    parts.push(`"nested_blocksize": ${w.nested.blockSize2}`, `"nested_dtype": "float32"`, `"nested_offset": ${pyFloatRepr(w.nested.offset)}`);
  }
  return new TextEncoder().encode(`{${parts.join(', ')}}`);
}

export function parseQuantState(bytes: Uint8Array, where: string): QuantStateJson {
  let v: unknown;
  try {
    // Python writes NaN/Infinity bare; JSON.parse rejects them, but no valid state has them.
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new Error(`${where}: the quant state is not UTF-8 JSON (${(e as Error).message})`);
  }
  const o = v as Record<string, unknown>;
  const bad = (what: string): never => {
    throw new Error(`${where}: quant state ${what} (got ${JSON.stringify(v)})`);
  };
  if (!o || typeof o !== 'object') bad('is not an object');
  if (o.quant_type !== 'nf4' && o.quant_type !== 'fp4') bad('has a quant_type other than "nf4"/"fp4"');
  if (!Number.isInteger(o.blocksize) || (o.blocksize as number) < 2 || (o.blocksize as number) % 2) bad('has a bad blocksize');
  if (typeof o.dtype !== 'string') bad('has no dtype');
  if (!Array.isArray(o.shape) || o.shape.length !== 2 || !o.shape.every((d) => Number.isInteger(d) && d > 0)) {
    bad('has a shape that is not [out, in]');
  }
  if ('nested_offset' in o || 'nested_blocksize' in o) {
    if (!Number.isInteger(o.nested_blocksize) || (o.nested_blocksize as number) < 1) bad('has a bad nested_blocksize');
    if (typeof o.nested_offset !== 'number') bad('has a non-numeric nested_offset');
    if (o.nested_dtype !== undefined && o.nested_dtype !== 'float32') bad('has a nested_dtype other than float32');
  }
  return o as unknown as QuantStateJson;
}

// ---- one layer <-> tensors -------------------------------------------------------------------------------------

const QS_PREFIX = 'weight.quant_state.bitsandbytes__';

function raw(dtype: SafetensorsDtype, shape: number[], data: ArrayBufferView): SafetensorsTensorSource {
  return { dtype, shape, data };
}

/** The tensors of one quantized layer at module path `prefix` (bias excluded: it is an ordinary parameter). */
export function quantizedLayerTensors(prefix: string, w: Params4bit | Int8Weight): Map<string, SafetensorsTensorSource> {
  const out = new Map<string, SafetensorsTensorSource>();
  if (w instanceof Int8Weight) {
    out.set(`${prefix}.weight`, raw('I8', [...w.shape], w.q));
    out.set(`${prefix}.SCB`, raw('F32', [w.shape[0]], w.scb));
    return out;
  }
  out.set(`${prefix}.weight`, raw('U8', [w.packed.length, 1], w.packed));
  if (w.nested) {
    out.set(`${prefix}.weight.absmax`, raw('U8', [w.nested.qabsmax.length], w.nested.qabsmax));
    out.set(`${prefix}.weight.nested_absmax`, raw('F32', [w.nested.absmax2.length], w.nested.absmax2));
    out.set(`${prefix}.weight.nested_quant_map`, raw('F32', [w.nested.code2.length], w.nested.code2));
  } else {
    out.set(`${prefix}.weight.absmax`, raw('F32', [w.absmax!.length], w.absmax!));
  }
  out.set(`${prefix}.weight.quant_map`, raw('F32', [w.code.length], w.code));
  const qs = w.rawQuantState ?? packQuantState(w);
  out.set(`${prefix}.${QS_PREFIX}${w.kind}`, raw('U8', [qs.length], qs));
  return out;
}

/** Read access to named raw tensors (a safetensors file, or several, behind renamed keys). */
interface TensorSource {
  has(key: string): boolean;
  dtype(key: string): SafetensorsDtype;
  shape(key: string): number[];
  bytes(key: string): Uint8Array;
  float32(key: string): Float32Array;
}

/** Build a Params4bit from the bitsandbytes tensors of module path `prefix`. */
export function params4bitFromTensors(src: TensorSource, prefix: string, type: FourBitType, where: string): Params4bit {
  const key = (s: string): string => `${prefix}.${s}`;
  const need = (s: string): string => {
    if (!src.has(key(s))) throw new Error(`${where}: "${key(s)}" is missing for the 4-bit layer ${prefix}`);
    return key(s);
  };
  const qsBytes = src.bytes(need(`${QS_PREFIX}${type}`));
  const qs = parseQuantState(qsBytes, `${where}: ${key(QS_PREFIX + type)}`);
  if (qs.quant_type !== type) throw new Error(`${where}: ${key(QS_PREFIX + type)} says quant_type "${qs.quant_type}"`);
  const shape: [number, number] = [qs.shape[0]!, qs.shape[1]!];
  const n = shape[0] * shape[1];
  // quant_storage may be another dtype (bf16, …) holding the same bytes: the codes are the raw bytes either way.
  const packed = src.bytes(need('weight'));
  if (packed.length !== Math.ceil(n / 2)) {
    throw new Error(`${where}: "${key('weight')}" has ${packed.length} bytes, a [${shape.join(', ')}] 4-bit weight needs ${Math.ceil(n / 2)}`);
  }
  const code = src.float32(need('weight.quant_map'));
  const absKey = need('weight.absmax');
  const blocks = Math.ceil(n / qs.blocksize);
  let absmax: Float32Array | null = null;
  let nested: NestedAbsmax | null = null;
  if (qs.nested_offset !== undefined) {
    if (src.dtype(absKey) !== 'U8') throw new Error(`${where}: "${absKey}" must be U8 when the state is double-quantized, got ${src.dtype(absKey)}`);
    nested = {
      qabsmax: src.bytes(absKey),
      absmax2: src.float32(need('weight.nested_absmax')),
      code2: src.float32(need('weight.nested_quant_map')),
      blockSize2: qs.nested_blocksize!,
      offset: Math.fround(qs.nested_offset),
    };
    if (nested.code2.length !== 256) throw new Error(`${where}: "${key('weight.nested_quant_map')}" has ${nested.code2.length} values, not 256`);
  } else {
    absmax = src.float32(absKey);
  }
  const have = absmax ? absmax.length : nested!.qabsmax.length;
  if (have !== blocks) throw new Error(`${where}: "${absKey}" has ${have} values, ${blocks} blocks of ${qs.blocksize} expected`);
  const w = new Params4bit(packed, shape, type, qs.blocksize, code, absmax, nested, qs.dtype);
  w.rawQuantState = qsBytes;
  return w;
}

// ---- whole checkpoints ------------------------------------------------------------------------------------------

export interface SaveQuantizedOptions {
  /** dtype of the unquantized tensors (embeddings, norms, biases, head): 'F32' (default) or 'BF16'. */
  dtype?: 'F32' | 'BF16';
  metadata?: Record<string, string>;
}

/**
 * Write a quantized model as a bitsandbytes-serialized safetensors file: quantized layers in bitsandbytes'
 * layout, every other tensor as the model's state dict has it. Tensors are produced one at a time.
 */
export function saveQuantizedCheckpoint(model: Module, file: string, opts: SaveQuantizedOptions = {}): void {
  const tensors = new Map<string, SafetensorsTensorSource>();
  const dtype = opts.dtype ?? 'F32';
  for (const [k, t] of model.stateDict()) {
    const lazy: LazySafetensorsTensor = {
      dtype,
      shape: [...t.shape],
      load: () => (dtype === 'BF16' ? f32ToBf16(t.toFloat32Array()) : t.toFloat32Array()),
    };
    tensors.set(k, lazy);
  }
  for (const [path, m] of quantizedModules(model)) {
    if (!(m.qweight instanceof Params4bit) && !(m.qweight instanceof Int8Weight)) {
      throw new Error(`saveQuantizedCheckpoint: ${path} holds a ${m.qweight.kind} weight of an unknown kind`);
    }
    for (const [k, v] of quantizedLayerTensors(path, m.qweight)) tensors.set(k, v);
  }
  writeSafetensors(file, tensors, { format: 'pt', ...opts.metadata });
}

export interface LoadQuantizedOptions {
  /** Map a file's key to the model's (null drops it), e.g. normalizeGpt2Key. */
  rename?: (key: string) => string | null;
  /**
   * Quantize unquantized Linear/Conv1D weights as they are read (each float32 weight exists only while it is
   * being quantized). Without it, such weights load as float32.
   */
  quantize?: QuantizeModelOptions;
  /** Require every parameter of the model to be loaded and every tensor of the files to be used (default true). */
  strict?: boolean;
}

export interface LoadQuantizedReport {
  /** Layers loaded from bitsandbytes tensors. */
  prequantized: string[];
  /** Layers quantized while loading. */
  quantized: string[];
  /** Other tensors loaded. */
  loaded: number;
}

/** Several safetensors files behind the model's key names. */
class RenamedFiles implements TensorSource {
  private readonly where = new Map<string, { file: SafetensorsFile; name: string }>();
  constructor(
    readonly files: SafetensorsFile[],
    rename: (k: string) => string | null,
  ) {
    for (const f of files) {
      for (const name of f.keys()) {
        const key = rename(name);
        if (key === null) continue;
        if (this.where.has(key)) throw new Error(`${f.path}: tensor "${name}" appears twice in the checkpoint (as ${key})`);
        this.where.set(key, { file: f, name });
      }
    }
  }
  keys(): string[] {
    return [...this.where.keys()];
  }
  has(key: string): boolean {
    return this.where.has(key);
  }
  private at(key: string): { file: SafetensorsFile; name: string } {
    const w = this.where.get(key);
    if (!w) throw new Error(`checkpoint has no tensor "${key}"`);
    return w;
  }
  fileOf(key: string): string {
    return this.at(key).file.path;
  }
  dtype(key: string): SafetensorsDtype {
    const { file, name } = this.at(key);
    return file.entry(name).dtype;
  }
  shape(key: string): number[] {
    const { file, name } = this.at(key);
    return file.entry(name).shape.slice();
  }
  bytes(key: string): Uint8Array {
    const { file, name } = this.at(key);
    return file.readBytes(name);
  }
  float32(key: string): Float32Array {
    const { file, name } = this.at(key);
    const r = file.readTensor(name);
    return toFloat32(r.data, r.dtype);
  }
  /**
   * Read a float tensor into dst (exactly its element count): F32 data is read straight into dst's memory, so
   * no temporary the size of the tensor is made; other float dtypes are converted through one.
   */
  readFloat32Into(key: string, dst: Float32Array): void {
    const { file, name } = this.at(key);
    const e = file.entry(name);
    if (e.numel !== dst.length) throw new Error(`${file.path}: "${name}" has ${e.numel} values, ${dst.length} expected`);
    if (e.dtype === 'F32') file.readInto(name, new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength));
    else dst.set(this.float32(key));
  }
  int8(key: string): Int8Array {
    const { file, name } = this.at(key);
    if (file.entry(name).dtype !== 'I8') throw new Error(`${file.path}: "${name}" is ${file.entry(name).dtype}, expected I8`);
    const b = file.readBytes(name);
    return new Int8Array(b.buffer, b.byteOffset, b.length);
  }
}

/** The torch dtype names bitsandbytes records for a weight stored as each safetensors dtype. */
const TORCH_DTYPE_NAME: Partial<Record<SafetensorsDtype, string>> = { F32: 'float32', BF16: 'bfloat16', F16: 'float16' };

/** [out, in] of a Linear/Conv1D/QuantLinear, and which layout it had. */
function layerGeometry(m: Module | undefined): { out: number; inF: number; layout: 'out_in' | 'in_out'; bias: QuantLinear['bias'] } | null {
  if (m instanceof Linear) return { out: m.outFeatures, inF: m.inFeatures, layout: 'out_in', bias: m.bias };
  if (m instanceof Conv1D) return { out: m.outFeatures, inF: m.inFeatures, layout: 'in_out', bias: m.bias };
  if (m instanceof QuantLinear) return { out: m.outFeatures, inF: m.inFeatures, layout: m.sourceLayout, bias: m.bias };
  return null;
}

/**
 * Load safetensors files into `model`, which may be float32 or already quantized: bitsandbytes-serialized layers
 * replace their Linear/Conv1D (as `QuantLinear`), float weights of quantization targets are quantized as they
 * are read when `opts.quantize` is given, and everything else is copied into the model's parameters.
 */
export function loadQuantizedCheckpoint(model: Module, files: string[], opts: LoadQuantizedOptions = {}): LoadQuantizedReport {
  const rename = opts.rename ?? ((k: string) => k);
  const strict = opts.strict ?? true;
  const opened: SafetensorsFile[] = [];
  try {
    for (const f of files) opened.push(openSafetensors(f));
    const src = new RenamedFiles(opened, rename);
    const used = new Set<string>();
    const report: LoadQuantizedReport = { prequantized: [], quantized: [], loaded: 0 };

    const install = (path: string, w: Params4bit | Int8Weight, what: string): void => {
      const g = layerGeometry(getModule(model, path));
      if (!g) throw new Error(`${what}: the model has no Linear layer "${path}" for a quantized weight`);
      if (w.shape[0] !== g.out || w.shape[1] !== g.inF) {
        throw new Error(`${what}: "${path}" is quantized as [${w.shape.join(', ')}], the model's layer is [${g.out}, ${g.inF}] ([out, in])`);
      }
      replaceModule(model, path, new QuantLinear(w, g.bias, g.layout));
    };

    // 1. Layers stored quantized.
    for (const key of src.keys()) {
      const m = /^(.*)\.weight\.quant_state\.bitsandbytes__(nf4|fp4)$/.exec(key);
      if (m) {
        const path = m[1]!;
        const w = params4bitFromTensors(src, path, m[2] as FourBitType, src.fileOf(key));
        install(path, w, src.fileOf(key));
        for (const s of ['weight', 'weight.absmax', 'weight.quant_map', 'weight.nested_absmax', 'weight.nested_quant_map', `${QS_PREFIX}${m[2]}`]) {
          used.add(`${path}.${s}`);
        }
        report.prequantized.push(path);
        continue;
      }
      const s = /^(.*)\.SCB$/.exec(key);
      if (s && src.has(`${s[1]}.weight`) && src.dtype(`${s[1]}.weight`) === 'I8') {
        const path = s[1]!;
        const shape = src.shape(`${path}.weight`);
        if (shape.length !== 2) throw new Error(`${src.fileOf(key)}: "${path}.weight" is not 2-D`);
        install(path, new Int8Weight(src.int8(`${path}.weight`), src.float32(key), [shape[0]!, shape[1]!]), src.fileOf(key));
        used.add(key).add(`${path}.weight`).add(`${path}.weight_format`);
        report.prequantized.push(path);
      }
    }

    // 2. Float weights of quantization targets, quantized one at a time as they are read. Two scratch buffers
    // sized for the largest layer (the weight as stored, and its [out, in] transpose) are reused for every
    // layer: fresh per-layer buffers would be freed, but the allocator keeps such memory, so the process would
    // grow as if the float32 weights had all been loaded.
    if (opts.quantize) {
      const targets = quantizationTargets(model, opts.quantize).filter((p) => src.has(`${p}.weight`) && !used.has(`${p}.weight`));
      const largest = targets.reduce((mx, p) => {
        const g = layerGeometry(getModule(model, p))!;
        return Math.max(mx, g.out * g.inF);
      }, 0);
      const readBuf = new Float32Array(largest);
      const transposeBuf = new Float32Array(largest);
      for (const path of targets) {
        const key = `${path}.weight`;
        const g = layerGeometry(getModule(model, path))!;
        const stored: [number, number] = g.layout === 'in_out' ? [g.inF, g.out] : [g.out, g.inF];
        const shape = src.shape(key);
        if (shape.length !== 2 || shape[0] !== stored[0] || shape[1] !== stored[1]) {
          throw new Error(`${src.fileOf(key)}: "${key}" has shape [${shape.join(', ')}], the model expects [${stored.join(', ')}]`);
        }
        const w = readBuf.subarray(0, g.out * g.inF);
        src.readFloat32Into(key, w);
        const q = quantizeLinearWeight(w, stored, {
          type: opts.quantize.type,
          blockSize: opts.quantize.blockSize,
          doubleQuant: opts.quantize.doubleQuant ?? true,
          dtype: opts.quantize.dtype ?? TORCH_DTYPE_NAME[src.dtype(key)] ?? 'float32',
          layout: g.layout,
          scratch: transposeBuf,
        });
        install(path, q, src.fileOf(key));
        used.add(key);
        report.quantized.push(path);
      }
    }

    // 3. Everything else, into the (now partly quantized) model's parameters and buffers.
    const sd = model.stateDict();
    for (const [key, dst] of sd) {
      if (!src.has(key)) continue;
      const shape = src.shape(key);
      if (shape.length !== dst.shape.length || shape.some((d, i) => d !== dst.shape[i])) {
        throw new Error(`${src.fileOf(key)}: "${key}" has shape [${shape.join(', ')}], the model expects [${dst.shape.join(', ')}]`);
      }
      if (dst.dtype === 'f32' && dst.isContiguous()) {
        // Straight into the parameter's memory (an embedding table can be the largest tensor of a model).
        src.readFloat32Into(key, (dst.data as Float32Array).subarray(dst.offset, dst.offset + dst.size));
      } else {
        const vals = src.float32(key);
        if (dst.dtype === 'f32') (dst.data as Float32Array).set(vals, dst.offset);
        else if (dst.dtype === 'bf16') (dst.data as Uint16Array).set(f32ToBf16(vals), dst.offset);
        else (dst.data as Float64Array).set(vals, dst.offset);
      }
      used.add(key);
      report.loaded++;
    }
    if (strict) {
      const missing = [...sd.keys()].filter((k) => !used.has(k));
      // A head tied to the embeddings is not in the state dict; a file may still carry a copy of it.
      const unexpected = src.keys().filter((k) => !used.has(k) && !(k === 'lm_head.weight' && !sd.has(k)));
      if (missing.length || unexpected.length) {
        const parts = [];
        if (missing.length) parts.push(`missing keys: ${missing.join(', ')}`);
        if (unexpected.length) parts.push(`unexpected keys: ${unexpected.join(', ')}`);
        throw new Error(`loadQuantizedCheckpoint (${files.join(', ')}): ${parts.join('; ')}`);
      }
    }
    return report;
  } finally {
    for (const f of opened) f.close();
  }
}

/**
 * The `quantization_config` transformers writes into config.json for a 4-bit bitsandbytes model
 * (BitsAndBytesConfig.to_dict), so Python tools recognise a saved checkpoint as "-bnb-4bit".
 */
export function bnbQuantizationConfig(opts: { type?: FourBitType; doubleQuant?: boolean; computeDtype?: string; skip?: string[] } = {}): Record<string, unknown> {
  return {
    _load_in_4bit: true,
    _load_in_8bit: false,
    bnb_4bit_compute_dtype: opts.computeDtype ?? 'float32',
    bnb_4bit_quant_storage: 'uint8',
    bnb_4bit_quant_type: opts.type ?? 'nf4',
    bnb_4bit_use_double_quant: opts.doubleQuant ?? true,
    llm_int8_enable_fp32_cpu_offload: false,
    llm_int8_has_fp16_weight: false,
    llm_int8_skip_modules: opts.skip ?? null,
    llm_int8_threshold: 6.0,
    load_in_4bit: true,
    load_in_8bit: false,
    quant_method: 'bitsandbytes',
  };
}
