/**
 * GPT-2's decode step as one native call (native/src/decode.cpp). A decoded token is ~150 small kernel calls;
 * through the tensor API each costs JS glue (views, parameter blocks, memory scopes), ~1-1.5 ms a GPT-2 124M
 * token during which the memory streams nothing. The native plan makes the same kernel calls with the same
 * arguments from C, so a step gives the same bits as GPT2.forward on one position (tests hold them equal).
 *
 * Only plain GPT-2 qualifies (GPT2.stepDecoder checks the module tree): no adapters or hooks, f32 or bf16 weight
 * matrices, f32 norms and biases, the native backend with fused kernels and no autocast. Anything else keeps the
 * JS path, which is always correct. FINTUNE_NATIVE_DECODE=0 turns the plan off (to measure what it is worth).
 */
import type { KVCache } from '../nn/attention.js';
import { getBackend } from '../tensor/backends.js';
import { autocastMode } from '../tensor/autocast.js';
import { firstArgmax, fusedKernels } from '../tensor/index.js';
import { loadNative } from '../tensor/native_backend.js';
import type { Tensor } from '../tensor/tensor.js';
import type { StepDecoder } from './common.js';
import type { GPT2 } from './gpt2.js';

let nativeDecode = process.env.FINTUNE_NATIVE_DECODE !== '0';

/** Turns one-call native decode steps on or off (A/B measurements, tests); returns the previous setting. */
export function setNativeDecode(on: boolean): boolean {
  const prev = nativeDecode;
  nativeDecode = on;
  return prev;
}

/**
 * A step decoder over `model`'s weights and `caches` (after the prefill), or null when the native plan cannot
 * run this model here. `keyMask` is the additive [B, maxLen] mask generation keeps for left padding.
 */
export function gpt2StepDecoder(
  model: GPT2,
  caches: KVCache[],
  keyMask: Float32Array | null,
  checkPositions: (pos: Int32Array) => void,
): StepDecoder | null {
  if (!nativeDecode || getBackend().name !== 'native' || !fusedKernels() || autocastMode() === 'bf16') return null;
  // Training mode applies dropout, which the native step does not.
  if (model.training) return null;
  const native = loadNative();
  if (!native.ok) return null;
  const { nLayer: L, nEmbd: C, nHead: H, nInner: F, vocabSize: V, nPositions, layerNormEps, activation } = model.config;
  const B = caches[0]?.batch ?? 0;
  const T = caches[0]?.maxLen ?? 0;
  if (caches.length !== L || model.transformer.h.length !== L || B < 1) return null;
  for (const c of caches) {
    if (c.batch !== B || c.maxLen !== T || c.kvHeads !== H || c.headDim !== C / H || c.k.dtype !== 'f32') return null;
  }
  if (keyMask && keyMask.length !== B * T) return null;

  // Contiguous storage of each tensor as the typed array the plan reads; null when a dtype does not fit.
  const f32 = (t: Tensor): Float32Array | null =>
    t.dtype === 'f32' && t.isContiguous() ? (t.data as Float32Array).subarray(t.offset, t.offset + t.size) : null;
  const matrix = (t: Tensor): Float32Array | Uint16Array | null =>
    t.dtype === 'bf16' && t.isContiguous() ? (t.data as Uint16Array).subarray(t.offset, t.offset + t.size) : f32(t);
  const t = model.transformer;
  const arrays: (Float32Array | Uint16Array | null)[] = [
    matrix(t.wte.weight), matrix(t.wpe.weight), f32(t.ln_f.weight), f32(t.ln_f.bias), matrix(model.lm_head.weight),
  ];
  if (arrays.includes(null)) return null;
  arrays.push(keyMask);
  for (const [l, b] of t.h.entries()) {
    const layer = [
      f32(b.ln_1.weight), f32(b.ln_1.bias), matrix(b.attn.c_attn.weight), f32(b.attn.c_attn.bias),
      matrix(b.attn.c_proj.weight), f32(b.attn.c_proj.bias), f32(b.ln_2.weight), f32(b.ln_2.bias),
      matrix(b.mlp.c_fc.weight), f32(b.mlp.c_fc.bias), matrix(b.mlp.c_proj.weight), f32(b.mlp.c_proj.bias),
      f32(caches[l]!.k), f32(caches[l]!.v),
    ];
    if (layer.includes(null)) return null;
    arrays.push(...layer);
  }
  const P = Float64Array.of(L, C, H, F, V, B, T, nPositions, layerNormEps, activation === 'gelu_new' ? 1 : 0);
  const addon = native.addon;
  const plan = addon.gpt2DecodePlan(arrays, P);
  const picks = new Int32Array(B);
  const logits = new Float32Array(B * V);

  // The caches' length moves with each step exactly as KVCache.append moves it.
  const step = (ids: Int32Array, pos: Int32Array, out: Int32Array | Float32Array): void => {
    // The plan points into the caches' memory: once disposed, it belongs to the pool (other tensors).
    if (caches.some((c) => c.k.storage.released || c.v.storage.released)) {
      throw new Error('GPT-2 decode: the KV caches were disposed; make a new step decoder with new caches');
    }
    const S = caches[0]!.length + 1;
    if (caches.some((c) => c.length !== S - 1)) throw new Error('GPT-2 decode: the layers\' caches hold different lengths');
    if (S > T) throw new Error(`KVCache: ${S - 1} cached + 1 new positions exceed the cache length ${T}`);
    if (ids.length !== B || pos.length !== B) throw new Error(`GPT-2 decode: expected ${B} ids and positions`);
    checkPositions(pos);
    addon.gpt2DecodeStep(plan, ids, pos, S, out);
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
  };
}
