import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveStudyConfig } from '../../src/study/config.js';
import { aggregate } from '../../src/study/runner.js';
import { runCli } from '../helpers/cli.js';
import { DATA, ROOT } from '../helpers/paths.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-study-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('fintune study / report / tune on the command line', () => {
  it('report writes report.md and report.html from a results JSON', { timeout: 30_000 }, async () => {
    const config = resolveStudyConfig({ name: 'cli', models: [{ name: 'm', preset: 'gpt2-tiny' }], methods: ['full'], data: { file: path.join(DATA, 'stocknet/price/AAPL.csv'), lastBars: 200 } }, ROOT);
    const results = await aggregate(config, dir, [], [], []);
    const file = path.join(dir, 'results.json');
    fs.writeFileSync(file, JSON.stringify(results));
    const r = await runCli(['report', file, '--out', path.join(dir, 'out'), '--json']);
    expect(r.code).toBe(0);
    const paths = JSON.parse(r.stdout) as { html: string; markdown: string };
    expect(fs.readFileSync(paths.html, 'utf8')).toContain('<h2>Verdict</h2>');
    expect(fs.existsSync(paths.markdown)).toBe(true);
  });

  it('bad configs and arguments exit 2 with the key named', async () => {
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, 'name: x\nmodels: [{name: m, preset: gpt2-tiny}]\nmethods: [full]\ndata: {file: nowhere.csv}\n');
    const r = await runCli(['study', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/data\.file .*nowhere\.csv: no such file/);
    const t = await runCli(['tune', bad, '--method', 'full', '--space', '{not json']);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/--space must be JSON/);
    // The data sets of a multi-data-set search are checked before anything runs.
    const good = path.join(dir, 'good.yaml');
    fs.writeFileSync(good, `name: x\nmodels: [{name: m, preset: gpt2-tiny}]\nmethods: [full]\ndata: {file: ${JSON.stringify(path.join(DATA, 'stocknet/price/AAPL.csv'))}}\n`);
    const p = await runCli(['tune', good, '--method', 'full', '--space', '{"lr":[1e-3]}', '--periods', '0']);
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/--periods must be a count/);
    const d = await runCli(['tune', good, '--method', 'full', '--space', '{"lr":[1e-3]}', '--dataset', path.join(dir, 'nowhere.csv')]);
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/--dataset\[0\]\.file .*nowhere\.csv: no such file/);
    const rep = await runCli(['report', path.join(dir, 'missing.json')]);
    expect(rep.code).toBe(1);
  });

  it('each command has help with examples', async () => {
    for (const cmd of ['study', 'report', 'tune']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Example/);
    }
  });
});
