// The library API in one short script (run by the test suite: test/examples.test.ts).
//   node examples/library.mjs [path/to/shared]
// Loads a Hugging Face checkpoint, generates with a KV cache, puts a LoRA adapter on it, trains a few steps with
// the Trainer (with a callback), saves the adapter in PEFT's format, and scores forecasts against persistence.
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { loadModel, generate, applyMethod, trainableParameters, saveAdapter, Trainer, training, evaluate } from 'fintune';

const shared = process.argv[2] ?? path.resolve('..', 'shared');
const model = loadModel(path.join(shared, 'fixtures', 'gpt2-tiny-trained'));

// 1. Generation: greedy, only the new tokens come back.
const out = generate(model, [[5, 9, 12, 3, 7, 1, 2, 8]], { maxNewTokens: 8 });
console.log('generated', JSON.stringify(out.ids[0]));

// 2. LoRA on the attention projections; the base stays frozen.
applyMethod(model, 'lora', { r: 4, alpha: 8, targetModules: ['c_attn'] });
const counts = trainableParameters(model);
console.log('trainable', counts.trainable, 'of', counts.total);

// 3. A few training steps on a token stream (the model learned to repeat the last 8 tokens).
const stream = Int32Array.from({ length: 400 }, (_, i) => [3, 1, 4, 1, 5, 9, 2, 6][i % 8] + 10);
const losses = [];
const trainer = new Trainer({
  model,
  train: new training.RandomWindows(stream, { batchSize: 4, seqLen: 24, seed: 1 }),
  config: { maxSteps: 5, lr: 5e-3, progress: 'quiet' },
  callbacks: { onStep: (m) => losses.push(m.loss) },
});
await trainer.train();
console.log('losses', losses.map((l) => l.toFixed(3)).join(' '));

// 4. The adapter in Hugging Face PEFT's format.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-example-'));
const files = saveAdapter(model, dir, { baseModelNameOrPath: 'gpt2-tiny-trained' });
console.log('saved', files.map((f) => path.basename(f)).join(', '));
fs.rmSync(dir, { recursive: true, force: true });

// 5. Forecasts scored beside the naive baselines on the same windows.
const rec = (t0, context, predicted, truth) => ({
  schema: 'fintune.forecast/1', run: 'example', method: 'my-model', seed: null, instrument: 'EURUSD', t0,
  context, predicted, true: truth, parse_ok: true, latency_ms: 1,
});
const results = evaluate([
  rec('2021-01-04T00:00:00Z', [1.10, 1.11, 1.12], [1.125, 1.13], [1.126, 1.128]),
  rec('2021-01-05T00:00:00Z', [1.12, 1.13, 1.12], [1.118, 1.115], [1.119, 1.117]),
  rec('2021-01-06T00:00:00Z', [1.12, 1.11, 1.10], [1.098, 1.097], [1.101, 1.099]),
]);
for (const m of results.methods) console.log('rmse', m.method, m.metrics.rmse.toExponential(3), 'skill', m.skill);
