/**
 * Decode steps as one native call (native/src/decode.cpp). A decoded token is ~150 small kernel calls for GPT-2
 * 124M; through the tensor API each costs JS glue (views, parameter blocks, memory scopes), ~1-1.5 ms a token
 * during which the memory streams nothing. A native plan makes the same kernel calls with the same arguments
 * from C, so a step gives the same bits as the model's forward on one position (tests hold them equal).
 *
 * Only plain models qualify (GPT2.stepDecoder / Llama.stepDecoder check the module tree): no adapters or hooks,
 * f32 or bf16 weight matrices, f32 norms, biases and caches, eval mode, the native backend with fused kernels
 * and no autocast. Anything else keeps the JS path, which is always correct. FINTUNE_NATIVE_DECODE=0 turns
 * the plans off (to measure what they are worth).
 */
import type { KVCache } from '../nn/attention.js';
import type { Module } from '../nn/module.js';
import { autocastMode } from '../tensor/autocast.js';
import { getBackend } from '../tensor/backends.js';
import { firstArgmax, fusedKernels } from '../tensor/index.js';
import { loadNative, type NativeAddon } from '../tensor/native_backend.js';
import type { Tensor } from '../tensor/tensor.js';
import type { StepDecoder } from './common.js';
import type { GPT2 } from './gpt2.js';
import type { Llama } from './llama.js';

let nativeDecode = process.env.FINTUNE_NATIVE_DECODE !== '0';

/** Turns one-call native decode steps on or off (A/B measurements, tests); returns the previous setting. */
export function setNativeDecode(on: boolean): boolean {
  const prev = nativeDecode;
  nativeDecode = on;
  return prev;
}

/** Whether every module of `model`'s tree is an instance of one of `classes` exactly, none with a forward of its own. */
export function plainModuleTree(model: Module, classes: readonly (abstract new (...args: never[]) => Module)[]): boolean {
  const own = new Set<object>(classes.map((c) => c.prototype as object));
  return model.namedModules().every(
    ([, m]) => own.has(Object.getPrototypeOf(m) as object) && !Object.hasOwn(m, 'forward') && !Object.hasOwn(m, 'hidden'),
  );
}

type PlanArray = Float32Array | Uint16Array | null;

// A plan's arrays: undefined marks a tensor the plan cannot read (then no plan), null an absent optional one.

/** Contiguous f32 storage of a tensor as the typed array a plan reads. */
function f32(t: Tensor): Float32Array | undefined {
  return t.dtype === 'f32' && t.isContiguous() ? (t.flatBuf() as Float32Array) : undefined;
}

/** A weight matrix: f32, or bf16 bits the kernels widen. */
function matrix(t: Tensor): Float32Array | Uint16Array | undefined {
  return t.dtype === 'bf16' && t.isContiguous() ? (t.data as Uint16Array).subarray(t.offset, t.offset + t.size) : f32(t);
}

/** An optional f32 array (a bias). */
function optional(t: Tensor | null): Float32Array | null | undefined {
  return t === null ? null : f32(t);
}

/**
 * What every plan needs before its arrays: the addon, when a plan may run for `model` now, and the batch and
 * length of `caches` when they are one f32 cache a layer of [batch, kvHeads, maxLen, headDim] that `keyMask`
 * (if any) covers; else null.
 */
function planContext(
  model: Module,
  caches: KVCache[],
  layers: number,
  kvHeads: number,
  headDim: number,
  keyMask: Float32Array | null,
): { addon: NativeAddon; B: number; T: number } | null {
  if (!nativeDecode || getBackend().name !== 'native' || !fusedKernels() || autocastMode() === 'bf16') return null;
  // Training mode applies dropout, which the native steps do not.
  if (model.training) return null;
  const native = loadNative();
  if (!native.ok) return null;
  const B = caches[0]?.batch ?? 0;
  const T = caches[0]?.maxLen ?? 0;
  if (caches.length !== layers || B < 1 || (keyMask && keyMask.length !== B * T)) return null;
  for (const c of caches) {
    if (c.batch !== B || c.maxLen !== T || c.kvHeads !== kvHeads || c.headDim !== headDim || c.k.dtype !== 'f32') return null;
  }
  return { addon: native.addon, B, T };
}

/**
 * The StepDecoder over a plan: each step appends to the caches exactly as KVCache.append does (their length
 * moves with it), and greedy picks of more than 4 rows are the written logits' first maxima.
 */
