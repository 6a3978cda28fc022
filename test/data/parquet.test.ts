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
