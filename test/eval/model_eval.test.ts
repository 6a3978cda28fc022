/** `fintune eval` end to end: a tiny model with the numeric tokenizer forecasts EURUSD test windows. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GPT2 } from '../../src/models/gpt2.js';
import { saveModel } from '../../src/models/save.js';
import { saveNumericTokenizer } from '../../src/io/tokenizers/numeric.js';
import { readAll, readForecasts } from '../../src/eval/schema.js';
import { DATA } from '../helpers/paths.js';
import { runCli } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-eval-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('fintune eval', () => {
  it('forecasts with constrained decoding (every window parses) and scores beside the baselines', async () => {
    const modelDir = path.join(tmp, 'model');
    const tokFile = saveNumericTokenizer(modelDir);
    const vocab = Object.keys((JSON.parse(fs.readFileSync(tokFile, 'utf8')) as { model: { vocab: Record<string, number> } }).model.vocab).length;
    const m = new GPT2({ vocabSize: vocab + 8, nPositions: 256, nEmbd: 32, nLayer: 1, nHead: 2 });
    m.initWeights(1);
    saveModel(m, modelDir);
    const out = path.join(tmp, 'eval');
    const r = await runCli([
      'eval', '--model', modelDir, '--data', path.join(DATA, 'forex', 'EURUSD_H4.csv'),
      '--known', '8', '--horizon', '3', '--scaling', 'bps', '--precision', '0', '--max-windows', '4', '--out', out, '--json', '--base-model', modelDir, '--random-init', '--seed', '3',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.n_windows).toBe(4);
    const names = res.methods.map((x: { method: string }) => x.method);
    expect(names).toEqual(expect.arrayContaining(['model', 'base-untuned', 'random-init@3', 'persistence', 'drift', 'moving_average']));
    const model = res.methods.find((x: { method: string }) => x.method === 'model');
    expect(model.parse_failures).toBe(0);
    const pers = res.methods.find((x: { method: string }) => x.method === 'persistence');
    const want = 1 - model.metrics.mse / pers.metrics.mse;
    expect(Math.abs(model.skill - want)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(want)));
    const recs = await readAll(readForecasts(path.join(out, 'forecasts.jsonl')));
    expect(recs).toHaveLength(12);
    for (const f of recs) {
      expect(f.parse_ok).toBe(true);
      expect(f.predicted).toHaveLength(3);
      expect(f.context).toHaveLength(8);
      // an untrained model's numbers are arbitrary, but they decode to finite prices
      for (const p of f.predicted) expect(Number.isFinite(p)).toBe(true);
    }
  });
  it('--adapter: forecasts run through a PEFT adapter on the model', async () => {
    const { applyMethod } = await import('../../src/peft/registry.js');
    const { saveAdapter } = await import('../../src/peft/save.js');
    const { loadModel } = await import('../../src/models/load.js');
    const modelDir = path.join(tmp, 'model');
    const m = loadModel(modelDir);
    applyMethod(m, 'prefix', { numVirtualTokens: 3 });
    const adapter = path.join(tmp, 'prefix-adapter');
    saveAdapter(m, adapter);
    const r = await runCli(['eval', '--model', modelDir, '--adapter', adapter, '--data', path.join(DATA, 'forex', 'EURUSD_H4.csv'),
      '--known', '8', '--horizon', '3', '--scaling', 'bps', '--precision', '0', '--max-windows', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    const model = res.methods.find((x: { method: string }) => x.method === 'prefix-adapter');
    expect(model.parse_failures).toBe(0);
  });
});
