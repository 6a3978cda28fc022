/** Small pieces every loader shares: strict number parsing, delimiter and header detection. */
import { DataError } from '../errors.js';
import type { CsvRecord } from '../stream.js';

// Strict: Number('') is 0 and Number(' 1 ') is 1, both wrong for data; thousands separators are not numbers.
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export type NumberCheck = { value: number; problem?: undefined } | { value: number; problem: string };

/** Parses one numeric field; `problem` says what is wrong in words a user can act on. */
export function parseNumberField(text: string, name: string): NumberCheck {
  const s = text.trim();
  if (s === '') return { value: NaN, problem: `missing ${name}` };
  if (/^[+-]?nan$/i.test(s)) return { value: NaN, problem: `${name} is NaN` };
  if (/^[+-]?inf(inity)?$/i.test(s)) return { value: NaN, problem: `${name} is not finite: ${JSON.stringify(s)}` };
  if (!NUMBER.test(s)) return { value: NaN, problem: `${name} is not a number: ${JSON.stringify(text)}` };
  const value = Number(s);
  if (!Number.isFinite(value)) return { value: NaN, problem: `${name} is out of range: ${JSON.stringify(s)}` };
  return { value };
}

export function isNumberText(text: string): boolean {
  return NUMBER.test(text.trim());
}

const CANDIDATE_DELIMITERS = ['\t', ',', ';', '|'];

/** The delimiter that splits a header (or first) line most often, outside double quotes. */
export function detectDelimiter(line: string): string | undefined {
  let best: string | undefined;
  let bestCount = 0;
  for (const d of CANDIDATE_DELIMITERS) {
    let count = 0;
    let inQuotes = false;
    for (const ch of line) {
      if (ch === '"') inQuotes = !inQuotes;
      else if (ch === d && !inQuotes) count++;
    }
    if (count > bestCount) {
      best = d;
      bestCount = count;
    }
  }
  return best;
}

export function describeDelimiter(d: string): string {
  return d === '\t' ? 'tab' : JSON.stringify(d);
}

/** Column names compared loosely: `Adj Close`, `adj_close` and `AdjClose` are one name. */
export function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/[\s_\-.<>]+/g, '');
}

/** A field-count problem, worded for the truncated-last-line case when the file ends mid-record. */
export function fieldCountProblem(rec: CsvRecord, expected: number, delimiter: string): string | undefined {
  if (rec.fields.length === expected) return undefined;
  const got = `expected ${expected} fields separated by ${describeDelimiter(delimiter)}, got ${rec.fields.length}`;
  if (!rec.terminated && rec.fields.length < expected) return `truncated last line: ${got} (the file ends without a newline)`;
  return `wrong column count: ${got}`;
}

export function requireColumn(file: string, header: string[], names: string[], what: string): number {
  const wanted = names.map(normalizeName);
  const idx = header.findIndex((h) => wanted.includes(normalizeName(h)));
  if (idx < 0) {
    throw new DataError(`${file}:1: no ${what} column (looked for ${names.map((n) => JSON.stringify(n)).join(', ')}; header is ${header.map((h) => JSON.stringify(h)).join(', ')})`);
  }
  return idx;
}
