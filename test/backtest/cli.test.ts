import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPrices, type PriceSeries } from '../../src/backtest/prices.js';
import { FORECAST_SCHEMA, type ForecastRecord } from '../../src/eval/schema.js';
import { runCli } from '../helpers/cli.js';
import { DATA } from '../helpers/paths.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-bt-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const EURUSD = path.join(DATA, 'forex/EURUSD_H4.csv');

/** Drift forecasts (the last 6 bars' slope, continued) every 6 bars over the file's last 3000 bars. */
function driftRecords(s: PriceSeries, method: string): ForecastRecord[] {
  const out: ForecastRecord[] = [];
  const H = 6;
  for (let i = s.time.length - 3000; i + H < s.time.length; i += H) {
    const ctx = Array.from(s.close.subarray(i - 23, i + 1));
    const slope = (ctx[23]! - ctx[17]!) / 6;
    out.push({
      schema: FORECAST_SCHEMA,
      run: 'cli-test',
      method,
      seed: null,
      instrument: s.instrument,
      t0: new Date(s.time[i]!).toISOString(),
      context: ctx,
      predicted: Array.from({ length: H }, (_, h) => ctx[23]! + slope * (h + 1)),
      true: Array.from(s.close.subarray(i + 1, i + 1 + H)),
      parse_ok: true,
      latency_ms: 0,
    });
  }
  return out;
}

let series: PriceSeries;
let forecasts: string;
beforeAll(async () => {
  series = await loadPrices(EURUSD);
  forecasts = path.join(tmp, 'drift.jsonl');
  fs.writeFileSync(forecasts, driftRecords(series, 'drift').map((r) => JSON.stringify(r)).join('\n') + '\n');
});

