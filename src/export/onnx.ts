/**
 * ONNX export of a (merged) causal LM as one decoder graph with an explicit KV cache, in the folder layout
 * transformers.js and Optimum use: `onnx/model.onnx`, `config.json`, `tokenizer.json`.
 *
 * Inputs:  input_ids [batch, seq] int64, attention_mask [batch, past + seq] int64, position_ids [batch, seq]
 *          int64, past_key_values.N.key / .value [batch, kv_heads, past, head_dim] float (past = 0 on the
 *          first step).
 * Outputs: logits [batch, seq, vocab], present.N.key / .value [batch, kv_heads, past + seq, head_dim].
 *
 * Only standard ONNX operators of opset 17 (GELU and RMSNorm decomposed into elementary ops, no vendor domains),
 * so MetaTrader 5's ONNX runtime and onnxruntime-web can run it. Above ~1.8 GB of weights the initializers go to
 * an external data file (protobuf messages cannot exceed 2 GB).
 */
import fs from 'node:fs';
import path from 'node:path';
import { AtomicFileWriter, writeFileAtomic } from '../io/atomic.js';
import { GPT2 } from '../models/gpt2.js';
import { Llama, ropeTables } from '../models/llama.js';
import { hfConfigOf } from '../models/save.js';
import type { CausalLM } from '../models/common.js';
import type { Tensor } from '../tensor/tensor.js';
import { VERSION } from '../version.js';
import {
  externalTensorProto,
  graphProto,
  modelProto,
  node,
  tensorProto,
  valueInfo,
  type AttrValue,
  type Msg,
  type OnnxElemType,
} from './onnx_proto.js';

export const ONNX_OPSET = 17;

export interface OnnxExportOptions {
  /** Put weights in `onnx/model.onnx_data`: 'auto' above ~1.8 GB (default), or always / never. */
  externalData?: 'auto' | 'always' | 'never';
  /** Folder of the source checkpoint, to copy tokenizer files from. */
  sourceDir?: string;
}

interface Init {
  name: string;
  type: OnnxElemType;
  dims: number[];
  data: Uint8Array;
}

/** Builds a graph node by node; every op returns the names of its outputs. */
class GraphBuilder {
  readonly nodes: Msg[] = [];
  readonly inits: Init[] = [];
  private n = 0;
  private consts = new Map<string, string>();

  op(type: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs = 1): string[] {
    const id = this.n++;
    const outs = Array.from({ length: outputs }, (_, i) => `${type}_${id}${outputs > 1 ? `_${i}` : ''}`);
    this.nodes.push(node(type, inputs, outs, `${type}_${id}`, attrs));
    return outs;
  }
  one(type: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.op(type, inputs, attrs)[0]!;
  }
  /** Name an intermediate as a graph output (Identity). */
  output(from: string, name: string): void {
    this.nodes.push(node('Identity', [from], [name], `out_${name}`));
  }

  weight(name: string, t: Float32Array, dims: number[]): string {
    this.inits.push({ name, type: 'float', dims, data: new Uint8Array(t.buffer, t.byteOffset, t.byteLength) });
    return name;
  }
  i64(values: number[], scalar = false): string {
    const key = `i64:${scalar}:${values.join(',')}`;
    const hit = this.consts.get(key);
    if (hit) return hit;
    const name = `const_i64_${this.consts.size}`;
    const b = new BigInt64Array(values.map((v) => BigInt(v)));
    this.inits.push({ name, type: 'int64', dims: scalar ? [] : [values.length], data: new Uint8Array(b.buffer) });
    this.consts.set(key, name);
    return name;
  }
  f32(value: number): string {
    const key = `f32:${value}`;
    const hit = this.consts.get(key);
    if (hit) return hit;
    const name = `const_f32_${this.consts.size}`;
    this.inits.push({ name, type: 'float', dims: [], data: new Uint8Array(Float32Array.of(value).buffer) });
    this.consts.set(key, name);
    return name;
  }
  bool(value: boolean): string {
    const key = `bool:${value}`;
    const hit = this.consts.get(key);
    if (hit) return hit;
    const name = `const_bool_${this.consts.size}`;
    this.inits.push({ name, type: 'bool', dims: [], data: Uint8Array.of(value ? 1 : 0) });
    this.consts.set(key, name);
    return name;
  }
}

