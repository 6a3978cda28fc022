/**
 * `evaluateForecasts`: one call from forecast records to the results object the study reports read. It
 *
 *  1. groups records by forecaster (`method`, or `method@seed` when a seed is set) and checks that every
 *     forecaster covers exactly the same windows (instrument, t0) with the same known and realised values;
 *  2. runs the baselines (persistence, drift, moving average, and AR(p) when training series are given) on those
 *     same windows;
 *  3. scores every forecaster: parse failures → persistence, pooled metrics, per-horizon curves, skill against
 *     persistence, moving-block bootstrap intervals (the same resamples for every method, so intervals of the
 *     skill score are paired), and a Diebold–Mariano test against persistence with Holm's correction across all
 *     tested forecasters.
 *
 * The shape of the result is documented in docs/eval.md ("Results object"); add fields, do not change them.
 */

import {
  arPriceForecaster,
  driftForecast,
  movingAverageForecast,
  persistenceForecast,
  type Forecaster,
} from './baselines.js';
import {
  blockBootstrapIndices,
  percentileInterval,
  resolveBootstrap,
  type BootstrapOptions,
  type BootstrapSettings,
  type ConfidenceInterval,
} from './bootstrap.js';
import {
  naiveScale,
  perHorizonCurves,
  pointMetrics,
  scoreableWindow,
  skillScore,
  windowAbsoluteErrors,
  windowSquaredErrors,
  type HorizonCurves,
  type PointMetrics,
  type ScoredWindow,
} from './metrics.js';
import { validateForecast, type ForecastRecord } from './schema.js';
import { dieboldMariano, holm, type DieboldMarianoResult, type HacKernel } from './significance.js';
import { mean, median } from './stats.js';

export const RESULTS_SCHEMA = 'fintune.eval-results/1';

export type BaselineName = 'persistence' | 'drift' | 'moving_average' | 'ar';
export const REFERENCE_METHOD = 'persistence';

export interface EvaluateOptions {
  /**
   * The training part of each instrument's series (by instrument name). Needed for MASE (its one-step naive
   * error is the scale) and for the AR baseline (fit on it); without it both are reported as unavailable.
   */
  training?: Readonly<Record<string, readonly number[]>>;
  /** Baselines to run; default all four (AR only when `training` covers every instrument). */
  baselines?: readonly BaselineName[];
  /** Moving-average window; default 10. */
  movingAverageWindow?: number;
  /** Largest AR order AIC may choose; default 20. */
  arMaxOrder?: number;
  bootstrap?: BootstrapOptions;
  /** DM long-run variance kernel; default 'bartlett' (Newey–West). */
  dmKernel?: HacKernel;
  /** Family-wise level for Holm; default 0.05. */
  alpha?: number;
}

export interface Intervals {
  mse: ConfidenceInterval | null;
  rmse: ConfidenceInterval | null;
  mae: ConfidenceInterval | null;
  skill: ConfidenceInterval | null;
  direction_accuracy: ConfidenceInterval | null;
}

export interface DmAgainstReference extends DieboldMarianoResult {
  /** Holm-adjusted two-sided p-value across all forecasters tested against persistence. */
  p_holm: number;
  /** Rejected at the family-wise level `alpha` (either direction: check `mean_diff` for which is better). */
  reject: boolean;
}

export interface MethodResult {
  /** `method`, or `method@seed` for seeded runs; baselines use their baseline name. */
  method: string;
  kind: 'model' | 'baseline';
  parse_failures: number;
  parse_failure_share: number;
  metrics: PointMetrics;
  /** 1 − MSE / MSE_persistence; 0 for persistence itself. */
  skill: number | null;
  per_horizon: HorizonCurves;
  ci: Intervals;
  /** Test against persistence; null for persistence itself or when there are too few windows (`dm_note`). */
  dm: DmAgainstReference | null;
  dm_note?: string;
  /** Mean and median forecast time (models only; baselines are not timed). */
  latency_ms: { mean: number; median: number } | null;
}

