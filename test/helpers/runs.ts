import fs from 'node:fs';
import path from 'node:path';

/** A run folder as the trainer and evaluator leave it, for dashboard tests. */
export function makeRun(root: string, id: string, steps: number, opts: { generations?: number; forecasts?: boolean } = {}): string {
  const dir = path.join(root, id);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ description: { method: 'lora', model: 'gpt2-tiny' } }));
  const rows = Array.from({ length: steps }, (_, i) => ({ step: i + 1, loss: 3 - i * 0.1, lr: 1e-3, gradNorm: 1, tokens: 64, tokensPerSec: 1000 + i, elapsedSec: i, rssMB: 200, ...(i % 2 ? { valLoss: 3.1 - i * 0.1 } : {}) }));
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), rows.map((r) => JSON.stringify(r) + '\n').join(''));
  if (opts.generations) {
    const gens = Array.from({ length: opts.generations }, (_, i) => ({
      schema: 'fintune.generation/1', id: `g${i}`, run: id, model: 'lora', prompt: `Prompt ${i} <b>bold</b>`,
      output: `[Positive Developments]\n1. good\n[Prediction & Analysis]\nPrediction: Up by 1-2%`, parsed: { direction: 1 }, parse_ok: true,
    }));
    fs.writeFileSync(path.join(dir, 'generations.jsonl'), gens.map((g) => JSON.stringify(g) + '\n').join(''));
  }
  if (opts.forecasts) {
    const f = { schema: 'fintune.forecast/1', run: id, method: 'lora', seed: 1, instrument: 'EURUSD', t0: '2021-01-04T00:00:00Z', context: [1.1, 1.2, 1.15], predicted: [1.16, 1.17], true: [1.2, 1.18], parse_ok: true, latency_ms: 5 };
    fs.writeFileSync(path.join(dir, 'forecasts.jsonl'), JSON.stringify(f) + '\n');
  }
  return dir;
}

/** A tiny GPT-2 checkpoint with the numeric price tokenizer, saved as a Hugging Face folder. */
export async function makeTinyNumericModel(dir: string, opts: { vocabSize?: number; nPositions?: number; seed?: number } = {}): Promise<string> {
  const { GPT2 } = await import('../../src/models/gpt2.js');
  const { saveModel } = await import('../../src/models/save.js');
  const { saveNumericTokenizer } = await import('../../src/io/tokenizers/numeric.js');
  saveNumericTokenizer(dir);
  const m = new GPT2({ vocabSize: opts.vocabSize ?? 40, nPositions: opts.nPositions ?? 64, nEmbd: 16, nLayer: 1, nHead: 2 });
  m.initWeights(opts.seed ?? 1);
  saveModel(m, dir);
  return dir;
}
