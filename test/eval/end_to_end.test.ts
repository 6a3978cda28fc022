import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DATA } from '../helpers/paths.js';
import { createRng } from '../../src/tensor/rng.js';
import { driftForecast } from '../../src/eval/baselines.js';
import { evaluateForecasts } from '../../src/eval/evaluate.js';
import { FORECAST_SCHEMA, readAll, readForecasts, writeForecasts, type ForecastRecord } from '../../src/eval/schema.js';

// A slice of the shipped StockNet prices (MIT, ../shared/data/stocknet): Adj Close of two tickers. Training part:
// everything before 2014; test windows: 2014, 20 known days, 5-day horizon, one window every 5 days.
function adjClose(ticker: string): Array<{ date: string; close: number }> {
  const file = path.join(DATA, 'stocknet', 'price', `${ticker}.csv`);
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  const col = lines[0]!.split(',').indexOf('Adj Close');
  return lines.slice(1).map((line, i) => {
    const f = line.split(',');
    const close = Number(f[col]);
    if (!Number.isFinite(close)) throw new Error(`${file}:${i + 2}: bad Adj Close ${f[col]}`);
    return { date: f[0]!, close };
  });
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-eval-e2e-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('evaluation end to end on shipped StockNet prices', () => {
  const CONTEXT = 20;
  const H = 5;
  const training: Record<string, number[]> = {};
  const records: ForecastRecord[] = [];
  const rng = createRng(8, 'test/e2e-noise');
  for (const ticker of ['AAPL', 'MSFT']) {
    const rows = adjClose(ticker);
    training[ticker] = rows.filter((r) => r.date < '2014-01-01').map((r) => r.close);
    const firstTest = rows.findIndex((r) => r.date >= '2014-01-01');
    for (let end = firstTest + CONTEXT; end + H <= rows.length && rows[end + H - 1]!.date < '2015-01-01'; end += H) {
      // Known part: the CONTEXT days before `end`; horizon: the H days from `end`.
      const context = rows.slice(end - CONTEXT, end).map((r) => r.close);
      const truth = rows.slice(end, end + H).map((r) => r.close);
      const base = {
        schema: FORECAST_SCHEMA,
        run: 'e2e',
        seed: null,
        instrument: ticker,
        t0: rows[end - 1]!.date,
        context,
        true: truth,
        latency_ms: 1,
      } as const;
      // Stand-in "models": a copy of drift (must score exactly like the drift baseline), and a noisy
      // persistence whose output fails to parse on every 7th window.
      records.push({ ...base, method: 'drift-copy', predicted: driftForecast(context, H), parse_ok: true });
      const failed = records.length % 7 === 0;
      const noisy = Array.from({ length: H }, () => context[CONTEXT - 1]! + rng.normal(0, 1));
      records.push({ ...base, method: 'noisy', predicted: failed ? noisy.slice(0, 2) : noisy, parse_ok: !failed });
    }
  }

  it('writes, reads back and evaluates', async () => {
    const file = path.join(dir, 'forecasts.jsonl');
    writeForecasts(file, records);
    const back = await readAll(readForecasts(file));
    expect(back).toEqual(records);

    const res = evaluateForecasts(back, { training, bootstrap: { replicates: 200, seed: 1 } });
    expect(res.instruments).toEqual(['AAPL', 'MSFT']);
    expect(res.horizon).toBe(H);
    expect(res.n_windows).toBe(records.length / 2);
    expect(res.methods.map((m) => m.method)).toEqual(['drift-copy', 'noisy', 'persistence', 'drift', 'moving_average', 'ar']);
    const by = Object.fromEntries(res.methods.map((m) => [m.method, m]));

    // The copy of drift scores exactly as the drift baseline on the same windows.
    expect(by['drift-copy']!.metrics).toEqual(by['drift']!.metrics);
    expect(by['drift-copy']!.dm!.statistic).toBe(by['drift']!.dm!.statistic);

    // Parse failures are counted and scored as persistence.
    const failures = records.filter((r) => r.method === 'noisy' && !r.parse_ok).length;
    expect(failures).toBeGreaterThan(0);
    expect(by['noisy']!.parse_failures).toBe(failures);

    for (const m of res.methods) {
      expect(m.metrics.n_windows).toBe(res.n_windows);
      const d = m.metrics.direction;
      expect(d.scored + d.ties_true + d.ties_predicted).toBe(res.n_windows);
      expect(m.metrics.mase).not.toBeNull();
      if (m.dm) {
        expect(m.dm.p_value).toBeGreaterThanOrEqual(0);
        expect(m.dm.p_value).toBeLessThanOrEqual(1);
        expect(m.dm.p_holm).toBeGreaterThanOrEqual(m.dm.p_value);
      }
    }
    expect(by['persistence']!.metrics.direction.accuracy).toBeNull();
    for (const p of Object.values(res.settings.ar_orders!)) {
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(20);
    }
    // The results object is plain JSON (what the study reports store).
    expect(JSON.parse(JSON.stringify(res))).toEqual(res);
  });
});
