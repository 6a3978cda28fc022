import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, test } from 'vitest';
import { DATA } from '../helpers/paths.js';
import { DataError } from '../../src/data/errors.js';
import { CsvParser } from '../../src/data/stream.js';
import { loadOhlcv } from '../../src/data/loaders/ohlcv.js';
import { loadFxDaily } from '../../src/data/loaders/fx_daily.js';
import { loadStockNetPrices, loadStockNetTweets, loadStockTable } from '../../src/data/loaders/stocknet.js';
import { loadLabelledTweets, loadNews, loadPromptAnswers, readJsonlCorpus, readTextCorpus } from '../../src/data/loaders/text.js';
import { formatTime } from '../../src/data/time.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-data-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let counter = 0;
function write(name: string, content: string | Buffer): string {
  const file = path.join(tmp, `${counter++}-${name}`);
  fs.writeFileSync(file, content);
  return file;
}

async function errorOf(p: Promise<unknown>): Promise<DataError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DataError);
    return err as DataError;
  }
  throw new Error('expected a DataError');
}

describe('shipped files load with the right counts and spans', () => {
  test('forex EURUSD and AUDUSD 4-hour bars (tab-separated)', async () => {
    const eur = await loadOhlcv(path.join(DATA, 'forex/EURUSD_H4.csv'));
    expect(eur.delimiter).toBe('\t');
    expect(eur.header).toBe(true);
    expect(eur.columns).toEqual(['Time', 'Open', 'High', 'Low', 'Close', 'Volume']);
    expect(eur.time.length).toBe(23115); // 23116 lines minus the header
    expect(formatTime(eur.time[0]!)).toBe('2007-09-04 04:00:00');
    expect(formatTime(eur.time[eur.time.length - 1]!)).toBe('2021-12-31 20:00:00');
    expect([eur.open![0], eur.high![0], eur.low![0], eur.close[0], eur.volume![0]]).toEqual([1.36052, 1.36256, 1.35947, 1.35985, 150683]);
    expect(eur.skipped).toBe(0);
    const aud = await loadOhlcv(path.join(DATA, 'forex/AUDUSD_H4.csv'));
    expect(aud.time.length).toBe(23148);
    expect(formatTime(aud.time[0]!)).toBe('2007-07-16 12:00:00');
    expect(aud.close[aud.close.length - 1]).toBe(0.72641);
  });

  test('StockNet prices, VIX (CRLF), daily FX with empty cells', async () => {
    const aapl = await loadStockNetPrices(path.join(DATA, 'stocknet/price/AAPL.csv'));
    expect(aapl.time.length).toBe(773);
    expect(formatTime(aapl.time[0]!)).toBe('2012-09-04');
    expect(formatTime(aapl.time[772]!)).toBe('2015-09-30');
    expect(aapl.adjClose![772]).toBe(106.119179);
    expect(aapl.lines[0]).toBe(2);

    const vix = await loadOhlcv(path.join(DATA, 'vix/vix-daily.csv'));
    expect(vix.time.length).toBe(9235);
    expect(vix.volume).toBeUndefined();
    expect(formatTime(vix.time[0]!)).toBe('1990-01-02');
    expect(formatTime(vix.time[9234]!)).toBe('2026-07-23');
    expect(vix.close[9234]).toBe(18.7);

    const fx = await loadFxDaily(path.join(DATA, 'fx-daily/daily.csv'));
    expect(fx.currencies.length).toBe(34);
    expect(fx.currencies[0]).toBe('Australia');
    expect(fx.time.length).toBe(12240);
    expect(formatTime(fx.time[0]!)).toBe('1971-01-04');
    expect(formatTime(fx.time[12239]!)).toBe('2017-12-01');
    expect(fx.rates.get('Australia')![0]).toBe(0.8987);
    expect(Number.isNaN(fx.rates.get('Austria')![0]!)).toBe(true); // empty cell = no quote, not 0
    expect(fx.rates.get('United Kingdom')![12239]).toBe(0.7405);
  });

  test('StockNet tweets (gzip JSON lines) and StockTable', async () => {
    const t = await loadStockNetTweets(path.join(DATA, 'stocknet/tweets/AAPL.jsonl.gz'));
    expect(t.tweets.length).toBe(15970);
    expect(formatTime(t.tweets[0]!.date)).toBe('2014-01-01');
    expect(formatTime(t.tweets[t.tweets.length - 1]!.date)).toBe('2015-09-30');
    const table = await loadStockTable(path.join(DATA, 'stocknet/StockTable'));
    expect(table.length).toBe(88);
    expect(table[0]).toEqual({ sector: 'Basic Matierials', symbol: 'XOM', company: 'Exxon Mobil Corporation' });
  });

  test('every StockNet file: 92,232 tweets as the README says; GMRE prices are header-only', async () => {
    const dir = path.join(DATA, 'stocknet');
    let tweets = 0;
    for (const f of fs.readdirSync(path.join(dir, 'tweets'))) tweets += (await loadStockNetTweets(path.join(dir, 'tweets', f))).tweets.length;
    expect(tweets).toBe(92232);
    const noRows: string[] = [];
    for (const f of fs.readdirSync(path.join(dir, 'price'))) {
      try {
        await loadStockNetPrices(path.join(dir, 'price', f));
      } catch (err) {
        expect((err as DataError).kind).toBe('no-rows');
        noRows.push(f);
      }
    }
    expect(noRows).toEqual(['GMRE.csv']);
  });

  test('labelled finance tweets: records, not lines (quoted texts hold newlines)', async () => {
    // The README counts lines (9,938 / 2,486); 184 + 43 texts span several lines, so there are fewer records.
    const train = await loadLabelledTweets(path.join(DATA, 'fin-tweets-sentiment/sent_train.csv'));
    expect(train.rows.length).toBe(9543);
    expect(train.rows[2]!.text).toBe('$CX - Cemex cut at Credit Suisse, J.P. Morgan on weak building outlook https://t.co/KN1g4AWFIb');
    expect(train.rows[2]!.label).toBe(0);
    const valid = await loadLabelledTweets(path.join(DATA, 'fin-tweets-sentiment/sent_valid.csv'));
    expect(valid.rows.length).toBe(2388);
  });
});

