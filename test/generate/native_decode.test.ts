// One-call native decode steps (native/src/decode.cpp, src/models/native_step.ts): the same bits as GPT2.forward
// and Llama.forward on one position, under every ISA path and thread count, and the same generate() output.
import { afterAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/generate/generate.js';
import { topCandidates } from '../../src/generate/select.js';
import type { CausalLM } from '../../src/models/common.js';
import { GPT2, type GPT2Options } from '../../src/models/gpt2.js';
import { Llama, type LlamaOptions } from '../../src/models/llama.js';
import { setNativeDecode } from '../../src/models/native_step.js';
import { withMatrixDtype } from '../../src/nn/module.js';
import { injectLora } from '../../src/peft/lora/model.js';
import { fromArray, getBackend, noGrad, setBackend, tsBackend } from '../../src/tensor/index.js';
import { loadNative } from '../../src/tensor/native_backend.js';
import { PATHS, status, usePath } from '../native/helpers.js';

const SMALL: GPT2Options = { vocabSize: 300, nPositions: 40, nEmbd: 48, nLayer: 2, nHead: 3 };
// Exact GELU, an MLP width that is not 4·C and a vocabulary above the fused pick's 4 rows × 16 lanes.
const ODD: GPT2Options = { vocabSize: 1001, nPositions: 64, nEmbd: 32, nLayer: 3, nHead: 4, nInner: 72, activation: 'gelu' };

const onNative = status.ok && getBackend().name === 'native';

// GQA (4 query heads on 2 key/value heads); Qwen2's q/k/v biases; Mistral's sliding window on the first layer
// (3 positions, shorter than every sequence here) and untied embeddings.
const LLAMA: LlamaOptions = { vocabSize: 300, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 40 };
const QWEN: LlamaOptions = { ...LLAMA, qkvBias: true, tieWordEmbeddings: true, ropeTheta: 1e6 };
const MISTRAL: LlamaOptions = { ...LLAMA, numKvHeads: 1, layerWindows: [3, 0], oBias: true, mlpBias: true };

type Spec = ['gpt2', GPT2Options] | ['llama', LlamaOptions];

function make(spec: Spec): CausalLM {
  return spec[0] === 'gpt2' ? new GPT2(spec[1]) : new Llama(spec[1]);
}

function vocab(spec: Spec): number {
  return spec[1].vocabSize;
}

function model(spec: Spec, seed: number, bf16 = false): CausalLM {
  const m = bf16 ? withMatrixDtype('bf16', () => make(spec)) : make(spec);
  if (bf16) {
    // initWeights fills f32 buffers; draw an f32 twin and round it into the bf16 matrices.
    const twin = make(spec);
    twin.initWeights(seed);
    const src = new Map(twin.namedParameters());
    for (const [name, p] of m.namedParameters()) {
      const f = src.get(name)!.data as Float32Array;
      if (p.dtype === 'bf16') {
        const bits = p.data as Uint16Array;
        const u = new Uint32Array(f.buffer, f.byteOffset, f.length);
        for (let i = 0; i < f.length; i++) bits[i] = u[i]! >>> 16;
      } else (p.data as Float32Array).set(f);
    }
  } else m.initWeights(seed);
  // Non-zero biases and norm parameters, so a skipped bias or a swapped norm shows.
  for (const [name, p] of m.namedParameters()) {
    if (p.dtype !== 'f32' || !/bias$|ln_|norm/.test(name)) continue;
    const d = p.data as Float32Array;
    for (let i = 0; i < d.length; i++) d[i] = d[i]! + 0.05 * Math.sin(i * 0.7 + name.length);
  }
  return m.eval() as CausalLM;
}

/** Prefills two identical sets of caches with the JS forward; returns them and the padding mask. */
function prefilled(m: CausalLM, prompts: number[][], maxLen: number) {
  const B = prompts.length,
    L = Math.max(...prompts.map((p) => p.length));
  const ids = new Int32Array(B * L),
    pos = new Int32Array(B * L),
    mask = new Float32Array(B * maxLen);
  prompts.forEach((p, b) => {
    const pad = L - p.length;
    for (let t = 0; t < L; t++) {
      ids[b * L + t] = t < pad ? 0 : p[t - pad]!;
      pos[b * L + t] = Math.max(0, t - pad);
      if (t < pad) mask[b * maxLen + t] = -Infinity;
    }
  });
  const padded = prompts.some((p) => p.length !== L);
  const sets = [m.makeCaches(B, maxLen), m.makeCaches(B, maxLen)];
  noGrad(() => {
    for (const caches of sets) {
      const am = padded ? fromArray(mask, [B, maxLen]).slice(1, 0, L) : null;
      m.forward(fromArray(ids, [B, L]), { caches, positionIds: pos, attentionMask: am, logitsToKeep: 1 }).dispose();
    }
  });
  return { js: sets[0]!, nat: sets[1]!, mask: padded ? mask : null, L, nextPos: prompts.map((p) => p.length) };
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length),
    y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

describe.runIf(onNative)('GPT-2 native decode step', () => {
  afterAll(() => usePath(PATHS[0]!, 2, 'restored'));
  const cases: [string, Spec, boolean, number[][]][] = [
    ['GPT-2 f32, one row', ['gpt2', SMALL], false, [[5, 17, 230, 4]]],
    ['GPT-2 f32, left-padded rows, exact GELU', ['gpt2', ODD], false, [[3, 900, 12, 7, 44], [1000, 2], [8, 9, 10]]],
    ['GPT-2 bf16 matrices, left-padded rows', ['gpt2', SMALL], true, [[1, 2, 3], [299, 0, 150, 7]]],
    ['GPT-2 f32, six rows (picks from written logits)', ['gpt2', SMALL], false, [[1], [2, 3], [4, 5, 6], [7], [8, 9], [10, 11, 12, 13]]],
    ['Llama f32 (GQA), one row', ['llama', LLAMA], false, [[5, 17, 230, 4]]],
    ['Qwen2-style q/k/v biases, left-padded rows', ['llama', QWEN], false, [[3, 200, 12, 7, 44], [100, 2], [8, 9, 10]]],
    ['Mistral-style window, bf16 matrices, left-padded rows', ['llama', MISTRAL], true, [[1, 2, 3], [299, 0, 150, 7]]],
    ['Llama f32, six rows', ['llama', LLAMA], false, [[1], [2, 3], [4, 5, 6], [7], [8, 9], [10, 11, 12, 13]]],
  ];
  for (const simd of PATHS) {
    for (const threads of [1, 2]) {
      for (const [name, spec, bf16, prompts] of cases) {
        it(`${simd}, ${threads} thread(s), ${name}: logits, picks and caches equal the JS forward's bits`, () => {
          usePath(simd, threads, name);
          const m = model(spec, 11, bf16);
          const V = vocab(spec);
          const B = prompts.length,
            maxLen = 14;
          const { js, nat, mask, L, nextPos } = prefilled(m, prompts, maxLen);
          const dec = m.stepDecoder!(nat, mask);
          expect(dec).not.toBeNull();
          const next = Int32Array.from(prompts, (p, b) => (p[0]! * 7 + b) % V);
          const pos = Int32Array.from(nextPos);
          for (let step = 0; step < maxLen - L; step++) {
            const S = L + step + 1;
            const ref = noGrad(() => {
              const am = mask ? fromArray(mask, [B, maxLen]).slice(1, 0, S) : null;
              return m.forward(fromArray(next, [B, 1]), { caches: js, positionIds: pos, attentionMask: am }).toFloat32Array();
            });
            const snapshot = nat.map((c) => c.length);
            // Alternate logits, picks and sampling candidates; each advances the caches like a logits step.
            if (step % 3 === 0) {
              expect(sameBits(dec!.logits(next, pos), ref)).toBe(true);
            } else if (step % 3 === 2) {
              const cap = [1, 7, V][step % 9 === 2 ? 0 : step % 9 === 5 ? 1 : 2]!;
              const { logits, rows } = dec!.candidates!(next, pos, cap);
              expect(sameBits(logits, ref)).toBe(true);
              for (let b = 0; b < B; b++) {
                const want = topCandidates(ref, b * V, V, cap)!;
                expect(Array.from(rows[b]!.index)).toEqual(Array.from(want.index));
                expect(Array.from(rows[b]!.value)).toEqual(Array.from(want.value));
              }
            } else {
              const picks = dec!.greedy(next, pos);
              for (let b = 0; b < B; b++) {
                let best = 0;
                for (let i = 1; i < V; i++) if (ref[b * V + i]! > ref[b * V + best]!) best = i;
                expect(picks[b]).toBe(best);
              }
            }
            expect(nat.map((c) => c.length)).toEqual(snapshot.map((n) => n + 1));
            expect(js.map((c) => c.length)).toEqual(nat.map((c) => c.length));
            for (let l = 0; l < js.length; l++) {
              expect(sameBits(js[l]!.k.toFloat32Array(), nat[l]!.k.toFloat32Array())).toBe(true);
              expect(sameBits(js[l]!.v.toFloat32Array(), nat[l]!.v.toFloat32Array())).toBe(true);
            }
            for (let b = 0; b < B; b++) {
              next[b] = (next[b]! * 31 + 7 + step) % V;
              pos[b] = pos[b]! + 1;
            }
          }
        });
      }
    }
  }

  it.each([
    ['GPT-2', ['gpt2', ODD] as Spec],
    ['Llama', ['llama', MISTRAL] as Spec],
  ])('%s: generate() gives the same tokens with and without it (greedy, logits callbacks, sampling)', (_, spec) => {
    const m = model(spec, 5);
    const prompts = [[3, 290, 12, 7, 44], [100, 2], [8, 9, 10]];
    const runs = [
      { maxNewTokens: 9 },
      { maxNewTokens: 9, onLogits: () => {} },
      { maxNewTokens: 9, doSample: true, temperature: 0.8, topK: 50, seed: 3 },
    ];
    for (const opts of runs) {
      const withPlan = generate(m, prompts, opts).ids;
      const prev = setNativeDecode(false);
      try {
        expect(generate(m, prompts, opts).ids).toEqual(withPlan);
      } finally {
        setNativeDecode(prev);
      }
    }
  });

  it('is used only where it computes what forward() does', () => {
    const m = model(['gpt2', SMALL], 2) as GPT2;
    const caches = m.makeCaches(1, 8);
    expect(m.stepDecoder(caches, null)).not.toBeNull();
    // A mask that does not fit the caches, or caches of another model.
    expect(m.stepDecoder(caches, new Float32Array(3))).toBeNull();
    expect(m.stepDecoder(model(['gpt2', ODD], 2).makeCaches(1, 8), null)).toBeNull();
    // Training mode (dropout) keeps the JS path.
    m.train();
    expect(m.stepDecoder(caches, null)).toBeNull();
    m.eval();
    // Adapters replace modules: the JS path.
    const lora = model(['gpt2', SMALL], 2) as GPT2;
    injectLora(lora, { r: 2, loraAlpha: 4, targetModules: ['c_attn'] });
    expect(lora.stepDecoder(lora.makeCaches(1, 8), null)).toBeNull();
    const llama = model(['llama', LLAMA], 2) as Llama;
    expect(llama.stepDecoder(llama.makeCaches(1, 8), null)).not.toBeNull();
    injectLora(llama, { r: 2, loraAlpha: 4, targetModules: ['q_proj', 'v_proj'] });
    expect(llama.stepDecoder(llama.makeCaches(1, 8), null)).toBeNull();
    // The TS backend, and the switch.
    const prev = setBackend(tsBackend);
    try {
      expect(m.stepDecoder(caches, null)).toBeNull();
    } finally {
      setBackend(prev);
    }
    const was = setNativeDecode(false);
    try {
      expect(m.stepDecoder(caches, null)).toBeNull();
    } finally {
      setNativeDecode(was);
    }
  });

  it('rejects positions beyond the model and steps beyond the caches as forward() does', () => {
    const m = model(['gpt2', SMALL], 4) as GPT2;
    const { nat } = prefilled(m, [[1, 2, 3]], 5);
    const dec = m.stepDecoder(nat, null)!;
    expect(() => dec.greedy(Int32Array.of(1), Int32Array.of(SMALL.nPositions))).toThrow(/position 40 is beyond the model's 40 positions/);
    dec.greedy(Int32Array.of(1), Int32Array.of(3));
    dec.greedy(Int32Array.of(1), Int32Array.of(4));
    expect(() => dec.greedy(Int32Array.of(1), Int32Array.of(5))).toThrow(/exceed the cache length 5/);
    expect(nat.map((c) => c.length)).toEqual([5, 5]);
    // Disposed caches belong to the pool: the decoder refuses to write into them.
    for (const c of nat) c.dispose();
    expect(() => dec.greedy(Int32Array.of(1), Int32Array.of(0))).toThrow(/KV caches were disposed/);
  });

  it('the addon checks what it is given', () => {
    const addon = loadNative();
    if (!addon.ok) throw new Error('native addon unavailable');
    const P = Float64Array.of(1, 8, 2, 32, 10, 1, 4, 4, 1e-5, 1);
    expect(() => addon.addon.gpt2DecodePlan([], P)).toThrow(/expected 6 \+ 14 per layer arrays/);
    const f = (n: number) => new Float32Array(n);
    const arrays: (Float32Array | Uint16Array | null)[] = [f(80), f(32), f(8), f(8), f(80), null];
    arrays.push(f(8), f(8), f(8 * 24), f(24), f(64), f(8), f(8), f(8), f(8 * 32), f(32), f(32 * 8), f(8), f(32), f(32));
    const plan = addon.addon.gpt2DecodePlan(arrays, P);
    expect(() => addon.addon.decodeStep(plan, Int32Array.of(10), Int32Array.of(0), 1, new Int32Array(1))).toThrow(/token id is out of range/);
    expect(() => addon.addon.decodeStep(plan, Int32Array.of(1), Int32Array.of(0), 5, new Int32Array(1))).toThrow(/S is outside the caches/);
    addon.addon.decodeStep(plan, Int32Array.of(1), Int32Array.of(0), 1, new Int32Array(1));
    // Candidates: all-zero weights give equal logits, so the first cap indices; they need the logits and a cap
    // between 1 and V; a NaN logit marks the row.
    const idx = new Int32Array(4), val = new Float32Array(4);
    addon.addon.decodeStep(plan, Int32Array.of(1), Int32Array.of(1), 2, f(10), idx, val);
    expect(Array.from(idx)).toEqual([0, 1, 2, 3]);
    expect(() => addon.addon.decodeStep(plan, Int32Array.of(1), Int32Array.of(0), 1, new Int32Array(1) as unknown as Float32Array, idx, val)).toThrow(/candidates come with the logits/);
    expect(() => addon.addon.decodeStep(plan, Int32Array.of(1), Int32Array.of(0), 1, f(10), new Int32Array(11), f(11))).toThrow(/1 <= cap <= V/);
    expect(() => addon.addon.decodeStep(plan, Int32Array.of(1), Int32Array.of(0), 1, f(10), idx, f(3))).toThrow(/candVal as many/);
    const shared = new Float32Array(14);
    expect(() => addon.addon.decodeStep(plan, Int32Array.of(1), Int32Array.of(0), 1, shared.subarray(0, 10), idx, shared.subarray(8, 12))).toThrow(/must not overlap/);
    (arrays[4] as Float32Array)[3 * 8] = NaN;
    const nanPlan = addon.addon.gpt2DecodePlan(arrays, P);
    addon.addon.decodeStep(nanPlan, Int32Array.of(1), Int32Array.of(0), 1, f(10), idx, val);
    expect(idx[0]).toBe(-1);
    (arrays[4] as Float32Array)[3 * 8] = 0;
    // Only a plan is a plan: not a plain object, not a typed array.
    expect(() => addon.addon.decodeStep({}, Int32Array.of(1), Int32Array.of(0), 1, new Int32Array(1))).toThrow(/plan must come from gpt2DecodePlan or llamaDecodePlan/);
    expect(() => addon.addon.decodeStep(P, Int32Array.of(1), Int32Array.of(0), 1, new Int32Array(1))).toThrow(/plan must come from gpt2DecodePlan or llamaDecodePlan/);
    const PL = Float64Array.of(1, 8, 2, 1, 4, 16, 10, 1, 4, 4, 1e-6, 0); // L C H Hkv D F V B T positions eps window
    expect(() => addon.addon.llamaDecodePlan([], PL)).toThrow(/expected 6 \+ 18 per layer arrays/);
    expect(() => addon.addon.llamaDecodePlan([], PL.subarray(0, 11))).toThrow(/one attention window a layer/);
    arrays[8] = f(8 * 24 - 1);
    expect(() => addon.addon.gpt2DecodePlan(arrays, P)).toThrow(/attn.c_attn weight holds 191 elements, needs 192/);
    arrays[8] = new Int32Array(8 * 24) as unknown as Float32Array;
    expect(() => addon.addon.gpt2DecodePlan(arrays, P)).toThrow(/attn.c_attn weight must be a Float32Array or a Uint16Array/);
  });
});
