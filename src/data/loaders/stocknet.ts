/**
 * The StockNet data set (Xu & Cohen, ACL 2018) as shipped in ../shared/data/stocknet: daily prices per ticker,
 * tweets per ticker as gzip JSON lines, and the StockTable of sectors and company names.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BadRowLog, DataError, fileError, type BadRow, type OnBadRow } from '../errors.js';
import { readLines, readCsvRecords } from '../stream.js';
import { formatTime, parseTime } from '../time.js';
import { fieldCountProblem } from './common.js';
import { loadOhlcv, type OhlcvSeries } from './ohlcv.js';

/** `price/{TICKER}.csv`: `Date,Open,High,Low,Close,Adj Close,Volume`. */
export async function loadStockNetPrices(file: string, onBadRow: OnBadRow = 'error'): Promise<OhlcvSeries> {
  const series = await loadOhlcv(file, { delimiter: ',', timeFormat: 'iso', onBadRow });
  if (!series.adjClose) throw new DataError(`${file}: a StockNet price file needs an Adj Close column (columns: ${series.columns.join(', ')})`);
  return series;
}

export interface Tweet {
  /** The calendar day (UTC midnight, ms) the data set assigns the tweet to. */
  date: number;
  createdAt: string;
  text: string;
  line: number;
}

export interface TweetFile {
  file: string;
  tweets: Tweet[];
  badRows: BadRow[];
  skipped: number;
}

/**
 * `tweets/{TICKER}.jsonl.gz`: `{"date": "YYYY-MM-DD", "created_at": "...", "text": "..."}` a line. Order is
 * kept as in the file; dates must not decrease (the shipped files are sorted by day).
 */
export async function loadStockNetTweets(file: string, onBadRow: OnBadRow = 'error'): Promise<TweetFile> {
  const log = new BadRowLog(file, onBadRow);
  const tweets: Tweet[] = [];
  let lines = 0;
  let lastDate = -Infinity;
  let lastLine = 0;
  for await (const l of readLines(file)) {
    lines++;
    if (l.text.trim() === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(l.text);
    } catch (err) {
      log.add(l.line, `${l.terminated ? 'invalid JSON' : 'truncated last line (invalid JSON, the file ends without a newline)'}: ${(err as Error).message}`);
      continue;
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      log.add(l.line, 'expected a JSON object {"date", "created_at", "text"}');
      continue;
    }
    const o = obj as Record<string, unknown>;
    const problems: string[] = [];
    if (typeof o.date !== 'string') problems.push('missing field "date"');
    if (typeof o.text !== 'string') problems.push('missing field "text"');
    const date = typeof o.date === 'string' ? parseTime(o.date, 'iso') : NaN;
    if (typeof o.date === 'string' && Number.isNaN(date)) problems.push(`unparsable date ${JSON.stringify(o.date)}`);
    else if (date < lastDate) problems.push(`out-of-order date ${formatTime(date)} comes after ${formatTime(lastDate)} on line ${lastLine}`);
    if (problems.length > 0) {
      log.add(l.line, problems.join('; '));
      continue;
    }
    tweets.push({ date, createdAt: typeof o.created_at === 'string' ? o.created_at : '', text: o.text as string, line: l.line });
    lastDate = date;
    lastLine = l.line;
  }
  if (lines === 0) throw fileError(file, 'file is empty (expected JSON lines of tweets)');
  const badRows = log.finish();
  return { file, tweets, badRows, skipped: badRows.length };
}

export interface StockTableRow {
  sector: string;
  /** Without the leading `$`. */
  symbol: string;
  company: string;
}

/** `StockTable`: tab-separated `Sector, Symbol ($XOM), Company`. */
export async function loadStockTable(file: string, onBadRow: OnBadRow = 'error'): Promise<StockTableRow[]> {
  const log = new BadRowLog(file, onBadRow);
  const rows: StockTableRow[] = [];
  const seen = new Map<string, number>();
  let header = true;
  for await (const rec of readCsvRecords(file, { delimiter: '\t' })) {
    if (header) {
      header = false;
      if (rec.fields.length !== 3) throw fileError(file, `expected the header Sector, Symbol, Company, got ${rec.fields.length} columns`, rec.line);
      continue;
    }
    const problem = rec.error ?? fieldCountProblem(rec, 3, '\t');
    if (problem) {
      log.add(rec.line, problem);
      continue;
    }
    const [sector, symbolText, company] = rec.fields.map((f) => f.trim()) as [string, string, string];
    const symbol = symbolText.replace(/^\$/, '');
    if (symbol === '') log.add(rec.line, 'missing Symbol');
    else if (seen.has(symbol)) log.add(rec.line, `duplicate symbol ${symbol} (also on line ${seen.get(symbol)})`);
    else {
      seen.set(symbol, rec.line);
      rows.push({ sector, symbol, company });
    }
  }
  if (header) throw fileError(file, 'file is empty (expected Sector, Symbol, Company)');
  log.finish();
  return rows;
}

/** Tickers with a price file in `{dir}/price`, sorted. */
export function stockNetTickers(dir: string): string[] {
  const priceDir = path.join(dir, 'price');
  if (!fs.existsSync(priceDir)) throw new DataError(`${dir}: not a StockNet folder (no price/ subfolder)`);
  return fs
    .readdirSync(priceDir)
    .filter((f) => f.endsWith('.csv'))
    .map((f) => f.slice(0, -4))
    .sort();
}
