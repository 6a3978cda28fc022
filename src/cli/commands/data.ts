/**
 * `fintune data …`: validate, inspect and turn market data into training text.
 *
 *   validate FILE   every bad row as FILE:LINE: what is wrong; exit 1 when there is any
 *   inspect FILE    rows, span, columns, gaps, bad rows, return distribution (--json for one JSON object)
 *   windows FILE    chronological split, windows cut inside each part, written as text + JSONL + split.json
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DataError, formatBadRow } from '../../data/errors.js';
import { FORMATS, validateFile, type DataFormat } from '../../data/detect.js';
import { formatInspection, inspect } from '../../data/inspect.js';
import { loadOhlcv } from '../../data/loaders/ohlcv.js';
import { cutPretrainWindows, PART_NAMES, splitSeries, type SplitConfig } from '../../data/splits.js';
import { formatTime, parseDateParam, TIME_FORMATS, type TimeFormat } from '../../data/time.js';
import { inferPipSize, SCALINGS, SERIES_FIELDS, type Scaling, type SeriesField } from '../../data/transforms.js';
import { assertWindowsFit, WINDOW_PRESETS, type WindowConfigInput, type WindowPreset } from '../../data/windows.js';
import { loadStockNetTweets, loadStockTable, stockNetTickers, type Tweet } from '../../data/loaders/stocknet.js';
import { forecasterExamples, lexiconScorer, type ChatTemplate, type ForecasterCounts, type SentimentScorer } from '../../data/prompts.js';
import { naiveBayesScorer, trainNaiveBayes } from '../../data/sentiment.js';
import { loadLabelledTweets } from '../../data/loaders/text.js';
import { promptsFromReviews } from '../../data/reviews.js';
import { loadPricesOrNone, loadStockNetTask, STOCKNET_PARTS, STOCKNET_SPLIT, stockNetPromptAnswer, type StockNetPart } from '../../data/stocknet.js';
import { AtomicFileWriter, writeFileAtomic } from '../../io/atomic.js';
import { loadTokenizer } from '../../io/tokenizer.js';
import { intArg, printJson, UsageError } from '../util.js';

function formatArg(v: string): DataFormat {
  if (!(FORMATS as readonly string[]).includes(v)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got "${v}"`);
  return v as DataFormat;
}

function delimiterArg(v: string): string {
  const named: Record<string, string> = { tab: '\t', '\\t': '\t', comma: ',', semicolon: ';', pipe: '|' };
  const d = named[v] ?? v;
  if (d.length !== 1) throw new UsageError(`--delimiter must be one character or tab/comma/semicolon/pipe, got "${v}"`);
  return d;
}

function timeFormatArg(v: string): TimeFormat {
  if (!(TIME_FORMATS as readonly string[]).includes(v)) throw new UsageError(`--time-format must be one of ${TIME_FORMATS.join(', ')}, got "${v}"`);
  return v as TimeFormat;
}

/** `--split 0.7,0.15,0.15` (fractions) or `--split 2019-01-01,2020-07-01[,2022-01-01]` (val start, test start, test end). */
export function parseSplitArg(v: string): Pick<SplitConfig, 'fractions' | 'dates'> {
  const parts = v.split(',').map((s) => s.trim());
  if (parts.every((p) => /^\d*\.?\d+$/.test(p))) {
    if (parts.length !== 3) throw new UsageError(`--split with fractions needs three numbers train,val,test (like 0.7,0.15,0.15), got "${v}"`);
    const [train, val, test] = parts.map(Number) as [number, number, number];
    return { fractions: { train, val, test } };
  }
  if (parts.length < 2 || parts.length > 3) throw new UsageError(`--split with dates needs valStart,testStart[,testEnd] (like 2019-01-01,2020-07-01), got "${v}"`);
  const dates: NonNullable<SplitConfig['dates']> = { valStart: parts[0]!, testStart: parts[1]! };
  if (parts[2]) dates.testEnd = parts[2];
  return { dates };
}

