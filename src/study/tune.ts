/**
 * `fintune tune`: hyper-parameter search for one method of a study config — grid, random or genetic (the MQL5
 * article proposes a genetic search) — scored on validation loss only; the test windows are never forecast.
 * Each trial is a one-seed study run in its own child process (through the study runner, so finished trials are
 * skipped on a re-run) and the report states how many trials ran.
 *
 * Search space: `lr`, any numeric method hyper-parameter as `params.NAME`, and — with the validation-skill
 * objective — the window's `data.known` (context length) and `data.horizon`, each a list of candidate values.
 * Validation loss per token is not comparable across window shapes, so window searches need validation skill
 * (the validation windows forecast and scored against persistence).
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { createRng } from '../tensor/rng.js';
import type { MethodSpec, StudyConfig } from './config.js';
import { runStudy, type StudyOptions } from './runner.js';

export type Strategy = 'grid' | 'random' | 'genetic';
export type Space = Record<string, number[]>;

export interface TuneOptions extends Pick<StudyOptions, 'childArgv' | 'log' | 'env'> {
  out: string;
  method: string;
  strategy: Strategy;
  /** Trials for random and genetic search (grid runs every combination). */
  trials: number;
  space: Space;
  seed?: number;
  /** 'val-loss' (default, lower is better) or 'val-skill' (skill vs persistence on validation windows, higher is better). */
  objective?: 'val-loss' | 'val-skill' | 'val-backtest';
}

export interface Trial {
  index: number;
  values: Record<string, number>;
  valLoss: number | null;
  valSkill: number | null;
  /** Validation back-test Sharpe (objective val-backtest). */
  valSharpe?: number | null;
  /** The objective's value, oriented so that lower is better (−skill for val-skill). */
  score: number | null;
}

export interface TuneResult {
  schema: 'fintune.tune-results/1';
  method: string;
  strategy: Strategy;
  objective: 'validation loss (lower is better)' | 'validation skill vs persistence (higher is better)' | 'validation back-test Sharpe after costs (higher is better)';
  space: Space;
  trialsRun: number;
  trials: Trial[];
  best: Trial | null;
}

const WINDOW_KEYS = ['data.known', 'data.horizon'];

function checkSpace(space: Space, objective: 'val-loss' | 'val-skill' | 'val-backtest'): void {
  const keys = Object.keys(space);
  if (keys.length === 0) throw new Error('tune: the search space is empty; give e.g. --space \'{"lr":[1e-4,1e-3]}\'');
  for (const k of keys) {
    if (k !== 'lr' && !k.startsWith('params.') && !WINDOW_KEYS.includes(k)) throw new Error(`tune: space key "${k}" must be "lr", "params.NAME", "data.known" or "data.horizon"`);
    if (WINDOW_KEYS.includes(k) && objective === 'val-loss') {
      throw new Error(`tune: searching ${k} needs --objective val-skill or val-backtest (validation loss per token is not comparable across window shapes)`);
    }
    if (WINDOW_KEYS.includes(k) && !space[k]!.every((x) => Number.isInteger(x) && x >= 1)) throw new Error(`tune: space.${k} must hold positive integers`);
    const v = space[k];
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) throw new Error(`tune: space.${k} must be a non-empty list of numbers`);
  }
}

function gridOf(space: Space): Array<Record<string, number>> {
  let out: Array<Record<string, number>> = [{}];
  for (const [k, vals] of Object.entries(space)) out = out.flatMap((o) => vals.map((v) => ({ ...o, [k]: v })));
  return out;
}

function keyOf(values: Record<string, number>): string {
  return Object.keys(values).sort().map((k) => `${k}=${values[k]}`).join(',');
}

function methodWith(base: MethodSpec, values: Record<string, number>, index: number): MethodSpec {
  const params = { ...base.params };
  for (const [k, v] of Object.entries(values)) if (k.startsWith('params.')) params[k.slice(7)] = v;
  // Named by its values, not its index: a re-run (or another strategy in the same folder) finds a finished trial
  // under the same name only if it had the same values.
  void index;
  return { ...base, name: `${base.name}-t-${keyOf(values).replace(/[^A-Za-z0-9._-]/g, '_')}`, lr: values.lr ?? base.lr, lrSweep: undefined, params };
}