export interface EvaluationResults {
  schema: typeof RESULTS_SCHEMA;
  n_windows: number;
  horizon: number;
  instruments: string[];
  first_t0: string;
  last_t0: string;
  reference: typeof REFERENCE_METHOD;
  /** Models first (in name order), then baselines. */
  methods: MethodResult[];
  /** Baselines that were asked for but could not run, with the reason. */
  skipped_baselines: Array<{ name: BaselineName; reason: string }>;
  settings: {
    bootstrap: BootstrapSettings;
    alpha: number;
    dm_kernel: HacKernel;
    moving_average_window: number;
    ar_max_order: number;
    /** AR order chosen per instrument (when the AR baseline ran). */
    ar_orders?: Record<string, number>;
    /** MASE scale per instrument (when training series were given). */
    mase_scales?: Record<string, number | null>;
  };
}

interface Window {
  key: string;
  instrument: string;
  t0: string;
  context: readonly number[];
  truth: readonly number[];
}

const labelOf = (r: ForecastRecord): string => (r.seed === null ? r.method : `${r.method}@${r.seed}`);
const windowKey = (instrument: string, t0: string): string => `${instrument} @ ${t0}`;

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Groups and cross-checks the records; returns the common windows in (instrument, time) order. */
function collectWindows(records: readonly ForecastRecord[]): {
  windows: Window[];
  byMethod: Map<string, Map<string, ForecastRecord>>;
} {
  if (records.length === 0) throw new Error('evaluate: no forecast records');
  const byMethod = new Map<string, Map<string, ForecastRecord>>();
  records.forEach((r, i) => {
    try {
      validateForecast(r);
    } catch (err) {
      throw new Error(`evaluate: record ${i + 1}: ${(err as Error).message}`);
    }
    const label = labelOf(r);
    let m = byMethod.get(label);
    if (m === undefined) byMethod.set(label, (m = new Map()));
    const key = windowKey(r.instrument, r.t0);
    if (m.has(key)) throw new Error(`evaluate: forecaster '${label}' has two forecasts for window ${key}`);
    m.set(key, r);
  });
  const labels = [...byMethod.keys()].sort();
  const first = byMethod.get(labels[0]!)!;
  const windows: Window[] = [...first.values()].map((r) => ({
    key: windowKey(r.instrument, r.t0),
    instrument: r.instrument,
    t0: r.t0,
    context: r.context,
    truth: r.true,
  }));
  for (const label of labels.slice(1)) {
    const m = byMethod.get(label)!;
    // Comparing forecasters on different windows would compare different questions; refuse rather than guess.
    for (const w of windows) {
      const r = m.get(w.key);
      if (r === undefined) throw new Error(`evaluate: '${label}' has no forecast for window ${w.key} ('${labels[0]}' has)`);
      if (!sameNumbers(r.true, w.truth) || !sameNumbers(r.context, w.context)) {
        throw new Error(`evaluate: '${label}' and '${labels[0]}' disagree on the data of window ${w.key}`);
      }
    }
    if (m.size !== windows.length) {
      const extra = [...m.keys()].find((k) => !first.has(k));
      throw new Error(`evaluate: '${label}' has a forecast for window ${extra} that '${labels[0]}' lacks`);
    }
  }
  const H = windows[0]!.truth.length;
  for (const w of windows) {
    if (w.truth.length !== H) throw new Error(`evaluate: window ${w.key} has horizon ${w.truth.length}, others ${H}`);
  }
  windows.sort((a, b) => {
    if (a.instrument !== b.instrument) return a.instrument < b.instrument ? -1 : 1;
    const ta = Date.parse(a.t0);
    const tb = Date.parse(b.t0);
    return ta !== tb ? ta - tb : a.t0 < b.t0 ? -1 : a.t0 > b.t0 ? 1 : 0;
  });
  return { windows, byMethod };
}

interface Scored {
  method: string;
  kind: 'model' | 'baseline';
  windows: ScoredWindow[];
  parseFailures: number;
  latencies: number[] | null;
}

/** Per-window pieces the bootstrap recombines: squared and absolute losses and the direction outcome. */
interface WindowStats {
  se: number[];
  ae: number[];
  /** 1 hit, 0 miss, NaN excluded (a tie on either side). */
  hit: number[];
}

