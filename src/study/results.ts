/**
 * The study results object (`fintune.study-results/1`): the one JSON file every number and chart of the report is
 * generated from. Runs keep their per-seed values; methods carry mean ± sd over seeds with the values kept.
 * Add fields, do not change them (docs/study.md lists them).
 */
import type { DataSummary } from './data.js';
import type { EvaluationResults, MethodResult } from '../eval/evaluate.js';
import type { MultiTaskResult } from './multitask.js';

export const STUDY_RESULTS_SCHEMA = 'fintune.study-results/1';

export interface RunEnv {
  cpu: string;
  backend: string;
  simd: string;
  threads: number;
  node: string;
  fintune: string;
  commit?: string | null;
}

/** Windows of one part: how many, the first bar the earliest reads and the last bar the latest predicts (ISO, UTC). */
export interface WindowSpan {
  n: number;
  first: string;
  last: string;
}

/** What one child process measured (runs/<model>/<method>/seed-N/result.json). */
export interface RunResult {
  id: string;
  kind: 'main' | 'sweep';
  model: string;
  method: string;
  methodKind: string;
  params: Record<string, unknown>;
  lr: number;
  seed: number;
  steps: number;
  epochs: number;
  tokens: number;
  trainSeconds: number;
  /** The child's whole life: data loading, training, forecasting, evaluation. */
  wallSeconds: number;
  tokensPerSec: number;
  peakRssMB: number;
  trainable: number;
  totalParams: number;
  trainablePct: number;
  artefactBytes: number;
  /** Mean time per forecast (one test window), adapter kept separate / folded into the base. */
  latencyMsUnmerged: number | null;
  latencyMsMerged: number | null;
  mergedNote: string;
  finalTrainLoss: number;
  valLoss: number | null;
  /** Skill against persistence on the validation windows (only when a search asked for it). */
  valSkill?: number | null;
  /** Annualized Sharpe of trading the validation forecasts with the study's back-test rule (tune's val-backtest). */
  valSharpe?: number | null;
  /**
   * Which windows the run touched, by part: trained on, scored on validation (loss, and forecasts when asked), and
   * forecast on test (null when it made no test forecast). Lets a search prove it never read a test span.
   */
  windowsUsed?: { train: WindowSpan | null; val: WindowSpan | null; test: WindowSpan | null };
  forgetting: { before: number; after: number; delta: number } | null;
  env: RunEnv;
  /** The run's own evaluation: its model and the baselines on the same windows. */
  evaluation: EvaluationResults | null;
  finishedAt: string;
  /** Added by the runner: the child's wall time seen from outside, process start-up included. */
  processSeconds?: number;
}

export interface Stat {
  mean: number | null;
  sd: number | null;
  /** One value per seed, in seed order (null where a seed has no value). */
  values: Array<number | null>;
}

export interface MethodSummary {
  /** model/method when the study has several models, else the method's name. */
  key: string;
  model: string;
  method: string;
  methodKind: string;
  params: Record<string, unknown>;
  lr: number;
  seeds: number[];
  trainable: number;
  trainablePct: number;
  stats: Record<string, Stat>;
  /** The widest bootstrap interval of the skill score over the seeds (lower of lowers, upper of uppers). */
  skillInterval: { lower: number; upper: number; level: number } | null;
  /** Diebold–Mariano against persistence per seed (Holm-adjusted across every forecaster of the study). */
  dm: Array<{ seed: number; p_holm: number; reject: boolean; better: boolean } | null>;
  /** Every seed's forecasts were significantly better than persistence (DM after Holm) and mean skill > 0. */
  beatsPersistence: boolean;
}

export interface LossCurve {
  run: string;
  key: string;
  seed: number;
  train: Array<{ step: number; loss: number }>;
  val: Array<{ step: number; loss: number }>;
}

export interface PathExample {
  t0: string;
  context: number[];
  true: number[];
  predicted: Record<string, number[]>;
}

export interface SweepSummary {
  model: string;
  method: string;
  tried: Array<{ lr: number; valLoss: number | null }>;
  chosen: number;
}

