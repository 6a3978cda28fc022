import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { DATA } from '../helpers/paths.js';
import { loadOhlcv, type OhlcvSeries } from '../../src/data/loaders/ohlcv.js';
import { decodeBars, encodeBars, windowRef, type Scaling } from '../../src/data/transforms.js';
import {
  assertWindowsFit,
  cutWindows,
  decodeForecast,
  decodeKnown,
  encodeWindow,
  resolveWindowConfig,
  seriesBars,
  type WindowConfigInput,
} from '../../src/data/windows.js';

const closes = (xs: number[]): number[][] => xs.map((x) => [x]);
const hours = (n: number): number[] => Array.from({ length: n }, (_, i) => i * 3_600_000);
// Closes 100, 101, ..., 109.
const LINE = closes(Array.from({ length: 10 }, (_, i) => 100 + i));

function first(cfg: WindowConfigInput): { known: string; target: string } {
  const w = cutWindows(LINE, hours(10), resolveWindowConfig(cfg))[0]!;
  return { known: w.knownText, target: w.targetText };
}

describe('encodings, hand-computed', () => {
  test('raw, pips, bps (anchored on the last known close 102)', () => {
    expect(first({ known: 3, horizon: 2, precision: 1 })).toEqual({ known: '100.0 101.0 102.0', target: '103.0 104.0' });
    expect(first({ known: 3, horizon: 2, scaling: 'pips', pipSize: 0.5, precision: 0 })).toEqual({ known: '-4 -2 0', target: '2 4' });
    // 1e4 * (100/102 - 1) = -196.0784..., 1e4 * (101/102 - 1) = -98.0392...
    expect(first({ known: 3, horizon: 2, scaling: 'bps', precision: 2 })).toEqual({ known: '-196.08 -98.04 0.00', target: '98.04 196.08' });
  });

  test('pct reads one base bar before the known part; zscore uses the known mean and std', () => {
    // base 100; 101/100 = 1 %, 102/101 = 0.990 %, 103/102 = 0.980 %; then 104/103 = 0.971 %, 105/104 = 0.962 %.
    expect(first({ known: 3, horizon: 2, scaling: 'pct', precision: 3 })).toEqual({ known: '1.000 0.990 0.980', target: '0.971 0.962' });
    // known 100, 101, 102: mean 101, population std sqrt(2/3) = 0.81650; z = ±1.22474, 103 -> 2.44949, 104 -> 3.67423.
    expect(first({ known: 3, horizon: 2, scaling: 'zscore', precision: 4 })).toEqual({ known: '-1.2247 0.0000 1.2247', target: '2.4495 3.6742' });
  });

  test('OHLC bars write their four fields', () => {
    const bars = [[1, 2, 0.5, 1.5], [1.5, 2.5, 1, 2], [2, 3, 1.5, 2.5]];
    const w = encodeWindow(bars, hours(3), 0, resolveWindowConfig({ known: 2, horizon: 1, field: 'ohlc', precision: 1 }));
    expect(w.text).toBe('1.0,2.0,0.5,1.5 1.5,2.5,1.0,2.0 2.0,3.0,1.5,2.5');
  });
});

describe('the MQL5 presets on the shipped EURUSD file', () => {
  let eur: OhlcvSeries;
  let sourceCloses: string[];
  beforeAll(async () => {
    const file = path.join(DATA, 'forex/EURUSD_H4.csv');
    eur = await loadOhlcv(file);
    // The fifth tab-separated field of data lines 1..61, as written in the file.
    const text = fs.readFileSync(file, 'utf8').slice(0, 4000).split('\n');
    sourceCloses = text.slice(1, 62).map((l) => l.split('\t')[4]!);
  });

  test('mql5: 20 known + 40 predicted closes, as quoted, one line', () => {
    const cfg = resolveWindowConfig({ preset: 'mql5' });
    const [w0, w1] = cutWindows(seriesBars(eur, 'close'), eur.time, cfg, { to: 61 });
    expect(w0!.text).toBe(sourceCloses.slice(0, 60).join(' '));
    expect(w0!.knownText).toBe(sourceCloses.slice(0, 20).join(' '));
    expect(w1!.text).toBe(sourceCloses.slice(1, 61).join(' ')); // stride 1, as the article
  });

  test('mql5-exact: 19 known + 40 predicted', () => {
    const cfg = resolveWindowConfig({ preset: 'mql5-exact' });
    const w = cutWindows(seriesBars(eur, 'close'), eur.time, cfg, { to: 59 })[0]!;
    expect(w.knownText.split(' ').length).toBe(19);
    expect(w.text).toBe(sourceCloses.slice(0, 59).join(' '));
  });

  test('raw at 5 decimals decodes back to the exact prices; other scalings within their rounding', () => {
    const bars = seriesBars(eur, 'close');
    const exact = resolveWindowConfig({ known: 20, horizon: 40, precision: 5, stride: 997 });
    for (const w of cutWindows(bars, eur.time, exact)) {
      expect(decodeForecast(w.targetText, w, exact).bars).toEqual(w.target);
      expect(decodeKnown(w, exact)).toEqual(bars.slice(w.knownStart, w.predStart));
    }
    const scalings: Scaling[] = ['pips', 'bps', 'pct', 'logret', 'zscore'];
    for (const scaling of scalings) {
      // No precision: shortest round-trip text, so only floating-point error remains.
      const cfg = resolveWindowConfig({ known: 20, horizon: 40, scaling, pipSize: 0.0001, stride: 1999 });
      for (const w of cutWindows(bars, eur.time, cfg)) {
        const back = decodeForecast(w.targetText, w, cfg).bars;
        back.forEach((b, i) => expect(Math.abs(b[0]! - w.target[i]![0]!)).toBeLessThan(1e-12));
        decodeKnown(w, cfg).forEach((b, i) => expect(Math.abs(b[0]! - bars[w.knownStart + i]![0]!)).toBeLessThan(1e-12));
      }
    }
    // With 1 decimal of pips the error is at most half a tenth of a pip.
    const pips = resolveWindowConfig({ known: 20, horizon: 40, scaling: 'pips', pipSize: 0.0001, precision: 1, stride: 1999 });
    for (const w of cutWindows(bars, eur.time, pips)) {
      decodeForecast(w.targetText, w, pips).bars.forEach((b, i) => expect(Math.abs(b[0]! - w.target[i]![0]!)).toBeLessThanOrEqual(0.5e-5 + 1e-12));
    }
  });

  test('OHLC log returns round-trip', () => {
    const bars = seriesBars(eur, 'ohlc');
    const cfg = resolveWindowConfig({ known: 10, horizon: 5, field: 'ohlc', scaling: 'logret', stride: 4999 });
    for (const w of cutWindows(bars, eur.time, cfg)) {
      const back = decodeForecast(w.targetText, w, cfg).bars;
      back.forEach((b, i) => b.forEach((v, j) => expect(Math.abs(v - w.target[i]![j]!)).toBeLessThan(1e-12)));
    }
  });
});