interface ReadOptions {
  format?: DataFormat;
  delimiter?: string;
  timeFormat?: TimeFormat;
  header?: boolean;
}

function ohlcvOptions(o: ReadOptions): { delimiter?: string; timeFormat?: TimeFormat; header?: boolean } {
  const out: { delimiter?: string; timeFormat?: TimeFormat; header?: boolean } = {};
  if (o.delimiter !== undefined) out.delimiter = o.delimiter;
  if (o.timeFormat !== undefined) out.timeFormat = o.timeFormat;
  // commander sets header to true unless --no-header is given; only an explicit "no" overrides detection.
  if (o.header === false) out.header = false;
  return out;
}

function addReadOptions(cmd: Command): Command {
  return cmd
    .option('--format <name>', `file format (${FORMATS.join(', ')}); detected from the name and first line when omitted`, formatArg)
    .option('--delimiter <d>', 'field delimiter: one character, or tab / comma / semicolon / pipe (detected when omitted)', delimiterArg)
    .option('--time-format <f>', `timestamp format (${TIME_FORMATS.join(', ')}; detected when omitted)`, timeFormatArg)
    .option('--no-header', 'the first line is data, not column names');
}

async function validateCommand(files: string[], o: ReadOptions & { quiet?: boolean }): Promise<void> {
  // Every file is checked even after a bad one, so one run lists everything to fix.
  const failed: string[] = [];
  let badTotal = 0;
  for (const file of files) {
    let v;
    try {
      v = await validateFile(file, o.format, ohlcvOptions(o));
    } catch (err) {
      if (files.length === 1 || !(err instanceof DataError)) throw err;
      process.stderr.write(`fintune: ${err.message}\n`);
      failed.push(file);
      continue;
    }
    for (const b of v.badRows) process.stdout.write(formatBadRow(b) + '\n');
    if (v.badRows.length > 0) {
      badTotal += v.badRows.length;
      failed.push(file);
      const summary = `${file}: ${v.badRows.length} bad row${v.badRows.length === 1 ? '' : 's'}, ${v.rows} good (format ${v.loaded.format})`;
      if (files.length === 1) throw new DataError(summary, v.badRows);
      process.stderr.write(`fintune: ${summary}\n`);
    } else if (!o.quiet) process.stdout.write(`${file}: ok, ${v.rows} rows (format ${v.loaded.format})\n`);
  }
  if (failed.length > 0) throw new DataError(`${failed.length} of ${files.length} files failed validation (${badTotal} bad rows)`);
}

async function inspectCommand(file: string, o: ReadOptions & { json?: boolean }): Promise<void> {
  const v = await validateFile(file, o.format, ohlcvOptions(o));
  const summary = inspect(v);
  if (o.json) printJson({ ...summary, badRowList: v.badRows.slice(0, 100).map(formatBadRow) });
  else {
    process.stdout.write(formatInspection(summary) + '\n');
    for (const b of v.badRows.slice(0, 20)) process.stdout.write(`  ${formatBadRow(b)}\n`);
    if (v.badRows.length > 20) process.stdout.write(`  ... and ${v.badRows.length - 20} more (fintune data validate ${file})\n`);
  }
}

interface WindowsOptions extends ReadOptions {
  out: string;
  preset?: WindowPreset;
  known?: number;
  horizon?: number;
  stride?: number;
  field?: SeriesField;
  scaling?: Scaling;
  precision?: number;
  pipSize?: string;
  separator?: string;
  split: string;
  gap?: string;
  testStride?: number;
  valStride?: number;
  seed: number;
  shuffleTrain?: boolean;
  skipBad?: boolean;
  pretrain?: string[];
  pretrainEnd?: string;
  tokenizer?: string;
  contextTokens?: number;
}

/** Token counts from a checkpoint folder's tokenizer (what the model will see, special tokens included). */
function tokenCounter(dir: string): (text: string) => number {
  const tok = loadTokenizer(dir);
  return (text: string) => tok.encode(text).length;
}

