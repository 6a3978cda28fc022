import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { register as registerPretrain } from '../../src/cli/commands/pretrain.js';
import { readExamples, register as registerFinetune } from '../../src/cli/commands/finetune.js';
import { byteCodec } from '../../src/train/cli_support.js';
import { loadModel } from '../../src/models/load.js';
import { readMetrics, tmpDir } from './helpers.js';
import { CheckpointStore } from '../../src/train/checkpoints.js';
import { FIXTURES } from '../helpers/paths.js';
import { loadTokenizer, saveNumericTokenizer } from '../../src/io/tokenizer.js';

async function cli(...argv: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerPretrain(program);
  registerFinetune(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return out;
}

afterEach(() => vi.restoreAllMocks());

const corpus = (): string => {
  let s = '';
  for (let i = 0; i < 120; i++) s += `EURUSD ${(1.1 + 0.001 * (i % 17)).toFixed(4)} up down flat\n`;
  return s;
};

describe('fintune pretrain', () => {
  it('trains a preset on bytes, reports held-out loss and perplexity, exports a loadable model, and resumes', async () => {
    const dir = tmpDir('cli-pre');
    const data = path.join(dir, 'corpus.txt');
    fs.writeFileSync(data, corpus());
    const run = path.join(dir, 'run');
    const common = ['pretrain', '--data', data, '--preset', 'gpt2-tiny', '--out', run, '--batch-size', '2', '--seq-len', '32', '--eval-every', '3', '--eval-batches', '2', '--lr', '3e-3', '--warmup', '1', '--quiet'];
    const out = await cli(...common, '--steps', '6');
    expect(out).toMatch(/trained 6 steps \(max steps\)/);
    expect(out).toMatch(/held-out loss \d+\.\d{4}, perplexity \d+\.\d{3}/);
    const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
    expect(summary.finalHeldOutPerplexity).toBeCloseTo(Math.exp(summary.finalHeldOutLoss), 8);
    expect(summary.finalHeldOutLoss).toBeLessThan(Math.log(256));
    const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ command: 'pretrain', tokenizer: 'bytes', seqLen: 32, model: { preset: 'gpt2-tiny' } });
    expect(config.trainer).toMatchObject({ maxSteps: 6, lr: 3e-3, schedule: 'cosine', evalEvery: 3 });
    const model = loadModel(path.join(run, 'final'));
    expect(model.lm_head.weight.shape).toEqual([256, 64]);

    const out2 = await cli(...common, '--steps', '8', '--resume');
    expect(out2).toMatch(/trained 8 steps \(max steps\), resumed from step 6/);
    expect(readMetrics(run).map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    // Resuming a finished run trains nothing but still reports held-out loss; changed settings are flagged.
    const err: string[] = [];
    const spyErr = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
    const out3 = await cli(...common.filter((a) => a !== '--quiet'), '--steps', '8', '--resume', '--lr', '1e-3', '--log-every', '100');
    spyErr.mockRestore();
    expect(out3).toMatch(/trained 8 steps .* resumed from step 8\nheld-out loss \d/);
    expect(err.join('')).toMatch(/warning: resuming with different settings \(trainer\.lr: 0\.003 → 0\.001\)/);
  });

  it('pre-trains with a tokenizer folder (the numeric price tokenizer) and ships it with the model', async () => {
    const dir = tmpDir('cli-tok');
    const tokDir = path.join(dir, 'tok');
    saveNumericTokenizer(tokDir);
    const data = path.join(dir, 'prices.txt');
    fs.writeFileSync(data, Array.from({ length: 60 }, (_, i) => (1.1 + 0.0003 * i).toFixed(4)).join(' ') + '\n');
    const run = path.join(dir, 'run');
    const out = await cli('pretrain', '--data', data, '--tokenizer', tokDir, '--preset', 'gpt2-tiny', '--out', run, '--steps', '2', '--batch-size', '2', '--seq-len', '16', '--eval-batches', '1', '--quiet');
    expect(out).toMatch(/held-out loss/);
    const tok = loadTokenizer(tokDir);
    const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
    expect(config.tokenizer).toBe(path.resolve(tokDir));
    // one token per character (no merges): the corpus length in tokens is its length in characters
    expect(config.trainTokens + config.heldOutTokens).toBe(fs.readFileSync(data, 'utf8').length);
    const final = path.join(run, 'final');
    expect(loadModel(final).lm_head.weight.shape).toEqual([tok.vocabSize, 64]);
    expect(loadTokenizer(final).vocabSize).toBe(tok.vocabSize);
  });

  it('continues pre-training a loaded checkpoint (--init)', async () => {
    const dir = tmpDir('cli-init');
    const data = path.join(dir, 'corpus.txt');
    fs.writeFileSync(data, corpus());
    const run = path.join(dir, 'run');
    const out = await cli('pretrain', '--data', data, '--init', path.join(FIXTURES, 'gpt2-tiny'), '--out', run, '--steps', '2', '--batch-size', '2', '--eval-batches', '1', '--quiet');
    expect(out).toMatch(/held-out loss/);
    const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
    expect(config.seqLen).toBe(64); // the checkpoint's context
    expect(loadModel(path.join(run, 'final')).lm_head.weight.shape).toEqual([512, 64]);
  });

  it('clear errors for bad input', async () => {
    const dir = tmpDir('cli-bad');
    const empty = path.join(dir, 'empty.txt');
    fs.writeFileSync(empty, '');
    const small = path.join(dir, 'small.txt');
    fs.writeFileSync(small, 'abc');
    const base = ['pretrain', '--preset', 'gpt2-tiny', '--out', path.join(dir, 'r'), '--quiet', '--seq-len', '32'];
    await expect(cli(...base, '--data', empty)).rejects.toThrow(/empty\.txt: the file is empty/);
    await expect(cli(...base, '--data', path.join(dir, 'nope.txt'))).rejects.toThrow(/nope\.txt: no such file/);
    await expect(cli(...base, '--data', small)).rejects.toThrow(/small\.txt: 3 tokens split .* each part needs at least 33/);
    await expect(cli(...base, '--data', small, '--seq-len', '4096')).rejects.toThrow(/--seq-len 4096 is longer than the model's context of 128/);
    await expect(cli(...base, '--data', small, '--preset', 'gpt2-7b')).rejects.toThrow(/unknown model preset "gpt2-7b"/);
    await expect(cli(...base, '--data', small, '--lr', 'fast')).rejects.toThrow(/--lr must be a number/);
  });
});

describe('fintune finetune', () => {
  const examples = (n: number): string =>
    Array.from({ length: n }, (_, i) => JSON.stringify({ prompt: `Q${i % 5}: up or down?`, answer: i % 2 ? ' up' : ' down' })).join('\n') + '\n';

  it('full fine-tuning on prompt/answer JSONL scores only the answers', async () => {
    const dir = tmpDir('cli-ft');
    const data = path.join(dir, 'train.jsonl');
    fs.writeFileSync(data, examples(20));
    const run = path.join(dir, 'run');
    const out = await cli('finetune', '--method', 'full', '--preset', 'gpt2-tiny', '--data', data, '--out', run, '--steps', '4', '--batch-size', '4', '--seq-len', '32', '--eval-every', '2', '--quiet', '--lr', '1e-3');
    expect(out).toMatch(/held-out loss .* perplexity/);
    expect(readMetrics(run)).toHaveLength(4);
    // Labels: target-aligned, prompt positions unscored; the first scored label predicts the answer's first byte.
    const [ex] = readExamples(data, byteCodec, 32);
    const prompt = 'Q0: up or down?'.length;
    expect([...ex!.labels.slice(0, prompt - 1)].every((l) => l === -100)).toBe(true);
    expect(String.fromCharCode(...ex!.labels.slice(prompt - 1))).toBe(' down');
    expect(ex!.inputIds.length).toBe(prompt + ' down'.length - 1);
    const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ command: 'finetune', method: 'full', trainExamples: 18, heldOutExamples: 2 });
  });

  it('--method bitfit trains only the biases and checkpoints only them', async () => {
    const dir = tmpDir('cli-bitfit');
    const data = path.join(dir, 'train.jsonl');
    fs.writeFileSync(data, examples(12));
    const run = path.join(dir, 'run');
    await cli('finetune', '--method', 'bitfit', '--preset', 'gpt2-tiny', '--data', data, '--out', run, '--steps', '2', '--batch-size', '4', '--seq-len', '32', '--quiet');
    const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
    expect(config.method).toBe('bitfit');
    expect(config.trainableParameters).toBeLessThan(config.totalParameters / 10);
    const ck = new CheckpointStore(path.join(run, 'checkpoints')).loadLatest()!;
    expect([...ck.weights.keys()].every((k) => k.endsWith('.bias'))).toBe(true);
    expect(loadModel(path.join(run, 'final')).lm_head.weight.shape).toEqual([256, 64]);
  });

  it('names the file and line of bad examples, and refuses unknown methods', async () => {
    const dir = tmpDir('cli-ft-bad');
    const f = path.join(dir, 'bad.jsonl');
    const base = ['finetune', '--preset', 'gpt2-tiny', '--out', path.join(dir, 'r'), '--quiet', '--seq-len', '24', '--data', f];
    fs.writeFileSync(f, examples(2) + '{"prompt": "x", "answer": ');
    await expect(cli(...base)).rejects.toThrow(/bad\.jsonl:3: not valid JSON .* last line truncated/);
    fs.writeFileSync(f, examples(1) + JSON.stringify({ prompt: 'a very long prompt indeed', answer: 'x' }) + '\n');
    await expect(cli(...base)).rejects.toThrow(/bad\.jsonl:2: the example is 25 tokens \(prompt 25\), longer than the context of 24/);
    fs.writeFileSync(f, JSON.stringify({ question: 'x' }) + '\n');
    await expect(cli(...base)).rejects.toThrow(/bad\.jsonl:1: needs string fields "prompt" and "answer"/);
    fs.writeFileSync(f, examples(4));
    await expect(cli(...base, '--method', 'no-such-method')).rejects.toThrow(/no-such-method/); // named, whether or not the PEFT registry is in the build
    await expect(cli(...base, '--method-option', 'r')).rejects.toThrow(/--method-option "r": expected key=value/);
  });
});