function f32(t: Tensor): Float32Array {
  return t.toFloat32Array();
}

/** W [out, in] → Wᵀ [in, out] (ONNX MatMul has no transpose flag; transposing once at export costs nothing later). */
function transposed(t: Tensor): Float32Array {
  const [o, i] = t.shape as [number, number];
  const src = f32(t);
  const out = new Float32Array(o * i);
  for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) out[c * o + r] = src[r * i + c]!;
  return out;
}

interface Common {
  g: GraphBuilder;
  layers: number;
  kvHeads: number;
  heads: number;
  headDim: number;
  /** Additive mask per window size (0 = full causal), [batch, 1, seq, total]. */
  mask(window: number): string;
}

/** Shapes, positions and the causal + padding mask shared by all layers. */
function commonPart(g: GraphBuilder, layers: number, heads: number, kvHeads: number, headDim: number): Common {
  const pastShape = g.one('Shape', ['past_key_values.0.key']);
  const past = g.one('Gather', [pastShape, g.i64([2], true)], { axis: 0 });
  const idShape = g.one('Shape', ['input_ids']);
  const seq = g.one('Gather', [idShape, g.i64([1], true)], { axis: 0 });
  const total = g.one('Add', [past, seq]);
  const qPos = g.one('Range', [past, total, g.i64([1], true)]); // absolute positions of the queries
  const kPos = g.one('Range', [g.i64([0], true), total, g.i64([1], true)]);
  const kRow = g.one('Unsqueeze', [kPos, g.i64([0])]); // [1, total]
  const qCol = g.one('Unsqueeze', [qPos, g.i64([1])]); // [seq, 1]
  const causal = g.one('LessOrEqual', [kRow, qCol]); // [seq, total]
  const pad = g.one('Cast', ['attention_mask'], { to: 9 }); // bool [batch, total]
  const pad4 = g.one('Unsqueeze', [pad, g.i64([1, 2])]); // [batch, 1, 1, total]
  const masks = new Map<number, string>();
  const mask = (window: number): string => {
    const hit = masks.get(window);
    if (hit) return hit;
    let allowed = causal;
    if (window > 0) {
      const lower = g.one('Sub', [qCol, g.i64([window], true)]);
      allowed = g.one('And', [allowed, g.one('Greater', [kRow, lower])]);
    }
    const both = g.one('And', [g.one('Unsqueeze', [allowed, g.i64([0, 1])]), pad4]);
    // Large negative rather than -inf: a fully masked (padding) row stays finite instead of NaN.
    const m = g.one('Where', [both, g.f32(0), g.f32(-1e9)]);
    masks.set(window, m);
    return m;
  };
  return { g, layers, heads, kvHeads, headDim, mask };
}

/** [batch, seq, heads·D] → [batch, heads, seq, D] */
function splitHeads(g: GraphBuilder, x: string, heads: number, D: number): string {
  return g.one('Transpose', [g.one('Reshape', [x, g.i64([0, 0, heads, D])])], { perm: [0, 2, 1, 3] });
}

/** Cached attention of one layer; writes present.N.*; returns [batch, seq, heads·D]. */
function attention(c: Common, layer: number, q: string, k: string, v: string, window: number): string {
  const { g, heads: H, kvHeads: Hkv, headDim: D } = c;
  const kAll = g.one('Concat', [`past_key_values.${layer}.key`, k], { axis: 2 });
  const vAll = g.one('Concat', [`past_key_values.${layer}.value`, v], { axis: 2 });
  g.output(kAll, `present.${layer}.key`);
  g.output(vAll, `present.${layer}.value`);
  const repeat = (x: string): string => {
    if (H === Hkv) return x;
    const u = g.one('Unsqueeze', [x, g.i64([2])]);
    const e = g.one('Expand', [u, g.i64([1, 1, H / Hkv, 1, 1])]);
    return g.one('Reshape', [e, g.i64([0, H, -1, D])]);
  };
  const kt = g.one('Transpose', [repeat(kAll)], { perm: [0, 1, 3, 2] });
  const scores = g.one('Mul', [g.one('MatMul', [q, kt]), g.f32(1 / Math.sqrt(D))]);
  const probs = g.one('Softmax', [g.one('Add', [scores, c.mask(window)])], { axis: -1 });
  const y = g.one('MatMul', [probs, repeat(vAll)]);
  return g.one('Reshape', [g.one('Transpose', [y], { perm: [0, 2, 1, 3] }), g.i64([0, 0, H * D])]);
}

