/**
 * Classification metrics for the StockNet up/down task and the sentiment task, and the two baselines any
 * classifier there must beat: always predicting the majority class, and predicting that the previous label
 * repeats (yesterday's direction). StockNet's paper reports 58.23 % accuracy and MCC 0.081 on its test quarter;
 * the majority class alone gets close to that accuracy, which is why MCC is reported beside it.
 */

export type Label = string | number;

export interface PerClass {
  label: Label;
  precision: number;
  recall: number;
  f1: number;
  /** How many items truly have this label. */
  support: number;
}

export interface ClassificationMetrics {
  n: number;
  accuracy: number;
  /**
   * Matthews correlation coefficient; for more than two classes Gorodkin's generalisation
   * (c·s − Σ p_k t_k) / √((s² − Σ p_k²)(s² − Σ t_k²)). 0 when either side is constant (the denominator is 0).
   */
  mcc: number;
  /** Unweighted mean of per-class F1 over every label seen in truth or predictions. */
  macro_f1: number;
  /** The label order of `confusion` and `per_class`: sorted (numbers numerically, otherwise as strings). */
  labels: Label[];
  /** confusion[i][j] = items whose true label is labels[i] and predicted label is labels[j]. */
  confusion: number[][];
  per_class: PerClass[];
}

function compareLabels(a: Label, b: Label): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

export function classificationMetrics(
  truth: readonly Label[],
  predicted: readonly Label[],
  labels?: readonly Label[],
): ClassificationMetrics {
  if (truth.length !== predicted.length) {
    throw new Error(`classification: ${truth.length} true labels but ${predicted.length} predictions`);
  }
  if (truth.length === 0) throw new Error('classification: nothing to score');
  const order = labels ? [...labels] : [...new Set<Label>([...truth, ...predicted])].sort(compareLabels);
  const index = new Map<Label, number>(order.map((l, i) => [l, i]));
  const K = order.length;
  const confusion = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  for (let i = 0; i < truth.length; i++) {
    const t = index.get(truth[i]!);
    const p = index.get(predicted[i]!);
    if (t === undefined || p === undefined) {
      throw new Error(`classification: label ${String(t === undefined ? truth[i] : predicted[i])} is not in the label list`);
    }
    confusion[t]![p]!++;
  }
  const s = truth.length;
  let correct = 0;
  const trueCount = new Array<number>(K).fill(0);
  const predCount = new Array<number>(K).fill(0);
  for (let i = 0; i < K; i++) {
    correct += confusion[i]![i]!;
    for (let j = 0; j < K; j++) {
      trueCount[i] = trueCount[i]! + confusion[i]![j]!;
      predCount[j] = predCount[j]! + confusion[i]![j]!;
    }
  }
  let sumPT = 0;
  let sumP2 = 0;
  let sumT2 = 0;
  for (let k = 0; k < K; k++) {
    sumPT += predCount[k]! * trueCount[k]!;
    sumP2 += predCount[k]! ** 2;
    sumT2 += trueCount[k]! ** 2;
  }
  const denom = Math.sqrt((s * s - sumP2) * (s * s - sumT2));
  const mcc = denom > 0 ? (correct * s - sumPT) / denom : 0;
  const perClass: PerClass[] = order.map((label, k) => {
    const tp = confusion[k]![k]!;
    const fp = predCount[k]! - tp;
    const fn = trueCount[k]! - tp;
    // Undefined ratios (no predictions / no support) count as 0, as scikit-learn does by default.
    const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
    const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
    const f1 = 2 * tp + fp + fn > 0 ? (2 * tp) / (2 * tp + fp + fn) : 0;
    return { label, precision, recall, f1, support: trueCount[k]! };
  });
  return {
    n: s,
    accuracy: correct / s,
    mcc,
    macro_f1: perClass.reduce((acc, c) => acc + c.f1, 0) / K,
    labels: order,
    confusion,
    per_class: perClass,
  };
}

/** The most frequent label (ties: the first in sorted order, so the choice is deterministic). */
export function majorityLabel(labels: readonly Label[]): Label {
  if (labels.length === 0) throw new Error('majority: no labels');
  const counts = new Map<Label, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  let best: Label | undefined;
  let bestCount = -1;
  for (const l of [...counts.keys()].sort(compareLabels)) {
    if (counts.get(l)! > bestCount) {
      best = l;
      bestCount = counts.get(l)!;
    }
  }
  return best!;
}

/**
 * "Yesterday's label again": item i is predicted as the true label of the previous item of the same group
 * (instrument); the first item of each group gets `fallback`. Items must be in time order within each group.
 */
export function previousLabelPredictions(
  truth: readonly Label[],
  fallback: Label,
  groups?: readonly string[],
): Label[] {
  if (groups && groups.length !== truth.length) {
    throw new Error(`previous-label baseline: ${truth.length} labels but ${groups.length} group names`);
  }
  const last = new Map<string, Label>();
  return truth.map((label, i) => {
    const g = groups ? groups[i]! : '';
    const prev = last.get(g);
    last.set(g, label);
    return prev === undefined ? fallback : prev;
  });
}

export interface ClassificationReport {
  model: ClassificationMetrics;
  majority: ClassificationMetrics & { label: Label; from: 'training' | 'evaluated' };
  previous: ClassificationMetrics;
}

/**
 * The model's metrics beside both baselines on the same items. The majority class should come from the training
 * labels; without them it is taken from the evaluated labels themselves (optimistic, and marked `from: 'evaluated'`).
 */
export function classificationReport(input: {
  truth: readonly Label[];
  predicted: readonly Label[];
  trainingLabels?: readonly Label[];
  groups?: readonly string[];
}): ClassificationReport {
  const fromTraining = input.trainingLabels !== undefined && input.trainingLabels.length > 0;
  const majority = majorityLabel(fromTraining ? input.trainingLabels! : input.truth);
  const labels = [...new Set<Label>([...input.truth, ...input.predicted, majority])].sort(compareLabels);
  const constant = input.truth.map(() => majority);
  return {
    model: classificationMetrics(input.truth, input.predicted, labels),
    majority: {
      ...classificationMetrics(input.truth, constant, labels),
      label: majority,
      from: fromTraining ? 'training' : 'evaluated',
    },
    previous: classificationMetrics(input.truth, previousLabelPredictions(input.truth, majority, input.groups), labels),
  };
}

/**
 * StockNet's target label (Xu & Cohen 2018): the move of Adj Close from the previous trading day to the target
 * day is "up" above +0.55 %, "down" below −0.5 %, and the day is dropped (null) in between. The bounds are strict,
 * as in the paper's "> 0.55 %" and "< −0.5 %".
 */
export function stocknetMovement(previousAdjClose: number, adjClose: number): 'up' | 'down' | null {
  if (!(previousAdjClose > 0) || !Number.isFinite(adjClose)) {
    throw new Error(`StockNet label: prices must be positive and finite, got ${previousAdjClose} → ${adjClose}`);
  }
  const change = adjClose / previousAdjClose - 1;
  if (change > 0.0055) return 'up';
  if (change < -0.005) return 'down';
  return null;
}