async function windowsCommand(file: string, o: WindowsOptions): Promise<void> {
  if (o.format !== undefined && o.format !== 'ohlcv') throw new UsageError(`data windows needs a price file (--format ohlcv), got --format ${o.format}`);
  if (o.preset !== undefined && !(o.preset in WINDOW_PRESETS)) throw new UsageError(`--preset must be one of ${Object.keys(WINDOW_PRESETS).join(', ')}, got "${o.preset}"`);
  if (o.field !== undefined && !SERIES_FIELDS.includes(o.field)) throw new UsageError(`--field must be one of ${SERIES_FIELDS.join(', ')}, got "${o.field}"`);
  if (o.scaling !== undefined && !SCALINGS.includes(o.scaling)) throw new UsageError(`--scaling must be one of ${SCALINGS.join(', ')}, got "${o.scaling}"`);
  let gap: SplitConfig['gap'] = 0;
  if (o.gap !== undefined) {
    if (o.gap === 'window') gap = 'window';
    else if (/^\d+$/.test(o.gap)) gap = Number(o.gap);
    else throw new UsageError(`--gap must be a number of bars or "window", got "${o.gap}"`);
  }
  const series = await loadOhlcv(file, { ...ohlcvOptions(o), onBadRow: o.skipBad ? 'skip' : 'error' });
  for (const b of series.badRows) process.stderr.write(`skipped ${formatBadRow(b)}\n`);
  const window: WindowConfigInput = {};
  if (o.preset !== undefined) window.preset = o.preset;
  if (o.known !== undefined) window.known = o.known;
  if (o.horizon !== undefined) window.horizon = o.horizon;
  if (o.stride !== undefined) window.stride = o.stride;
  if (o.field !== undefined) window.field = o.field;
  if (o.scaling !== undefined) window.scaling = o.scaling;
  if (o.precision !== undefined) window.precision = o.precision;
  if (o.separator !== undefined) window.separator = o.separator;
  if (o.pipSize !== undefined) {
    const p = o.pipSize === 'auto' ? inferPipSize(series.close) : Number(o.pipSize);
    if (!(p > 0)) throw new UsageError(`--pip-size must be a positive number or "auto", got "${o.pipSize}"`);
    window.pipSize = p;
  } else if (o.scaling === 'pips') window.pipSize = inferPipSize(series.close);
  const config: SplitConfig = { ...parseSplitArg(o.split), gap, window, seed: o.seed, shuffleTrain: !!o.shuffleTrain };
  if (o.testStride !== undefined) config.testStride = o.testStride;
  if (o.valStride !== undefined) config.valStride = o.valStride;
  const split = splitSeries(series, config);
  if ((o.tokenizer === undefined) !== (o.contextTokens === undefined)) throw new UsageError('--tokenizer and --context-tokens go together');
  let longestTokens: number | undefined;
  if (o.tokenizer !== undefined && o.contextTokens !== undefined) {
    // Checked before anything is written: a window that cannot fit the model is a configuration error.
    const count = tokenCounter(o.tokenizer);
    longestTokens = 0;
    for (const part of PART_NAMES) {
      longestTokens = Math.max(longestTokens, assertWindowsFit(split.windows[part], count, o.contextTokens, split.description.config.window));
    }
  }

  fs.mkdirSync(o.out, { recursive: true });
  for (const part of PART_NAMES) {
    // One window a line (the pre-training text), and the same windows as prompt/answer records with the
    // reference needed to decode a forecast back to prices.
    const txt = new AtomicFileWriter(path.join(o.out, `${part}.txt`));
    const jsonl = new AtomicFileWriter(path.join(o.out, `${part}.jsonl`));
    try {
      for (const w of split.windows[part]) {
        txt.write(w.text + '\n');
        jsonl.write(
          JSON.stringify({ prompt: w.knownText, answer: w.targetText, start: formatTime(w.startTime), predStart: formatTime(w.predTime), end: formatTime(w.endTime), ref: w.ref }) + '\n',
        );
      }
      txt.commit();
      jsonl.commit();
    } catch (err) {
      txt.abort();
      jsonl.abort();
      throw err;
    }
  }
  // Other instruments for pre-training: windows only from bars before this series' first validation bar (or an
  // earlier --pretrain-end); a later --pretrain-end is rejected by cutPretrainWindows.
  const pretrain: { file: string; windows: number; last: string }[] = [];
  if (o.pretrain?.length) {
    const end = o.pretrainEnd === undefined ? undefined : parseDateParam(o.pretrainEnd, '--pretrain-end');
    const w = new AtomicFileWriter(path.join(o.out, 'pretrain.txt'));
    try {
      for (const other of o.pretrain) {
        const s = await loadOhlcv(other, { ...ohlcvOptions(o), onBadRow: o.skipBad ? 'skip' : 'error' });
        for (const b of s.badRows) process.stderr.write(`skipped ${formatBadRow(b)}\n`);
        const windows = cutPretrainWindows(s, split.description, split.description.config.window, end);
        for (const win of windows) w.write(win.text + '\n');
        pretrain.push({ file: other, windows: windows.length, last: formatTime(windows[windows.length - 1]!.endTime) });
      }
      w.commit();
    } catch (err) {
      w.abort();
      throw err;
    }
  }
  const description = { ...split.description, skippedRows: series.badRows.map(formatBadRow), pretrain, ...(longestTokens !== undefined ? { longestWindowTokens: longestTokens, contextTokens: o.contextTokens } : {}) };
  writeFileAtomic(path.join(o.out, 'split.json'), JSON.stringify(description, null, 2) + '\n');
  for (const p of split.description.parts) {
    process.stdout.write(`${p.name.padEnd(5)} ${String(p.windows).padStart(7)} windows from ${String(p.bars).padStart(7)} bars, ${p.first} .. ${p.last} (stride ${p.stride})\n`);
  }
  for (const p of pretrain) process.stdout.write(`pretrain ${p.windows} windows from ${p.file}, last bar ${p.last}\n`);
  process.stdout.write(`wrote ${path.join(o.out, '{train,val,test}.{txt,jsonl}')}${pretrain.length ? ', pretrain.txt' : ''} and split.json\n`);
}