function windowStats(windows: readonly ScoredWindow[]): WindowStats {
  const hit = windows.map((w) => {
    const last = w.context[w.context.length - 1]!;
    const H = w.true.length;
    const realised = Math.sign(w.true[H - 1]! - last);
    const called = Math.sign(w.predicted[H - 1]! - last);
    return realised === 0 || called === 0 ? NaN : realised === called ? 1 : 0;
  });
  return { se: windowSquaredErrors(windows), ae: windowAbsoluteErrors(windows), hit };
}

function sumAt(values: readonly number[], idx: Int32Array): number {
  let s = 0;
  for (const i of idx) s += values[i]!;
  return s;
}

export function evaluateForecasts(records: readonly ForecastRecord[], opts: EvaluateOptions = {}): EvaluationResults {
  const { windows, byMethod } = collectWindows(records);
  const H = windows[0]!.truth.length;
  const n = windows.length;
  const maWindow = opts.movingAverageWindow ?? 10;
  const arMaxOrder = opts.arMaxOrder ?? 20;
  const alpha = opts.alpha ?? 0.05;
  const kernel = opts.dmKernel ?? 'bartlett';
  const wanted = new Set<BaselineName>(opts.baselines ?? ['persistence', 'drift', 'moving_average', 'ar']);
  // Persistence is the reference for skill and DM, so it always runs.
  wanted.add('persistence');
  const instruments = [...new Set(windows.map((w) => w.instrument))].sort();

  for (const name of wanted) {
    if (byMethod.has(name)) throw new Error(`evaluate: a forecaster is named '${name}', which is a baseline's name`);
  }

  const maseScales: Record<string, number | null> | undefined = opts.training
    ? Object.fromEntries(instruments.map((i) => [i, opts.training![i] ? naiveScale(opts.training![i]!) : null]))
    : undefined;
  const scaleOf = (instrument: string): number | undefined => maseScales?.[instrument] ?? undefined;

  const scored: Scored[] = [];
  for (const label of [...byMethod.keys()].sort()) {
    const m = byMethod.get(label)!;
    let failures = 0;
    const ws: ScoredWindow[] = [];
    const latencies: number[] = [];
    for (const w of windows) {
      const r = m.get(w.key)!;
      const { window, parseFailed } = scoreableWindow(
        { context: r.context, predicted: r.parse_ok ? r.predicted : [], true: r.true },
        scaleOf(w.instrument),
      );
      if (parseFailed) failures++;
      ws.push(window);
      latencies.push(r.latency_ms);
    }
    scored.push({ method: label, kind: 'model', windows: ws, parseFailures: failures, latencies });
  }

  const skipped: EvaluationResults['skipped_baselines'] = [];
  const baselineForecasters: Array<[BaselineName, (w: Window) => number[]]> = [];
  const runBaseline = (f: Forecaster) => (w: Window) => f(w.context, H);
  baselineForecasters.push(['persistence', runBaseline(persistenceForecast)]);
  if (wanted.has('drift')) baselineForecasters.push(['drift', runBaseline(driftForecast)]);
  if (wanted.has('moving_average')) {
    baselineForecasters.push(['moving_average', runBaseline((c, h) => movingAverageForecast(c, h, maWindow))]);
  }
  let arOrders: Record<string, number> | undefined;
  if (wanted.has('ar')) {
    const missing = instruments.filter((i) => !opts.training?.[i]);
    if (missing.length > 0) {
      skipped.push({ name: 'ar', reason: `no training series for ${missing.join(', ')}` });
    } else {
      try {
        const fitted = new Map(instruments.map((i) => [i, arPriceForecaster(opts.training![i]!, arMaxOrder)]));
        arOrders = Object.fromEntries([...fitted].map(([i, f]) => [i, f.model.p]));
        baselineForecasters.push(['ar', (w) => fitted.get(w.instrument)!.forecast(w.context, H)]);
      } catch (err) {
        skipped.push({ name: 'ar', reason: (err as Error).message });
      }
    }
  }
  for (const [name, run] of baselineForecasters) {
    const ws = windows.map((w) => {
      const window: ScoredWindow = { context: w.context, predicted: run(w), true: w.truth };
      const scale = scaleOf(w.instrument);
      if (scale !== undefined) window.maseScale = scale;
      return window;
    });
    scored.push({ method: name, kind: 'baseline', windows: ws, parseFailures: 0, latencies: null });
  }

  const reference = scored.find((s) => s.method === REFERENCE_METHOD)!;
  const referenceStats = windowStats(reference.windows);
  const referenceMse = mean(referenceStats.se);

  const settings = resolveBootstrap(n, opts.bootstrap);
  const samples = blockBootstrapIndices(n, settings);

  // DM first for every forecaster but the reference, so Holm can see the whole family.
  const dmRaw = new Map<string, DieboldMarianoResult>();
  const dmNotes = new Map<string, string>();
  for (const s of scored) {
    if (s === reference) continue;
    if (n < 2 || H >= n) {
      dmNotes.set(s.method, `needs more windows than the horizon (${n} windows, horizon ${H})`);
      continue;
    }
    const se = windowSquaredErrors(s.windows);
    dmRaw.set(s.method, dieboldMariano(se.map((x, i) => x - referenceStats.se[i]!), H, kernel));
  }
  const tested = [...dmRaw.keys()];
  const adjusted = holm(tested.map((m) => dmRaw.get(m)!.p_value), alpha);

  const methods: MethodResult[] = scored.map((s) => {
    const stats = windowStats(s.windows);
    const metrics = pointMetrics(s.windows);
    const ci: Intervals = {
      mse: percentileInterval(samples, (idx) => sumAt(stats.se, idx) / n, settings.level),
      rmse: percentileInterval(samples, (idx) => Math.sqrt(sumAt(stats.se, idx) / n), settings.level),
      mae: percentileInterval(samples, (idx) => sumAt(stats.ae, idx) / n, settings.level),
      skill:
        s === reference
          ? null
          : percentileInterval(
              samples,
              (idx) => {
                const ref = sumAt(referenceStats.se, idx);
                return ref > 0 ? 1 - sumAt(stats.se, idx) / ref : NaN;
              },
              settings.level,
            ),
      direction_accuracy: percentileInterval(
        samples,
        (idx) => {
          let hits = 0;
          let count = 0;
          for (const i of idx) {
            const h = stats.hit[i]!;
            if (!Number.isNaN(h)) {
              hits += h;
              count++;
            }
          }
          return count > 0 ? hits / count : NaN;
        },
        settings.level,
      ),
    };
    const k = tested.indexOf(s.method);
    const dm: DmAgainstReference | null =
      k >= 0 ? { ...dmRaw.get(s.method)!, p_holm: adjusted.adjusted[k]!, reject: adjusted.reject[k]! } : null;
    const result: MethodResult = {
      method: s.method,
      kind: s.kind,
      parse_failures: s.parseFailures,
      parse_failure_share: s.parseFailures / n,
      metrics,
      skill: s === reference ? 0 : skillScore(metrics.mse, referenceMse),
      per_horizon: perHorizonCurves(s.windows),
      ci,
      dm,
      latency_ms: s.latencies ? { mean: mean(s.latencies), median: median(s.latencies) } : null,
    };
    const note = dmNotes.get(s.method);
    if (note !== undefined) result.dm_note = note;
    return result;
  });

  const times = windows.map((w) => w.t0).sort((a, b) => Date.parse(a) - Date.parse(b));
  const out: EvaluationResults = {
    schema: RESULTS_SCHEMA,
    n_windows: n,
    horizon: H,
    instruments,
    first_t0: times[0]!,
    last_t0: times[times.length - 1]!,
    reference: REFERENCE_METHOD,
    methods,
    skipped_baselines: skipped,
    settings: {
      bootstrap: settings,
      alpha,
      dm_kernel: kernel,
      moving_average_window: maWindow,
      ar_max_order: arMaxOrder,
    },
  };
  if (arOrders) out.settings.ar_orders = arOrders;
  if (maseScales) out.settings.mase_scales = maseScales;
  return out;
}
