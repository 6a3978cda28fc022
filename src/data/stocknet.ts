/**
 * StockNet's own task (Xu & Cohen, ACL 2018): will a stock's Adj Close go up or down on the target trading day?
 *
 *  - movement = Adj Close of the target day / Adj Close of the previous trading day − 1;
 *  - up if movement > +0.55 %, down if movement < −0.5 %; days in between are dropped (and counted);
 *  - the inputs are the tweets of the 5 calendar days before the target day (target day excluded);
 *    target days with no tweet in that window are dropped (and counted);
 *  - split by target date: train 2014-01-01 .. 2015-06-01, validation 2015-06-01 .. 2015-08-01 (carved from the
 *    paper's train period), dev 2015-08-01 .. 2015-10-01 kept for the final report, test 2015-10-01 .. 2016-01-01
 *    (not shipped in ../shared/data, on purpose).
 */
import fs from 'node:fs';
import path from 'node:path';
import { DataError } from './errors.js';
import type { OhlcvSeries } from './loaders/ohlcv.js';
import { loadStockNetPrices, loadStockNetTweets, stockNetTickers, type Tweet } from './loaders/stocknet.js';
import { DAY_MS, formatDate, parseTime } from './time.js';

export const STOCKNET_UP = 0.0055;
export const STOCKNET_DOWN = -0.005;
export const STOCKNET_LAG_DAYS = 5;

export type StockNetPart = 'train' | 'val' | 'dev' | 'test';
/** Half-open date ranges [start, end) of the target day. */
export const STOCKNET_SPLIT: Record<StockNetPart, [string, string]> = {
  train: ['2014-01-01', '2015-06-01'],
  val: ['2015-06-01', '2015-08-01'],
  dev: ['2015-08-01', '2015-10-01'],
  test: ['2015-10-01', '2016-01-01'],
};
export const STOCKNET_PARTS: readonly StockNetPart[] = ['train', 'val', 'dev', 'test'];

export interface StockNetExample {
  ticker: string;
  part: StockNetPart;
  /** Target trading day and the trading day before it, YYYY-MM-DD. */
  date: string;
  prevDate: string;
  prevAdjClose: number;
  adjClose: number;
  /** adjClose / prevAdjClose − 1. */
  movement: number;
  label: 'up' | 'down';
  /** Tweets of the 5 calendar days before `date`, oldest day first, in file order within a day. */
  tweets: { date: string; text: string }[];
}

export interface StockNetCounts {
  /** Trading days with a previous trading day inside the StockNet period. */
  days: number;
  up: number;
  down: number;
  /** Movement between −0.5 % and +0.55 %: no label. */
  droppedNeutral: number;
  /** Labelled days without any tweet in the 5 days before. */
  droppedNoTweets: number;
}

export function stockNetPartOf(date: number): StockNetPart | undefined {
  for (const p of STOCKNET_PARTS) {
    const [a, b] = STOCKNET_SPLIT[p];
    if (date >= parseTime(a, 'iso') && date < parseTime(b, 'iso')) return p;
  }
  return undefined;
}

/** The label rule alone, for reuse and tests: 'up', 'down' or undefined (dropped). */
export function stockNetLabel(prevAdjClose: number, adjClose: number): 'up' | 'down' | undefined {
  // Rounded to 12 decimals so that a move of exactly -0.5 % (99.5 after 100) is not "down" by floating-point noise.
  const m = Math.round((adjClose / prevAdjClose - 1) * 1e12) / 1e12;
  if (m > STOCKNET_UP) return 'up';
  if (m < STOCKNET_DOWN) return 'down';
  return undefined;
}

