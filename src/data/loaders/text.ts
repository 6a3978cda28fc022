/**
 * Text data: labelled finance tweets (quoted CSV), news (JSONL or CSV), plain-text and JSONL corpora and
 * prompt/answer sets (JSONL). All stream; the corpus readers are async generators so a large corpus never sits
 * in memory.
 */
import { BadRowLog, fileError, type BadRow, type OnBadRow } from '../errors.js';
import { readCsvRecords, readLines, type CsvRecord } from '../stream.js';
import { parseTime } from '../time.js';
import { detectDelimiter, fieldCountProblem, normalizeName } from './common.js';
import { firstLine } from '../stream.js';
import { isParquet, readParquetRows } from './parquet.js';

export interface Loaded<T> {
  file: string;
  rows: T[];
  badRows: BadRow[];
  skipped: number;
}

/** 0 = bearish, 1 = bullish, 2 = neutral (twitter-financial-news-sentiment). */
export type SentimentLabel = 0 | 1 | 2;
export const SENTIMENT_NAMES = ['bearish', 'bullish', 'neutral'] as const;

export interface LabelledText {
  text: string;
  label: SentimentLabel;
  line: number;
}

/** CSV `text,label` with RFC 4180 quoting (texts hold commas, quotes and newlines). */
export async function loadLabelledTweets(file: string, onBadRow: OnBadRow = 'error'): Promise<Loaded<LabelledText>> {
  const log = new BadRowLog(file, onBadRow);
  const rows: LabelledText[] = [];
  let textCol = -1;
  let labelCol = -1;
  let width = 0;
  let sawHeader = false;
  let dataRows = 0;
  for await (const rec of readCsvRecords(file)) {
    if (!sawHeader) {
      sawHeader = true;
      const names = rec.fields.map(normalizeName);
      textCol = names.indexOf('text');
      labelCol = names.indexOf('label');
      width = rec.fields.length;
      if (textCol < 0 || labelCol < 0) throw fileError(file, `expected a header with text and label columns, got ${rec.fields.map((f) => JSON.stringify(f)).join(', ')}`, rec.line);
      continue;
    }
    dataRows++;
    const problem = rec.error ?? fieldCountProblem(rec, width, ',');
    if (problem) {
      log.add(rec.line, problem);
      continue;
    }
    const labelText = rec.fields[labelCol]!.trim();
    const text = rec.fields[textCol]!;
    if (text.trim() === '') log.add(rec.line, 'missing text');
    else if (labelText === '') log.add(rec.line, 'missing label');
    else if (!/^[012]$/.test(labelText)) log.add(rec.line, `label must be 0 (bearish), 1 (bullish) or 2 (neutral), got ${JSON.stringify(labelText)}`);
    else rows.push({ text, label: Number(labelText) as SentimentLabel, line: rec.line });
  }
  if (!sawHeader) throw fileError(file, 'file is empty (expected a text,label header)');
  if (dataRows === 0) throw fileError(file, 'has a header but no data rows');
  const badRows = log.finish();
  return { file, rows, badRows, skipped: badRows.length };
}

export interface NewsItem {
  /** ms UTC. */
  date: number;
  ticker: string;
  headline: string;
  summary: string;
  line: number;
}

const NEWS_FIELDS = { date: ['date', 'datetime', 'time', 'published', 'publishedat'], ticker: ['ticker', 'symbol', 'stock'], headline: ['headline', 'title'], summary: ['summary', 'description', 'body', 'text'] };

function pick(obj: Record<string, string>, names: string[]): string | undefined {
  for (const n of names) if (obj[n] !== undefined) return obj[n];
  return undefined;
}

function newsFromObject(o: Record<string, string>, line: number, problems: string[]): NewsItem | undefined {
  const dateText = pick(o, NEWS_FIELDS.date);
  const ticker = pick(o, NEWS_FIELDS.ticker);
  const headline = pick(o, NEWS_FIELDS.headline);
  const summary = pick(o, NEWS_FIELDS.summary) ?? '';
  if (dateText === undefined || dateText.trim() === '') problems.push('missing date');
  if (ticker === undefined || ticker.trim() === '') problems.push('missing ticker');
  if (headline === undefined || headline.trim() === '') problems.push('missing headline');
  const date = dateText ? parseTime(dateText, 'iso') : NaN;
  if (dateText && dateText.trim() !== '' && Number.isNaN(date)) problems.push(`unparsable date ${JSON.stringify(dateText)}`);
  if (problems.length > 0) return undefined;
  return { date, ticker: ticker!.trim().replace(/^\$/, '').toUpperCase(), headline: headline!.trim(), summary: summary.trim(), line };
}

/**
 * News as JSONL (`{"date","ticker","headline","summary"}`) or delimited text with those columns (a `.jsonl` /
 * `.json` name, or a first line starting with `{`, means JSON lines). Order is kept as in the file: news feeds
 * are often newest-first, and sorting is the caller's decision.
 */
