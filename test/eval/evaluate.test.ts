import { describe, expect, it } from 'vitest';
import { evaluateForecasts } from '../../src/eval/evaluate.js';
import { dieboldMariano, holm } from '../../src/eval/significance.js';
import { FORECAST_SCHEMA, type ForecastRecord } from '../../src/eval/schema.js';

// Eight daily windows of one instrument, horizon 2, context of 3 values.
const CLOSES = [100, 101, 103, 102, 104, 107, 106, 108, 110, 109, 111, 113, 112];
function windowsOf(): Array<{ t0: string; context: number[]; truth: number[] }> {
  const out = [];
  for (let i = 0; i < 8; i++) {
    out.push({
      t0: `2024-01-${String(10 + i).padStart(2, '0')}`,
      context: CLOSES.slice(i, i + 3),
      truth: CLOSES.slice(i + 3, i + 5),
    });
  }
  return out;
}

function record(method: string, w: { t0: string; context: number[]; truth: number[] }, predicted: number[], over: Partial<ForecastRecord> = {}): ForecastRecord {
  return {
    schema: FORECAST_SCHEMA,
    run: 'test',
    method,
    seed: null,
    instrument: 'AAA',
    t0: w.t0,
    context: w.context,
    predicted,
    true: w.truth,
    parse_ok: predicted.length === w.truth.length,
    latency_ms: 2,
    ...over,
  };
}

// A "model" that is the truth plus a small error, except window 3, which failed to parse.
const model = windowsOf().map((w, i) =>
  i === 3 ? record('tiny', w, [w.truth[0]!]) : record('tiny', w, w.truth.map((y, h) => y + (h === 0 ? 0.5 : -0.5))),
);

