/**
 * The versioned JSONL files that evaluation, the back-test, generation and human review exchange. This module is
 * the only place that knows their shape: everything else reads and writes through it.
 *
 * Files are JSON Lines: one JSON object per line, UTF-8, `\n`-separated. Every record carries a `schema` tag
 * (`fintune.forecast/1`, `fintune.generation/1`, `fintune.review/1`) so a reader can refuse a file written by a
 * newer, incompatible build instead of misreading it. A change that old readers could misread bumps the number;
 * adding an optional field does not.
 *
 * Readers stream (a forecast file for a long back-test can be large) and validate each line; the first bad line
 * stops the read with an error `FILE:LINE: what is wrong`. Whitespace-only lines are skipped so a trailing newline
 * or a hand-edited blank line is harmless. Fields the reader does not know are kept on the record untouched, so a
 * file written by a newer build with extra optional fields still reads.
 *
 * Writers are atomic (temporary file in the same folder, then rename; see `src/io/atomic.ts`): a run killed
 * mid-write leaves the previous file or none, never a truncated one that would silently score fewer windows.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { AtomicFileWriter } from '../io/atomic.js';

export const FORECAST_SCHEMA = 'fintune.forecast/1';
export const GENERATION_SCHEMA = 'fintune.generation/1';
export const REVIEW_SCHEMA = 'fintune.review/1';

/**
 * One forecast of one window: the model (or baseline) saw `context` and produced `predicted` for the next H steps,
 * whose realised values are `true` (H = `true.length`).
 *
 * `predicted` holds exactly the numbers that were parsed from the output, so it may be shorter than H (or empty)
 * when the output could not be parsed; `parse_ok` is then false. Scoring treats such a forecast as persistence
 * (see `docs/eval.md`) so a parse failure can never make a model look better than repeating the last price.
 */
export interface ForecastRecord {
  schema: typeof FORECAST_SCHEMA;
  /** Identifies the evaluation run (all records of one invocation share it). */
  run: string;
  /** The forecaster: a model name, or a baseline such as `persistence`, `drift`, `ar`. */
  method: string;
  /** The seed the forecaster decoded / was initialised with; null when the method is deterministic. */
  seed: number | null;
  /** Ticker or series name. */
  instrument: string;
  /** Time of the last known (context) value, ISO 8601; the forecast covers the H steps after it. */
  t0: string;
  /** The known values the forecaster saw, oldest first; the last one is the "last known price". */
  context: number[];
  /** The parsed forecast, one value per horizon step; fewer than H means a parse failure. */
  predicted: number[];
  /** The realised values for the H horizon steps. */
  true: number[];
  /** True when the output parsed into H finite numbers. */
  parse_ok: boolean;
  /** Wall-clock time to produce this forecast, in milliseconds. */
  latency_ms: number;
  /** With sampling: K sampled paths (each parsed, possibly shorter than H); `predicted` is then their median. */
  samples?: number[][];
  /** The raw model text, when there was one; kept so parse failures can be inspected. */
  raw?: string;
}

/** A value inside `GenerationRecord.parsed`: whatever a parser extracted (direction, magnitude, sections…). */
export type ParsedValue = string | number | boolean | null | number[];

/** One prompt → output pair from a text-generating model, with the fields a parser extracted from the output. */
export interface GenerationRecord {
  schema: typeof GENERATION_SCHEMA;
  /** Stable identifier of this generation; reviews point at it. */
  id: string;
  run: string;
  /** The model (or adapter) that produced the output. */
  model: string;
  prompt: string;
  output: string;
  /** The expected answer, when the data set has one (FinGPT-Forecaster's `answer`). */
  reference?: string;
  /** Parsed fields, e.g. `{ direction: 1, magnitude: 2.5, analysis: "…" }`; names are the parser's. */
  parsed: Record<string, ParsedValue>;
  /** Whether the parser found every field it needs. */
  parse_ok: boolean;
  latency_ms?: number;
}

export type ReviewDecision = 'accept' | 'reject';

/** A human judgement of one generation. */
export interface ReviewRecord {
  schema: typeof REVIEW_SCHEMA;
  /** The `GenerationRecord.id` being reviewed. */
  generation_id: string;
  /** Integer 1 (useless) … 5 (as good as an expert's). */
  rating: 1 | 2 | 3 | 4 | 5;
  /** The reviewer's corrected text, or null when they left the output as it was. */
  corrected: string | null;
  decision: ReviewDecision;
  reviewer: string;
  /** When the review was made, ISO 8601. */
  time: string;
  note?: string;
}

/** A bad record: `message` says which field and why; the reader prefixes `FILE:LINE: `. */
export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaError';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Field checks. Each throws a SchemaError naming the field, so the reader's message says exactly what to fix.