export interface StudyEnvironment {
  cpu: string;
  cores: number;
  ramGB: number;
  os: string;
  node: string;
  fintune: string;
  commit: string | null;
  backend: string | null;
  simd: string | null;
  threads: number | null;
}

export interface StudyResults {
  schema: typeof STUDY_RESULTS_SCHEMA;
  name: string;
  description: string;
  protocol: 'honest' | 'mql5-leaky';
  createdAt: string;
  settings: {
    seeds: number[];
    budget: unknown;
    training: unknown;
    generation: unknown;
    models: unknown;
    methods: unknown;
  };
  environment: StudyEnvironment;
  data: DataSummary | null;
  runs: RunResult[];
  failures: Array<{ id: string; error: string }>;
  sweeps: SweepSummary[];
  methods: MethodSummary[];
  /** Baselines on the study's test windows (from the combined evaluation). */
  baselines: MethodResult[];
  /** Every main run's forecasts evaluated together: DM + Holm across all of them. */
  evaluation: EvaluationResults | null;
  curves: LossCurve[];
  paths: PathExample[];
  /** Back-test per method when src/backtest/ results are attached (`fintune report --backtest`). */
  backtest: BacktestSection | null;
  /** A twin study (the leaky recipe and its honest twin): the other side's headline numbers. */
  twin: TwinComparison | null;
  /** The multi-task case (forecasting and sentiment adapters on one base), when configured and finished. */
  multiTask?: MultiTaskResult | null;
}

export interface BacktestSection {
  methods: Array<{ key: string; sharpe: number | null; totalReturn: number | null; maxDrawdown: number | null; trades: number | null; equity: Array<{ t: string; equity: number }> }>;
  /** Methods whose back-test could not run, and why. */
  notes?: string[];
}

export interface TwinComparison {
  /** Name of the twin study and its protocol. */
  name: string;
  protocol: 'honest' | 'mql5-leaky';
  /** Per method key present in both: the metric under each protocol. */
  rows: Array<{ key: string; metric: string; leaky: number | null; honest: number | null }>;
}

export function meanSd(values: Array<number | null | undefined>): Stat {
  const vals = values.map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : null));
  const xs = vals.filter((v): v is number => v !== null);
  if (xs.length === 0) return { mean: null, sd: null, values: vals };
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  // Sample standard deviation (n − 1): seeds are a sample of what another seed would give; one seed has none.
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : null;
  return { mean: m, sd, values: vals };
}

/** The model's own MethodResult inside a run's evaluation. */
export function modelResult(ev: EvaluationResults | null): MethodResult | null {
  return ev?.methods.find((m) => m.kind === 'model') ?? null;
}

/** Metrics aggregated per method, by name: the report's table and charts read exactly these. */
export const STAT_FIELDS: Record<string, (r: RunResult) => number | null | undefined> = {
  skill: (r) => modelResult(r.evaluation)?.skill,
  rmse: (r) => modelResult(r.evaluation)?.metrics.rmse,
  mae: (r) => modelResult(r.evaluation)?.metrics.mae,
  mase: (r) => modelResult(r.evaluation)?.metrics.mase,
  smape: (r) => modelResult(r.evaluation)?.metrics.smape,
  nrmse_range: (r) => modelResult(r.evaluation)?.metrics.nrmse_range,
  nrmse_mql5: (r) => modelResult(r.evaluation)?.metrics.nrmse_mql5,
  direction_accuracy: (r) => modelResult(r.evaluation)?.metrics.direction.accuracy,
  parse_failure_share: (r) => modelResult(r.evaluation)?.parse_failure_share,
  valLoss: (r) => r.valLoss,
  trainSeconds: (r) => r.trainSeconds,
  wallSeconds: (r) => r.wallSeconds,
  tokensPerSec: (r) => r.tokensPerSec,
  peakRssMB: (r) => r.peakRssMB,
  artefactMB: (r) => r.artefactBytes / 1e6,
  latencyMsUnmerged: (r) => r.latencyMsUnmerged,
  latencyMsMerged: (r) => r.latencyMsMerged,
  forgettingDelta: (r) => r.forgetting?.delta,
};