function planDecoder(
  addon: NativeAddon,
  plan: object,
  caches: KVCache[],
  B: number,
  V: number,
  checkPositions: (pos: Int32Array) => void,
): StepDecoder {
  const picks = new Int32Array(B);
  const logits = new Float32Array(B * V);
  let candIdx = new Int32Array(0);
  let candVal = new Float32Array(0);
  const step = (ids: Int32Array, pos: Int32Array, out: Int32Array | Float32Array, withCandidates = false): void => {
    // The plan points into the caches' memory: once disposed, it belongs to the pool (other tensors).
    if (caches.some((c) => c.k.storage.released || c.v.storage.released)) {
      throw new Error('decode step: the KV caches were disposed; make a new step decoder with new caches');
    }
    const S = caches[0]!.length + 1;
    if (caches.some((c) => c.length !== S - 1)) throw new Error("decode step: the layers' caches hold different lengths");
    caches[0]!.ensureRoom(1);
    if (ids.length !== B || pos.length !== B) throw new Error(`decode step: expected ${B} ids and positions`);
    checkPositions(pos);
    if (withCandidates) addon.decodeStep(plan, ids, pos, S, out as Float32Array, candIdx, candVal);
    else addon.decodeStep(plan, ids, pos, S, out);
    for (const c of caches) c.length = S;
  };
  return {
    greedy(ids, pos) {
      if (B <= 4) {
        step(ids, pos, picks);
      } else {
        // The fused pick takes at most 4 rows; more are the written logits and the same scan.
        step(ids, pos, logits);
        for (let b = 0; b < B; b++) picks[b] = firstArgmax(logits, b * V, V);
      }
      return picks;
    },
    logits(ids, pos) {
      step(ids, pos, logits);
      return logits;
    },
    candidates(ids, pos, cap) {
      if (!(Number.isInteger(cap) && cap >= 1 && cap <= V)) throw new Error(`decode step: candidates need 1 <= cap <= ${V}, got ${cap}`);
      if (candIdx.length !== B * cap) {
        candIdx = new Int32Array(B * cap);
        candVal = new Float32Array(B * cap);
      }
      step(ids, pos, logits, true);
      const rows = Array.from({ length: B }, (_, b) =>
        candIdx[b * cap] === -1 ? null : { index: candIdx.subarray(b * cap, (b + 1) * cap), value: candVal.subarray(b * cap, (b + 1) * cap) },
      );
      return { logits, rows };
    },
  };
}

/**
 * A step decoder over a plain GPT-2's weights and `caches` (after the prefill), or null when no plan can run it
 * here. `keyMask` is the additive [B, maxLen] mask generation keeps for left padding.
 */
export function gpt2StepDecoder(
  model: GPT2,
  caches: KVCache[],
  keyMask: Float32Array | null,
  checkPositions: (pos: Int32Array) => void,
): StepDecoder | null {
  const { nLayer: L, nEmbd: C, nHead: H, nInner: F, vocabSize: V, nPositions, layerNormEps, activation } = model.config;
  const t = model.transformer;
  const ctx = t.h.length === L ? planContext(model, caches, L, H, C / H, keyMask) : null;
  if (!ctx) return null;
  const arrays: (PlanArray | undefined)[] = [
    matrix(t.wte.weight), matrix(t.wpe.weight), f32(t.ln_f.weight), f32(t.ln_f.bias), matrix(model.lm_head.weight),
    keyMask,
  ];
  for (const [l, b] of t.h.entries()) {
    arrays.push(
      f32(b.ln_1.weight), f32(b.ln_1.bias), matrix(b.attn.c_attn.weight), f32(b.attn.c_attn.bias),
      matrix(b.attn.c_proj.weight), f32(b.attn.c_proj.bias), f32(b.ln_2.weight), f32(b.ln_2.bias),
      matrix(b.mlp.c_fc.weight), f32(b.mlp.c_fc.bias), matrix(b.mlp.c_proj.weight), f32(b.mlp.c_proj.bias),
      f32(caches[l]!.k), f32(caches[l]!.v),
    );
  }
  if (arrays.includes(undefined)) return null;
  const { addon, B, T } = ctx;
  const P = Float64Array.of(L, C, H, F, V, B, T, nPositions, layerNormEps, activation === 'gelu_new' ? 1 : 0);
  return planDecoder(addon, addon.gpt2DecodePlan(arrays as PlanArray[], P), caches, B, V, checkPositions);
}

/** As gpt2StepDecoder, for a plain Llama-family model (Llama, Qwen2's q/k/v biases, Mistral's windows). */
export function llamaStepDecoder(
  model: Llama,
  caches: KVCache[],
  keyMask: Float32Array | null,
  checkPositions: (pos: Int32Array) => void,
): StepDecoder | null {
  const o = model.config;
  const { numLayers: L, hiddenSize: C, numHeads: H, numKvHeads: Hkv, headDim: D, intermediateSize: F, vocabSize: V } = o;
  const m = model.model;
  const ctx = m.layers.length === L ? planContext(model, caches, L, Hkv, D, keyMask) : null;
  if (!ctx) return null;
  const { cos, sin } = model.rotary();
  const arrays: (PlanArray | undefined)[] = [
    matrix(m.embed_tokens.weight), f32(m.norm.weight), matrix(model.lm_head.weight), keyMask, f32(cos), f32(sin),
  ];
  for (const [l, y] of m.layers.entries()) {
    const a = y.self_attn,
      p = y.mlp;
    arrays.push(
      f32(y.input_layernorm.weight),
      matrix(a.q_proj.weight), optional(a.q_proj.bias), matrix(a.k_proj.weight), optional(a.k_proj.bias),
      matrix(a.v_proj.weight), optional(a.v_proj.bias), matrix(a.o_proj.weight), optional(a.o_proj.bias),
      f32(y.post_attention_layernorm.weight),
      matrix(p.gate_proj.weight), optional(p.gate_proj.bias), matrix(p.up_proj.weight), optional(p.up_proj.bias),
      matrix(p.down_proj.weight), optional(p.down_proj.bias),
      f32(caches[l]!.k), f32(caches[l]!.v),
    );
  }
  if (arrays.includes(undefined)) return null;
  const { addon, B, T } = ctx;
  const windows = Array.from({ length: L }, (_, l) => o.layerWindows[l] ?? 0);
  const P = Float64Array.of(L, C, H, Hkv, D, F, V, B, T, o.maxPositions, o.rmsNormEps, ...windows);
  return planDecoder(addon, addon.llamaDecodePlan(arrays as PlanArray[], P), caches, B, V, checkPositions);
}
