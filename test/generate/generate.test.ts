import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { parityBackends } from '../helpers/backends.js';
import { setBackend } from '../../src/tensor/index.js';
import { generate } from '../../src/generate/generate.js';
import { NumericListConstraint, parseNumberList } from '../../src/generate/constrained.js';
import { loadModel } from '../../src/models/load.js';
import { GPT2 } from '../../src/models/gpt2.js';
import { FIXTURES } from '../helpers/paths.js';
import { get, maxAbsDiff, readReference } from '../helpers/fixtures.js';

describe.each(parityBackends())('KV-cache decoding reproduces the greedy fixtures, %s backend', (_name, backend) => {
  beforeEach(() => void setBackend(backend));
  for (const [folder, tol] of [
    ['gpt2-tiny-trained', 5e-4],
    ['llama-tiny-trained', 5e-4],
    ['llama-tiny-rope-scaled', 1e-3],
  ] as const) {
    it(`${folder}: every step's logits and the output tokens`, () => {
      const ref = readReference(folder);
      const model = loadModel(path.join(FIXTURES, folder));
      const prompts = get(ref, 'greedy.prompt').toArray() as number[][];
      const want = get(ref, 'greedy.output').toArray() as number[][];
      const stepLogits = get(ref, 'greedy.step_logits').toFloat32Array();
      const V = 512, steps = 40;
      let worst = 0;
      const res = generate(model, prompts, {
        maxNewTokens: steps,
        onLogits: (k, rows) => rows.forEach((r, b) => {
          worst = Math.max(worst, maxAbsDiff(r, stepLogits.subarray((b * steps + k) * V, (b * steps + k + 1) * V)));
        }),
      });
      expect(worst).toBeLessThan(tol);
      res.ids.forEach((ids, b) => expect(ids).toEqual(want[b]!.slice(prompts[b]!.length)));
      expect(res.finishReasons).toEqual(['length', 'length']);
    });
  }

  it('a left-padded batch gives each prompt its unpadded output', () => {
    const model = loadModel(path.join(FIXTURES, 'gpt2-tiny-trained'));
    const ref = readReference('gpt2-tiny-trained');
    const [p0, p1] = get(ref, 'greedy.prompt').toArray() as number[][];
    const short = p1!.slice(3); // 5 tokens, padded on the left in the batch
    const alone0 = generate(model, [p0!], { maxNewTokens: 12 }).ids[0];
    const alone1 = generate(model, [short], { maxNewTokens: 12 }).ids[0];
    const batch = generate(model, [p0!, short], { maxNewTokens: 12 }).ids;
    expect(batch[0]).toEqual(alone0);
    expect(batch[1]).toEqual(alone1);
  });
});

describe('sampling options', () => {
  const model = new GPT2({ vocabSize: 32, nPositions: 64, nEmbd: 16, nLayer: 1, nHead: 2 });
  model.initWeights(3);
  it('is reproducible from the seed and differs across seeds', () => {
    const o = { maxNewTokens: 20, doSample: true, temperature: 1.5 };
    const a = generate(model, [[1, 2, 3]], { ...o, seed: 1 }).ids[0];
    const b = generate(model, [[1, 2, 3]], { ...o, seed: 1 }).ids[0];
    const c = generate(model, [[1, 2, 3]], { ...o, seed: 2 }).ids[0];
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
  it('top-k 1 is greedy; EOS stops a row; only new tokens are returned', () => {
    const g = generate(model, [[1, 2, 3]], { maxNewTokens: 10 }).ids[0]!;
    expect(generate(model, [[1, 2, 3]], { maxNewTokens: 10, doSample: true, topK: 1, seed: 9 }).ids[0]).toEqual(g);
    const r = generate(model, [[1, 2, 3]], { maxNewTokens: 10, eosTokenId: g[2]! });
    expect(r.ids[0]).toEqual(g.slice(0, g.indexOf(g[2]!) + 1));
    expect(r.finishReasons[0]).toBe('eos');
  });
  it('stop strings cut the text and need a decoder', () => {
    const decode = (ids: number[]): string => ids.map((i) => String.fromCharCode(97 + (i % 26))).join('');
    const full = generate(model, [[1, 2]], { maxNewTokens: 8, decode }).text[0]!;
    const stop = full.slice(3, 5);
    const r = generate(model, [[1, 2]], { maxNewTokens: 8, decode, stopStrings: [stop] });
    expect(r.text[0]).toBe(full.slice(0, full.indexOf(stop)));
    expect(r.finishReasons[0]).toBe('stop_string');
    expect(() => generate(model, [[1]], { maxNewTokens: 2, stopStrings: ['x'] })).toThrow(/decode/);
  });
});

describe('constrained numeric decoding', () => {
  // A toy vocabulary where most tokens are junk: the constraint must still give a parsable list.
  const strings = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '.', ' ', '-', 'ab', '1.', '.5', ' 2', '99', 'x', '\n', '12.3', '', ' -', '7 '];
  const model = new GPT2({ vocabSize: strings.length, nPositions: 128, nEmbd: 16, nLayer: 1, nHead: 2 });
  model.initWeights(11);
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`always yields exactly N numbers with the precision (seed ${seed})`, () => {
      const c = new NumericListConstraint(strings, { count: 4, precision: 2, allowNegative: true });
      const r = generate(model, [[18, 13]], { maxNewTokens: 60, doSample: true, seed, constraints: [c] });
      const text = r.ids[0]!.map((i) => strings[i]).join('');
      expect(text).toMatch(/^ *-?\d{1,8}\.\d{2}( -?\d{1,8}\.\d{2}){3}$/);
      expect(parseNumberList(text)).toHaveLength(4);
      expect(r.finishReasons[0]).toBe('constraint');
    });
  }
  it('allowed sets follow the grammar', () => {
    const c = new NumericListConstraint(strings, { count: 2, precision: 1 });
    const allowed = (): string[] => [...c.allowed()].flatMap((a, i) => (a ? [strings[i]!] : []));
    expect(allowed()).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ' ', '1.', ' 2', '99', '12.3']);
    c.advance(14); // "1."
    expect(allowed()).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '7 ']);
    c.advance(23); // "7 "
    expect(allowed()).toContain('12.3');
    expect(allowed()).not.toContain(' 2');
    c.advance(20); // "12.3" completes the second number
    expect(c.done()).toBe(true);
  });
});

describe('sliding-window attention with the cache (Mistral)', () => {
  it('cached decoding equals full recomputation when the sequence outgrows the window', async () => {
    const { Llama } = await import('../../src/models/llama.js');
    const { fromArray: fa, noGrad: ng } = await import('../../src/tensor/index.js');
    const m = new Llama({ vocabSize: 30, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 64, layerWindows: [4, 4] });
    m.initWeights(9);
    const prompt = [3, 7, 1, 9, 12, 5];
    const steps: Float32Array[] = [];
    const r = generate(m as never, [prompt], { maxNewTokens: 12, onLogits: (_k, rows) => steps.push(rows[0]!) });
    const seq = [...prompt, ...r.ids[0]!];
    ng(() => {
      for (let k = 0; k < 12; k++) {
        const T = prompt.length + k;
        const logits = m.forward(fa(Int32Array.from(seq.slice(0, T)), [1, T])).toFloat32Array();
        expect(maxAbsDiff(logits.subarray((T - 1) * 30, T * 30), steps[k]!)).toBeLessThan(1e-5);
      }
    });
  });
});