/** Writes records as JSON lines atomically: the file appears complete or not at all. */
function writeJsonlFile(file: string, records: Iterable<unknown>): number {
  const w = new AtomicFileWriter(file);
  let n = 0;
  try {
    for (const r of records) {
      w.write(JSON.stringify(r) + '\n');
      n++;
    }
    w.commit();
  } catch (err) {
    w.abort();
    throw err;
  }
  return n;
}

function tickersArg(v: string): string[] {
  const list = v.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  if (list.length === 0) throw new UsageError(`--tickers needs comma-separated symbols like AAPL,MSFT, got "${v}"`);
  return list;
}

async function stocknetCommand(dir: string, o: { out: string; tickers?: string[] }): Promise<void> {
  const ds = await loadStockNetTask(dir, o.tickers);
  fs.mkdirSync(o.out, { recursive: true });
  for (const part of STOCKNET_PARTS) {
    if (ds.examples[part].length === 0) continue;
    writeJsonlFile(path.join(o.out, `${part}.jsonl`), ds.examples[part].map((e) => ({ ...stockNetPromptAnswer(e), ticker: e.ticker, date: e.date, label: e.label, movement: e.movement })));
  }
  const parts = Object.fromEntries(STOCKNET_PARTS.map((p) => [p, { dates: STOCKNET_SPLIT[p], examples: ds.examples[p].length }]));
  writeFileAtomic(path.join(o.out, 'stocknet.json'), JSON.stringify({ source: dir, rule: 'up > +0.55 %, down < -0.5 % on Adj Close from the previous trading day; tweets of the 5 calendar days before', counts: ds.counts, parts }, null, 2) + '\n');
  const c = ds.counts;
  process.stdout.write(`${c.tickers} tickers, ${c.days} trading days: ${c.up} up, ${c.down} down; dropped ${c.droppedNeutral} between the thresholds and ${c.droppedNoTweets} without tweets\n`);
  for (const p of STOCKNET_PARTS) process.stdout.write(`${p.padEnd(5)} ${String(ds.examples[p].length).padStart(6)} examples (${STOCKNET_SPLIT[p][0]} .. ${STOCKNET_SPLIT[p][1]})\n`);
  if (c.tickersWithoutTweets.length) process.stdout.write(`no tweet file for: ${c.tickersWithoutTweets.join(', ')}\n`);
  if (c.tickersWithoutPrices.length) process.stdout.write(`price file without rows (skipped): ${c.tickersWithoutPrices.join(', ')}\n`);
}

