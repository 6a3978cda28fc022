import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chanceSummary, runBacktest } from '../../src/backtest/backtest.js';
import { alignForecasts, directionForecasts, readForecastFile } from '../../src/backtest/forecasts.js';
import { portfolioBacktest, portfolioBenchmarks } from '../../src/backtest/portfolio.js';
import { instrumentFromFile, loadPrices, makeSeries, pipSizeFor, type PriceSeries } from '../../src/backtest/prices.js';
import { cadence, functionPredictions, makeSignals, decidedPositions, windowForecasterPredictions, type Prediction } from '../../src/backtest/signals.js';
import { driftForecast } from '../../src/eval/baselines.js';
import { walkForward } from '../../src/backtest/walkforward.js';
import { formatTime } from '../../src/data/time.js';
import { FORECAST_SCHEMA, type ForecastRecord } from '../../src/eval/schema.js';
import { MONDAY, randomWalk } from './helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-bt-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function writePrices(s: PriceSeries, name: string): string {
  const file = path.join(dir, name);
  const rows = Array.from(s.time, (t, i) => `${formatTime(t)}\t${s.open[i]!.toFixed(6)}\t${Math.max(s.open[i]!, s.close[i]!).toFixed(6)}\t${Math.min(s.open[i]!, s.close[i]!).toFixed(6)}\t${s.close[i]!.toFixed(6)}\t100`);
  fs.writeFileSync(file, ['Time\tOpen\tHigh\tLow\tClose\tVolume', ...rows].join('\n') + '\n');
  return file;
}

/** Forecast records every `k` bars; `predict(i)` gives the predicted last-step close for the window ending at bar i. */
function records(s: PriceSeries, H: number, k: number, predict: (i: number) => number, o: { method?: string; samples?: (i: number) => number[][] } = {}): ForecastRecord[] {
  const out: ForecastRecord[] = [];
  for (let i = 24; i + H < s.time.length; i += k) {
    const truth = Array.from(s.close.subarray(i + 1, i + 1 + H));
    const p = predict(i);
    out.push({
      schema: FORECAST_SCHEMA,
      run: 'r1',
      method: o.method ?? 'model',
      seed: null,
      instrument: s.instrument,
      t0: new Date(s.time[i]!).toISOString(),
      context: Array.from(s.close.subarray(i - 23, i + 1)),
      predicted: truth.map((_, h) => s.close[i]! + ((p - s.close[i]!) * (h + 1)) / H),
      true: truth,
      parse_ok: true,
      latency_ms: 1,
      ...(o.samples ? { samples: o.samples(i) } : {}),
    });
  }
  return out;
}