describe('evaluateForecasts', () => {
  const res = evaluateForecasts(model, { bootstrap: { replicates: 200, seed: 3 } });
  const tiny = res.methods.find((m) => m.method === 'tiny')!;
  const persistence = res.methods.find((m) => m.method === 'persistence')!;

  it('describes the windows and lists models before baselines', () => {
    expect(res.schema).toBe('fintune.eval-results/1');
    expect(res.n_windows).toBe(8);
    expect(res.horizon).toBe(2);
    expect(res.instruments).toEqual(['AAA']);
    expect(res.first_t0).toBe('2024-01-10');
    expect(res.last_t0).toBe('2024-01-17');
    expect(res.methods.map((m) => [m.method, m.kind])).toEqual([
      ['tiny', 'model'],
      ['persistence', 'baseline'],
      ['drift', 'baseline'],
      ['moving_average', 'baseline'],
    ]);
    expect(res.skipped_baselines).toEqual([{ name: 'ar', reason: 'no training series for AAA' }]);
  });

  it('scores the parse failure as persistence and counts it', () => {
    expect(tiny.parse_failures).toBe(1);
    expect(tiny.parse_failure_share).toBe(1 / 8);
    // Seven windows with squared errors 0.25, 0.25, and window 3 scored as persistence: its context is
    // [102, 104, 107] and its truth [106, 108] → errors 1, −1 → squared 1, 1. Pooled: (7·0.5 + 2)/16.
    expect(tiny.metrics.mse).toBeCloseTo((7 * 0.5 + 2) / 16, 12);
  });

  it('persistence MSE, skill, and the DM test against persistence match a direct computation', () => {
    const ws = windowsOf();
    const persSe = ws.map((w) => w.truth.reduce((s, y) => s + (y - w.context[2]!) ** 2, 0) / 2);
    const modelSe = ws.map((_, i) => (i === 3 ? persSe[i]! : 0.25));
    const persMse = persSe.reduce((a, b) => a + b, 0) / 8;
    expect(persistence.metrics.mse).toBeCloseTo(persMse, 12);
    expect(persistence.skill).toBe(0);
    expect(persistence.dm).toBeNull();
    expect(tiny.skill).toBeCloseTo(1 - tiny.metrics.mse / persMse, 12);
    const dm = dieboldMariano(modelSe.map((x, i) => x - persSe[i]!), 2);
    expect(tiny.dm!.statistic).toBeCloseTo(dm.statistic, 12);
    expect(tiny.dm!.p_value).toBeCloseTo(dm.p_value, 12);
    // Holm over the three forecasters tested against persistence (tiny, drift, moving average).
    const others = res.methods.filter((m) => m.dm !== null);
    expect(others.map((m) => m.method)).toEqual(['tiny', 'drift', 'moving_average']);
    const h = holm(others.map((m) => m.dm!.p_value));
    expect(others.map((m) => m.dm!.p_holm)).toEqual(h.adjusted);
  });

  it('per-horizon curves and intervals', () => {
    expect(tiny.per_horizon.mse.length).toBe(2);
    // Step 1: seven errors of 0.5 and one of 1 → (7·0.25 + 1)/8.
    expect(tiny.per_horizon.mse[0]).toBeCloseTo((7 * 0.25 + 1) / 8, 12);
    const ci = tiny.ci.mse!;
    expect(ci.lower).toBeLessThanOrEqual(tiny.metrics.mse);
    expect(ci.upper).toBeGreaterThanOrEqual(tiny.metrics.mse);
    expect(persistence.ci.skill).toBeNull();
    // Same seed, same intervals.
    const again = evaluateForecasts(model, { bootstrap: { replicates: 200, seed: 3 } });
    expect(again.methods[0]!.ci).toEqual(tiny.ci);
    expect(tiny.latency_ms).toEqual({ mean: 2, median: 2 });
    expect(persistence.latency_ms).toBeNull();
  });

  it('with training series: MASE and the AR baseline', () => {
    const training = { AAA: [90, 91, 93, 92, 94, 95, 97, 96, 98, 99, 100, 99, 101, 102, 104, 103, 105, 106, 108, 107] };
    const r = evaluateForecasts(model, { training, bootstrap: { replicates: 50 } });
    expect(r.skipped_baselines).toEqual([]);
    expect(r.methods.map((m) => m.method)).toContain('ar');
    expect(r.settings.ar_orders!['AAA']).toBeGreaterThanOrEqual(0);
    // Scale: mean |Δ| of the training series; the 19 steps are 1 2 1 2 1 2 1 2 1 1 1 2 1 2 1 2 1 2 1 → 27/19.
    expect(r.settings.mase_scales!['AAA']).toBeCloseTo(27 / 19, 12);
    const t = r.methods.find((m) => m.method === 'tiny')!;
    expect(t.metrics.mase).toBeCloseTo(t.metrics.mae / (27 / 19), 12);
  });

  it('refuses forecasters on different windows or different data', () => {
    const other = windowsOf().slice(0, 7).map((w) => record('other', w, w.truth));
    expect(() => evaluateForecasts([...model, ...other])).toThrow(
      /'tiny' has a forecast for window AAA @ 2024-01-17 that 'other' lacks/,
    );
    const changed = windowsOf().map((w) => record('other', w, w.truth, { true: [w.truth[0]!, 0] }));
    expect(() => evaluateForecasts([...model, ...changed])).toThrow(/disagree on the data/);
    expect(() => evaluateForecasts([...model, model[0]!])).toThrow(/two forecasts for window/);
    const named = windowsOf().map((w) => record('drift', w, w.truth));
    expect(() => evaluateForecasts(named)).toThrow(/baseline's name/);
  });

  it('seeds make separate forecasters', () => {
    const s1 = windowsOf().map((w) => record('rand', w, w.truth, { seed: 1 }));
    const s2 = windowsOf().map((w) => record('rand', w, w.truth.map((y) => y + 1), { seed: 2 }));
    const r = evaluateForecasts([...s1, ...s2], { baselines: ['persistence'], bootstrap: { replicates: 20 } });
    expect(r.methods.map((m) => m.method)).toEqual(['rand@1', 'rand@2', 'persistence']);
    expect(r.methods[0]!.metrics.mse).toBe(0);
    expect(r.methods[1]!.metrics.mse).toBe(1);
  });
});