interface FingptOptions {
  out: string;
  tickers?: string[];
  pastWeeks: number;
  tweetsPerWeek: number;
  maxPromptTokens?: number;
  template: ChatTemplate;
  seed: number;
  scorer: string;
  sentimentData?: string;
  tokenizer?: string;
}

async function fingptCommand(dir: string, o: FingptOptions): Promise<void> {
  if (o.template !== 'llama2' && o.template !== 'plain') throw new UsageError(`--template must be llama2 or plain, got "${o.template}"`);
  let scorer: SentimentScorer;
  if (o.scorer === 'lexicon') scorer = lexiconScorer;
  else if (o.scorer === 'naive-bayes') {
    const data = o.sentimentData ?? path.join(dir, '..', 'fin-tweets-sentiment', 'sent_train.csv');
    if (!fs.existsSync(data)) throw new UsageError(`--scorer naive-bayes needs labelled tweets: ${data} does not exist; pass --sentiment-data FILE (CSV text,label)`);
    scorer = naiveBayesScorer(trainNaiveBayes((await loadLabelledTweets(data)).rows));
  } else throw new UsageError(`--scorer must be lexicon or naive-bayes, got "${o.scorer}"`);
  const table = new Map((await loadStockTable(path.join(dir, 'StockTable'))).map((r) => [r.symbol, r]));
  const tickers = o.tickers ?? stockNetTickers(dir);
  const countTokens = o.tokenizer === undefined ? undefined : tokenCounter(o.tokenizer);
  const byPart: Record<StockNetPart, unknown[]> = { train: [], val: [], dev: [], test: [] };
  const total: ForecasterCounts = { examples: 0, shortened: 0, droppedTooLong: 0, skipped: 0 };
  const withoutPrices: string[] = [];
  for (const ticker of tickers) {
    const prices = await loadPricesOrNone(path.join(dir, 'price', `${ticker}.csv`));
    if (!prices) {
      withoutPrices.push(ticker);
      continue;
    }
    const tweetFile = path.join(dir, 'tweets', `${ticker}.jsonl.gz`);
    const tweets: Tweet[] = fs.existsSync(tweetFile) ? (await loadStockNetTweets(tweetFile)).tweets : [];
    for (const part of STOCKNET_PARTS) {
      // A target week belongs to a part only when both of its prices do: no week straddles a boundary.
      const [from, to] = STOCKNET_SPLIT[part];
      const r = forecasterExamples(ticker, prices, tweets, table.get(ticker), { from, to, scorer, ...(countTokens ? { countTokens } : {}), pastWeeks: o.pastWeeks, tweetsPerWeek: o.tweetsPerWeek, template: o.template, seed: o.seed, ...(o.maxPromptTokens ? { maxPromptTokens: o.maxPromptTokens } : {}) });
      for (const e of r.examples) byPart[part].push({ ...e, part });
      total.examples += r.counts.examples;
      total.shortened += r.counts.shortened;
      total.droppedTooLong += r.counts.droppedTooLong;
    }
  }
  fs.mkdirSync(o.out, { recursive: true });
  for (const part of STOCKNET_PARTS) if (byPart[part].length) writeJsonlFile(path.join(o.out, `${part}.jsonl`), byPart[part]);
  const parts = Object.fromEntries(STOCKNET_PARTS.map((p) => [p, { dates: STOCKNET_SPLIT[p], examples: byPart[p].length }]));
  const note = `answers are SYNTHETIC references built by a deterministic rule (posts ranked by the ${scorer.name} scorer, templated analysis of the realized move), not analyst text`;
  writeFileAtomic(path.join(o.out, 'fingpt.json'), JSON.stringify({ source: dir, tickers: tickers.length, tickersWithoutPrices: withoutPrices, options: { scorer: scorer.name, pastWeeks: o.pastWeeks, tweetsPerWeek: o.tweetsPerWeek, maxPromptTokens: o.maxPromptTokens ?? null, template: o.template, seed: o.seed }, counts: { examples: total.examples, shortened: total.shortened, droppedTooLong: total.droppedTooLong }, parts, note }, null, 2) + '\n');
  process.stdout.write(`${total.examples} weekly examples from ${tickers.length} tickers; ${total.shortened} shortened (oldest posts dropped), ${total.droppedTooLong} dropped as too long\n`);
  for (const p of STOCKNET_PARTS) process.stdout.write(`${p.padEnd(5)} ${String(byPart[p].length).padStart(6)} examples\n`);
  if (withoutPrices.length) process.stdout.write(`price file without rows (skipped): ${withoutPrices.join(', ')}\n`);
  process.stdout.write(`note: ${note}\n`);
}