describe('fintune backtest', () => {
  it('--help shows examples', async () => {
    const r = await runCli(['backtest', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('--flat-over-gaps');
  });

  it('a forecasts file on real EURUSD bars: benchmarks, chance, annualization, signals CSV', async () => {
    const signals = path.join(tmp, 'signals.csv');
    const report = path.join(tmp, 'backtest.json');
    const r = await runCli(['backtest', '--forecasts', forecasts, '--prices', EURUSD, '--spread-pips', '1', '--random', '100', '--json', '--signals-out', signals, '--report-out', report]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    const run = j.runs[0];
    expect(run.instrument).toBe('EURUSD_H4');
    expect(run.forecasts).toBe(499); // windows every 6 bars over the last 3000, each with 6 true bars after it
    expect(run.annualization.inferred).toBeGreaterThan(1450);
    expect(run.annualization.inferred).toBeLessThan(1650);
    expect(run.annualization.used).toBe(run.annualization.inferred);
    expect(Object.keys(run.strategies)).toEqual(['model', 'buy-and-hold', 'momentum']);
    // Drift over the last 6 bars *is* 6-bar momentum with the same rule: the two must agree exactly.
    expect(run.strategies.model.totalReturn).toBeCloseTo(run.strategies.momentum.totalReturn, 12);
    expect(run.random.draws).toBe(100);
    expect(run.random.modelSharpePercentile).toBeGreaterThanOrEqual(0);
    expect(run.random.modelSharpePercentile).toBeLessThanOrEqual(100);
    const rows = fs.readFileSync(signals, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('time,instrument,signal,size');
    expect(rows.length).toBeGreaterThan(10);
    // The study report reads this file (`fintune report --backtest`, contract in src/study/report.ts readBacktest):
    // {methods: [{key, sharpe, totalReturn, maxDrawdown, trades, equity: [{t, equity}]}]}. Not imported here: the
    // report module pulls in the chart renderer, which would triple this file's start-up time.
    const section = JSON.parse(fs.readFileSync(report, 'utf8')) as { methods: { key: string; sharpe: number | null; equity: { t: string; equity: number }[] }[] };
    expect(section.methods.map((m) => m.key)).toEqual(['drift', 'buy-and-hold', 'momentum']);
    expect(section.methods[0]!.sharpe).toBe(run.strategies.model.sharpe);
    expect(section.methods[0]!.equity.length).toBe(run.span.bars);
    expect(Object.keys(section.methods[0]!.equity[0]!)).toEqual(['t', 'equity']);
    expect(rows[1]).toMatch(/^\d{4}\.\d{2}\.\d{2} \d{2}:\d{2}:\d{2},EURUSD_H4,(-1|0|1),[0-9.]+$/);
  });

  it('prints inferred and used bars per year, and a wider spread costs more', async () => {
    const cheap = await runCli(['backtest', '--forecasts', forecasts, '--prices', EURUSD, '--random', '0', '--bars-per-year', '1560']);
    expect(cheap.code).toBe(0);
    expect(cheap.stdout).toMatch(/bars per year: inferred \d+\.\d, used 1560\.0/);
    const a = JSON.parse((await runCli(['backtest', '--forecasts', forecasts, '--prices', EURUSD, '--random', '0', '--json'])).stdout).runs[0];
    const b = JSON.parse((await runCli(['backtest', '--forecasts', forecasts, '--prices', EURUSD, '--random', '0', '--json', '--spread-pips', '2'])).stdout).runs[0];
    expect(b.strategies.model.totalReturn).toBeLessThan(a.strategies.model.totalReturn);
    expect(b.strategies.model.trades).toBe(a.strategies.model.trades);
  });

  it('walk-forward prints its blocks', async () => {
    const r = await runCli(['backtest', '--forecasts', forecasts, '--prices', EURUSD, '--walk-forward', '--thresholds', '0,5,20', '--train-bars', '1000', '--test-bars', '500', '--json']);
    expect(r.code).toBe(0);
    const runs = JSON.parse(r.stdout).runs;
    const wf = runs[0].walkForward;
    expect(wf.objective).toBe('sharpe');
    expect(wf.blocks.length).toBe(4);
    // the momentum baseline is walked forward on the same blocks, its lookback re-tuned per block
    const mom = runs.find((x: { method: string }) => x.method === 'momentum');
    expect(mom.walkForward.blocks.length).toBe(4);
    for (const b of mom.walkForward.blocks) expect(b.chosen.label).toMatch(/^lookback \d+$/);
  });

  it('errors: empty file, missing instrument, --refit without a trainer', async () => {
    const empty = path.join(tmp, 'empty.jsonl');
    fs.writeFileSync(empty, '\n');
    const folder = path.join(tmp, 'run');
    fs.mkdirSync(folder);
    const d = await runCli(['backtest', '--forecasts', folder, '--prices', EURUSD]);
    expect(d.code).toBe(2);
    expect(d.stderr).toContain('a folder without forecasts.jsonl');
    const e = await runCli(['backtest', '--forecasts', empty, '--prices', EURUSD]);
    expect(e.code).toBe(1);
    expect(e.stderr).toContain(`${empty}: no forecasts`);
    const other = path.join(tmp, 'other.jsonl');
    fs.writeFileSync(other, driftRecords(series, 'drift').slice(0, 2).map((r, k) => JSON.stringify(k === 1 ? { ...r, instrument: 'AUDUSD_H4' } : r)).join('\n') + '\n');
    const m = await runCli(['backtest', '--forecasts', other, '--prices', EURUSD]);
    expect(m.code).toBe(2);
    expect(m.stderr).toContain(`${other}:2: instrument AUDUSD_H4 is not among the prices`);
    const f = await runCli(['backtest', '--forecasts', forecasts, '--prices', EURUSD, '--walk-forward', '--refit']);
    expect(f.code).toBe(2);
    expect(f.stderr).toContain('not configured');
  });

  it('--portfolio: StockNet direction calls as one long/short portfolio', async () => {
    const dir = path.join(DATA, 'stocknet/price');
    const recs: ForecastRecord[] = [];
    for (const [k, name] of ['AAPL', 'AMZN', 'BA'].entries()) {
      const s = await loadPrices(path.join(dir, `${name}.csv`));
      for (let i = s.time.length - 40; i < s.time.length - 1; i++) {
        const last = s.close[i]!;
        recs.push({
          schema: FORECAST_SCHEMA, run: 'p', method: 'coin', seed: null, instrument: name, t0: new Date(s.time[i]!).toISOString(),
          context: [last], predicted: [last * ((i + k) % 2 ? 1.01 : 0.99)], true: [s.close[i + 1]!], parse_ok: true, latency_ms: 0,
        });
      }
    }
    const file = path.join(tmp, 'stocknet.jsonl');
    fs.writeFileSync(file, recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const r = await runCli(['backtest', '--forecasts', file, '--prices-dir', dir, '--portfolio', '--spread-bps', '2', '--ticker-cost', 'AAPL=1', '--random', '50', '--json']);
    expect(r.stderr).toBe('');
    const p = JSON.parse(r.stdout).portfolios[0];
    expect(p.dates).toBe(39);
    expect(p.sleeves.map((s: { instrument: string }) => s.instrument).sort()).toEqual(['AAPL', 'AMZN', 'BA']);
    expect(p.annualization.inferred).toBeGreaterThan(240);
    expect(p.annualization.inferred).toBeLessThan(260);
    expect(Object.keys(p.strategies)).toEqual(['model', 'long-all', 'momentum']);
    expect(p.random.draws).toBe(50);
    // The calls were made on Close; reading Adj Close instead is caught as misaligned, naming the line.
    const adj = await runCli(['backtest', '--forecasts', file, '--prices-dir', dir, '--portfolio', '--adj-close']);
    expect(adj.code).toBe(1);
    expect(adj.stderr).toMatch(new RegExp(`${file.replace(/[.]/g, '\\.')}:\\d+: the last known value .* Close vs Adj Close`));
  });
});