function writeForecasts(recs: readonly object[], name: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

const s = randomWalk(1200, 11);
const rounded = makeSeries('EURUSD', s.time, s.close.map((c) => +c.toFixed(6)), s.open.map((c) => +c.toFixed(6)));
const pricesFile = writePrices(s, 'EURUSD.csv');

describe('prices', () => {
  it('reads a price file through the OHLCV loader and names the instrument after it', async () => {
    const p = await loadPrices(pricesFile);
    expect(p.instrument).toBe('EURUSD');
    expect(p.time.length).toBe(1200);
    expect(instrumentFromFile('/x/AAPL.csv')).toBe('AAPL');
    expect(instrumentFromFile('/x/EURUSD_H4.csv')).toBe('EURUSD_H4'); // as fintune eval names it
    expect(pipSizeFor('USDJPY')).toBe(0.01);
    expect(pipSizeFor('EURUSD')).toBe(0.0001);
  });
});

describe('forecasts file → back-test', () => {
  it('an oracle (predicts the true horizon close) beats every benchmark; random draws are seeded', async () => {
    const H = 6;
    const file = writeForecasts(records(rounded, H, H, (i) => rounded.close[i + H]!), 'oracle.jsonl');
    const items = await readForecastFile(file);
    const p = await loadPrices(pricesFile);
    const a = alignForecasts(file, items, p);
    expect(a.horizon).toBe(H);
    expect(a.parseFailures).toBe(0);
    const cfg = { rule: { threshold: 0, units: 'pips' as const, pipSize: 1e-4, horizon: H }, costs: { spreadPips: 1, pipSize: 1e-4 }, randomDraws: 100, seed: 5 };
    const r = runBacktest(p, a.predictions, cfg);
    expect(r.annualization.inferred).toBeGreaterThan(1500);
    expect(r.annualization.used).toBe(r.annualization.inferred);
    expect(r.model.metrics.sharpe!).toBeGreaterThan(r.buyAndHold.metrics.sharpe ?? -Infinity);
    expect(r.model.metrics.sharpe!).toBeGreaterThan(r.momentum.metrics.sharpe ?? -Infinity);
    expect(r.random.modelSharpePercentile).toBe(100);
    expect(r.model.metrics.hitRate!).toBeGreaterThan(0.9);
    // All strategies share the span: from the first forecast's bar to the last one's horizon end.
    expect(r.model.sim.returns.length).toBe(r.buyAndHold.sim.returns.length);
    const again = runBacktest(p, a.predictions, cfg);
    expect(again.random.sharpe).toEqual(r.random.sharpe);
    // The oracle is a leak (its "forecast" is the future close). The same information one horizon later — the
    // move that has just happened, known at t0 — is an honest signal and must not earn the impossible profit.
    expect(r.model.metrics.sharpe!).toBeGreaterThan(8);
    const lagged = runBacktest(p, a.predictions.filter((x) => x.bar >= 24 + H).map((x) => ({ bar: x.bar, move: p.close[x.bar]! - p.close[x.bar - H]! })), { ...cfg, randomDraws: 0 });
    expect(Math.abs(lagged.model.metrics.sharpe!)).toBeLessThan(3);
  });

  it('thresholds in bps and volatility units, confidence from sampled paths', async () => {
    const H = 6;
    // Paths: 3 of 4 up when i % 12 === 0, else 2 of 4 (the median is up in both).
    const up = (i: number) => rounded.close[i]! * 1.002;
    const samples = (i: number): number[][] => {
      const u = Array(H).fill(up(i));
      const d = Array(H).fill(rounded.close[i]! * 0.999);
      return i % 12 === 0 ? [u, u, u, d] : [u, u, d, d];
    };
    const file = writeForecasts(records(rounded, H, H, up, { samples }), 'sampled.jsonl');
    const p = await loadPrices(pricesFile);
    const a = alignForecasts(file, await readForecastFile(file), p);
    expect(new Set(a.predictions.map((x) => x.confidence))).toEqual(new Set([0.75, 0.5]));
    const bps = makeSignals(p, a.predictions, { threshold: 19.9, units: 'bps', horizon: H }, 1560);
    expect(bps.every((x) => x.direction === 1)).toBe(true);
    expect(makeSignals(p, a.predictions, { threshold: 20.1, units: 'bps', horizon: H }, 1560).every((x) => x.direction === 0)).toBe(true);
    const conf = makeSignals(p, a.predictions, { threshold: 0, units: 'bps', horizon: H, minConfidence: 0.7 }, 1560);
    expect(conf.filter((x) => x.direction === 1).length).toBe(conf.filter((x) => x.confidence === 0.75).length);
    const vol = makeSignals(p, a.predictions, { threshold: 0.1, units: 'vol', horizon: H, volLookback: 20 }, 1560);
    // 20 bp over 6 bars of ~20 bp volatility each is ≈ 0.41 volatility units.
    for (const x of vol) expect(x.score).toBeGreaterThan(0.2);
    const sized = makeSignals(p, a.predictions, { threshold: 0, units: 'bps', horizon: H, sizing: { kind: 'vol-target', annualVol: 0.1 } }, 1560);
    // size = 10 % ÷ (bar sd · √1560): bar sd ≈ 0.002 → ≈ 1.27
    for (const x of sized) expect(x.size).toBeGreaterThan(0.8), expect(x.size).toBeLessThan(2);
  });

  it('forecasts every k bars: the cadence keeps one prediction per k bars', () => {
    const preds: Prediction[] = [0, 1, 2, 3, 6, 7, 12].map((bar) => ({ bar, move: 1 }));
    expect(cadence(preds, 3).map((p) => p.bar)).toEqual([0, 3, 6, 12]);
    const sig = makeSignals(s, cadence(preds, 6), { threshold: 0, units: 'price', horizon: 2, every: 6 }, 1560);
    expect(Array.from(decidedPositions(14, sig, 2))).toEqual([1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1]);
  });

  it('a function forecaster sees only closes up to its bar', () => {
    let maxSeen = 0;
    const preds = functionPredictions(s, [10, 20, 30], (closes, bar) => {
      maxSeen = Math.max(maxSeen, closes.length - 1 - bar);
      return closes[bar + 1] ?? closes[bar]! * 1.001; // trying to peek gives undefined
    });
    expect(maxSeen).toBe(0);
    expect(preds.every((p) => p.move > 0)).toBe(true);
  });
});

describe('an src/eval window forecaster', () => {
  it('drift every 6 bars from bar 23: the move is 6 × the known window\'s average step', () => {
    const preds = windowForecasterPredictions(s, driftForecast, { known: 24, horizon: 6 });
    expect(preds.map((p) => p.bar).slice(0, 3)).toEqual([23, 29, 35]);
    const i = 29;
    const slope = (s.close[i]! - s.close[i - 23]!) / 23;
    expect(preds[1]!.move).toBeCloseTo(6 * slope, 12);
    expect(() => windowForecasterPredictions(s, driftForecast, { known: 0, horizon: 6 })).toThrow('known must be an integer >= 1, got 0');
  });
});

describe('bad inputs name the file and line or the parameter', () => {
  it('an empty forecasts file', async () => {
    const file = writeForecasts([], 'empty.jsonl');
    await expect(readForecastFile(file)).rejects.toThrow(`${file}: no forecasts`);
  });

  it('a record that fails the schema', async () => {
    const recs = records(rounded, 6, 6, (i) => rounded.close[i]!).slice(0, 3) as unknown as Record<string, unknown>[];
    recs[1] = { ...recs[1], t0: 'yesterday' };
    const file = writeForecasts(recs, 'bad.jsonl');
    await expect(readForecastFile(file)).rejects.toThrow(`${file}:2: field 't0'`);
  });

  it('misaligned timestamps: a t0 that is not a bar, or a context that is not the bar\'s close', async () => {
    const recs = records(rounded, 6, 6, (i) => rounded.close[i]!).slice(0, 5);
    const p = await loadPrices(pricesFile);
    const offBar = recs.map((r, k) => (k === 3 ? { ...r, t0: new Date(Date.parse(r.t0) + 60_000).toISOString() } : r));
    const f1 = writeForecasts(offBar, 'offbar.jsonl');
    expect(() => alignForecasts(f1, [], p)).toThrow(/no forecasts for EURUSD/);
    await expect(readForecastFile(f1).then((it) => alignForecasts(f1, it, p))).rejects.toThrow(`${f1}:4: t0 `);
    // Shifted by one bar: every t0 is a real bar but the context's last value is the previous bar's close.
    const shifted = recs.map((r) => ({ ...r, t0: new Date(Date.parse(r.t0) + 4 * 3_600_000).toISOString() }));
    const f2 = writeForecasts(shifted, 'shifted.jsonl');
    await expect(readForecastFile(f2).then((it) => alignForecasts(f2, it, p))).rejects.toThrow(new RegExp(`${f2.replace(/[.]/g, '\\.')}:1: the last known value .* is not the close`));
  });

  it('a forecast instrument missing from the prices', async () => {
    const recs = records(rounded, 6, 6, (i) => rounded.close[i]!).slice(0, 3).map((r, k) => (k === 2 ? { ...r, instrument: 'GBPUSD' } : r));
    const file = writeForecasts(recs, 'other.jsonl');
    const p = await loadPrices(pricesFile);
    await expect(readForecastFile(file).then((it) => alignForecasts(file, it, p))).rejects.toThrow(`${file}:3: instrument GBPUSD is not the prices' instrument EURUSD`);
    const dirs = directionForecasts(file, await readForecastFile(file));
    expect(() => portfolioBacktest(new Map([['EURUSD', p]]), dirs, { horizon: 1 })).toThrow(`${file}:3: instrument GBPUSD has no prices`);
  });

  it('parameters', () => {
    const preds = [{ bar: 30, move: 1 }];
    expect(() => makeSignals(s, preds, { threshold: -1, units: 'bps', horizon: 6 }, 1560)).toThrow('threshold must be a number >= 0, got -1');
    expect(() => makeSignals(s, preds, { threshold: 1, units: 'pips', horizon: 6 }, 1560)).toThrow('pipSize must be > 0');
    expect(() => makeSignals(s, preds, { threshold: 1, units: 'bps', horizon: 0 }, 1560)).toThrow('horizon must be an integer >= 1, got 0');
    expect(() => runBacktest(s, [], { rule: { threshold: 0, units: 'bps', horizon: 1 } })).toThrow('no predictions');
    expect(() => runBacktest(s, preds, { rule: { threshold: 0, units: 'bps', horizon: 1 }, barsPerYear: 0 })).toThrow('barsPerYear must be > 0');
    expect(() => makeSeries('X', [2, 1], [1, 1])).toThrow('bar 1 time is not after bar 0');
  });
});

describe('direction calls', () => {
  it('sign of the predicted move, no call within the threshold or on a parse failure', async () => {
    // Predicted +0.3 % (30 bp), −0.05 % (5 bp) and a failed parse, in that order.
    const base = records(rounded, 6, 6, (i) => rounded.close[i]!).slice(0, 3);
    const moves = [1.003, 0.9995, 1];
    const recs = base.map((r, k) => {
      const last = r.context[r.context.length - 1]!;
      return k === 2 ? { ...r, predicted: [], parse_ok: false } : { ...r, predicted: r.true.map(() => last * moves[k]!) };
    });
    const file = writeForecasts(recs, 'calls.jsonl');
    const items = await readForecastFile(file);
    expect(directionForecasts(file, items).map((d) => d.direction)).toEqual([1, -1, 0]);
    expect(directionForecasts(file, items, { thresholdBps: 10 }).map((d) => d.direction)).toEqual([1, 0, 0]);
    expect(directionForecasts(file, items)[1]!.where).toBe(`${file}:2`);
  });
});

describe('chance distribution', () => {
  it('percentile counts draws below and half the ties', () => {
    // Draws −1, 0, 0.5, 0.5, 2: for 0.5, one... two below (−1, 0) and two ties → (2 + 1) / 5 = 60 %.
    const c = chanceSummary([2, 0.5, -1, 0, 0.5], 0.5);
    expect(c.modelSharpePercentile).toBe(60);
    expect(c.sharpe!.p50).toBe(0.5);
    expect(c.sharpe!.mean).toBeCloseTo(0.4, 15);
    // p05 by linear interpolation between the 1st and 2nd of 5 sorted values: −1 + 0.2·(0 − (−1)) = −0.8
    expect(c.sharpe!.p05).toBeCloseTo(-0.8, 15);
    expect(chanceSummary([1, 2], null).modelSharpePercentile).toBeNull();
  });
});

describe('walk-forward', () => {
  const H = 6;
  // Predictions that are right only in the second half: a threshold tuned on the past cannot know that in
  // advance, which is the point — the stitched run is out of sample.
  const preds: Prediction[] = [];
  for (let i = 24; i + H < s.time.length; i += H) preds.push({ bar: i, move: s.close[i + H]! - s.close[i]! });
  const base = { threshold: 0, units: 'bps' as const, horizon: H };

  it('tunes per block on past bars only and stitches one out-of-sample curve', async () => {
    const r = await walkForward(s, preds, { base, candidates: [{ threshold: 1e9 }, { threshold: 0 }], trainBars: 300, testBars: 200 });
    expect(r.blocks.map((b) => [b.trainStart, b.testStart, b.testEnd])).toEqual([
      [24, 324, 524],
      [224, 524, 724],
      [424, 724, 924],
      [624, 924, 1124],
      [824, 1124, 1200],
    ]);
    // The never-trading candidate has no Sharpe; the oracle wins every block.
    expect(r.blocks.every((b) => b.chosen.threshold === 0)).toBe(true);
    expect(r.equity.length).toBe(1200 - 324);
    expect(r.metrics.totalReturn).toBeGreaterThan(0);
    const product = r.blocks.reduce((e, b) => e * (1 + b.testReturn), 1);
    expect(product).toBeCloseTo(r.equity[r.equity.length - 1]!, 12);
  });

  it('re-fine-tuning per block is opt-in and says so when not configured', async () => {
    await expect(walkForward(s, preds, { base, candidates: [{}], trainBars: 300, testBars: 200, refitModel: true })).rejects.toThrow(/not configured: pass a refit callback/);
    const calls: number[] = [];
    await walkForward(s, preds, {
      base,
      candidates: [{}],
      trainBars: 300,
      testBars: 400,
      refit: async (b) => {
        calls.push(b.testStart);
        return [];
      },
    });
    expect(calls).toEqual([324, 724, 1124]);
  });
});

describe('equal-weight long/short portfolio', () => {
  it('weights each call 1/N, applies per-ticker costs and sums the sleeves', () => {
    const times = [0, 1, 2, 3, 4].map((d) => MONDAY + d * 86_400_000); // Monday to Friday
    // Daily bars; A rises 1 % a day intrabar, B falls 1 %, C is flat. Opens equal the previous close.
    const mk = (name: string, g: number) => {
      const close = times.map((_, i) => 100 * (1 + g) ** (i + 1));
      return makeSeries(name, times, close, close.map((c) => c / (1 + g)));
    };
    const prices = new Map([['A', mk('A', 0.01)], ['B', mk('B', -0.01)], ['C', mk('C', 0)]]);
    const t0 = times[0]!;
    const r = portfolioBacktest(prices, [
      { instrument: 'A', t0, direction: 1 },
      { instrument: 'B', t0, direction: -1 },
      { instrument: 'C', t0, direction: 0 },
    ], { horizon: 1, costs: { A: { commissionBps: 10 } }, barsPerYear: 252 });
    // Held on day 2 only: A long ½ earns ½ · 1 %, B short ½ earns ½ · 1 %; A pays 10 bp on ½ each side.
    expect(r.dates).toEqual([{ t0, long: 1, short: 1 }]);
    const c = 0.001 * 0.5;
    const a = (1 - c) * (1 + 0.005) * (1 - c) - 1;
    expect(r.returns[1]).toBeCloseTo(a + 0.005, 14);
    expect(r.sleeves.map((x) => x.instrument).sort()).toEqual(['A', 'B']);
    expect(r.metrics.trades).toBe(2);
    // Benchmarks on the same (ticker, date) pairs: long-all holds A, B, C at ⅓ each: (1 % − 1 % + 0) / 3 = 0
    // before costs; A still pays its 10 bp on ⅓ each side.
    const b = portfolioBenchmarks(prices, [{ instrument: 'A', t0, direction: 1 }, { instrument: 'B', t0, direction: -1 }, { instrument: 'C', t0, direction: 0 }], { horizon: 1, costs: { A: { commissionBps: 10 } }, barsPerYear: 252 }, r.metrics.sharpe, { draws: 50, seed: 1, lookback: 1 });
    const cA = 0.001 / 3;
    expect(b.longAll.returns[1]).toBeCloseTo((1 - cA) * (1 + 0.01 / 3) * (1 - cA) - 1 + -0.01 / 3, 14);
    expect(b.random.draws).toBe(50);
  });
});
