import { describe, expect, it } from 'vitest';
import {
  directionAccuracy,
  naiveScale,
  perHorizonCurves,
  pointMetrics,
  scoreableWindow,
  skillScore,
  windowSquaredErrors,
  type ScoredWindow,
} from '../../src/eval/metrics.js';

// Two windows, horizon 2, worked by hand below.
//   W1: last known 12, predicted [13, 14], true [12, 15] → errors +1, −1
//   W2: last known 19, predicted [18, 18], true [18, 21] → errors  0, −3
const W1: ScoredWindow = { context: [10, 12], predicted: [13, 14], true: [12, 15], maseScale: 2 };
const W2: ScoredWindow = { context: [20, 19], predicted: [18, 18], true: [18, 21], maseScale: 1 };

describe('pooled point metrics', () => {
  const m = pointMetrics([W1, W2]);

  it('MSE, RMSE, MAE', () => {
    // Squared errors 1, 1, 0, 9 → MSE 11/4; absolute 1, 1, 0, 3 → MAE 5/4.
    expect(m.mse).toBeCloseTo(2.75, 14);
    expect(m.rmse).toBeCloseTo(Math.sqrt(2.75), 14);
    expect(m.mae).toBeCloseTo(1.25, 14);
    expect(m.n_windows).toBe(2);
    expect(m.horizon).toBe(2);
  });

  it('MAPE and sMAPE in percent', () => {
    // MAPE = 100/4 · (1/12 + 1/15 + 0/18 + 3/21) = 25 · 0.292857… = 7.3214…
    expect(m.mape).toBeCloseTo(25 * (1 / 12 + 1 / 15 + 3 / 21), 12);
    expect(m.mape_excluded).toBe(0);
    // sMAPE = 100/4 · (2·1/25 + 2·1/29 + 0 + 2·3/39)
    expect(m.smape).toBeCloseTo(25 * (2 / 25 + 2 / 29 + 6 / 39), 12);
  });

  it('normalised RMSEs', () => {
    // Mean true range per window: W1 15 − 12 = 3, W2 21 − 18 = 3 → 3.
    expect(m.nrmse_range).toBeCloseTo(Math.sqrt(2.75) / 3, 14);
    // True values 12, 15, 18, 21: mean 16.5, squared deviations 20.25 + 2.25 + 2.25 + 20.25 = 45, /4 = 11.25.
    expect(m.nrmse_std).toBeCloseTo(Math.sqrt(2.75) / Math.sqrt(11.25), 14);
    // MQL5's figure: max(true) − min(pred) = 21 − 13 = 8.
    expect(m.nrmse_mql5).toBeCloseTo(Math.sqrt(2.75) / 8, 14);
  });

  it('MASE scales each window by its own training naive error', () => {
    // |e|/scale: 1/2, 1/2, 0/1, 3/1 → sum 4 over 4 pairs = 1.
    expect(m.mase).toBeCloseTo(1, 14);
    expect(pointMetrics([W1, { ...W2, maseScale: undefined }]).mase).toBeNull();
  });

  it('direction at the last step against the last known value', () => {
    // W1: true 15 > 12 up, predicted 14 > 12 up → hit. W2: true 21 > 19 up, predicted 18 < 19 down → miss.
    expect(m.direction).toEqual({ accuracy: 0.5, scored: 2, ties_true: 0, ties_predicted: 0 });
  });

  it('excludes ties on either side from direction accuracy', () => {
    const flatTruth: ScoredWindow = { context: [5], predicted: [6], true: [5] };
    const noCall: ScoredWindow = { context: [5], predicted: [5], true: [7] };
    const hit: ScoredWindow = { context: [5], predicted: [4], true: [3] };
    expect(directionAccuracy([flatTruth, noCall, hit])).toEqual({
      accuracy: 1,
      scored: 1,
      ties_true: 1,
      ties_predicted: 1,
    });
    // Persistence never makes a call: accuracy is undefined (null), not 0 or 50 %.
    expect(directionAccuracy([noCall]).accuracy).toBeNull();
  });

  it('MAPE leaves out zero truths and says how many', () => {
    const w: ScoredWindow = { context: [1], predicted: [1, 2], true: [0, 4] };
    const r = pointMetrics([w]);
    // Only the pair (2, 4) counts: |−2|/4 = 50 %.
    expect(r.mape).toBeCloseTo(50, 12);
    expect(r.mape_excluded).toBe(1);
    // sMAPE: pair (1, 0) → 2·1/1 = 2; pair (2, 4) → 2·2/6 = 2/3; mean · 100 = 133.33…
    expect(r.smape).toBeCloseTo(50 * (2 + 2 / 3), 12);
  });

  it('normalisers that are zero give null, not Infinity', () => {
    const flat: ScoredWindow = { context: [3], predicted: [4], true: [3] };
    const r = pointMetrics([flat]);
    expect(r.nrmse_range).toBeNull();
    expect(r.nrmse_std).toBeNull();
    // max(true) − min(pred) = 3 − 4 = −1: non-zero, so the MQL5 figure is computed (and negative).
    expect(r.nrmse_mql5).toBeCloseTo(-1, 14);
  });

  it('rejects windows of different horizons', () => {
    expect(() => pointMetrics([W1, { context: [1], predicted: [1], true: [1] }])).toThrow(/horizon/);
  });
});

describe('per-horizon curves, per-window losses, skill', () => {
  it('curves by step', () => {
    // Step 1 errors: +1, 0 → MSE 0.5, MAE 0.5. Step 2 errors: −1, −3 → MSE 5, MAE 2.
    const c = perHorizonCurves([W1, W2]);
    expect(c.mse).toEqual([0.5, 5]);
    expect(c.mae).toEqual([0.5, 2]);
    expect(c.rmse[1]).toBeCloseTo(Math.sqrt(5), 14);
  });

  it('window losses and skill against persistence', () => {
    expect(windowSquaredErrors([W1, W2])).toEqual([1, 4.5]);
    // Persistence: W1 [12, 12] → errors 0, −3; W2 [19, 19] → 1, −2; squared 0, 9, 1, 4 → MSE 3.5.
    // Skill = 1 − 2.75 / 3.5 = 0.2142857…
    expect(skillScore(2.75, 3.5)).toBeCloseTo(1 - 2.75 / 3.5, 14);
    expect(skillScore(1, 0)).toBeNull();
  });

  it('naive scale is the mean absolute one-step change', () => {
    // |2 − 1| + |4 − 2| + |3 − 4| = 4 over 3 steps.
    expect(naiveScale([1, 2, 4, 3])).toBeCloseTo(4 / 3, 14);
    expect(naiveScale([5])).toBeNull();
    expect(naiveScale([5, 5, 5])).toBeNull();
  });
});

describe('parse failures', () => {
  it('a short forecast is scored as persistence, whole', () => {
    const { window, parseFailed } = scoreableWindow({ context: [10, 12], predicted: [13], true: [12, 15] });
    expect(parseFailed).toBe(true);
    expect(window.predicted).toEqual([12, 12]);
    const ok = scoreableWindow({ context: [10, 12], predicted: [13, 14], true: [12, 15] }, 2);
    expect(ok.parseFailed).toBe(false);
    expect(ok.window.predicted).toEqual([13, 14]);
    expect(ok.window.maseScale).toBe(2);
  });
});