function linearNode(g: GraphBuilder, x: string, w: string, b: string | null): string {
  const y = g.one('MatMul', [x, w]);
  return b ? g.one('Add', [y, b]) : y;
}

function buildGpt2(model: GPT2, g: GraphBuilder): { vocab: number; kvHeads: number; headDim: number; layers: number } {
  const cfg = model.config;
  const t = model.transformer;
  const C = cfg.nEmbd,
    H = cfg.nHead,
    D = C / H;
  const c = commonPart(g, cfg.nLayer, H, H, D);
  const wte = g.weight('transformer.wte.weight', f32(t.wte.weight), [cfg.vocabSize, C]);
  const wpe = g.weight('transformer.wpe.weight', f32(t.wpe.weight), [cfg.nPositions, C]);
  let x = g.one('Add', [g.one('Gather', [wte, 'input_ids'], { axis: 0 }), g.one('Gather', [wpe, 'position_ids'], { axis: 0 })]);
  const ln = (prefix: string, m: { weight: Tensor; bias: Tensor; eps: number }, h: string): string =>
    g.one('LayerNormalization', [h, g.weight(`${prefix}.weight`, f32(m.weight), [C]), g.weight(`${prefix}.bias`, f32(m.bias), [C])], {
      axis: -1,
      epsilon: { float: m.eps },
    });
  const conv = (prefix: string, m: { weight: Tensor; bias: Tensor }, h: string): string =>
    linearNode(g, h, g.weight(`${prefix}.weight`, f32(m.weight), [...m.weight.shape]), g.weight(`${prefix}.bias`, f32(m.bias), [...m.bias.shape]));
  t.h.forEach((blk, i) => {
    const p = `transformer.h.${i}`;
    const h = ln(`${p}.ln_1`, blk.ln_1, x);
    const qkv = conv(`${p}.attn.c_attn`, blk.attn.c_attn, h);
    const [q, k, v] = g.op('Split', [qkv, g.i64([C, C, C])], { axis: 2 }, 3) as [string, string, string];
    const a = attention(c, i, splitHeads(g, q, H, D), splitHeads(g, k, H, D), splitHeads(g, v, H, D), 0);
    x = g.one('Add', [x, conv(`${p}.attn.c_proj`, blk.attn.c_proj, a)]);
    const f = conv(`${p}.mlp.c_fc`, blk.mlp.c_fc, ln(`${p}.ln_2`, blk.ln_2, x));
    x = g.one('Add', [x, conv(`${p}.mlp.c_proj`, blk.mlp.c_proj, gelu(g, f, blk.mlp.approximate))]);
  });
  const hf = ln('transformer.ln_f', t.ln_f, x);
  const head =
    model.lm_head.weight === t.wte.weight
      ? g.one('Transpose', [wte], { perm: [1, 0] })
      : g.weight('lm_head.weight.T', transposed(model.lm_head.weight), [C, cfg.vocabSize]);
  g.output(g.one('MatMul', [hf, head]), 'logits');
  return { vocab: cfg.vocabSize, kvHeads: H, headDim: D, layers: cfg.nLayer };
}

/** GELU from elementary ops: tanh form 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))), or exact 0.5x(1 + erf(x/√2)). */
function gelu(g: GraphBuilder, x: string, approximate: boolean): string {
  let inner: string;
  if (approximate) {
    const x3 = g.one('Mul', [g.one('Mul', [x, x]), x]);
    const s = g.one('Add', [x, g.one('Mul', [x3, g.f32(0.044715)])]);
    inner = g.one('Tanh', [g.one('Mul', [s, g.f32(Math.sqrt(2 / Math.PI))])]);
  } else {
    inner = g.one('Erf', [g.one('Mul', [x, g.f32(Math.SQRT1_2)])]);
  }
  return g.one('Mul', [g.one('Mul', [x, g.f32(0.5)]), g.one('Add', [inner, g.f32(1)])]);
}

