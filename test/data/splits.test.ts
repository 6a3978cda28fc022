import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { DATA } from '../helpers/paths.js';
import { loadOhlcv, type OhlcvSeries } from '../../src/data/loaders/ohlcv.js';
import { assertPretrainBeforeValidation, cutPretrainWindows, splitSeries, type SplitConfig } from '../../src/data/splits.js';
import { formatTime } from '../../src/data/time.js';
import { mulberry32 as prng } from '../helpers/prng.js';

/** A synthetic daily series of n bars from 2020-01-01. */
function series(n: number): OhlcvSeries {
  const t0 = Date.UTC(2020, 0, 1);
  const time = Float64Array.from({ length: n }, (_, i) => t0 + i * 86_400_000);
  const close = Float64Array.from({ length: n }, (_, i) => 100 + Math.sin(i / 7) * 5 + i * 0.01);
  return { file: 'synthetic.csv', time, close, lines: Int32Array.from({ length: n }, (_, i) => i + 2), columns: ['Date', 'Close'], delimiter: ',', header: true, timeFormat: 'iso', badRows: [], skipped: 0 };
}


describe('no leakage between parts (property-style over random configs)', () => {
  test('every train window ends before every val window starts, val before test; test windows never overlap', () => {
    const rnd = prng(7);
    let checked = 0;
    for (let trial = 0; trial < 150; trial++) {
      const n = 200 + Math.floor(rnd() * 800);
      const known = 1 + Math.floor(rnd() * 20);
      const horizon = 1 + Math.floor(rnd() * 10);
      const gap = rnd() < 0.3 ? ('window' as const) : Math.floor(rnd() * 5);
      const train = 0.4 + rnd() * 0.3;
      const val = 0.1 + rnd() * 0.15;
      const test = Math.min(0.99 - train - val, 0.1 + rnd() * 0.15);
      const scaling = (['raw', 'pct', 'zscore'] as const)[Math.floor(rnd() * 3)]!;
      const cfg: SplitConfig = { fractions: { train, val, test }, gap, window: { known, horizon, scaling, precision: 4 }, seed: trial };
      const s = series(n);
      let split;
      try {
        split = splitSeries(s, cfg);
      } catch (err) {
        // A random config may leave a part too short for one window; that must be the clear error, nothing else.
        expect((err as Error).message).toMatch(/a window needs \d+ bars .* but synthetic\.csv: the (validation|test|training) part/);
        continue;
      }
      checked++;
      const { train: tr, val: va, test: te } = split.windows;
      const maxTrain = Math.max(...tr.map((w) => s.time[w.end - 1]!));
      const minVal = Math.min(...va.map((w) => s.time[w.start]!));
      const maxVal = Math.max(...va.map((w) => s.time[w.end - 1]!));
      const minTest = Math.min(...te.map((w) => s.time[w.start]!));
      expect(maxTrain).toBeLessThan(minVal);
      expect(maxVal).toBeLessThan(minTest);
      const g = split.description.config.gap;
      expect(va[0]!.start - tr[tr.length - 1]!.end).toBeGreaterThanOrEqual(g);
      expect(te[0]!.start - va[va.length - 1]!.end).toBeGreaterThanOrEqual(g);
      // Non-overlapping predicted parts: stride = horizon.
      for (let i = 1; i < te.length; i++) expect(te[i]!.predStart).toBeGreaterThanOrEqual(te[i - 1]!.end);
      for (let i = 1; i < te.length; i++) expect(te[i]!.predStart - te[i - 1]!.predStart).toBe(horizon);
      expect(split.description.firstValTime).toBe(s.time[split.description.parts[1]!.from]);
    }
    expect(checked).toBeGreaterThan(100);
  });

  test('date splits on the shipped EURUSD file with a one-window gap', async () => {
    const eur = await loadOhlcv(path.join(DATA, 'forex/EURUSD_H4.csv'));
    const split = splitSeries(eur, { dates: { valStart: '2019-01-01', testStart: '2020-07-01' }, gap: 'window', window: { preset: 'mql5' } });
    const [tr, va, te] = split.description.parts;
    expect(tr!.first).toBe('2007-09-04 04:00:00');
    expect(tr!.last).toBe('2018-12-31 20:00:00');
    expect(split.description.config.gap).toBe(60);
    expect(va!.from).toBe(tr!.to + 60);
    expect(te!.last).toBe('2021-12-31 20:00:00');
    expect(te!.stride).toBe(40);
    expect(tr!.windows).toBe(tr!.bars - 60 + 1);
    expect(te!.windows).toBe(Math.floor((te!.bars - 60) / 40) + 1);
  });
});

