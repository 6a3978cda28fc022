/**
 * The demo's budgets: how big the models are, how many steps each stage trains and how many windows it scores.
 *
 * Three sizes. `default` aims at about 15 minutes on 2 cores, `quick` at about 3, and `tiny` exists only for the
 * smoke test (every stage runs, on a handful of windows, in seconds). The numbers were set by timing the stages on
 * the 2-core development machine (docs/demo.md has the measurements); the planned seconds per stage are printed
 * beside the time actually spent, so a slower machine shows where the time went.
 *
 * Window choice (all sizes): 24 known → 6 predicted 4-hour bars of closes, written in basis points from the last
 * known close with no decimals ("12 -3 0 …"), one character per token. Short integer text keeps a window near 100
 * tokens, which is what a CPU can train on many times in a few minutes; basis points from the anchor make every
 * window's numbers comparable across instruments and years (AUDUSD in 2008 and EURUSD in 2019 read alike).
 */
import type { WindowConfigInput } from '../data/windows.js';

export type DemoSize = 'tiny' | 'quick' | 'default';

export interface PriceModelShape {
  nEmbd: number;
  nLayer: number;
  nHead: number;
}

export interface MethodPlan {
  /** Run-folder name and label in tables. */
  name: string;
  /** Method as the PEFT registry names it ('full' is built in). */
  method: string;
  lr: number;
  params: Record<string, unknown>;
}

export interface DemoBudget {
  size: DemoSize;
  window: WindowConfigInput;
  model: PriceModelShape;
  pretrain: { steps: number; batchSize: number; lr: number; maxWindows: number; evalWindows: number };
  finetune: { steps: number; batchSize: number; trainWindows: number; valWindows: number };
  /** Non-overlapping test windows forecast by every method (spread evenly over the test part). */
  testWindows: number;
  /**
   * Forecasts sampled per window (temperature 1), scored by their element-wise median. Greedy decoding of a
   * character-level model gives the most likely digit at each step, which collapses to the same small number
   * ("-1 -1 -1 …") whatever the window; the median of a few samples follows the predictive distribution instead.
   */
  samples: number;
  fingpt: {
    tickers: string[];
    trainExamples: number;
    evalExamples: number;
    model: PriceModelShape & { nPositions: number };
    pretrainSteps: number;
    loraSteps: number;
    batchSize: number;
    maxNewTokens: number;
  };
  /**
   * Planned seconds per stage: each stage's share of the size's target (about 15 minutes by default, 3 with
   * --quick), printed beside the measured time so a slower or busier machine shows where the time went.
   */
  planned: Record<StageName, number>;
}

export const STAGES = ['data', 'pretrain', 'finetune', 'evaluate', 'backtest', 'fingpt', 'report'] as const;
export type StageName = (typeof STAGES)[number];

/**
 * The fine-tuning methods the demo compares. Parameter names follow PEFT's configs (the registry's convention).
 * Rates follow the study's per-method defaults (src/study/config.ts):
 * methods that train few parameters need larger steps; prefix tuning, far from the output, the largest.
 */
export function demoMethods(): MethodPlan[] {
  return [
    { name: 'full', method: 'full', lr: 3e-4, params: {} },
    { name: 'lora', method: 'lora', lr: 2e-3, params: { r: 8, loraAlpha: 16 } },
    { name: 'qlora', method: 'qlora', lr: 2e-3, params: { r: 8, loraAlpha: 16 } },
    { name: 'houlsby', method: 'houlsby', lr: 2e-3, params: { size: 16, dropout: 0 } },
    { name: 'prefix', method: 'prefix', lr: 1e-2, params: { numVirtualTokens: 8 } },
  ];
}

const WINDOW: WindowConfigInput = { known: 24, horizon: 6, field: 'close', scaling: 'bps', precision: 0 };

const FINGPT_TICKERS = ['AAPL', 'GOOG', 'FB', 'AMZN', 'MSFT'];

export function demoBudget(size: DemoSize): DemoBudget {
  switch (size) {
    case 'tiny':
      return {
        size,
        window: WINDOW,
        model: { nEmbd: 32, nLayer: 1, nHead: 2 },
        pretrain: { steps: 6, batchSize: 4, lr: 3e-3, maxWindows: 200, evalWindows: 8 },
        finetune: { steps: 3, batchSize: 4, trainWindows: 40, valWindows: 4 },
        testWindows: 4,
        samples: 2,
        fingpt: {
          tickers: ['AAPL'],
          trainExamples: 6,
          evalExamples: 2,
          model: { nEmbd: 32, nLayer: 1, nHead: 2, nPositions: 512 },
          pretrainSteps: 3,
          loraSteps: 3,
          batchSize: 2,
          maxNewTokens: 48,
        },
        planned: { data: 2, pretrain: 2, finetune: 5, evaluate: 4, backtest: 1, fingpt: 6, report: 2 },
      };
    case 'quick':
      return {
        size,
        window: WINDOW,
        model: { nEmbd: 48, nLayer: 2, nHead: 4 },
        pretrain: { steps: 1500, batchSize: 16, lr: 3e-3, maxWindows: 20_000, evalWindows: 64 },
        finetune: { steps: 250, batchSize: 16, trainWindows: 4000, valWindows: 32 },
        testWindows: 150,
        samples: 5,
        fingpt: {
          tickers: FINGPT_TICKERS.slice(0, 3),
          trainExamples: 96,
          evalExamples: 8,
          model: { nEmbd: 48, nLayer: 2, nHead: 4, nPositions: 512 },
          pretrainSteps: 300,
          loraSteps: 100,
          batchSize: 4,
          maxNewTokens: 320,
        },
        planned: { data: 2, pretrain: 85, finetune: 75, evaluate: 3, backtest: 1, fingpt: 20, report: 1 },
      };
    case 'default':
      return {
        size,
        window: WINDOW,
        model: { nEmbd: 64, nLayer: 3, nHead: 4 },
        pretrain: { steps: 6000, batchSize: 16, lr: 2e-3, maxWindows: 0, evalWindows: 128 },
        finetune: { steps: 900, batchSize: 16, trainWindows: 8000, valWindows: 64 },
        testWindows: 400,
        samples: 8,
        fingpt: {
          tickers: FINGPT_TICKERS,
          trainExamples: 0,
          evalExamples: 12,
          model: { nEmbd: 64, nLayer: 2, nHead: 4, nPositions: 512 },
          pretrainSteps: 1500,
          loraSteps: 600,
          batchSize: 4,
          maxNewTokens: 320,
        },
        planned: { data: 2, pretrain: 380, finetune: 330, evaluate: 30, backtest: 2, fingpt: 160, report: 2 },
      };
  }
}