export async function loadNews(file: string, onBadRow: OnBadRow = 'error'): Promise<Loaded<NewsItem>> {
  const log = new BadRowLog(file, onBadRow);
  const rows: NewsItem[] = [];
  const first = await firstLine(file);
  if (first === undefined) throw fileError(file, 'file is empty (expected news as JSON lines or CSV with date, ticker, headline, summary)');
  if (/\.jsonl?(\.gz)?$/.test(file) || first.trimStart().startsWith('{')) {
    for await (const o of readJsonObjects(file, log)) {
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(o.value)) if (typeof v === 'string' || typeof v === 'number') flat[normalizeName(k)] = String(v);
      const problems: string[] = [];
      const item = newsFromObject(flat, o.line, problems);
      if (item) rows.push(item);
      else log.add(o.line, problems.join('; '));
    }
  } else {
    const delimiter = detectDelimiter(first) ?? ',';
    let header: string[] | undefined;
    let dataRows = 0;
    for await (const rec of readCsvRecords(file, { delimiter })) {
      if (!header) {
        header = rec.fields.map(normalizeName);
        continue;
      }
      dataRows++;
      const problem = rec.error ?? fieldCountProblem(rec, header.length, delimiter);
      if (problem) {
        log.add(rec.line, problem);
        continue;
      }
      const flat = Object.fromEntries(header.map((h, i) => [h, rec.fields[i]!]));
      const problems: string[] = [];
      const item = newsFromObject(flat, rec.line, problems);
      if (item) rows.push(item);
      else log.add(rec.line, problems.join('; '));
    }
    if (dataRows === 0) throw fileError(file, 'has a header but no data rows');
  }
  const badRows = log.finish();
  return { file, rows, badRows, skipped: badRows.length };
}

/** JSON objects of a JSON-lines file, bad lines logged (blank lines are not records). */
export async function* readJsonObjects(file: string, log: BadRowLog): AsyncGenerator<{ value: Record<string, unknown>; line: number }> {
  for await (const l of readLines(file)) {
    if (l.text.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(l.text);
    } catch (err) {
      const what = l.terminated ? 'invalid JSON' : 'truncated last line (invalid JSON, the file ends without a newline)';
      log.add(l.line, `${what}: ${(err as Error).message}`);
      continue;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      log.add(l.line, `expected a JSON object, got ${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v}`);
      continue;
    }
    yield { value: v as Record<string, unknown>, line: l.line };
  }
}

export interface Document {
  text: string;
  /** Line where the document starts. */
  line: number;
}

/**
 * A plain-text corpus as documents: paragraphs separated by one or more blank lines (so a price file of
 * one-window-a-line text can be read with `separator: 'line'` instead).
 */
export async function* readTextCorpus(file: string, separator: 'blank-line' | 'line' = 'blank-line'): AsyncGenerator<Document> {
  let buf: string[] = [];
  let start = 0;
  for await (const l of readLines(file)) {
    if (separator === 'line') {
      if (l.text.trim() !== '') yield { text: l.text, line: l.line };
      continue;
    }
    if (l.text.trim() === '') {
      if (buf.length > 0) yield { text: buf.join('\n'), line: start };
      buf = [];
    } else {
      if (buf.length === 0) start = l.line;
      buf.push(l.text);
    }
  }
  if (buf.length > 0) yield { text: buf.join('\n'), line: start };
}

/**
 * A JSONL corpus: one document a line in a string field (`text` by default); a `.parquet` file is read the same
 * way, one document a row. Bad lines follow onBadRow.
 */
export async function* readJsonlCorpus(file: string, options: { field?: string; onBadRow?: OnBadRow; skipped?: BadRow[] } = {}): AsyncGenerator<Document> {
  const field = options.field ?? 'text';
  const log = new BadRowLog(file, options.onBadRow ?? 'error');
  const records = isParquet(file) ? readParquetRows(file, [field]) : readJsonObjects(file, log);
  for await (const o of records) {
    const v = o.value[field];
    if (typeof v !== 'string') log.add(o.line, `missing string field ${JSON.stringify(field)}`);
    else yield { text: v, line: o.line };
  }
  const bad = log.finish();
  options.skipped?.push(...bad);
}

export interface PromptAnswer {
  prompt: string;
  answer: string;
  /** Optional system prompt carried by the record. */
  system?: string;
  line: number;
}

/**
 * Prompt/answer JSONL: `{"prompt": ..., "answer": ...}` (`completion` or `response` accepted for the answer).
 * A `.parquet` file with the same columns is read row by row (FinGPT's published sets are Parquet).
 */
export async function loadPromptAnswers(file: string, onBadRow: OnBadRow = 'error'): Promise<Loaded<PromptAnswer>> {
  const log = new BadRowLog(file, onBadRow);
  const rows: PromptAnswer[] = [];
  let lines = 0;
  const records = isParquet(file) ? readParquetRows(file) : readJsonObjects(file, log);
  for await (const o of records) {
    lines++;
    const v = o.value;
    const answer = v.answer ?? v.completion ?? v.response;
    const problems: string[] = [];
    if (typeof v.prompt !== 'string') problems.push('missing string field "prompt"');
    if (typeof answer !== 'string') problems.push('missing string field "answer"');
    else if (answer.trim() === '') problems.push('empty answer');
    if (v.system !== undefined && typeof v.system !== 'string') problems.push('"system" must be a string');
    if (problems.length > 0) log.add(o.line, problems.join('; '));
    else {
      const row: PromptAnswer = { prompt: v.prompt as string, answer: answer as string, line: o.line };
      if (typeof v.system === 'string') row.system = v.system;
      rows.push(row);
    }
  }
  if (lines === 0 && log.count === 0) throw fileError(file, isParquet(file) ? 'has no rows' : 'file is empty (expected JSON lines {"prompt", "answer"})');
  const badRows = log.finish();
  return { file, rows, badRows, skipped: badRows.length };
}

export type { CsvRecord };
