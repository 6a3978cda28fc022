import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importJob } from '../../src/export/import.js';
import { FIXTURES } from '../helpers/paths.js';
import { get, maxAbsDiff, readReference } from '../helpers/fixtures.js';
import { loadModel } from '../../src/models/load.js';
import { loadAdapter } from '../../src/peft/load.js';
import { noGrad } from '../../src/tensor/index.js';
import { runCli } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-import-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A job folder as train.py leaves it: job.json, out/adapter (the PEFT fixture), out/*.jsonl. */
function fakeJob(name: string, badForecastLine = false): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, 'out', 'adapter'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'job.json'), JSON.stringify({ name, method: 'lora', base_model_name_or_path: 'gpt2', seed: 7 }));
  for (const f of ['adapter_config.json', 'adapter_model.safetensors']) fs.copyFileSync(path.join(FIXTURES, 'gpt2-tiny-lora', f), path.join(dir, 'out', 'adapter', f));
  const f = { schema: 'fintune.forecast/1', run: name, method: 'lora', seed: 7, instrument: 'EURUSD', t0: '2021-01-04T00:00:00Z', context: [1.1, 1.2], predicted: [1.21], true: [1.19], parse_ok: true, latency_ms: 12 };
  fs.writeFileSync(path.join(dir, 'out', 'forecasts.jsonl'), JSON.stringify(f) + '\n' + (badForecastLine ? '{"schema":"fintune.forecast/1","run":1}\n' : ''));
  const g = { schema: 'fintune.generation/1', id: 'w0', run: name, model: 'lora', prompt: '1.1 1.2 ', output: '1.21', parsed: { numbers: [1.21] }, parse_ok: true };
  fs.writeFileSync(path.join(dir, 'out', 'generations.jsonl'), JSON.stringify(g) + '\n');
  return dir;
}

describe('fintune import', () => {
  it('brings back the adapter, forecasts and generations as a run folder', async () => {
    const r = await importJob(fakeJob('job1'), path.join(tmp, 'runs', 'job1'));
    expect(r).toMatchObject({ kind: 'adapter', forecasts: 1, generations: 1 });
    const final = path.join(tmp, 'runs', 'job1', 'final');
    expect(fs.readFileSync(path.join(final, 'adapter_model.safetensors'))).toEqual(fs.readFileSync(path.join(FIXTURES, 'gpt2-tiny-lora', 'adapter_model.safetensors')));
    const cfg = JSON.parse(fs.readFileSync(path.join(tmp, 'runs', 'job1', 'config.json'), 'utf8'));
    expect(cfg.description).toMatchObject({ method: 'lora', model: 'gpt2', kind: 'adapter' });
    // The imported adapter works: on gpt2-tiny it reproduces the PEFT fixture's logits.
    const ref = readReference('gpt2-tiny-lora');
    const base = readReference('gpt2-tiny');
    const model = loadModel(path.join(FIXTURES, 'gpt2-tiny'));
    loadAdapter(model, final);
    const logits = noGrad(() => model.forward(get(base, 'input_ids')).toFloat32Array());
    expect(maxAbsDiff(logits, get(ref, 'logits').toFloat32Array())).toBeLessThan(1e-4);
  });
  it('a bad forecast line is an error naming the file and line; nothing half-imported', async () => {
    const job = fakeJob('job2', true);
    await expect(importJob(job, path.join(tmp, 'runs', 'job2'))).rejects.toThrow(/forecasts\.jsonl:2:/);
    expect(fs.existsSync(path.join(tmp, 'runs', 'job2'))).toBe(false);
    expect(fs.readdirSync(path.join(tmp, 'runs')).some((f) => f.includes('importing'))).toBe(false);
  });
  it('the CLI prints what it imported', async () => {
    const r = await runCli(['import', '--job', fakeJob('job3'), '--out', path.join(tmp, 'runs', 'job3'), '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'adapter', forecasts: 1 });
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    const bad = await runCli(['import', '--job', empty, '--out', path.join(tmp, 'runs', 'x')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/nothing to import/);
  });
});
