import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx } from '../../src/export/onnx.js';
import { loadModel } from '../../src/models/load.js';
import { generate } from '../../src/generate/generate.js';
import { loadAdapter } from '../../src/peft/load.js';
import { mergeAndUnload } from '../../src/peft/merge.js';
import { fromArray, noGrad, setBackend, tsBackend, type Backend } from '../../src/tensor/index.js';
import type { CausalLM } from '../../src/models/common.js';
import { FIXTURES } from '../helpers/paths.js';
import { get, maxAbsDiff, readReference } from '../helpers/fixtures.js';

const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof import('onnxruntime-node');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-onnx-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Feeds = Record<string, import('onnxruntime-node').Tensor>;

function i64(values: number[], dims: number[]) {
  return new ort.Tensor('int64', BigInt64Array.from(values.map((v) => BigInt(v))), dims);
}

/** Greedy decoding through the ONNX session, with the cache carried in present/past. */
async function onnxGreedy(session: import('onnxruntime-node').InferenceSession, prompts: number[][], steps: number, layers: number, kvHeads: number, D: number) {
  const B = prompts.length, P = prompts[0]!.length;
  let feeds: Feeds = {
    input_ids: i64(prompts.flat(), [B, P]),
    attention_mask: i64(new Array(B * P).fill(1), [B, P]),
    position_ids: i64(prompts.flatMap(() => [...Array(P).keys()]), [B, P]),
  };
  for (let l = 0; l < layers; l++) for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [B, kvHeads, 0, D]);
  const tokens: number[][] = prompts.map(() => []);
  const stepLogits: Float32Array[][] = [];
  let total = P;
  for (let s = 0; s < steps; s++) {
    const out = await session.run(feeds);
    const logits = out.logits!.data as Float32Array;
    const [, T, V] = out.logits!.dims as number[];
    const rows: Float32Array[] = [];
    const next: number[] = [];
    for (let b = 0; b < B; b++) {
      const row = logits.subarray((b * T! + T! - 1) * V!, (b * T! + T!) * V!);
      rows.push(Float32Array.from(row));
      let arg = 0;
      for (let i = 1; i < V!; i++) if (row[i]! > row[arg]!) arg = i;
      next.push(arg);
      tokens[b]!.push(arg);
    }
    stepLogits.push(rows);
    const nf: Feeds = {
      input_ids: i64(next, [B, 1]),
      attention_mask: i64(new Array(B * (total + 1)).fill(1), [B, total + 1]),
      position_ids: i64(new Array(B).fill(total), [B, 1]),
    };
    for (let l = 0; l < layers; l++) for (const kv of ['key', 'value']) nf[`past_key_values.${l}.${kv}`] = out[`present.${l}.${kv}`]!;
    feeds = nf;
    total++;
  }
  return { tokens, stepLogits };
}

// Tolerances: 1e-4 absolute; the rope-scaled model's logits reach ~40 (the fixture README compares its own
// step logits within 1e-3 for that reason), where 1e-4 is a few float32 ulps, so it gets 5e-4.
const cases = [
  ['gpt2-tiny-trained', 2, 4, 16, 1e-4],
  ['llama-tiny-trained', 2, 2, 16, 1e-4],
  ['llama-tiny-rope-scaled', 2, 2, 16, 5e-4],
] as const;