describe('RFC 4180 parser', () => {
  const parseAll = (text: string, chunk = text.length): string[][] => {
    const p = new CsvParser(',');
    const out: string[][] = [];
    for (let i = 0; i < text.length; i += chunk) out.push(...p.push(text.slice(i, i + chunk)).map((r) => r.fields));
    out.push(...p.end().map((r) => r.fields));
    return out;
  };
  test('quotes, escaped quotes, delimiters and newlines inside quotes, CRLF; same result fed one char at a time', () => {
    const text = 'a,b\r\n"x, y","say ""hi"""\r\n"two\nlines",3\nlast,"" \n';
    const expected = [['a', 'b'], ['x, y', 'say "hi"'], ['two\nlines', '3'], ['last', ' ']];
    // `"" ` is an empty quoted field followed by a space: a syntax error, kept as the best reading.
    expect(parseAll(text)).toEqual(expected);
    expect(parseAll(text, 1)).toEqual(expected);
  });
  test('random tables survive quoting and any chunking (property-style)', () => {
    let seed = 12345;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const alphabet = ['a', 'b', ',', '"', '\n', '\r\n', ' ', 'é', '1'];
    for (let trial = 0; trial < 200; trial++) {
      const rows = Array.from({ length: 1 + Math.floor(rnd() * 5) }, () =>
        Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => Array.from({ length: Math.floor(rnd() * 6) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('')),
      );
      // Quote every field that needs it (and, at random, some that do not); a lone empty field is quoted so
      // that its row is not an empty line.
      const text = rows
        .map((r) => r.map((f) => (/[",\r\n]/.test(f) || rnd() < 0.2 || (r.length === 1 && f === '') ? `"${f.replace(/"/g, '""')}"` : f)).join(','))
        .join(rnd() < 0.5 ? '\n' : '\r\n');
      const chunk = 1 + Math.floor(rnd() * 7);
      expect(parseAll(text, chunk)).toEqual(rows);
    }
  });
  test('record start lines count newlines inside quotes; an unterminated quote is reported', () => {
    const p = new CsvParser(',');
    const recs = [...p.push('h1,h2\n"a\nb",1\nc,2\n"open,3'), ...p.end()];
    expect(recs.map((r) => r.line)).toEqual([1, 2, 4, 5]);
    expect(recs[3]!.error).toMatch(/unterminated quoted field/);
    expect(recs[3]!.terminated).toBe(false);
  });
});

describe('bad input gives FILE:LINE messages', () => {
  const H = 'Time\tOpen\tHigh\tLow\tClose\tVolume\n';
  const row = (t: string, c = '1.1'): string => `${t}\t1.1\t1.2\t1.0\t${c}\t10\n`;

  test('empty file and header-only file', async () => {
    const empty = write('empty.tsv', '');
    expect((await errorOf(loadOhlcv(empty))).message).toBe(`${empty}: file is empty (expected a header line and OHLCV rows)`);
    const headerOnly = write('header.tsv', H);
    expect((await errorOf(loadOhlcv(headerOnly))).message).toBe(`${headerOnly}: has a header (Time, Open, High, Low, Close, Volume) but no data rows`);
  });

  test('truncated last line (no newline, fewer fields)', async () => {
    const f = write('trunc.tsv', H + row('2020-01-01 00:00:00') + '2020-01-01 04:00:00\t1.1\t1.2');
    const e = await errorOf(loadOhlcv(f));
    expect(e.badRows).toEqual([{ file: f, line: 3, message: 'truncated last line: expected 6 fields separated by tab, got 3 (the file ends without a newline)' }]);
    expect(e.message).toContain(`${f}:3: truncated last line`);
    // A complete last line without a newline is fine.
    const ok = await loadOhlcv(write('nonl.tsv', H + row('2020-01-01 00:00:00').trimEnd()));
    expect(ok.time.length).toBe(1);
  });

  test('text in a number column, NaN, negative price, high < low, missing field, wrong column count, bad date', async () => {
    const f = write(
      'bad.csv',
      'Date,Open,High,Low,Close,Volume\n' +
        '2020-01-01,1,2,0.5,1.5,100\n' +
        '2020-01-02,1,2,0.5,abc,100\n' + // line 3
        '2020-01-03,1,2,0.5,NaN,100\n' + // line 4
        '2020-01-04,-1,2,0.5,1.5,100\n' + // line 5
        '2020-01-05,1,0.4,0.5,0.45,100\n' + // line 6
        '2020-01-06,1,2,,1.5,100\n' + // line 7
        '2020-01-07,1,2,0.5,1.5\n' + // line 8
        '2020-02-30,1,2,0.5,1.5,100\n' + // line 9
        '2020-01-10,1,2,0.5,1.5,100\n',
    );
    const e = await errorOf(loadOhlcv(f));
    expect(e.badRows.map((b) => `${b.line}: ${b.message}`)).toEqual([
      '3: Close is not a number: "abc"',
      '4: Close is NaN',
      '5: negative Open: -1',
      '6: High 0.4 is below Low 0.5',
      '7: missing Low',
      '8: wrong column count: expected 6 fields separated by ",", got 5',
      '9: unparsable time "2020-02-30" (expected the iso format of the first row)',
    ]);
    expect(e.message.split('\n')[0]).toBe(`${f}: 7 bad rows (pass onBadRow: 'skip' / --skip-bad to leave them out)`);
    expect(e.message).toContain(`${f}:3: Close is not a number: "abc"`);
  });

  test('duplicate and out-of-order timestamps; skip keeps order and lists what it left out', async () => {
    const f = write('order.tsv', H + row('2020-01-01 00:00:00') + row('2020-01-01 04:00:00') + row('2020-01-01 04:00:00', '1.15') + row('2020-01-01 00:00:00') + row('2020-01-01 08:00:00'));
    const e = await errorOf(loadOhlcv(f));
    expect(e.badRows.map((b) => `${b.line}: ${b.message}`)).toEqual([
      '4: duplicate timestamp 2020-01-01 04:00:00 (also on line 3)',
      '5: out-of-order timestamp 2020-01-01 comes after 2020-01-01 04:00:00 on line 3',
    ]);
    const s = await loadOhlcv(f, { onBadRow: 'skip' });
    expect(s.skipped).toBe(2);
    expect(s.badRows.map((b) => b.line)).toEqual([4, 5]);
    expect(Array.from(s.lines)).toEqual([2, 3, 6]);
    expect(Array.from(s.close)).toEqual([1.1, 1.1, 1.1]);
  });

  test('headerless files, other delimiters and time formats are detected', async () => {
    const f = write('mt.csv', '2020.01.02 10:00;1;2;0.5;1.5;7\n2020.01.02 11:00;1;2;0.5;1.6;8\n');
    const s = await loadOhlcv(f);
    expect(s.header).toBe(false);
    expect(s.delimiter).toBe(';');
    expect(formatTime(s.time[1]!)).toBe('2020-01-02 11:00:00');
    expect(Array.from(s.volume!)).toEqual([7, 8]);
    // Blank lines carry no data: before the header and between rows they are not rows (line numbers still count them).
    const blank = await loadOhlcv(write('blank.csv', '\nDate,Close\n2020-01-01,1\n\n2020-01-02,2\n'));
    expect(Array.from(blank.lines)).toEqual([3, 5]);
    const unix = await loadOhlcv(write('unix.csv', 'timestamp,close\n1577836800,10\n1577840400,11\n'));
    expect(unix.timeFormat).toBe('unix-s');
    expect(formatTime(unix.time[0]!)).toBe('2020-01-01');
  });

  test('other loaders report FILE:LINE too', async () => {
    const tweets = write('t.jsonl.gz', zlib.gzipSync('{"date": "2014-01-02", "text": "a"}\nnot json\n{"date": "2014-01-01", "text": "b"}\n{"text": "c"}\n'));
    const te = await errorOf(loadStockNetTweets(tweets));
    expect(te.badRows.map((b) => b.line)).toEqual([2, 3, 4]);
    expect(te.badRows[1]!.message).toBe('out-of-order date 2014-01-01 comes after 2014-01-02 on line 1');
    expect(te.badRows[2]!.message).toBe('missing field "date"');

    const lab = write('lab.csv', 'text,label\n"ok, fine",1\nbad label,7\n"unterminated,0\n');
    const le = await errorOf(loadLabelledTweets(lab));
    expect(le.badRows.map((b) => `${b.line}: ${b.message}`)).toEqual([
      '3: label must be 0 (bearish), 1 (bullish) or 2 (neutral), got "7"',
      '4: unterminated quoted field 1 (the file ends inside quotes opened on this record)',
    ]);

    const fx = write('fx.csv', 'Data,A,B\n2000-01-03,1.5,\n2000-01-03,1.6,2\n2000-01-05,x,2\n');
    const fe = await errorOf(loadFxDaily(fx));
    expect(fe.badRows.map((b) => `${b.line}: ${b.message}`)).toEqual(['3: duplicate date 2000-01-03 (also on line 2)', '4: A is not a number: "x"']);

    const pa = write('pa.jsonl', '{"prompt": "p", "answer": "a"}\n{"prompt": "p"}\n{"prompt": "p", "answer": "a"');
    const pe = await errorOf(loadPromptAnswers(pa));
    expect(pe.badRows[0]).toEqual({ file: pa, line: 2, message: 'missing string field "answer"' });
    expect(pe.badRows[1]!.message).toMatch(/^truncated last line \(invalid JSON/);
    expect((await errorOf(loadPromptAnswers(write('e.jsonl', '')))).message).toMatch(/file is empty/);
  });

  test('news (CSV and JSONL) and corpora', async () => {
    const csv = write('news.csv', 'date,ticker,headline,summary\n2015-01-02,$aapl,"Apple, again","S, s"\n2015-01-03,,x,y\n');
    const n = await loadNews(csv, 'skip');
    expect(n.rows).toEqual([{ date: Date.UTC(2015, 0, 2), ticker: 'AAPL', headline: 'Apple, again', summary: 'S, s', line: 2 }]);
    expect(n.badRows).toEqual([{ file: csv, line: 3, message: 'missing ticker' }]);
    const jl = write('news.jsonl', '{"date":"2015-01-02","ticker":"MSFT","headline":"h","summary":"s"}\n');
    expect((await loadNews(jl)).rows[0]!.ticker).toBe('MSFT');

    const docs = [];
    for await (const d of readTextCorpus(write('c.txt', 'a\nb\n\n\nc\n'))) docs.push(d);
    expect(docs).toEqual([{ text: 'a\nb', line: 1 }, { text: 'c', line: 5 }]);
    const jdocs = [];
    for await (const d of readJsonlCorpus(write('c.jsonl', '{"text":"x"}\n\n{"text":"y"}\n'))) jdocs.push(d.text);
    expect(jdocs).toEqual(['x', 'y']);
  });
});

describe('inspect summaries, hand-computed', () => {
  test('gaps and returns', async () => {
    const { gapSummary, returnSummary } = await import('../../src/data/inspect.js');
    const h = 3_600_000;
    expect(gapSummary([0, 4 * h, 8 * h, 56 * h])).toEqual({
      regularStepSeconds: 4 * 3600,
      gaps: 1,
      commonGaps: [{ seconds: 48 * 3600, count: 1 }],
      largest: { seconds: 48 * 3600, after: '1970-01-01 08:00:00', before: '1970-01-03 08:00:00' }, // 56 h after the epoch
    });
    // 100 -> 110 -> 99 -> 99: +10 %, -10 %, 0 %; sample std sqrt((100 + 100 + 0) / 2) = 10.
    const r = returnSummary([100, 110, 99, 99])!;
    expect(r.count).toBe(3);
    expect(r.mean).toBeCloseTo(0, 12);
    expect(r.std).toBeCloseTo(10, 12);
    expect(r.min).toBeCloseTo(-10, 12);
    expect(r.max).toBeCloseTo(10, 12);
    expect(r.quantiles.p50).toBeCloseTo(0, 12);
    expect([r.up, r.down, r.flat]).toEqual([1, 1, 1]);
  });
});