type Obj = Record<string, unknown>;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `a string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

function str(o: Obj, k: string, opts: { nonEmpty?: boolean } = {}): string {
  const v = o[k];
  if (typeof v !== 'string') throw new SchemaError(`field '${k}' must be a string, got ${describe(v)}`);
  if (opts.nonEmpty && v.length === 0) throw new SchemaError(`field '${k}' must not be empty`);
  return v;
}

function finite(o: Obj, k: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new SchemaError(`field '${k}' must be a finite number, got ${describe(v)}`);
  }
  return v;
}

function bool(o: Obj, k: string): boolean {
  const v = o[k];
  if (typeof v !== 'boolean') throw new SchemaError(`field '${k}' must be true or false, got ${describe(v)}`);
  return v;
}

function numberArray(v: unknown, name: string): number[] {
  if (!Array.isArray(v)) throw new SchemaError(`field '${name}' must be an array of numbers, got ${describe(v)}`);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    // JSON has no NaN/Infinity, but a hand-made object passed to a writer can; reject both ways the same.
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw new SchemaError(`field '${name}[${i}]' must be a finite number, got ${describe(x)}`);
    }
  }
  return v as number[];
}

function isoTime(o: Obj, k: string): string {
  const v = str(o, k, { nonEmpty: true });
  // Date.parse accepts more than ISO 8601, but the point is to catch garbage ("yesterday", ""), not to police
  // the exact format; a date-only "2024-01-31" is fine for daily bars.
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(Date.parse(v))) {
    throw new SchemaError(`field '${k}' must be an ISO 8601 date or time, got ${describe(v)}`);
  }
  return v;
}

function checkSchemaTag(o: Obj, expected: string): void {
  const tag = o['schema'];
  if (tag === expected) return;
  if (typeof tag === 'string' && tag.startsWith(expected.slice(0, expected.indexOf('/') + 1))) {
    throw new SchemaError(`unsupported schema version '${tag}' (this build reads '${expected}')`);
  }
  throw new SchemaError(`field 'schema' must be '${expected}', got ${describe(tag)}`);
}

function asObject(v: unknown): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new SchemaError(`a record must be a JSON object, got ${describe(v)}`);
  }
  return v as Obj;
}

/** Checks a forecast record and returns it typed; throws SchemaError. */
export function validateForecast(value: unknown): ForecastRecord {
  const o = asObject(value);
  checkSchemaTag(o, FORECAST_SCHEMA);
  str(o, 'run', { nonEmpty: true });
  str(o, 'method', { nonEmpty: true });
  if (o['seed'] !== null) {
    const s = finite(o, 'seed');
    if (!Number.isInteger(s)) throw new SchemaError(`field 'seed' must be an integer or null, got ${s}`);
  }
  str(o, 'instrument', { nonEmpty: true });
  isoTime(o, 't0');
  const context = numberArray(o['context'], 'context');
  if (context.length === 0) throw new SchemaError(`field 'context' must hold at least the last known value`);
  const predicted = numberArray(o['predicted'], 'predicted');
  const truth = numberArray(o['true'], 'true');
  if (truth.length === 0) throw new SchemaError(`field 'true' must hold at least one horizon step`);
  const parseOk = bool(o, 'parse_ok');
  // predicted longer than true is a writer bug (we would not know which steps it meant); shorter is a parse
  // failure and must be flagged as one, so the two fields cannot disagree.
  if (predicted.length > truth.length) {
    throw new SchemaError(`field 'predicted' has ${predicted.length} values but 'true' has ${truth.length}`);
  }
  if (parseOk && predicted.length !== truth.length) {
    throw new SchemaError(
      `parse_ok is true but 'predicted' has ${predicted.length} of the ${truth.length} horizon values`,
    );
  }
  const latency = finite(o, 'latency_ms');
  if (latency < 0) throw new SchemaError(`field 'latency_ms' must be >= 0, got ${latency}`);
  if (o['samples'] !== undefined) {
    const samples = o['samples'];
    if (!Array.isArray(samples)) throw new SchemaError(`field 'samples' must be an array of number arrays`);
    samples.forEach((s, i) => {
      const path = numberArray(s, `samples[${i}]`);
      if (path.length > truth.length) {
        throw new SchemaError(`field 'samples[${i}]' has ${path.length} values but 'true' has ${truth.length}`);
      }
    });
  }
  if (o['raw'] !== undefined) str(o, 'raw');
  return o as unknown as ForecastRecord;
}

function parsedValue(v: unknown, name: string): void {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new SchemaError(`field '${name}' must be finite, got ${v}`);
    return;
  }
  if (Array.isArray(v)) {
    numberArray(v, name);
    return;
  }
  throw new SchemaError(`field '${name}' must be a string, number, boolean, null or number array`);
}

/** Checks a generation record and returns it typed; throws SchemaError. */
export function validateGeneration(value: unknown): GenerationRecord {
  const o = asObject(value);
  checkSchemaTag(o, GENERATION_SCHEMA);
  str(o, 'id', { nonEmpty: true });
  str(o, 'run', { nonEmpty: true });
  str(o, 'model', { nonEmpty: true });
  str(o, 'prompt');
  str(o, 'output');
  if (o['reference'] !== undefined) str(o, 'reference');
  const parsed = o['parsed'];
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SchemaError(`field 'parsed' must be an object, got ${describe(parsed)}`);
  }
  for (const [k, v] of Object.entries(parsed)) parsedValue(v, `parsed.${k}`);
  bool(o, 'parse_ok');
  if (o['latency_ms'] !== undefined && finite(o, 'latency_ms') < 0) {
    throw new SchemaError(`field 'latency_ms' must be >= 0`);
  }
  return o as unknown as GenerationRecord;
}

/** Checks a review record and returns it typed; throws SchemaError. */
export function validateReview(value: unknown): ReviewRecord {
  const o = asObject(value);
  checkSchemaTag(o, REVIEW_SCHEMA);
  str(o, 'generation_id', { nonEmpty: true });
  const rating = o['rating'];
  if (typeof rating !== 'number' || !Number.isInteger(rating) || rating < 1 || rating > 5) {
    throw new SchemaError(`field 'rating' must be an integer from 1 to 5, got ${describe(rating)}`);
  }
  if (o['corrected'] !== null) str(o, 'corrected');
  const decision = o['decision'];
  if (decision !== 'accept' && decision !== 'reject') {
    throw new SchemaError(`field 'decision' must be 'accept' or 'reject', got ${describe(decision)}`);
  }
  str(o, 'reviewer', { nonEmpty: true });
  isoTime(o, 'time');
  if (o['note'] !== undefined) str(o, 'note');
  return o as unknown as ReviewRecord;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading.

/**
 * Streams the records of a JSONL file, validating each line with `validate`. Throws `FILE:LINE: message` on the
 * first line that is not JSON or fails validation; records before it have already been yielded.
 */
export async function* readJsonl<T>(file: string, validate: (v: unknown) => T): AsyncGenerator<T> {
  const input = fs.createReadStream(file, { encoding: 'utf8' });
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        throw new SchemaError(`${file}:${lineNo}: not valid JSON (${(err as Error).message})`);
      }
      try {
        yield validate(value);
      } catch (err) {
        if (err instanceof SchemaError) throw new SchemaError(`${file}:${lineNo}: ${err.message}`);
        throw err;
      }
    }
  } finally {
    lines.close();
    input.destroy();
  }
}

export const readForecasts = (file: string): AsyncGenerator<ForecastRecord> => readJsonl(file, validateForecast);
export const readGenerations = (file: string): AsyncGenerator<GenerationRecord> =>
  readJsonl(file, validateGeneration);
export const readReviews = (file: string): AsyncGenerator<ReviewRecord> => readJsonl(file, validateReview);

/** Reads a whole file into memory (fine for an evaluation's few thousand windows). */
export async function readAll<T>(records: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const r of records) out.push(r);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing.

/**
 * A streaming atomic JSONL writer: `write` validates and appends one record to a temporary file; `commit` renames
 * it over the destination; `abort` (or any failing `write`) discards it, leaving the destination as it was.
 */
export class JsonlWriter<T> {
  private readonly out: AtomicFileWriter;
  private count = 0;

  constructor(
    readonly path: string,
    private readonly validate: (v: unknown) => T,
  ) {
    this.out = new AtomicFileWriter(path);
  }

  get recordsWritten(): number {
    return this.count;
  }

  write(record: T): void {
    try {
      this.validate(record);
    } catch (err) {
      this.out.abort();
      if (err instanceof SchemaError) {
        throw new SchemaError(`${this.path}: record ${this.count + 1}: ${err.message}`);
      }
      throw err;
    }
    this.out.write(JSON.stringify(record) + '\n');
    this.count++;
  }

  commit(): void {
    this.out.commit();
  }

  abort(): void {
    this.out.abort();
  }
}

/** Writes all `records` to `file` atomically after validating each; nothing is written if any is invalid. */
export function writeJsonl<T>(file: string, records: Iterable<T>, validate: (v: unknown) => T): void {
  const w = new JsonlWriter(file, validate);
  for (const r of records) w.write(r);
  w.commit();
}

export const writeForecasts = (file: string, records: Iterable<ForecastRecord>): void =>
  writeJsonl(file, records, validateForecast);
export const writeGenerations = (file: string, records: Iterable<GenerationRecord>): void =>
  writeJsonl(file, records, validateGeneration);
export const writeReviews = (file: string, records: Iterable<ReviewRecord>): void =>
  writeJsonl(file, records, validateReview);

export const forecastWriter = (file: string): JsonlWriter<ForecastRecord> => new JsonlWriter(file, validateForecast);
export const generationWriter = (file: string): JsonlWriter<GenerationRecord> =>
  new JsonlWriter(file, validateGeneration);
export const reviewWriter = (file: string): JsonlWriter<ReviewRecord> => new JsonlWriter(file, validateReview);
