import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FORECAST_SCHEMA,
  GENERATION_SCHEMA,
  REVIEW_SCHEMA,
  SchemaError,
  forecastWriter,
  readAll,
  readForecasts,
  readGenerations,
  readReviews,
  writeForecasts,
  writeGenerations,
  writeReviews,
  type ForecastRecord,
  type GenerationRecord,
  type ReviewRecord,
} from '../../src/eval/schema.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-eval-schema-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function forecast(over: Partial<ForecastRecord> = {}): ForecastRecord {
  return {
    schema: FORECAST_SCHEMA,
    run: 'r1',
    method: 'persistence',
    seed: null,
    instrument: 'AAPL',
    t0: '2024-01-31',
    context: [1, 2, 3],
    predicted: [3, 3],
    true: [4, 5],
    parse_ok: true,
    latency_ms: 0.5,
    ...over,
  };
}

function writeLines(name: string, lines: string[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

describe('forecast files', () => {
  it('round-trips records, including samples and unknown extra fields', async () => {
    const file = path.join(dir, 'ok.jsonl');
    const recs = [forecast(), forecast({ predicted: [], parse_ok: false, samples: [[1], [2, 3]], raw: 'oops' })];
    writeForecasts(file, recs);
    expect(await readAll(readForecasts(file))).toEqual(recs);
    // A newer writer's optional field is kept, not rejected.
    const extra = writeLines('extra.jsonl', [JSON.stringify({ ...forecast(), split: 'test' }), '   ']);
    const [r] = await readAll(readForecasts(extra));
    expect((r as unknown as Record<string, unknown>)['split']).toBe('test');
  });

  const bad: Array<[string, string, RegExp]> = [
    ['not json', '{"schema":', /bad1\.jsonl:2: not valid JSON/],
    ['wrong version', JSON.stringify({ ...forecast(), schema: 'fintune.forecast/2' }), /:2: unsupported schema version/],
    ['no schema', JSON.stringify({ ...forecast(), schema: undefined }), /:2: field 'schema' must be/],
    ['string in predicted', JSON.stringify(forecast({ predicted: [1, '2' as unknown as number] })), /:2: field 'predicted\[1\]'/],
    ['parse_ok lies', JSON.stringify(forecast({ predicted: [1] })), /:2: parse_ok is true but 'predicted' has 1 of the 2/],
    ['too many predictions', JSON.stringify(forecast({ predicted: [1, 2, 3], parse_ok: false })), /:2: field 'predicted' has 3/],
    ['empty true', JSON.stringify(forecast({ true: [], predicted: [] })), /:2: field 'true' must hold/],
    ['bad t0', JSON.stringify(forecast({ t0: 'yesterday' })), /:2: field 't0' must be an ISO 8601/],
    ['fractional seed', JSON.stringify(forecast({ seed: 1.5 })), /:2: field 'seed' must be an integer/],
    ['array line', '[1,2]', /:2: a record must be a JSON object/],
  ];
  for (const [name, line, re] of bad) {
    it(`rejects a line with ${name} as FILE:LINE`, async () => {
      const file = writeLines(name === 'not json' ? 'bad1.jsonl' : `bad-${name.replace(/ /g, '_')}.jsonl`, [
        JSON.stringify(forecast()),
        line,
      ]);
      const err = await readAll(readForecasts(file)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SchemaError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message.startsWith(`${file}:2: `)).toBe(true);
    });
  }

  it('counts lines including blank ones', async () => {
    const file = writeLines('blank.jsonl', [JSON.stringify(forecast()), '', '{}']);
    await expect(readAll(readForecasts(file))).rejects.toThrow(`${file}:3: field 'schema'`);
  });

  it('writes atomically: an invalid record leaves the previous file intact and no temporary file', () => {
    const file = path.join(dir, 'atomic.jsonl');
    writeForecasts(file, [forecast()]);
    const before = fs.readFileSync(file, 'utf8');
    expect(() => writeForecasts(file, [forecast(), forecast({ latency_ms: -1 })])).toThrow(/record 2: field 'latency_ms'/);
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
    const w = forecastWriter(file);
    w.write(forecast({ run: 'r2' }));
    w.abort();
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('generation and review files', () => {
  const gen: GenerationRecord = {
    schema: GENERATION_SCHEMA,
    id: 'g1',
    run: 'r1',
    model: 'tiny',
    prompt: 'p',
    output: 'o',
    parsed: { direction: 1, magnitude: 2.5, analysis: 'x', ok: true, none: null },
    parse_ok: true,
  };
  const review: ReviewRecord = {
    schema: REVIEW_SCHEMA,
    generation_id: 'g1',
    rating: 4,
    corrected: null,
    decision: 'accept',
    reviewer: 'ana',
    time: '2026-11-23T20:00:00Z',
  };

  it('round-trips', async () => {
    const g = path.join(dir, 'gen.jsonl');
    const r = path.join(dir, 'rev.jsonl');
    writeGenerations(g, [gen]);
    writeReviews(r, [review]);
    expect(await readAll(readGenerations(g))).toEqual([gen]);
    expect(await readAll(readReviews(r))).toEqual([review]);
  });

  it('rejects bad reviews and generations with FILE:LINE', async () => {
    const r = writeLines('rev-bad.jsonl', [JSON.stringify(review), JSON.stringify({ ...review, rating: 6 })]);
    await expect(readAll(readReviews(r))).rejects.toThrow(`${r}:2: field 'rating' must be an integer from 1 to 5`);
    const r2 = writeLines('rev-bad2.jsonl', [JSON.stringify({ ...review, decision: 'maybe' })]);
    await expect(readAll(readReviews(r2))).rejects.toThrow(`${r2}:1: field 'decision'`);
    const g = writeLines('gen-bad.jsonl', [JSON.stringify({ ...gen, parsed: { x: { y: 1 } } })]);
    await expect(readAll(readGenerations(g))).rejects.toThrow(`${g}:1: field 'parsed.x'`);
  });
});
