/**
 * Which loader a file needs, from its name and first line, and one entry point that validates any supported
 * file: `validateFile` reads it with onBadRow 'skip' so every bad row is collected, and returns them with the
 * count of good rows. The CLI's `data validate` and `data inspect` are built on it.
 */
import path from 'node:path';
import { DataError, type BadRow } from './errors.js';
import { firstLine } from './stream.js';
import { isParquet, parquetColumns } from './loaders/parquet.js';
import { detectDelimiter, normalizeName } from './loaders/common.js';
import { loadOhlcv, type OhlcvOptions, type OhlcvSeries } from './loaders/ohlcv.js';
import { loadFxDaily, type FxDaily } from './loaders/fx_daily.js';
import { loadStockNetTweets, loadStockTable, type Tweet } from './loaders/stocknet.js';
import { loadLabelledTweets, loadNews, loadPromptAnswers, readJsonlCorpus, readTextCorpus, type LabelledText, type NewsItem, type PromptAnswer } from './loaders/text.js';

export const FORMATS = ['ohlcv', 'fx-daily', 'stocknet-tweets', 'stocktable', 'labelled-tweets', 'news', 'prompts', 'jsonl', 'text'] as const;
export type DataFormat = (typeof FORMATS)[number];

const OHLC_NAMES = new Set(['open', 'high', 'low', 'close', 'adjclose', 'price', 'last']);

export async function detectFormat(file: string): Promise<DataFormat> {
  const base = path.basename(file);
  if (isParquet(file)) {
    const cols = (await parquetColumns(file)).map(normalizeName);
    if (cols.includes('prompt')) return 'prompts';
    if (cols.some((c) => OHLC_NAMES.has(c))) return 'ohlcv';
    if (cols.includes('text')) return 'jsonl';
    throw new DataError(`${file}: a Parquet file is read as prices (a Close column), prompt/answer (prompt, answer) or corpus (text); its columns are ${cols.join(', ')}`);
  }
  const first = await firstLine(file);
  if (first === undefined) throw new DataError(`${file}: file is empty`);
  if (base === 'StockTable') return 'stocktable';
  if (/\.txt$/i.test(base)) return 'text';
  const trimmed = first.trimStart();
  if (trimmed.startsWith('{')) {
    let keys: string[] = [];
    try {
      keys = Object.keys(JSON.parse(trimmed) as object).map(normalizeName);
    } catch {
      // The first line is broken; the JSONL corpus reader will report it with its line number.
      return 'jsonl';
    }
    if (keys.includes('prompt')) return 'prompts';
    if (keys.includes('headline') || keys.includes('title')) return 'news';
    if (keys.includes('date') && keys.includes('text')) return 'stocknet-tweets';
    return 'jsonl';
  }
  const delimiter = detectDelimiter(first);
  const header = (delimiter ? first.split(delimiter) : [first]).map((h) => normalizeName(h.replace(/"/g, '')));
  if (header.length >= 3 && header[0] === 'sector' && header[1] === 'symbol') return 'stocktable';
  if (header.includes('text') && header.includes('label')) return 'labelled-tweets';
  if (header.includes('headline') || header.includes('title')) return 'news';
  if (header.some((h) => OHLC_NAMES.has(h))) return 'ohlcv';
  // A date column followed by named value columns, none of them OHLC: a wide table such as the H.10 rates.
  if (header.length >= 2 && ['date', 'data', 'day', 'time'].includes(header[0]!) && !/^\d/.test(header[1]!)) return 'fx-daily';
  return 'ohlcv';
}

export type LoadedFile =
  | { format: 'ohlcv'; data: OhlcvSeries }
  | { format: 'fx-daily'; data: FxDaily }
  | { format: 'stocknet-tweets'; data: Tweet[] }
  | { format: 'stocktable'; data: { symbol: string; sector: string; company: string }[] }
  | { format: 'labelled-tweets'; data: LabelledText[] }
  | { format: 'news'; data: NewsItem[] }
  | { format: 'prompts'; data: PromptAnswer[] }
  | { format: 'jsonl' | 'text'; data: { text: string; line: number }[] };

export interface Validated {
  file: string;
  loaded: LoadedFile;
  rows: number;
  badRows: BadRow[];
}

/**
 * Loads a file of any supported format with every bad row collected (never thrown). File-level problems
 * (empty, header only, unknown columns) still throw a DataError.
 */
export async function validateFile(file: string, format?: DataFormat, ohlcv: Omit<OhlcvOptions, 'onBadRow'> = {}): Promise<Validated> {
  const fmt = format ?? (await detectFormat(file));
  if (!FORMATS.includes(fmt)) throw new DataError(`format must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(fmt)}`);
  const skip = 'skip' as const;
  switch (fmt) {
    case 'ohlcv': {
      const data = await loadOhlcv(file, { ...ohlcv, onBadRow: skip });
      return { file, loaded: { format: fmt, data }, rows: data.time.length, badRows: data.badRows };
    }
    case 'fx-daily': {
      const data = await loadFxDaily(file, { onBadRow: skip, ...(ohlcv.delimiter ? { delimiter: ohlcv.delimiter } : {}) });
      return { file, loaded: { format: fmt, data }, rows: data.time.length, badRows: data.badRows };
    }
    case 'stocknet-tweets': {
      const t = await loadStockNetTweets(file, skip);
      return { file, loaded: { format: fmt, data: t.tweets }, rows: t.tweets.length, badRows: t.badRows };
    }
    case 'stocktable': {
      const badRows: BadRow[] = [];
      // StockTable's loader throws under 'error'; under 'skip' it drops, so collect through a second pass.
      let data;
      try {
        data = await loadStockTable(file, 'error');
      } catch (err) {
        if (!(err instanceof DataError) || err.badRows.length === 0) throw err;
        badRows.push(...err.badRows);
        data = await loadStockTable(file, skip);
      }
      return { file, loaded: { format: fmt, data }, rows: data.length, badRows };
    }
    case 'labelled-tweets': {
      const r = await loadLabelledTweets(file, skip);
      return { file, loaded: { format: fmt, data: r.rows }, rows: r.rows.length, badRows: r.badRows };
    }
    case 'news': {
      const r = await loadNews(file, skip);
      return { file, loaded: { format: fmt, data: r.rows }, rows: r.rows.length, badRows: r.badRows };
    }
    case 'prompts': {
      const r = await loadPromptAnswers(file, skip);
      return { file, loaded: { format: fmt, data: r.rows }, rows: r.rows.length, badRows: r.badRows };
    }
    case 'jsonl': {
      const badRows: BadRow[] = [];
      const docs = [];
      for await (const d of readJsonlCorpus(file, { onBadRow: skip, skipped: badRows })) docs.push(d);
      return { file, loaded: { format: fmt, data: docs }, rows: docs.length, badRows };
    }
    case 'text': {
      const docs = [];
      for await (const d of readTextCorpus(file)) docs.push(d);
      if (docs.length === 0) throw new DataError(`${file}: has no text`);
      return { file, loaded: { format: fmt, data: docs }, rows: docs.length, badRows: [] };
    }
  }
}
