import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { writeJob, type JobSpec } from '../../src/export/job.js';
import {
  ACCELERATE_DEEPSPEED_FIELDS, ACCELERATE_FIELDS, BNB_FIELDS, DEEPSPEED_FIELDS, DEEPSPEED_PRECISION_FIELDS,
  DEEPSPEED_ZERO_FIELDS, PEFT_FIELDS, TRAINING_ARGUMENT_FIELDS,
} from '../../src/export/job_fields.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-job-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const examples = [
  { input_ids: [5, 6, 7, 8], labels: [6, 7, 8, -100] },
  { input_ids: [1, 2, 3], labels: [-100, 3, 4] },
];
const spec = (method: JobSpec['method'], zeroStage: 2 | 3 = 2): JobSpec => ({
  name: 'eurusd-lora',
  baseModel: 'gpt2',
  method,
  training: { lr: 2e-4, maxSteps: 100, batchSize: 4, gradAccum: 2, schedule: 'cosine', warmupSteps: 10, weightDecay: 0.01, clipGradNorm: 1, seed: 7 },
  data: { train: examples, val: examples.slice(0, 1), test: [{ id: 'w0', prompt_ids: [1, 2], max_new_tokens: 8, true: [1.1, 1.2], decode: { kind: 'raw', horizon: 2 } }] },
  launcher: { kind: 'accelerate', zeroStage },
});

function keysOk(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) expect(allowed, `${where}: field "${k}"`).toContain(k);
}

const methods: JobSpec['method'][] = [
  { name: 'lora', r: 8, loraAlpha: 16, targetModules: ['c_attn'], fanInFanOut: true },
  { name: 'lora', r: 8, loraAlpha: 16, targetModules: 'all-linear', useDora: true, useRslora: true },
  { name: 'qlora', r: 16, loraAlpha: 32, targetModules: ['q_proj', 'v_proj'] },
  { name: 'ia3', targetModules: ['c_attn', 'mlp.c_proj'], feedforwardModules: ['mlp.c_proj'], fanInFanOut: true },
  { name: 'prefix', numVirtualTokens: 20, prefixProjection: true, encoderHiddenSize: 256 },
  { name: 'prompt', numVirtualTokens: 16, initText: 'Forecast the next closes:' },
  { name: 'bitfit' },
  { name: 'full' },
];

describe('export job', () => {
  methods.forEach((method, i) => {
    for (const stage of [2, 3] as const) {
      it(`${method.name} #${i}, ZeRO-${stage}: compiles, configs use documented fields, data equal fintune's examples`, () => {
        const dir = path.join(tmp, `job-${i}-${stage}`);
        writeJob(spec(method, stage), dir);
        execFileSync('python3', ['-m', 'py_compile', path.join(dir, 'train.py')]);
        const job = JSON.parse(fs.readFileSync(path.join(dir, 'job.json'), 'utf8'));
        if (job.peft) keysOk(job.peft.kwargs, PEFT_FIELDS[job.peft.class]!, job.peft.class);
        if (job.bnb) {
          keysOk(job.bnb, BNB_FIELDS, 'BitsAndBytesConfig');
          expect(job.bnb.bnb_4bit_use_double_quant).toBe(true);
          expect('bnb_4bit_quant_storage' in job.bnb).toBe(stage === 3);
        }
        keysOk(job.training_arguments, TRAINING_ARGUMENT_FIELDS, 'TrainingArguments');
        const acc = parseYaml(fs.readFileSync(path.join(dir, 'accelerate_config.yaml'), 'utf8'));
        keysOk(acc, ACCELERATE_FIELDS, 'accelerate');
        keysOk(acc.deepspeed_config, ACCELERATE_DEEPSPEED_FIELDS, 'accelerate.deepspeed_config');
        expect(acc.deepspeed_config.deepspeed_config_file).toBe(`ds_zero${stage}.json`);
        for (const s of [2, 3]) {
          const ds = JSON.parse(fs.readFileSync(path.join(dir, `ds_zero${s}.json`), 'utf8'));
          keysOk(ds, DEEPSPEED_FIELDS, 'deepspeed');
          keysOk(ds.zero_optimization, DEEPSPEED_ZERO_FIELDS, 'deepspeed.zero_optimization');
          keysOk(ds.bf16, DEEPSPEED_PRECISION_FIELDS, 'deepspeed.bf16');
          expect(ds.zero_optimization.stage).toBe(s);
        }
        const rows = fs.readFileSync(path.join(dir, 'data', 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
        expect(rows).toEqual(examples);
        expect(fs.readFileSync(path.join(dir, 'requirements.txt'), 'utf8')).toMatch(/^peft==\d+\.\d+\.\d+$/m);
        expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toContain('accelerate launch --config_file accelerate_config.yaml train.py');
      });
    }
  });

  it('refuses methods PEFT does not have, and bad examples, before writing', () => {
    const dir = path.join(tmp, 'refused');
    expect(() => writeJob(spec({ name: 'houlsby' }), dir)).toThrow(/no Hugging Face PEFT equivalent/);
    expect(fs.existsSync(dir)).toBe(false);
    const bad = spec({ name: 'full' });
    bad.data.train = [{ input_ids: [1, 2], labels: [1] }];
    expect(() => writeJob(bad, dir)).toThrow(/train example 0 has 2 ids but 1 labels/);
  });
});