export async function tune(config: StudyConfig, o: TuneOptions): Promise<TuneResult> {
  const objective = o.objective ?? 'val-loss';
  checkSpace(o.space, objective);
  const base = config.methods.find((m) => m.name === o.method);
  if (!base) throw new Error(`tune: method "${o.method}" is not in the config (methods: ${config.methods.map((m) => m.name).join(', ')})`);
  const rng = createRng(o.seed ?? 0, 'study.tune');
  const trials: Trial[] = [];
  const seen = new Map<string, Trial>();
  const evaluate = async (values: Record<string, number>): Promise<Trial> => {
    const k = keyOf(values);
    const prior = seen.get(k);
    if (prior) return prior; // a genetic child equal to an earlier trial is not run twice
    const index = trials.length;
    const method = methodWith(base, values, index);
    const data = { ...config.data, known: values['data.known'] ?? config.data.known, horizon: values['data.horizon'] ?? config.data.horizon };
    const cfg: StudyConfig = { ...config, name: `${config.name}-tune`, data, methods: [method], models: config.models.slice(0, 1), seeds: [config.seeds[0] ?? 0], twin: undefined, multiTask: undefined };
    const res = await runStudy(cfg, { out: o.out, childArgv: o.childArgv, log: o.log, env: o.env, generate: false, valForecast: objective !== 'val-loss' });
    const run = res.results.runs.find((r) => r.method === method.name);
    const valLoss = run?.valLoss ?? null;
    const valSkill = run?.valSkill ?? null;
    const valSharpe = run?.valSharpe ?? null;
    const score = objective === 'val-loss' ? valLoss : objective === 'val-skill' ? (valSkill === null ? null : -valSkill) : valSharpe === null ? null : -valSharpe;
    const t: Trial = { index, values, valLoss, valSkill, valSharpe, score };
    trials.push(t);
    seen.set(k, t);
    return t;
  };
  const pick = <T>(xs: readonly T[]): T => xs[rng.randint(xs.length)]!;
  const randomPoint = (): Record<string, number> => Object.fromEntries(Object.entries(o.space).map(([k, v]) => [k, pick(v)]));

  if (o.strategy === 'grid') {
    for (const p of gridOf(o.space)) await evaluate(p);
  } else if (o.strategy === 'random') {
    // Sampling without replacement: a repeated point would cost a trial and teach nothing.
    const size = gridOf(o.space).length;
    while (trials.length < Math.min(o.trials, size)) await evaluate(randomPoint());
  } else {
    // Genetic: a small population; each generation keeps the better half, and children take each value from
    // one of two parents, with a mutation moving a value to a neighbouring candidate.
    const popSize = Math.max(2, Math.min(6, Math.ceil(o.trials / 3)));
    let pop: Trial[] = [];
    const size = gridOf(o.space).length;
    while (pop.length < popSize && trials.length < Math.min(o.trials, size)) {
      const t = await evaluate(randomPoint());
      if (!pop.includes(t)) pop.push(t);
    }
    let stale = 0;
    while (trials.length < Math.min(o.trials, size) && stale < 3 * o.trials) {
      const ranked = [...pop].sort((a, b) => (a.score ?? Infinity) - (b.score ?? Infinity));
      const parents = ranked.slice(0, Math.max(2, Math.ceil(ranked.length / 2)));
      const a = pick(parents);
      const b = pick(parents);
      const child: Record<string, number> = {};
      for (const [k, vals] of Object.entries(o.space)) {
        let v = rng.uniform() < 0.5 ? a.values[k]! : b.values[k]!;
        if (rng.uniform() < 0.3) {
          const i = vals.indexOf(v);
          v = vals[Math.max(0, Math.min(vals.length - 1, i + (rng.uniform() < 0.5 ? -1 : 1)))]!;
        }
        child[k] = v;
      }
      let t = seen.get(keyOf(child));
      if (t) {
        // Already tried: explore an untried point instead, so a small space is covered rather than re-bred.
        const untried = gridOf(o.space).filter((p) => !seen.has(keyOf(p)));
        if (untried.length === 0) break;
        stale++;
        t = await evaluate(pick(untried));
      } else t = await evaluate(child);
      pop = [...parents, t];
    }
  }
  const ok = trials.filter((t) => t.score !== null);
  const best = ok.length ? ok.reduce((x, y) => (y.score! < x.score! ? y : x)) : null;
  const result: TuneResult = {
    schema: 'fintune.tune-results/1',
    method: o.method,
    strategy: o.strategy,
    objective:
      objective === 'val-loss'
        ? 'validation loss (lower is better)'
        : objective === 'val-skill'
          ? 'validation skill vs persistence (higher is better)'
          : 'validation back-test Sharpe after costs (higher is better)',
    space: o.space,
    trialsRun: trials.length,
    trials,
    best,
  };
  fs.mkdirSync(o.out, { recursive: true });
  writeFileAtomic(path.join(o.out, 'tune.json'), JSON.stringify(result, null, 1) + '\n');
  return result;
}
