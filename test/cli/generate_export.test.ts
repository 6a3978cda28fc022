import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.js';
import { FIXTURES, ROOT } from '../helpers/paths.js';
import { get, readReference } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';

describe('fintune CLI basics', () => {
  it('version matches package.json; --help exits 0', async () => {
    expect(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version).toBe(VERSION);
    expect((await runCli(['--version'])).code).toBe(0);
    const h = await runCli(['generate', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/Examples:/);
  });
  it('generate --json prints only the new ids (greedy, cached) and they match the fixture', async () => {
    const ref = readReference('gpt2-tiny-trained');
    const prompt = (get(ref, 'greedy.prompt').toArray() as number[][])[0]!;
    const want = (get(ref, 'greedy.output').toArray() as number[][])[0]!.slice(8, 18);
    const r = await runCli(['generate', '--model', path.join(FIXTURES, 'gpt2-tiny-trained'), '--prompt-ids', prompt.join(','), '--max-new-tokens', '10', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ids: want, text: null });
  });
  it('usage mistakes exit 2, failures exit 1, with a message', async () => {
    const m = path.join(FIXTURES, 'gpt2-tiny-trained');
    expect((await runCli(['generate', '--model', m])).code).toBe(2);
    expect((await runCli(['generate', '--model', m, '--prompt-ids', 'a,b'])).code).toBe(2);
    const missing = await runCli(['generate', '--model', '/nonexistent-folder', '--prompt-ids', '1']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nonexistent-folder/);
  });
  it('export onnx --adapter merges a PEFT adapter first; generate --adapter applies it', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-cli-onnx-lora-'));
    try {
      const r = await runCli(['export', 'onnx', '--model', path.join(FIXTURES, 'gpt2-tiny'), '--adapter', path.join(FIXTURES, 'gpt2-tiny-lora'), '--out', out, '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const g = await runCli(['generate', '--model', path.join(FIXTURES, 'gpt2-tiny'), '--adapter', path.join(FIXTURES, 'gpt2-tiny-lora'), '--prompt-ids', '1,2,3', '--max-new-tokens', '3', '--json']);
      expect(g.code).toBe(0);
      expect(JSON.parse(g.stdout).ids).toHaveLength(3);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
  it('export onnx writes the transformers.js layout', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-cli-onnx-'));
    try {
      const r = await runCli(['export', 'onnx', '--model', path.join(FIXTURES, 'llama-tiny'), '--out', out, '--json']);
      expect(r.code).toBe(0);
      const files = JSON.parse(r.stdout).files as string[];
      expect(files).toContain(path.join(out, 'onnx', 'model.onnx'));
      expect(files).toContain(path.join(out, 'config.json'));
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('--options FILE', () => {
  it('takes a command\'s options from JSON or YAML; flags on the command line win', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-opts-'));
    try {
      const m = path.join(FIXTURES, 'gpt2-tiny-trained');
      const yaml = path.join(dir, 'gen.yaml');
      fs.writeFileSync(yaml, `model: ${m}\npromptIds: [5, 9, 12, 3, 7, 1, 2, 8]\nmax-new-tokens: 4\njson: true\n`);
      const fromFile = await runCli(['generate', '--options', yaml]);
      expect(fromFile.code).toBe(0);
      const flags = await runCli(['generate', '--model', m, '--prompt-ids', '5,9,12,3,7,1,2,8', '--max-new-tokens', '4', '--json']);
      expect(JSON.parse(fromFile.stdout)).toEqual(JSON.parse(flags.stdout));
      const override = await runCli(['generate', '--options', yaml, '--max-new-tokens', '2']);
      expect(JSON.parse(override.stdout).ids).toHaveLength(2);
      fs.writeFileSync(path.join(dir, 'bad.json'), '[1, 2]');
      const bad = await runCli(['generate', '--options', path.join(dir, 'bad.json')]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/expected an object/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
