// Generation's per-token shortcuts: logits of the last position only (prefill and decode), greedy picks made in
// the LM head's product or read in place, and the native pool's spin raised for the loop and restored after it.
import { describe, expect, it } from 'vitest';
import { TINY_TASK } from '../../src/bench/train.js';
import { generate } from '../../src/generate/generate.js';
import { DECODE_SPIN_MICROS } from '../../src/generate/decode_worker.js';
import { GPT2 } from '../../src/models/gpt2.js';
import { Llama } from '../../src/models/llama.js';
import type { CausalLM } from '../../src/models/common.js';
import { withMatrixDtype } from '../../src/nn/module.js';
import { fromArray, getBackend, noGrad } from '../../src/tensor/index.js';
import * as native from '../../src/tensor/native_backend.js';

describe('generation computes logits for the last position only', () => {
  it('forward with logitsToKeep 1 equals the last row of the full logits; generate is unchanged by it', () => {
    const m = new GPT2(TINY_TASK.model);
    m.initWeights(3);
    m.eval();
    const ids = Int32Array.from({ length: 12 }, (_, i) => (i * 37) % 512);
    noGrad(() => {
      const all = m.forward(fromArray(ids, [1, 12]));
      const last = m.forward(fromArray(ids, [1, 12]), { logitsToKeep: 1 });
      expect(last.shape).toEqual([1, 1, 512]);
      const a = all.toFloat32Array().subarray(11 * 512);
      const b = last.toFloat32Array();
      let worst = 0;
      for (let i = 0; i < 512; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      expect(worst).toBeLessThan(1e-5);
    });
    // Greedy through generate() matches a cache-free greedy loop over full forwards.
    const prompt = Array.from(ids);
    const got = generate(m, [prompt], { maxNewTokens: 6 }).ids[0]!;
    const seq = [...prompt];
    noGrad(() => {
      for (let k = 0; k < 6; k++) {
        const l = m.forward(fromArray(Int32Array.from(seq), [1, seq.length])).toFloat32Array().subarray((seq.length - 1) * 512);
        let best = 0;
        for (let i = 1; i < 512; i++) if (l[i]! > l[best]!) best = i;
        seq.push(best);
      }
    });
    expect(got).toEqual(seq.slice(prompt.length));
  });
});

const setSpin = native.setNativeSpinMicros;
// A worker exists only on the native backend with 2 threads; elsewhere the spin is left alone (skipped, not passed).
const hasWorker = native.loadNative().ok && getBackend().name === 'native' && getBackend().threads > 1;

describe.runIf(hasWorker)("the native pool's spin during generate", () => {
  it('is raised while the loop runs and restored after it', () => {
    const m = new GPT2(TINY_TASK.model);
    m.initWeights(1);
    const seen: number[] = [];
    const before = setSpin(345);
    try {
      generate(m, [[1, 2, 3]], {
        maxNewTokens: 3,
        // Read the current value by swapping it out and back.
        onToken: () => {
          const cur = setSpin(0);
          setSpin(cur);
          seen.push(cur);
        },
      });
      expect(seen).toEqual([DECODE_SPIN_MICROS, DECODE_SPIN_MICROS, DECODE_SPIN_MICROS]);
      expect(setSpin(345)).toBe(345);
    } finally {
      setSpin(before);
    }
  });
});

describe('greedy picks made inside the LM head (CausalLM.greedyTokens)', () => {
  const llama = () => new Llama({ vocabSize: 300, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 64 });
  const models: [string, () => CausalLM][] = [
    ['GPT-2', () => new GPT2(TINY_TASK.model)],
    ['GPT-2, bf16 weights', () => withMatrixDtype('bf16', () => new GPT2(TINY_TASK.model))],
    ['Llama', llama],
  ];
  for (const [name, make] of models) {
    it(`${name}: the same tokens as picking from the written logits, left-padded batch included`, () => {
      const m = make();
      m.initWeights(7);
      const prompts = [[5, 9, 200, 17, 3, 41], [8, 1], [250, 251, 252]];
      const fusedIds = generate(m, prompts, { maxNewTokens: 8 }).ids;
      // onLogits needs the logits, so this run writes them and picks with argmax over them.
      const written = generate(m, prompts, { maxNewTokens: 8, onLogits: () => {} }).ids;
      expect(fusedIds).toEqual(written);
      // And greedyTokens itself is the argmax of forward()'s last position.
      noGrad(() => {
        const ids = fromArray(Int32Array.of(4, 8, 15, 16, 23, 42), [2, 3]);
        const picks = m.greedyTokens!(ids);
        const logits = m.forward(ids, { logitsToKeep: 1 }).toFloat32Array();
        const V = logits.length / 2;
        for (let b = 0; b < 2; b++) {
          let best = 0;
          for (let i = 1; i < V; i++) if (logits[b * V + i]! > logits[b * V + best]!) best = i;
          expect(picks[b]).toBe(best);
        }
      });
    });
  }
});
