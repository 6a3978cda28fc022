/** export job --run: a real fintune fine-tuning run becomes a job whose data are fintune's examples, one for one. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTinyNumericModel } from '../helpers/runs.js';
import { readExamples } from '../../src/cli/commands/finetune.js';
import { loadCodec } from '../../src/train/cli_support.js';
import { runCli } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-jobrun-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('export job from a run', () => {
  it('writes exactly the examples fintune trained and held out, and a compiling project', async () => {
    const modelDir = await makeTinyNumericModel(path.join(tmp, 'base'), { seed: 3 });
    const data = path.join(tmp, 'train.jsonl');
    const lines = Array.from({ length: 10 }, (_, i) => JSON.stringify({ prompt: `1.${1000 + i} 1.${1010 + i} `, answer: `1.${1020 + i}` }));
    fs.writeFileSync(data, lines.join('\n') + '\n');
    const run = path.join(tmp, 'run');
    const ft = await runCli(['finetune', '--model', modelDir, '--tokenizer', modelDir, '--data', data, '--steps', '2', '--batch-size', '2', '--eval-every', '0', '--val-fraction', '0.2', '--out', run, '--quiet']);
    expect(ft.stderr.replace(/method full[^\n]*\n/, '')).toBe('');
    expect(ft.code).toBe(0);
    const job = path.join(tmp, 'job');
    const r = await runCli(['export', 'job', '--run', run, '--out', job, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).examples).toEqual({ train: 8, val: 2 });
    const want = readExamples(data, loadCodec(modelDir), 64).map((e) => ({ input_ids: Array.from(e.inputIds), labels: Array.from(e.labels) }));
    const read = (f: string) => fs.readFileSync(path.join(job, 'data', f), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(read('train.jsonl')).toEqual(want.slice(0, 8));
    expect(read('val.jsonl')).toEqual(want.slice(8));
    const spec = JSON.parse(fs.readFileSync(path.join(job, 'job.json'), 'utf8'));
    expect(spec.method).toBe('full');
    expect(spec.training_arguments).toMatchObject({ max_steps: 2, per_device_train_batch_size: 2, seed: 0 });
    execFileSync('python3', ['-m', 'py_compile', path.join(job, 'train.py')]);
  });
  it('refuses runs it cannot reproduce, saying why', async () => {
    const run = path.join(tmp, 'textrun');
    fs.mkdirSync(run);
    fs.writeFileSync(path.join(run, 'config.json'), JSON.stringify({ command: 'finetune', method: 'lora', model: '/m', data: '/corpus.txt', tokenizer: '/t', seqLen: 8, batchSize: 1, seed: 0, trainer: { lr: 1e-3, maxSteps: 1 } }));
    const r = await runCli(['export', 'job', '--run', run, '--out', path.join(tmp, 'x')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/needs prompt\/answer JSONL data/);
    expect((await runCli(['export', 'job', '--out', path.join(tmp, 'x')])).code).toBe(2);
  });
});