describe('reproducible', () => {
  test('the same series, config and seed give the same split; the description records both', () => {
    const cfg: SplitConfig = { fractions: { train: 0.6, val: 0.2, test: 0.2 }, window: { known: 5, horizon: 3 }, shuffleTrain: true, seed: 42 };
    const a = splitSeries(series(300), cfg);
    const b = splitSeries(series(300), cfg);
    expect(a.windows.train.map((w) => w.start)).toEqual(b.windows.train.map((w) => w.start));
    expect(a.description).toEqual(b.description);
    expect(a.description.seed).toBe(42);
    expect(a.description.config.window.known).toBe(5);
    const c = splitSeries(series(300), { ...cfg, seed: 43 });
    expect(c.windows.train.map((w) => w.start)).not.toEqual(a.windows.train.map((w) => w.start));
    // Shuffling orders, never adds or removes.
    expect([...c.windows.train.map((w) => w.start)].sort((x, y) => x - y)).toEqual([...a.windows.train.map((w) => w.start)].sort((x, y) => x - y));
  });
});

describe('clear errors naming the parameter', () => {
  test('a part left empty', () => {
    expect(() => splitSeries(series(100), { dates: { valStart: '2021-01-01', testStart: '2021-02-01' }, window: { known: 3, horizon: 2 } })).toThrow(
      'synthetic.csv: the split leaves the validation part empty (100 bars from 2020-01-01 to 2020-04-09); change dates.valStart / dates.testStart',
    );
    expect(() => splitSeries(series(100), { fractions: { train: 0.5, val: 0.02, test: 0.2 }, gap: 5, window: { known: 3, horizon: 2 } })).toThrow(
      /the split leaves the validation part empty after a gap of 5 bars .*; change fractions\.val or gap/,
    );
    expect(() => splitSeries(series(100), { fractions: { train: 0.5, val: 0, test: 0.2 } })).toThrow('fractions.val must be a number strictly between 0 and 1, got 0');
    expect(() => splitSeries(series(100), { fractions: { train: 0.7, val: 0.2, test: 0.2 } })).toThrow(/must be at most 1/);
  });

  test('a part too short for one window', () => {
    expect(() => splitSeries(series(100), { fractions: { train: 0.7, val: 0.1, test: 0.2 }, window: { known: 10, horizon: 5 } })).toThrow(
      'a window needs 15 bars (known=10 + horizon=5) but synthetic.csv: the validation part (10 bars, 2020-03-11 .. 2020-03-20; set by fractions.val) has only 10',
    );
  });

  test('a pre-training corpus reaching the validation period is rejected', () => {
    const target = series(400);
    const split = splitSeries(target, { fractions: { train: 0.5, val: 0.25, test: 0.25 }, window: { known: 5, horizon: 2 } });
    expect(formatTime(split.description.firstValTime)).toBe('2020-07-19');
    const other = { ...series(500), file: 'other.csv' };
    expect(() => assertPretrainBeforeValidation(split.description, { name: 'other.csv', lastTime: other.time[499]! })).toThrow(
      'pre-training corpus other.csv ends 2021-05-14, not before the first validation timestamp 2020-07-19 of synthetic.csv; end the corpus earlier (pretrainEnd before 2020-07-19) or move the validation start later',
    );
    const windows = cutPretrainWindows(other, split.description);
    expect(Math.max(...windows.map((w) => w.endTime))).toBeLessThan(split.description.firstValTime);
    expect(windows.length).toBe(200 - 7 + 1); // bars 2020-01-01 .. 2020-07-18 = 200 bars
    expect(() => cutPretrainWindows(other, split.description, undefined, Date.UTC(2020, 8, 1))).toThrow(/pre-training corpus other\.csv ends 2020-09-01, not before/);
  });
});