function buildLlama(model: Llama, g: GraphBuilder): { vocab: number; kvHeads: number; headDim: number; layers: number } {
  const o = model.config;
  const m = model.model;
  const C = o.hiddenSize,
    H = o.numHeads,
    Hkv = o.numKvHeads,
    D = o.headDim;
  const c = commonPart(g, o.numLayers, H, Hkv, D);
  const emb = g.weight('model.embed_tokens.weight', f32(m.embed_tokens.weight), [o.vocabSize, C]);
  let x = g.one('Gather', [emb, 'input_ids'], { axis: 0 });
  const rms = (name: string, w: Tensor, h: string): string => {
    const ms = g.one('ReduceMean', [g.one('Mul', [h, h])], { axes: [-1], keepdims: 1 });
    const inv = g.one('Reciprocal', [g.one('Sqrt', [g.one('Add', [ms, g.f32(o.rmsNormEps)])])]);
    return g.one('Mul', [g.one('Mul', [h, inv]), g.weight(name, f32(w), [C])]);
  };
  const lin = (name: string, l: { weight: Tensor; bias: Tensor | null }, h: string): string =>
    linearNode(
      g,
      h,
      g.weight(`${name}.weight.T`, transposed(l.weight), [l.weight.shape[1]!, l.weight.shape[0]!]),
      l.bias ? g.weight(`${name}.bias`, f32(l.bias), [...l.bias.shape]) : null,
    );
  // Rotary tables gathered by position: cos/sin [batch, 1, seq, D] (both halves share the frequencies).
  const { cos, sin } = ropeTables(D, o.maxPositions, o.ropeTheta, o.ropeScaling);
  const half = (t: Tensor, name: string): string => {
    const gathered = g.one('Gather', [g.weight(name, f32(t), [o.maxPositions, D / 2]), 'position_ids'], { axis: 0 });
    return g.one('Unsqueeze', [g.one('Concat', [gathered, gathered], { axis: -1 }), g.i64([1])]);
  };
  const cosT = half(cos, 'rope.cos'),
    sinT = half(sin, 'rope.sin');
  const rotate = (t: string): string => {
    const lo = g.one('Slice', [t, g.i64([0]), g.i64([D / 2]), g.i64([-1])]);
    const hi = g.one('Slice', [t, g.i64([D / 2]), g.i64([D]), g.i64([-1])]);
    const rot = g.one('Concat', [g.one('Neg', [hi]), lo], { axis: -1 });
    return g.one('Add', [g.one('Mul', [t, cosT]), g.one('Mul', [rot, sinT])]);
  };
  m.layers.forEach((layer, i) => {
    const p = `model.layers.${i}`;
    const a = layer.self_attn;
    const h = rms(`${p}.input_layernorm.weight`, layer.input_layernorm.weight, x);
    const q = rotate(splitHeads(g, lin(`${p}.self_attn.q_proj`, a.q_proj, h), H, D));
    const k = rotate(splitHeads(g, lin(`${p}.self_attn.k_proj`, a.k_proj, h), Hkv, D));
    const v = splitHeads(g, lin(`${p}.self_attn.v_proj`, a.v_proj, h), Hkv, D);
    const y = attention(c, i, q, k, v, o.layerWindows[i] ?? 0);
    x = g.one('Add', [x, lin(`${p}.self_attn.o_proj`, a.o_proj, y)]);
    const h2 = rms(`${p}.post_attention_layernorm.weight`, layer.post_attention_layernorm.weight, x);
    const gate = lin(`${p}.mlp.gate_proj`, layer.mlp.gate_proj, h2);
    const silu = g.one('Mul', [gate, g.one('Sigmoid', [gate])]);
    const up = lin(`${p}.mlp.up_proj`, layer.mlp.up_proj, h2);
    x = g.one('Add', [x, lin(`${p}.mlp.down_proj`, layer.mlp.down_proj, g.one('Mul', [silu, up]))]);
  });
  const hf = rms('model.norm.weight', m.norm.weight, x);
  const head =
    model.lm_head.weight === m.embed_tokens.weight
      ? g.one('Transpose', [emb], { perm: [1, 0] })
      : g.weight('lm_head.weight.T', transposed(model.lm_head.weight), [C, o.vocabSize]);
  g.output(g.one('MatMul', [hf, head]), 'logits');
  return { vocab: o.vocabSize, kvHeads: Hkv, headDim: D, layers: o.numLayers };
}

