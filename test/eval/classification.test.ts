import { describe, expect, it } from 'vitest';
import {
  classificationMetrics,
  classificationReport,
  majorityLabel,
  previousLabelPredictions,
  stocknetMovement,
} from '../../src/eval/classification.js';

describe('classification metrics', () => {
  // truth [1, 1, 0, 0, 1], predicted [1, 0, 0, 1, 1]: TP = 2 (items 0, 4), FN = 1 (item 1), TN = 1 (item 2),
  // FP = 1 (item 3).
  const m = classificationMetrics([1, 1, 0, 0, 1], [1, 0, 0, 1, 1]);

  it('accuracy and confusion matrix', () => {
    expect(m.accuracy).toBe(0.6);
    expect(m.labels).toEqual([0, 1]);
    // rows = truth 0, 1; columns = predicted 0, 1.
    expect(m.confusion).toEqual([
      [1, 1],
      [1, 2],
    ]);
  });

  it('MCC', () => {
    // (TP·TN − FP·FN) / √((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (2 − 1) / √(3·3·2·2) = 1/6.
    expect(m.mcc).toBeCloseTo(1 / 6, 14);
  });

  it('macro-F1', () => {
    // F1(1) = 2·2/(2·2 + 1 + 1) = 2/3; F1(0) = 2·1/(2·1 + 1 + 1) = 1/2; mean 7/12.
    expect(m.macro_f1).toBeCloseTo(7 / 12, 14);
    expect(m.per_class[1]).toMatchObject({ label: 1, precision: 2 / 3, recall: 2 / 3, support: 3 });
  });

  it('three classes: Gorodkin MCC by hand', () => {
    // truth [a, b, c, a], pred [a, b, a, c]: correct c = 2, s = 4; true counts a2 b1 c1, predicted a2 b1 c1;
    // Σ p_k t_k = 4 + 1 + 1 = 6; Σ p² = Σ t² = 6 → MCC = (2·4 − 6)/√((16 − 6)(16 − 6)) = 2/10.
    const r = classificationMetrics(['a', 'b', 'c', 'a'], ['a', 'b', 'a', 'c']);
    expect(r.mcc).toBeCloseTo(0.2, 14);
    // F1: a: TP 1, FP 1, FN 1 → 1/2; b: 1; c: TP 0 → 0; macro = 1.5/3.
    expect(r.macro_f1).toBeCloseTo(0.5, 14);
  });

  it('a constant prediction has MCC 0', () => {
    expect(classificationMetrics([0, 1, 1], [1, 1, 1]).mcc).toBe(0);
  });

  it('rejects mismatched lengths', () => {
    expect(() => classificationMetrics([1], [1, 0])).toThrow(/1 true labels but 2/);
  });
});

describe('classification baselines', () => {
  it('majority with deterministic ties', () => {
    expect(majorityLabel(['up', 'down', 'up'])).toBe('up');
    expect(majorityLabel(['up', 'down'])).toBe('down'); // tie → first in sorted order
  });

  it('previous label, per group', () => {
    expect(previousLabelPredictions([1, 0, 0, 1], 1)).toEqual([1, 1, 0, 0]);
    expect(previousLabelPredictions([1, 0, 0, 1], 9, ['A', 'B', 'A', 'B'])).toEqual([9, 9, 1, 0]);
  });

  it('report on the same items', () => {
    const r = classificationReport({
      truth: [1, 1, 0, 0, 1],
      predicted: [1, 0, 0, 1, 1],
      trainingLabels: [1, 1, 0],
    });
    expect(r.model.accuracy).toBe(0.6);
    // Majority from training = 1 → predictions all 1: 3/5 correct, MCC 0;
    // F1(1) = 2·3/(6 + 2) = 3/4, F1(0) = 0 → macro 3/8.
    expect(r.majority.label).toBe(1);
    expect(r.majority.from).toBe('training');
    expect(r.majority.accuracy).toBe(0.6);
    expect(r.majority.mcc).toBe(0);
    expect(r.majority.macro_f1).toBeCloseTo(0.375, 14);
    // Previous label, first item gets the majority 1: [1, 1, 1, 0, 0] → correct at 0, 1, 3 → 3/5.
    expect(r.previous.accuracy).toBe(0.6);
    expect(classificationReport({ truth: [0, 0, 1], predicted: [0, 0, 0] }).majority.from).toBe('evaluated');
  });
});

describe('StockNet movement label', () => {
  it('up above +0.55 %, down below −0.5 %, dropped in between', () => {
    expect(stocknetMovement(100, 100.6)).toBe('up'); // +0.6 %
    expect(stocknetMovement(100, 100.5)).toBeNull(); // +0.5 %
    expect(stocknetMovement(100, 99.6)).toBeNull(); // −0.4 %
    expect(stocknetMovement(100, 99.4)).toBe('down'); // −0.6 %
    expect(() => stocknetMovement(0, 1)).toThrow(/positive/);
  });
});