describe('no look-ahead in the normalization', () => {
  test('changing the bars to predict never changes the known text or the reference', () => {
    const base = closes([5, 7, 6, 8, 9, 4, 3, 10]);
    const altered = closes([5, 7, 6, 8, 9, 400, 0.3, 1000]);
    for (const scaling of ['raw', 'pips', 'bps', 'pct', 'logret', 'zscore'] as Scaling[]) {
      const cfg = resolveWindowConfig({ known: 4, horizon: 3, scaling, pipSize: 0.01, precision: 6 });
      const a = cutWindows(base, hours(8), cfg)[0]!;
      const b = cutWindows(altered, hours(8), cfg)[0]!;
      expect(b.knownText).toBe(a.knownText);
      expect(b.ref).toEqual(a.ref);
      expect(b.targetText).not.toBe(a.targetText);
    }
  });

  test('encode/decode are inverses for any reference', () => {
    const known = [[1.2], [1.3], [1.25]];
    const ref = windowRef(known, 1.1);
    for (const scaling of ['raw', 'pips', 'bps', 'pct', 'logret', 'zscore'] as Scaling[]) {
      const spec = { field: 'close' as const, scaling, pipSize: 0.0001 };
      const future = [[1.27], [1.31]];
      const back = decodeBars(encodeBars(future, ref.anchor, ref, spec), ref.anchor, ref, spec);
      back.forEach((b, i) => expect(b[0]).toBeCloseTo(future[i]![0]!, 12));
    }
  });
});

describe('clear errors', () => {
  test('a window longer than the series names known and horizon', () => {
    const cfg = resolveWindowConfig({ preset: 'mql5' });
    expect(() => cutWindows(closes(Array(30).fill(1)), hours(30), cfg)).toThrow(
      'a window needs 60 bars (known=20 + horizon=40) but the series has only 30; lower known or horizon, or give this part more data',
    );
  });

  test('a window that does not fit the context names the parameters', () => {
    const cfg = resolveWindowConfig({ known: 3, horizon: 2, precision: 1 });
    const windows = cutWindows(LINE, hours(10), cfg);
    const byWord = (t: string): number => t.split(' ').length;
    expect(assertWindowsFit(windows, byWord, 5, cfg)).toBe(5);
    expect(() => assertWindowsFit(windows, byWord, 6, cfg, 2)).toThrow(/needs 7 tokens \(2 reserved\) but contextTokens is 6: lower known \(3\) or horizon \(2\)/);
  });

  test('bad parameters are named', () => {
    expect(() => resolveWindowConfig({ known: 0 })).toThrow('known must be a positive integer, got 0');
    expect(() => resolveWindowConfig({ scaling: 'pips' })).toThrow("pipSize must be a positive number for scaling 'pips', got undefined");
    expect(() => resolveWindowConfig({ precision: 2.5 })).toThrow('precision must be an integer from 0 to 12, got 2.5');
  });

  test('a forecast cut short decodes what it has and says so', () => {
    const cfg = resolveWindowConfig({ known: 3, horizon: 2, precision: 1 });
    const w = cutWindows(LINE, hours(10), cfg)[0]!;
    expect(decodeForecast('103.5', w, cfg)).toEqual({ bars: [[103.5]], problem: 'forecast has 1 of 2 bars' });
    expect(decodeForecast('103.5 x', w, cfg).problem).toBe('bar 2: not a number: "x"');
  });
});