/** Write `model` (adapters merged beforehand) to `outDir` as an ONNX decoder. Returns the files written. */
export function exportOnnx(model: CausalLM, outDir: string, opts: OnnxExportOptions = {}): string[] {
  const g = new GraphBuilder();
  const info = model instanceof GPT2 ? buildGpt2(model, g) : model instanceof Llama ? buildLlama(model, g) : null;
  if (!info) throw new Error('ONNX export: unsupported model class');
  const inputs = [
    valueInfo('input_ids', 'int64', ['batch_size', 'sequence_length']),
    valueInfo('attention_mask', 'int64', ['batch_size', 'total_sequence_length']),
    valueInfo('position_ids', 'int64', ['batch_size', 'sequence_length']),
  ];
  const outputs = [valueInfo('logits', 'float', ['batch_size', 'sequence_length', info.vocab])];
  for (let i = 0; i < info.layers; i++) {
    for (const kv of ['key', 'value']) {
      inputs.push(valueInfo(`past_key_values.${i}.${kv}`, 'float', ['batch_size', info.kvHeads, 'past_sequence_length', info.headDim]));
      outputs.push(valueInfo(`present.${i}.${kv}`, 'float', ['batch_size', info.kvHeads, 'total_sequence_length', info.headDim]));
    }
  }
  const onnxDir = path.join(outDir, 'onnx');
  fs.mkdirSync(onnxDir, { recursive: true });
  const weightBytes = g.inits.reduce((a, t) => a + t.data.byteLength, 0);
  const mode = opts.externalData ?? 'auto';
  const external = mode === 'always' || (mode === 'auto' && weightBytes > 1.8e9);
  const written: string[] = [];
  let initMsgs: Msg[];
  if (external) {
    const dataName = 'model.onnx_data';
    const w = new AtomicFileWriter(path.join(onnxDir, dataName));
    let offset = 0;
    initMsgs = g.inits.map((t) => {
      // Small constants stay inline; weights go to the data file, 64-byte aligned for memory mapping.
      if (t.data.byteLength < 1024) return tensorProto(t.name, t.type, t.dims, t.data);
      const pad = (64 - (offset % 64)) % 64;
      if (pad) w.write(new Uint8Array(pad));
      offset += pad;
      w.write(t.data);
      const m = externalTensorProto(t.name, t.type, t.dims, dataName, offset, t.data.byteLength);
      offset += t.data.byteLength;
      return m;
    });
    w.commit();
    written.push(path.join(onnxDir, dataName));
  } else {
    initMsgs = g.inits.map((t) => tensorProto(t.name, t.type, t.dims, t.data));
  }
  const graph = graphProto('fintune_decoder', g.nodes, initMsgs, inputs, outputs);
  const proto = modelProto(graph, ONNX_OPSET, 'fintune', VERSION, { past_key_values_layout: 'batch,kv_heads,seq,head_dim' });
  const modelFile = path.join(onnxDir, 'model.onnx');
  const w = new AtomicFileWriter(modelFile);
  for (const chunk of proto.chunks) w.write(chunk);
  w.commit();
  written.push(modelFile);
  const config = { ...hfConfigOf(model), use_cache: true };
  writeFileAtomic(path.join(outDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  written.push(path.join(outDir, 'config.json'));
  if (opts.sourceDir) {
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json', 'vocab.json', 'merges.txt']) {
      const src = path.join(opts.sourceDir, f);
      if (fs.existsSync(src)) {
        fs.copyFileSync(src, path.join(outDir, f));
        written.push(path.join(outDir, f));
      }
    }
  }
  return written;
}