async function fromReviewsCommand(file: string, o: { generations: string; out: string; minRating: number }): Promise<void> {
  const { examples, counts } = await promptsFromReviews(o.generations, file, { minRating: o.minRating });
  writeJsonlFile(o.out, examples);
  process.stdout.write(`${counts.accepted} examples written to ${o.out} (${counts.corrected} with corrected text) from ${counts.reviewed} reviewed generations; ${counts.rejected} rejected, ${counts.belowRating} below rating ${o.minRating}\n`);
}

export function register(program: Command): void {
  const data = program
    .command('data')
    .description('Validate, inspect and window market data and text data sets')
    .addHelpText(
      'after',
      `
Examples:
  $ fintune data validate ../shared/data/forex/EURUSD_H4.csv
  $ fintune data inspect ../shared/data/stocknet/price/AAPL.csv
  $ fintune data windows ../shared/data/forex/EURUSD_H4.csv --preset mql5 --split 2019-01-01,2020-07-01 --out runs/eurusd
  $ fintune data stocknet ../shared/data/stocknet --out runs/stocknet
  $ fintune data fingpt ../shared/data/stocknet --tickers AAPL --out runs/fingpt

See docs/data.md for the formats, the validation rules, the transforms and the split rules.`,
    );

  addReadOptions(
    data
      .command('validate <files...>')
      .description('Check every row of data files; print each bad one as FILE:LINE: what is wrong (exit 1 if any)')
      .option('-q, --quiet', 'print nothing when the file is clean'),
  )
    .addHelpText(
      'after',
      `
Formats: ${FORMATS.join(', ')} (detected from the file name and first line unless --format is given).
Checks: column count, missing fields, non-numbers and NaN, negative prices, High < Low, unparsable,
duplicate and out-of-order timestamps, invalid JSON, truncated last line, empty and header-only files.

Examples:
  $ fintune data validate ../shared/data/forex/EURUSD_H4.csv
  $ fintune data validate ../shared/data/stocknet/tweets/AAPL.jsonl.gz
  $ fintune data validate --quiet ../shared/data/stocknet/price/*.csv
  $ fintune data validate prices.txt --format ohlcv --delimiter semicolon --no-header --time-format us`,
    )
    .action((files: string[], o: ReadOptions & { quiet?: boolean }) => validateCommand(files, o));

  addReadOptions(data.command('inspect <file>').description('Summarize a data file: rows, span, columns, gaps, bad rows, returns').option('--json', 'print one JSON object'))
    .addHelpText(
      'after',
      `
Examples:
  $ fintune data inspect ../shared/data/stocknet/price/AAPL.csv
  $ fintune data inspect ../shared/data/fx-daily/daily.csv --json`,
    )
    .action((file: string, o: ReadOptions & { json?: boolean }) => inspectCommand(file, o));

  addReadOptions(
    data
      .command('windows <file>')
      .description('Split a price series chronologically and write windows as text, cut inside each part')
      .requiredOption('--out <dir>', 'output folder: train/val/test .txt (one window a line) and .jsonl, split.json')
      .option('--preset <name>', `window preset: ${Object.entries(WINDOW_PRESETS).map(([k, v]) => `${k} (${v.description})`).join('; ')}`)
      .option('--known <n>', 'bars the model sees (default 20)', intArg('--known', 1))
      .option('--horizon <n>', 'bars to predict (default 40)', intArg('--horizon', 1))
      .option('--stride <n>', 'training window stride in bars (default 1)', intArg('--stride', 1))
      .option('--val-stride <n>', 'validation stride (default: horizon, non-overlapping)', intArg('--val-stride', 1))
      .option('--test-stride <n>', 'test stride (default: horizon, non-overlapping)', intArg('--test-stride', 1))
      .option('--field <f>', `bar values: ${SERIES_FIELDS.join(', ')} (default close)`)
      .option('--scaling <s>', `${SCALINGS.join(', ')} (default raw); all anchored on the known bars only`)
      .option('--precision <d>', 'decimals written (default: as short as exact)', intArg('--precision', 0, 12))
      .option('--pip-size <p>', 'pip size for --scaling pips, or "auto" (0.01 for prices >= 20, else 0.0001)')
      .option('--separator <s>', "text between the known and the predicted bars (default ' ')")
      .option('--split <spec>', 'train,val,test fractions (0.7,0.15,0.15) or dates valStart,testStart[,testEnd]', '0.7,0.15,0.15')
      .option('--gap <n>', 'bars left out between parts, or "window" for one window length (default 0)')
      .option('--seed <n>', 'seed recorded in split.json; orders training windows with --shuffle-train', intArg('--seed', 0), 0)
      .option('--shuffle-train', 'shuffle the training windows (reproducibly, from --seed)')
      .option('--skip-bad', 'leave out bad rows (each reported on stderr) instead of failing')
      .option('--pretrain <files...>', "other instruments' price files: windows before the first validation bar go to pretrain.txt")
      .option('--pretrain-end <date>', 'end the pre-training windows earlier (a date after the first validation bar is rejected)')
      .option('--tokenizer <dir>', "a checkpoint folder whose tokenizer counts each window's tokens (with --context-tokens)")
      .option('--context-tokens <n>', 'fail unless every window fits this many tokens', intArg('--context-tokens', 1)),
  )
    .addHelpText(
      'after',
      `
Windows never cross a part boundary, so no validation or test bar is inside a training example.

Examples:
  $ fintune data windows ../shared/data/forex/EURUSD_H4.csv --known 20 --horizon 40 --split 2019-01-01,2020-07-01 --out runs/eurusd-text
  $ fintune data windows ../shared/data/forex/EURUSD_H4.csv --preset mql5-exact --split 0.8,0.1,0.1 --out runs/mql5
  $ fintune data windows ../shared/data/forex/EURUSD_H4.csv --tokenizer ./gpt2 --context-tokens 1024 --out runs/checked
  $ fintune data windows ../shared/data/forex/EURUSD_H4.csv --split 2019-01-01,2020-07-01 --pretrain ../shared/data/forex/AUDUSD_H4.csv --out runs/eurusd-pre
  $ fintune data windows ../shared/data/stocknet/price/AAPL.csv --known 30 --horizon 5 --scaling bps --precision 0 --gap window --out runs/aapl`,
    )
    .action((file: string, o: WindowsOptions) => windowsCommand(file, o));

  data
    .command('stocknet <dir>')
    .description("StockNet's next-day up/down task from a StockNet folder (price/, tweets/) as prompt/answer JSONL per part")
    .requiredOption('--out <dir>', 'output folder: train/val/dev.jsonl and stocknet.json (rule and counts)')
    .option('--tickers <list>', 'comma-separated tickers (default: every price file)', tickersArg)
    .addHelpText(
      'after',
      `
Labels: up if Adj Close rises > 0.55 % from the previous trading day, down if it falls > 0.5 %, else dropped.
Inputs: tweets of the 5 calendar days before the target day; days without tweets are dropped and counted.
Parts by target day: train 2014-01-01..2015-06-01, val 2015-06-01..2015-08-01, dev 2015-08-01..2015-10-01.

Examples:
  $ fintune data stocknet ../shared/data/stocknet --out runs/stocknet
  $ fintune data stocknet ../shared/data/stocknet --tickers AAPL,MSFT --out runs/stocknet-2`,
    )
    .action((dir: string, o: { out: string; tickers?: string[] }) => stocknetCommand(dir, o));

  data
    .command('fingpt <dir>')
    .description('FinGPT-Forecaster-style weekly prompts from a StockNet folder (synthetic reference answers)')
    .requiredOption('--out <dir>', 'output folder: train/val/dev.jsonl and fingpt.json')
    .option('--tickers <list>', 'comma-separated tickers (default: every price file)', tickersArg)
    .option('--past-weeks <n>', 'past weeks shown in a prompt', intArg('--past-weeks', 1), 3)
    .option('--tweets-per-week <n>', 'posts kept per week after deduplication', intArg('--tweets-per-week', 0), 5)
    .option('--max-prompt-tokens <n>', 'drop posts, oldest first, until the prompt fits (tokens of --tokenizer, else about 4 characters a token)', intArg('--max-prompt-tokens', 1))
    .option('--tokenizer <dir>', 'a checkpoint folder whose tokenizer counts prompt tokens for --max-prompt-tokens')
    .option('--template <name>', 'chat template: llama2 or plain', 'llama2')
    .option('--seed <n>', 'seed for choosing posts when a week has more than --tweets-per-week', intArg('--seed', 0), 0)
    .option('--scorer <name>', 'sentiment scorer ranking the posts: lexicon (word list) or naive-bayes (trained on labelled tweets)', 'lexicon')
    .option('--sentiment-data <file>', 'labelled tweets (CSV text,label) for --scorer naive-bayes (default: ../fin-tweets-sentiment/sent_train.csv beside DIR)')
    .addHelpText(
      'after',
      `
The answers' [Positive Developments] / [Potential Concerns] / [Prediction & Analysis] are SYNTHETIC: a deterministic
rule over a sentiment scorer (--scorer) and the realized move. Report them as such.

Examples:
  $ fintune data fingpt ../shared/data/stocknet --tickers AAPL,MSFT --out runs/fingpt
  $ fintune data fingpt ../shared/data/stocknet --scorer naive-bayes --out runs/fingpt-nb
  $ fintune data fingpt ../shared/data/stocknet --past-weeks 2 --max-prompt-tokens 1024 --template plain --out runs/fingpt-small`,
    )
    .action((dir: string, o: FingptOptions) => fingptCommand(dir, o));

  data
    .command('from-reviews <reviews>')
    .description("Turn reviewed generations (the dashboard's review file) into a prompt/answer JSONL set")
    .requiredOption('--generations <file>', 'the generations JSONL the reviews refer to')
    .requiredOption('--out <file>', 'output JSONL: {prompt, answer, generation_id, ...}')
    .option('--min-rating <n>', 'keep accepted reviews rated at least this (1-5)', intArg('--min-rating', 1, 5), 1)
    .addHelpText(
      'after',
      `
The latest review of each generation decides; the answer is the corrected text when the reviewer gave one.

Examples:
  $ fintune data from-reviews runs/eval/reviews.jsonl --generations runs/eval/generations.jsonl --out data/reviewed.jsonl
  $ fintune data from-reviews reviews.jsonl --generations gens.jsonl --min-rating 4 --out data/best.jsonl`,
    )
    .action((file: string, o: { generations: string; out: string; minRating: number }) => fromReviewsCommand(file, o));
}
