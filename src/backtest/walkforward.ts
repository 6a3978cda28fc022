/**
 * Walk-forward: the signal rule's parameters (threshold, confidence filter, …) are chosen on a rolling window of
 * past bars by a stated objective and used only on the block that follows; the blocks' positions are stitched
 * into one out-of-sample run. Tuning sees only bars strictly before its block: the window is simulated on its
 * own slice, whose last position is closed at the window's last close, so no return from the block can leak in.
 *
 * The forecasts themselves are fixed by default. Re-fine-tuning the model for each block is opt-in through the
 * `refit` callback (the caller owns training); asking for it without one is an error, never a silent no-op.
 */
import { simulate, type CostModel } from './engine.js';
import { BacktestError } from './errors.js';
import { returnMetrics, type ReturnMetrics } from './metrics.js';
import { gapsAfter, sliceSeries, type PriceSeries } from './prices.js';
import { resolveBarsPerYear, summarize, type Annualization, type StrategyResult } from './backtest.js';
import { decidedPositions, makeSignals, type Prediction, type Signal, type SignalRule } from './signals.js';

export type Objective = 'sharpe' | 'sortino' | 'total-return' | 'calmar';
export const OBJECTIVES: readonly Objective[] = ['sharpe', 'sortino', 'total-return', 'calmar'];

export interface WalkBlock {
  index: number;
  /** Bars [trainStart, trainEnd) tune; bars [testStart, testEnd) trade. */
  trainStart: number;
  trainEnd: number;
  testStart: number;
  testEnd: number;
}

export type WalkCandidate = Partial<SignalRule> & { predictions?: readonly Prediction[]; label?: string };

export interface WalkForwardConfig {
  /** Rule the candidates are applied on top of. */
  base: SignalRule;
  /**
   * Parameter sets to choose among; the first wins ties, so list the most conservative first. A candidate may
   * bring its own predictions (e.g. a baseline with a different lookback), used instead of the shared ones —
   * that is how a baseline's own parameters are re-tuned per block like the signal rule's.
   */
  candidates: WalkCandidate[];
  trainBars: number;
  testBars: number;
  objective?: Objective;
  costs?: CostModel;
  flatOverGaps?: boolean;
  barsPerYear?: number;
  /** Ask for re-fine-tuning per block; requires `refit`. */
  refitModel?: boolean;
  /**
   * Re-fine-tune the model on the block's training window and return its predictions for the block's bars
   * (those at or after testStart and before testEnd); they replace the fixed predictions there.
   */
  refit?: (block: WalkBlock & { trainTimes: [number, number]; testTimes: [number, number] }) => Promise<Prediction[]>;
}

export interface BlockReport extends WalkBlock {
  /** The chosen candidate's rule parameters (and label), without any predictions it carried. */
  chosen: Partial<SignalRule> & { label?: string };
  /** The objective of the chosen parameters on the training window (null: undefined there, e.g. no trades). */
  trainObjective: number | null;
  /** Return of the stitched run over the block's bars. */
  testReturn: number;
}

export interface WalkForwardResult {
  objective: Objective;
  annualization: Annualization;
  blocks: BlockReport[];
  /** First bar of the out-of-sample run (the first block's testStart). */
  start: number;
  time: Float64Array;
  equity: Float64Array;
  metrics: StrategyResult;
  signals: Signal[];
}

export function objectiveValue(m: ReturnMetrics, o: Objective): number | null {
  switch (o) {
    case 'sharpe':
      return m.sharpe;
    case 'sortino':
      return m.sortino;
    case 'total-return':
      return m.totalReturn;
    case 'calmar':
      return m.calmar;
  }
}

function ruleOf(base: SignalRule, c: WalkCandidate): SignalRule {
  const { predictions: _p, label: _l, ...params } = c;
  return { ...base, ...params };
}