/** Examples of one ticker. Tweets must be sorted by date (the loader checks this). */
export function stockNetExamples(ticker: string, prices: OhlcvSeries, tweets: Tweet[], lagDays = STOCKNET_LAG_DAYS): { examples: StockNetExample[]; counts: StockNetCounts } {
  const adj = prices.adjClose;
  if (!adj) throw new DataError(`${prices.file}: StockNet labels use Adj Close, which this file does not have`);
  if (!Number.isInteger(lagDays) || lagDays < 1) throw new Error(`lagDays must be a positive integer, got ${lagDays}`);
  const counts: StockNetCounts = { days: 0, up: 0, down: 0, droppedNeutral: 0, droppedNoTweets: 0 };
  const examples: StockNetExample[] = [];
  // Two pointers over the sorted tweets: [lo, hi) holds the tweets dated in [t − lag days, t).
  let lo = 0;
  let hi = 0;
  for (let i = 1; i < prices.time.length; i++) {
    const t = prices.time[i]!;
    const part = stockNetPartOf(t);
    if (part === undefined) continue;
    counts.days++;
    const label = stockNetLabel(adj[i - 1]!, adj[i]!);
    if (label === undefined) {
      counts.droppedNeutral++;
      continue;
    }
    const from = t - lagDays * DAY_MS;
    while (lo < tweets.length && tweets[lo]!.date < from) lo++;
    if (hi < lo) hi = lo;
    while (hi < tweets.length && tweets[hi]!.date < t) hi++;
    if (hi === lo) {
      counts.droppedNoTweets++;
      continue;
    }
    counts[label]++;
    examples.push({
      ticker,
      part,
      date: formatDate(t),
      prevDate: formatDate(prices.time[i - 1]!),
      prevAdjClose: adj[i - 1]!,
      adjClose: adj[i]!,
      movement: adj[i]! / adj[i - 1]! - 1,
      label,
      tweets: tweets.slice(lo, hi).map((tw) => ({ date: formatDate(tw.date), text: tw.text })),
    });
  }
  return { examples, counts };
}

export interface StockNetDataset {
  examples: Record<StockNetPart, StockNetExample[]>;
  /** tickersWithoutPrices: price files with a header and no rows (GMRE in the shipped folder). */
  counts: StockNetCounts & { tickers: number; tickersWithoutTweets: string[]; tickersWithoutPrices: string[] };
}

/** All tickers of a StockNet folder (`price/`, `tweets/`), or the ones given. */
export async function loadStockNetTask(dir: string, tickers?: string[]): Promise<StockNetDataset> {
  const list = tickers ?? stockNetTickers(dir);
  const examples: Record<StockNetPart, StockNetExample[]> = { train: [], val: [], dev: [], test: [] };
  const counts = { days: 0, up: 0, down: 0, droppedNeutral: 0, droppedNoTweets: 0, tickers: 0, tickersWithoutTweets: [] as string[], tickersWithoutPrices: [] as string[] };
  for (const ticker of list) {
    const prices = await loadPricesOrNone(path.join(dir, 'price', `${ticker}.csv`));
    if (!prices) {
      counts.tickersWithoutPrices.push(ticker);
      continue;
    }
    const tweetFile = path.join(dir, 'tweets', `${ticker}.jsonl.gz`);
    let tweets: Tweet[] = [];
    if (fs.existsSync(tweetFile)) tweets = (await loadStockNetTweets(tweetFile)).tweets;
    else counts.tickersWithoutTweets.push(ticker);
    const r = stockNetExamples(ticker, prices, tweets);
    counts.tickers++;
    for (const k of ['days', 'up', 'down', 'droppedNeutral', 'droppedNoTweets'] as const) counts[k] += r.counts[k];
    for (const e of r.examples) examples[e.part].push(e);
  }
  return { examples, counts };
}

/** A ticker's prices, or undefined when its file has a header and no rows (reported, not fatal, in a folder). */
export async function loadPricesOrNone(file: string): Promise<OhlcvSeries | undefined> {
  try {
    return await loadStockNetPrices(file);
  } catch (err) {
    if (err instanceof DataError && err.kind === 'no-rows') return undefined;
    throw err;
  }
}

/** A prompt/answer rendering of one example: the tweets by day, then the question; the answer is the label. */
export function stockNetPromptAnswer(e: StockNetExample): { prompt: string; answer: string } {
  const byDay = new Map<string, string[]>();
  for (const t of e.tweets) byDay.set(t.date, [...(byDay.get(t.date) ?? []), t.text]);
  const days = [...byDay].map(([d, texts]) => `${d}:\n${texts.map((x) => `- ${x}`).join('\n')}`).join('\n');
  return {
    prompt: `Tweets about ${e.ticker} in the ${STOCKNET_LAG_DAYS} days before ${e.date}:\n${days}\n\nWill ${e.ticker}'s adjusted close on ${e.date} be up or down from ${e.prevDate}? Answer up or down.`,
    answer: e.label,
  };
}
