import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { afterAll, expect, test } from 'vitest';
import { DataError } from '../../src/data/errors.js';
import { loadPromptAnswers, readJsonlCorpus } from '../../src/data/loaders/text.js';
import { runCli } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-parquet-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('prompt/answer Parquet: rows read, bad rows named by row number', async () => {
  const file = path.join(tmp, 'pa.parquet');
  // Two row groups of 2, so reading goes group by group.
  parquetWriteFile({
    filename: file,
    columnData: [
      { name: 'prompt', data: ['p1', 'p2', 'p3', 'p4'], type: 'STRING' },
      { name: 'answer', data: ['a1', null, 'a3', 'a4'], type: 'STRING' },
    ],
    rowGroupSize: 2,
  });
  try {
    await loadPromptAnswers(file);
    throw new Error('expected a DataError');
  } catch (err) {
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).badRows).toEqual([{ file, line: 2, message: 'missing string field "answer"' }]);
  }
  const r = await loadPromptAnswers(file, 'skip');
  expect(r.rows.map((x) => [x.prompt, x.answer, x.line])).toEqual([['p1', 'a1', 1], ['p3', 'a3', 3], ['p4', 'a4', 4]]);
  const cli = await runCli(['data', 'validate', file]);
  expect(cli.code).toBe(1);
  expect(cli.stdout).toBe(`${file}:2: missing string field "answer"\n`);
});

test('text Parquet corpus', async () => {
  const file = path.join(tmp, 'c.parquet');
  parquetWriteFile({ filename: file, columnData: [{ name: 'text', data: ['one', 'two'], type: 'STRING' }] });
  const docs: string[] = [];
  for await (const d of readJsonlCorpus(file)) docs.push(d.text);
  expect(docs).toEqual(['one', 'two']);
});

test('OHLCV Parquet: TIMESTAMP or text times, the same checks as CSV, rows named by number', async () => {
  const { loadOhlcv } = await import('../../src/data/loaders/ohlcv.js');
  const { formatTime } = await import('../../src/data/time.js');
  const file = path.join(tmp, 'bars.parquet');
  const t = (h: number): Date => new Date(Date.UTC(2021, 0, 4, h));
  parquetWriteFile({
    filename: file,
    columnData: [
      { name: 'Time', data: [t(0), t(4), t(4), t(12), t(16)], type: 'TIMESTAMP' },
      { name: 'Open', data: [1.1, 1.2, 1.2, 1.3, 1.4], type: 'DOUBLE' },
      { name: 'High', data: [1.2, 1.3, 1.3, 1.2, 1.5], type: 'DOUBLE' },
      { name: 'Low', data: [1.0, 1.1, 1.1, 1.25, 1.3], type: 'DOUBLE' },
      { name: 'Close', data: [1.15, 1.25, 1.25, 1.3, 1.45], type: 'DOUBLE' },
    ],
  });
  const s = await loadOhlcv(file, { onBadRow: 'skip' });
  expect(s.badRows.map((b) => `${b.line}: ${b.message}`)).toEqual(['3: duplicate timestamp 2021-01-04 04:00:00 (also on line 2)', '4: High 1.2 is below Low 1.25']);
  expect(Array.from(s.close)).toEqual([1.15, 1.25, 1.45]);
  expect(formatTime(s.time[2]!)).toBe('2021-01-04 16:00:00');
  const cli = await runCli(['data', 'validate', file]);
  expect(cli.code).toBe(1);
  expect(cli.stdout).toBe(`${file}:3: duplicate timestamp 2021-01-04 04:00:00 (also on line 2)\n${file}:4: High 1.2 is below Low 1.25\n`);

  const text = path.join(tmp, 'bars-text.parquet');
  parquetWriteFile({
    filename: text,
    columnData: [
      { name: 'Date', data: ['2021-01-04', '2021-01-05'], type: 'STRING' },
      { name: 'Close', data: [10, 11], type: 'DOUBLE' },
    ],
  });
  const d = await loadOhlcv(text);
  expect(Array.from(d.time, formatTime)).toEqual(['2021-01-04', '2021-01-05']);
});