export async function walkForward(series: PriceSeries, predictions: readonly Prediction[], cfg: WalkForwardConfig): Promise<WalkForwardResult> {
  const objective = cfg.objective ?? 'sharpe';
  if (!OBJECTIVES.includes(objective)) throw new BacktestError(`objective must be one of ${OBJECTIVES.join(', ')}, got ${JSON.stringify(objective)}`);
  if (!(Number.isInteger(cfg.trainBars) && cfg.trainBars >= 2)) throw new BacktestError(`trainBars must be an integer >= 2, got ${cfg.trainBars}`);
  if (!(Number.isInteger(cfg.testBars) && cfg.testBars >= 1)) throw new BacktestError(`testBars must be an integer >= 1, got ${cfg.testBars}`);
  if (cfg.candidates.length === 0) throw new BacktestError('walk-forward needs at least one candidate parameter set');
  if (cfg.refitModel && !cfg.refit) {
    throw new BacktestError(
      're-fine-tuning the model per block is not configured: pass a refit callback (walkForward({ refit })) that trains on each block\'s window and returns its predictions',
    );
  }
  if (predictions.length === 0) throw new BacktestError(`no predictions to walk forward for ${series.instrument}`);
  const ann = resolveBarsPerYear(series.time, cfg.barsPerYear);
  const n = series.time.length;
  const gaps = gapsAfter(series.time);
  let first = Infinity;
  for (const p of predictions) first = Math.min(first, p.bar);
  const startTest = first + cfg.trainBars;
  if (startTest >= n) throw new BacktestError(`trainBars ${cfg.trainBars} leaves no bars to trade (predictions start at bar ${first} of ${n})`);

  const decided = new Float64Array(n);
  const blocks: BlockReport[] = [];
  const allSignals: Signal[] = [];
  let preds = [...predictions];
  for (let s = startTest, b = 0; s < n; s += cfg.testBars, b++) {
    const block: WalkBlock = { index: b, trainStart: s - cfg.trainBars, trainEnd: s, testStart: s, testEnd: Math.min(s + cfg.testBars, n) };
    if (cfg.refit) {
      const fresh = await cfg.refit({
        ...block,
        trainTimes: [series.time[block.trainStart]!, series.time[block.trainEnd - 1]!],
        testTimes: [series.time[block.testStart]!, series.time[block.testEnd - 1]!],
      });
      preds = preds.filter((p) => p.bar < block.testStart || p.bar >= block.testEnd).concat(fresh);
    }
    // Tune on the window alone.
    const window = sliceSeries(series, block.trainStart, block.trainEnd);
    let best = 0;
    let bestValue: number | null = null;
    cfg.candidates.forEach((c, k) => {
      const inWindow = (c.predictions ?? preds).filter((p) => p.bar >= block.trainStart && p.bar < block.trainEnd);
      const rule = ruleOf(cfg.base, c);
      const sig = makeSignals(series, inWindow, rule, ann.used).map((x) => ({ ...x, bar: x.bar - block.trainStart }));
      const sim = simulate(window, decidedPositions(window.time.length, sig, rule.horizon), {
        costs: cfg.costs,
        flatOverGaps: cfg.flatOverGaps,
        gaps: gaps.subarray(block.trainStart, block.trainEnd),
      });
      const v = objectiveValue(returnMetrics(sim.returns, ann.used), objective);
      if (v !== null && (bestValue === null || v > bestValue)) {
        best = k;
        bestValue = v;
      }
    });
    const chosenCandidate = cfg.candidates[best]!;
    const rule = ruleOf(cfg.base, chosenCandidate);
    const { predictions: own, ...chosen } = chosenCandidate;
    const inBlock = (own ?? preds).filter((p) => p.bar >= block.testStart && p.bar < block.testEnd);
    const sig = makeSignals(series, inBlock, rule, ann.used);
    allSignals.push(...sig);
    // Later blocks overwrite the tail of a position an earlier block's last signal still holds: the newest decision wins.
    const laid = decidedPositions(n, sig, rule.horizon);
    for (const x of sig) for (let j = x.bar; j < Math.min(x.bar + rule.horizon, n); j++) decided[j] = laid[j]!;
    blocks.push({ ...block, chosen, trainObjective: bestValue, testReturn: 0 });
  }

  const span = sliceSeries(series, startTest, n);
  const sim = simulate(span, decided.subarray(startTest, n), { costs: cfg.costs, flatOverGaps: cfg.flatOverGaps, gaps: gaps.subarray(startTest, n) });
  for (const b of blocks) {
    const e0 = b.testStart === startTest ? 1 : sim.equity[b.testStart - startTest - 1]!;
    b.testReturn = sim.equity[b.testEnd - startTest - 1]! / e0 - 1;
  }
  return {
    objective,
    annualization: ann,
    blocks,
    start: startTest,
    time: span.time,
    equity: sim.equity,
    metrics: summarize(sim, ann.used),
    signals: allSignals,
  };
}
