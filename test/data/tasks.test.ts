import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { DATA } from '../helpers/paths.js';
import type { OhlcvSeries } from '../../src/data/loaders/ohlcv.js';
import type { Tweet } from '../../src/data/loaders/stocknet.js';
import { loadStockNetTask, stockNetExamples, stockNetLabel, stockNetPromptAnswer } from '../../src/data/stocknet.js';
import { forecasterExamples, lexiconScorer, mondayOf, returnBin, tweetKey } from '../../src/data/prompts.js';
import { formatDate } from '../../src/data/time.js';

const day = (s: string): number => Date.parse(`${s}T00:00:00Z`);

function prices(rows: [string, number][]): OhlcvSeries {
  const adj = Float64Array.from(rows, (r) => r[1]);
  return { file: 'p.csv', time: Float64Array.from(rows, (r) => day(r[0])), close: adj, adjClose: adj, lines: Int32Array.from(rows, (_, i) => i + 2), columns: ['Date', 'Close', 'Adj Close'], delimiter: ',', header: true, timeFormat: 'iso', badRows: [], skipped: 0 };
}
const tweet = (d: string, text: string): Tweet => ({ date: day(d), createdAt: '', text, line: 0 });

describe('StockNet task', () => {
  test('label thresholds: up > +0.55 %, down < -0.5 %, exact thresholds dropped', () => {
    expect(stockNetLabel(100, 100.56)).toBe('up');
    expect(stockNetLabel(100, 100.55)).toBeUndefined();
    expect(stockNetLabel(100, 99.5)).toBeUndefined();
    expect(stockNetLabel(100, 99.49)).toBe('down');
  });

  test('tweets from the 5 calendar days before the target day; neutral and tweetless days dropped and counted', () => {
    const p = prices([
      ['2014-01-02', 100],
      ['2014-01-03', 101], // +1 %: up; tweets 2013-12-29 .. 2014-01-02 -> the one on 01-02
      ['2014-01-06', 101.2], // +0.198 %: neutral
      ['2014-01-07', 100], // -1.19 %: down; window 01-02 .. 01-06 -> 01-02 and 01-05
      ['2014-01-08', 102], // +2 %: up; window 01-03 .. 01-07 -> 01-05 only (01-08 itself excluded)
      ['2014-01-20', 90], // down; window 01-15 .. 01-19 -> none: dropped
    ]);
    const tw = [tweet('2014-01-02', 'a'), tweet('2014-01-05', 'b'), tweet('2014-01-08', 'same day')];
    const { examples, counts } = stockNetExamples('XYZ', p, tw);
    expect(counts).toEqual({ days: 5, up: 2, down: 1, droppedNeutral: 1, droppedNoTweets: 1 });
    expect(examples.map((e) => [e.date, e.label, e.tweets.map((t) => t.text).join('|')])).toEqual([
      ['2014-01-03', 'up', 'a'],
      ['2014-01-07', 'down', 'a|b'],
      ['2014-01-08', 'up', 'b'],
    ]);
    expect(examples[0]!.part).toBe('train');
    expect(stockNetPromptAnswer(examples[1]!).answer).toBe('down');
    expect(stockNetPromptAnswer(examples[1]!).prompt).toContain("Will XYZ's adjusted close on 2014-01-07 be up or down from 2014-01-06?");
  });

  test('AAPL from the shipped folder (counts checked by an independent script)', async () => {
    const ds = await loadStockNetTask(path.join(DATA, 'stocknet'), ['AAPL']);
    expect(ds.counts).toMatchObject({ days: 440, up: 158, down: 129, droppedNeutral: 150, droppedNoTweets: 3 });
    expect([ds.examples.train.length, ds.examples.val.length, ds.examples.dev.length, ds.examples.test.length]).toEqual([227, 26, 34, 0]);
    expect(ds.examples.val.every((e) => e.date >= '2015-06-01' && e.date < '2015-08-01')).toBe(true);
  });
});