describe('ONNX export runs in onnxruntime-node and matches fintune', () => {
  // fintune's side is computed by the reference backend (the native one is held to it by its own twin tests),
  // so the comparison measures the exported graph, not two float32 summation orders against each other.
  let prev: Backend;
  beforeAll(() => void (prev = setBackend(tsBackend)));
  afterAll(() => void setBackend(prev));
  for (const [folder, layers, kvHeads, D, tol] of cases) {
    it(`${folder}: logits with and without past inputs, and greedy output`, async () => {
      const model = loadModel(path.join(FIXTURES, folder));
      const out = path.join(tmp, folder);
      exportOnnx(model, out);
      expect(fs.existsSync(path.join(out, 'onnx', 'model.onnx'))).toBe(true);
      expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).use_cache).toBe(true);
      const session = await ort.InferenceSession.create(path.join(out, 'onnx', 'model.onnx'));
      const ref = readReference(folder);
      const prompts = get(ref, 'greedy.prompt').toArray() as number[][];
      // Full-sequence logits (no past) vs fintune's forward.
      const ours = noGrad(() => model.forward(fromArray(Int32Array.from(prompts.flat()), [2, prompts[0]!.length])).toFloat32Array());
      const res = await onnxGreedy(session, prompts, 12, layers, kvHeads, D);
      const first = await session.run({
        input_ids: i64(prompts.flat(), [2, 8]),
        attention_mask: i64(new Array(16).fill(1), [2, 8]),
        position_ids: i64([...Array(8).keys(), ...Array(8).keys()], [2, 8]),
        ...Object.fromEntries(Array.from({ length: layers }, (_, l) => ['key', 'value'].map((kv) => [`past_key_values.${l}.${kv}`, new ort.Tensor('float32', new Float32Array(0), [2, kvHeads, 0, D])])).flat()),
      });
      expect(maxAbsDiff(first.logits!.data as Float32Array, ours)).toBeLessThan(tol);
      // Cached steps vs fintune's own cached generation, step by step.
      let worst = 0;
      const g = generate(model as CausalLM, prompts, {
        maxNewTokens: 12,
        onLogits: (k, rows) => rows.forEach((r, b) => (worst = Math.max(worst, maxAbsDiff(r, res.stepLogits[k]![b]!)))),
      });
      expect(worst).toBeLessThan(tol);
      expect(res.tokens).toEqual(g.ids);
      const want = get(ref, 'greedy.output').toArray() as number[][];
      res.tokens.forEach((t, b) => expect(t).toEqual(want[b]!.slice(8, 20)));
    });
  }

  it('external data files load the same model', async () => {
    const model = loadModel(path.join(FIXTURES, 'gpt2-tiny'));
    const out = path.join(tmp, 'external');
    const files = exportOnnx(model, out, { externalData: 'always' });
    expect(files.some((f) => f.endsWith('model.onnx_data'))).toBe(true);
    expect(fs.statSync(path.join(out, 'onnx', 'model.onnx')).size).toBeLessThan(100_000);
    const session = await ort.InferenceSession.create(path.join(out, 'onnx', 'model.onnx'));
    const ref = readReference('gpt2-tiny');
    const ids = get(ref, 'input_ids').toArray() as number[][];
    const r = await session.run({
      input_ids: i64(ids.flat(), [2, 16]),
      attention_mask: i64(new Array(32).fill(1), [2, 16]),
      position_ids: i64([...Array(16).keys(), ...Array(16).keys()], [2, 16]),
      ...Object.fromEntries([0, 1].flatMap((l) => ['key', 'value'].map((kv) => [`past_key_values.${l}.${kv}`, new ort.Tensor('float32', new Float32Array(0), [2, 4, 0, 16])]))),
    });
    expect(maxAbsDiff(r.logits!.data as Float32Array, get(ref, 'logits').toFloat32Array())).toBeLessThan(1e-4);
  });

  it('a merged LoRA adapter exports and reproduces the PEFT fixture logits', async () => {
    const model = loadModel(path.join(FIXTURES, 'gpt2-tiny'));
    loadAdapter(model, path.join(FIXTURES, 'gpt2-tiny-lora'));
    mergeAndUnload(model);
    const out = path.join(tmp, 'lora');
    exportOnnx(model, out);
    const session = await ort.InferenceSession.create(path.join(out, 'onnx', 'model.onnx'));
    const ids = get(readReference('gpt2-tiny'), 'input_ids').toArray() as number[][];
    const r = await session.run({
      input_ids: i64(ids.flat(), [2, 16]),
      attention_mask: i64(new Array(32).fill(1), [2, 16]),
      position_ids: i64([...Array(16).keys(), ...Array(16).keys()], [2, 16]),
      ...Object.fromEntries([0, 1].flatMap((l) => ['key', 'value'].map((kv) => [`past_key_values.${l}.${kv}`, new ort.Tensor('float32', new Float32Array(0), [2, 4, 0, 16])]))),
    });
    expect(maxAbsDiff(r.logits!.data as Float32Array, get(readReference('gpt2-tiny-lora'), 'logits').toFloat32Array())).toBeLessThan(1e-4);
  });

  it('uses only standard opset-17 operators', () => {
    const text = fs.readFileSync(path.join(tmp, 'llama-tiny-trained', 'onnx', 'model.onnx')).toString('latin1');
    expect(text).not.toContain('com.microsoft');
    for (const op of ['Gelu', 'SimplifiedLayerNormalization', 'RotaryEmbedding', 'GroupQueryAttention']) expect(text).not.toContain(`\x22${String.fromCharCode(op.length)}${op}`);
  });
});
