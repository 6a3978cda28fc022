import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { DATA } from '../helpers/paths.js';
import { runCli } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-data-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('fintune data', () => {
  test('validate: 0 and a summary on a clean file', async () => {
    const file = path.join(DATA, 'stocknet/price/AAPL.csv');
    const r = await runCli(['data', 'validate', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${file}: ok, 773 rows (format ohlcv)\n`);
  });

  test('validate: 1 and FILE:LINE for each bad row', async () => {
    const file = path.join(tmp, 'bad.csv');
    fs.writeFileSync(file, 'Date,Close\n2020-01-01,1\n2020-01-02,x\n2020-01-02,2\n2020-01-01,3\n');
    const r = await runCli(['data', 'validate', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      `${file}:3: Close is not a number: "x"\n` +
        `${file}:5: out-of-order timestamp 2020-01-01 comes after 2020-01-02 on line 4\n`,
    );
    expect(r.stderr).toBe(`fintune: ${file}: 2 bad rows, 2 good (format ohlcv)\n`);
  });

  test('validate: empty file and a bad --format', async () => {
    const empty = path.join(tmp, 'empty.csv');
    fs.writeFileSync(empty, '');
    const r = await runCli(['data', 'validate', empty]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`fintune: ${empty}: file is empty\n`);
    const u = await runCli(['data', 'validate', empty, '--format', 'xml']);
    expect(u.code).toBe(2);
  });

  test('inspect --json: rows, span, gaps, returns', async () => {
    const file = path.join(DATA, 'stocknet/price/AAPL.csv');
    const r = await runCli(['data', 'inspect', file, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.rows).toBe(773);
    expect(j.first).toBe('2012-09-04');
    expect(j.last).toBe('2015-09-30');
    expect(j.gaps.regularStepSeconds).toBe(86400);
    expect(j.returns.count).toBe(772);
    expect(j.returns.up + j.returns.down + j.returns.flat).toBe(772);
  });

  test('windows: writes parts, split.json, and nothing crosses a boundary', async () => {
    const out = path.join(tmp, 'win');
    const file = path.join(DATA, 'forex/EURUSD_H4.csv');
    // Training stride 25 keeps the test quick; the boundaries are what is checked.
    const r = await runCli(['data', 'windows', file, '--known', '20', '--horizon', '40', '--stride', '25', '--split', '2019-01-01,2020-07-01', '--gap', 'window', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const desc = JSON.parse(fs.readFileSync(path.join(out, 'split.json'), 'utf8'));
    expect(desc.parts.map((p: { name: string }) => p.name)).toEqual(['train', 'val', 'test']);
    const trainLines = fs.readFileSync(path.join(out, 'train.txt'), 'utf8').trimEnd().split('\n');
    expect(trainLines.length).toBe(desc.parts[0].windows);
    expect(trainLines[0]!.split(' ').length).toBe(60);
    const lastTrain = JSON.parse(fs.readFileSync(path.join(out, 'train.jsonl'), 'utf8').trimEnd().split('\n').pop()!);
    const firstTest = JSON.parse(fs.readFileSync(path.join(out, 'test.jsonl'), 'utf8').split('\n')[0]!);
    expect(lastTrain.end < '2019-01-01').toBe(true);
    expect(firstTest.start >= '2020-07-01').toBe(true);
  });

  test('windows: a part left empty is exit 1 naming the parameter; --help has examples', async () => {
    const file = path.join(DATA, 'stocknet/price/AAPL.csv');
    const r = await runCli(['data', 'windows', file, '--split', '2016-01-01,2016-06-01', '--out', path.join(tmp, 'x')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the split leaves the validation part empty .*change dates\.valStart/);
    const h = await runCli(['data', 'windows', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('Examples:');
  });
});

describe('fintune data stocknet / fingpt / from-reviews', () => {
  test('stocknet on one ticker writes parts and the counts', async () => {
    const out = path.join(tmp, 'sn');
    const r = await runCli(['data', 'stocknet', path.join(DATA, 'stocknet'), '--tickers', 'AAPL', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('1 tickers, 440 trading days: 158 up, 129 down; dropped 150 between the thresholds and 3 without tweets');
    const val = fs.readFileSync(path.join(out, 'val.jsonl'), 'utf8').trimEnd().split('\n');
    expect(val.length).toBe(26);
    expect(['up', 'down']).toContain(JSON.parse(val[0]!).answer);
  });

  test('fingpt marks answers synthetic', async () => {
    const out = path.join(tmp, 'fg');
    const r = await runCli(['data', 'fingpt', path.join(DATA, 'stocknet'), '--tickers', 'AAPL', '--scorer', 'naive-bayes', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const meta = JSON.parse(fs.readFileSync(path.join(out, 'fingpt.json'), 'utf8'));
    expect(meta.note).toMatch(/SYNTHETIC .*naive-bayes-v1/);
    const ex = JSON.parse(fs.readFileSync(path.join(out, 'dev.jsonl'), 'utf8').split('\n')[0]!);
    expect(ex.synthetic).toBe(true);
    expect(ex.start >= '2015-08-01' && ex.end < '2015-10-01').toBe(true);
  });

  test('from-reviews: the latest review decides; corrected text wins', async () => {
    const gen = (id: string, output: string): string =>
      JSON.stringify({ schema: 'fintune.generation/1', id, run: 'r', model: 'm', prompt: `p-${id}`, output, parsed: {}, parse_ok: true });
    const rev = (id: string, decision: string, rating: number, corrected: string | null, time: string): string =>
      JSON.stringify({ schema: 'fintune.review/1', generation_id: id, rating, corrected, decision, reviewer: 'ann', time });
    const gens = path.join(tmp, 'gens.jsonl');
    const reviews = path.join(tmp, 'reviews.jsonl');
    fs.writeFileSync(gens, [gen('a', 'out-a'), gen('b', 'out-b'), gen('c', 'out-c'), gen('d', 'out-d')].join('\n') + '\n');
    fs.writeFileSync(
      reviews,
      [
        rev('a', 'reject', 2, null, '2026-11-01T10:00:00Z'),
        rev('a', 'accept', 4, 'fixed-a', '2026-11-02T10:00:00Z'), // later: accepted with a correction
        rev('b', 'accept', 5, null, '2026-11-01T10:00:00Z'),
        rev('c', 'accept', 2, null, '2026-11-01T10:00:00Z'), // below --min-rating 3
        rev('d', 'reject', 1, null, '2026-11-01T10:00:00Z'),
      ].join('\n') + '\n',
    );
    const out = path.join(tmp, 'reviewed.jsonl');
    const r = await runCli(['data', 'from-reviews', reviews, '--generations', gens, '--min-rating', '3', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`2 examples written to ${out} (1 with corrected text) from 4 reviewed generations; 1 rejected, 1 below rating 3\n`);
    const rows = fs.readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((x) => [x.prompt, x.answer])).toEqual([['p-a', 'fixed-a'], ['p-b', 'out-b']]);
  });
});

describe('fintune data windows --pretrain', () => {
  test('other instruments end before the first validation bar; a later --pretrain-end is rejected', async () => {
    const out = path.join(tmp, 'pre');
    const eur = path.join(DATA, 'forex/EURUSD_H4.csv');
    const aud = path.join(DATA, 'forex/AUDUSD_H4.csv');
    const r = await runCli(['data', 'windows', eur, '--stride', '25', '--split', '2019-01-01,2020-07-01', '--pretrain', aud, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const desc = JSON.parse(fs.readFileSync(path.join(out, 'split.json'), 'utf8'));
    expect(desc.pretrain[0].last < '2019-01-01').toBe(true);
    expect(fs.readFileSync(path.join(out, 'pretrain.txt'), 'utf8').split('\n').length - 1).toBe(desc.pretrain[0].windows);
    const bad = await runCli(['data', 'windows', eur, '--stride', '25', '--split', '2019-01-01,2020-07-01', '--pretrain', aud, '--pretrain-end', '2020-01-01', '--out', path.join(tmp, 'pre2')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/pre-training corpus .*AUDUSD_H4\.csv ends 2020-01-01, not before the first validation timestamp 2019-01-01/);
  });
});

describe('fintune data validate with several files', () => {
  test('checks them all; exit 1 when any is bad', async () => {
    const good = path.join(DATA, 'stocknet/price/AAPL.csv');
    const bad = path.join(tmp, 'multi-bad.csv');
    fs.writeFileSync(bad, 'Date,Close\n2020-01-01,1\n2020-01-01,2\n');
    const headerOnly = path.join(DATA, 'stocknet/price/GMRE.csv');
    const r = await runCli(['data', 'validate', bad, headerOnly, good]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`${bad}:3: duplicate timestamp 2020-01-01 (also on line 2)\n${good}: ok, 773 rows (format ohlcv)\n`);
    expect(r.stderr).toBe(
      `fintune: ${bad}: 1 bad row, 1 good (format ohlcv)\n` +
        `fintune: ${headerOnly}: has a header (Date, Open, High, Low, Close, Adj Close, Volume) but no data rows\n` +
        'fintune: 2 of 3 files failed validation (1 bad rows)\n',
    );
  });
});

describe('fintune data windows --tokenizer --context-tokens', () => {
  test('a window longer than the context fails before anything is written', async () => {
    const { buildNumericTokenizerJson } = await import('../../src/io/tokenizers/numeric.js');
    const tokDir = path.join(tmp, 'numeric-tok');
    fs.mkdirSync(tokDir, { recursive: true });
    // Character-level: one token per character.
    fs.writeFileSync(path.join(tokDir, 'tokenizer.json'), JSON.stringify(buildNumericTokenizerJson()));
    const series = path.join(tmp, 'ctx.csv');
    const rows = Array.from({ length: 40 }, (_, i) => `${new Date(Date.UTC(2020, 0, 1 + i)).toISOString().slice(0, 10)},${100 + i}`);
    fs.writeFileSync(series, `Date,Close\n${rows.join('\n')}\n`);
    // "100.0 101.0 102.0 103.0 104.0": 5 numbers of 5 characters and 4 spaces = 29 tokens.
    const args = ['data', 'windows', series, '--known', '3', '--horizon', '2', '--precision', '1', '--split', '0.5,0.25,0.25', '--tokenizer', tokDir];
    const ok = await runCli([...args, '--context-tokens', '29', '--out', path.join(tmp, 'ctx-ok')]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(tmp, 'ctx-ok', 'split.json'), 'utf8')).longestWindowTokens).toBe(29);
    const bad = await runCli([...args, '--context-tokens', '28', '--out', path.join(tmp, 'ctx-bad')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/window starting 2020-01-01 needs 29 tokens but contextTokens is 28: lower known \(3\) or horizon \(2\)/);
    expect(fs.existsSync(path.join(tmp, 'ctx-bad'))).toBe(false);
  });
});