describe('FinGPT-Forecaster prompts', () => {
  test('return bins', () => {
    expect(returnBin(0.023).label).toBe('up by 2-3%');
    expect(returnBin(0.03).label).toBe('up by 2-3%');
    expect(returnBin(-0.004).label).toBe('down by 0-1%');
    expect(returnBin(0.05).label).toBe('up by 4-5%');
    expect(returnBin(0.0501).label).toBe('up by more than 5%');
    expect(returnBin(-0.12)).toEqual({ direction: 'down', bin: '5+', label: 'down by more than 5%' });
    expect(returnBin(0).label).toBe('up by 0-1%');
  });

  test('helpers: week start, dedup key, lexicon scorer', () => {
    expect(formatDate(mondayOf(day('2015-09-30')))).toBe('2015-09-28');
    expect(formatDate(mondayOf(day('2015-09-27')))).toBe('2015-09-21');
    expect(tweetKey('rt AT_USER $ aapl  beats URL')).toBe(tweetKey('$ aapl beats'));
    expect(lexiconScorer.score('aapl beats , strong growth')).toBe(3);
    expect(lexiconScorer.score('not bullish , sell')).toBe(-2);
  });

  test('prompt fields, answer sections, synthetic mark', () => {
    // Three weeks of Fridays (plus a Monday) so that the third week is predicted from the two before it.
    const p = prices([
      ['2014-01-03', 100],
      ['2014-01-06', 101],
      ['2014-01-10', 102],
      ['2014-01-17', 99],
      ['2014-01-24', 103],
    ]);
    const tw = [tweet('2014-01-07', 'strong growth ahead'), tweet('2014-01-08', 'rt AT_USER strong growth ahead'), tweet('2014-01-14', 'lawsuit risk'), tweet('2014-01-20', 'future tweet')];
    const info = { sector: 'Technology', symbol: 'XYZ', company: 'Xyz Inc.' };
    const { examples, counts } = forecasterExamples('XYZ', p, tw, info, { pastWeeks: 2, template: 'plain' });
    // Weeks end 01-03, 01-10, 01-17, 01-24. Predicting 01-03 -> 01-10 would need a past week whose move starts
    // before 01-03: skipped. 01-10 -> 01-17 has one past week, 01-17 -> 01-24 two.
    expect(counts).toEqual({ examples: 2, shortened: 0, droppedTooLong: 0, skipped: 1 });
    const e = examples[1]!;
    expect([e.start, e.end, e.label]).toEqual(['2014-01-17', '2014-01-24', 'up by 4-5%']); // 103/99 - 1 = 4.04 %
    expect(e.user).toBe(
      '[Company Introduction]:\n\nXyz Inc. is a company in the Technology sector, traded under the ticker XYZ. It is one of the stocks followed by the StockNet data set.\n\n' +
        "From 2014-01-03 to 2014-01-10, XYZ's stock price went up from 100.00 to 102.00. Posts during this period are listed below:\n\n" +
        '[Headline]: strong growth ahead\n\n' +
        "From 2014-01-10 to 2014-01-17, XYZ's stock price went down from 102.00 to 99.00. Posts during this period are listed below:\n\n" +
        '[Headline]: lawsuit risk\n\n' +
        '[Basic Financials]:\n\nNo basic financials are reported: the StockNet data set holds prices and tweets only.\n\n' +
        "Based on all the information up to 2014-01-17, first analyze the positive developments and the potential concerns for XYZ: name the 2-4 most important factors of each, briefly, mostly inferred from the company-related posts. Then predict XYZ's stock price movement for next week (2014-01-17 to 2014-01-24) and give a summary analysis supporting the prediction.",
    );
    expect(e.prompt.startsWith('### System:\n')).toBe(true);
    expect(e.prompt).not.toContain('future tweet');
    expect(e.answer).toMatch(/^\[Positive Developments\]:\n1\. strong growth ahead\n\n\[Potential Concerns\]:\n1\. lawsuit risk\n\n\[Prediction & Analysis\]:\nPrediction: Up by 4-5%\nAnalysis: /);
    expect(e.answer).toContain('The realized move the following week was up 4.04% (99.00 to 103.00)');
    expect(e.synthetic).toBe(true);
  });

  test('too long: oldest tweets dropped first and counted; the answer is never cut', () => {
    const p = prices([
      ['2014-01-03', 100],
      ['2014-01-10', 102],
      ['2014-01-17', 99],
    ]);
    const tw = [tweet('2014-01-07', 'first strong post'), tweet('2014-01-08', 'second weak post'), tweet('2014-01-09', 'third post')];
    const full = forecasterExamples('XYZ', p, tw, undefined, { countTokens: (t) => t.length }).examples[0]!;
    const limit = full.prompt.length - 10; // one tweet line must go
    const r = forecasterExamples('XYZ', p, tw, undefined, { countTokens: (t) => t.length, maxPromptTokens: limit });
    expect(r.counts).toMatchObject({ examples: 1, shortened: 1, droppedTooLong: 0 });
    expect(r.examples[0]!.prompt).not.toContain('first strong post');
    expect(r.examples[0]!.prompt).toContain('third post');
    expect(r.examples[0]!.tweetsDroppedForLength).toBe(1);
    expect(r.examples[0]!.answer).toContain('[Prediction & Analysis]:\nPrediction: Down by 2-3%');
    const none = forecasterExamples('XYZ', p, tw, undefined, { countTokens: (t) => t.length, maxPromptTokens: 100 });
    expect(none.counts).toMatchObject({ examples: 0, droppedTooLong: 1 });
  });
});
