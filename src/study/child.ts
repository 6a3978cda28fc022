/**
 * One study run in its own process: build the model, apply the method, train under the study's budget, measure
 * held-out loss and forgetting, forecast the test windows (unmerged, then merged when the method can merge),
 * evaluate against the baselines on the same windows, and write `result.json`.
 *
 * A separate process per run is the point: peak RSS (`process.resourceUsage().maxRSS`) and wall time are then
 * this method's own, not inflated by whatever ran before it in the same heap.
 *
 * Usage (internal): node dist/study/child.js SPEC.json — the spec is written by the runner (runner.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { decodeBars } from '../data/transforms.js';
import type { PriceWindow, WindowConfig } from '../data/windows.js';
import { evaluateForecasts } from '../eval/evaluate.js';
import { combineSamples } from '../eval/samples.js';
import { NumericListConstraint, parseNumberList } from '../generate/constrained.js';
import { generate } from '../generate/generate.js';
import { FORECAST_SCHEMA, writeForecasts, type ForecastRecord } from '../eval/schema.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { CausalLM } from '../models/common.js';
import { GPT2 } from '../models/gpt2.js';
import { loadModel } from '../models/load.js';
import { presetOptions } from '../models/presets.js';
import { noGrad } from '../tensor/autograd.js';
import { getBackend } from '../tensor/backends.js';
import { crossEntropy, tidy } from '../tensor/index.js';
import '../tensor/native_backend.js';
import { exampleBatches, IGNORE_INDEX, padBatch, ShuffledExamples, type Example } from '../train/data.js';
import { Trainer, type StepMetrics } from '../train/trainer.js';
import { VERSION } from '../version.js';
import type { RunSpec, StudyConfig } from './config.js';
import { byteIds, loadStudyData, windowExample, type StudyData } from './data.js';
import { applyStudyMethod } from './methods.js';
import { runMultiTask } from './multitask.js';
import type { RunResult, WindowSpan } from './results.js';

export interface ChildSpec {
  config: StudyConfig;
  run: RunSpec;
  runDir: string;
  /** Sweep runs only need validation loss: no generation. */
  generate: boolean;
  /** Also forecast the validation windows and score them (tune's validation-skill objective); never the test. */
  valForecast?: boolean;
  /** Study-level: cap on test windows for the merged-latency measurement. */
  mergedLatencyWindows?: number;
  /** The source's git commit, looked up once by the runner. */
  commit?: string | null;
  /** 'multitask': the forecasting + sentiment adapters case (multitask.ts) instead of a grid run. */
  mode?: 'run' | 'multitask';
}

/** What each id decodes to alone: bytes for 0–255, nothing above (so the constraint never picks those ids). */
function byteTokenStrings(vocabSize: number): string[] {
  return Array.from({ length: vocabSize }, (_, id) => (id < 256 ? String.fromCharCode(id) : ''));
}

/**
 * Constrained numeric decoding of one window. Like src/eval/forecaster.ts's forecastFromText, but with no
 * leading spaces allowed: the prompt already ends with the separator, exactly as in training, and an untrained
 * model would otherwise emit spaces until it runs out of room.
 */
function forecastText(model: CausalLM, strings: string[], prompt: string, lastKnownScaled: number, o: { horizon: number; precision: number; allowNegative: boolean; maxIntDigits: number; samples: number; doSample: boolean; temperature: number; topP?: number; seed: number }): { predicted: number[]; raw: string; latency_ms: number } {
  const ids = Array.from(byteIds(prompt));
  const K = o.samples;
  const t0 = performance.now();
  const res = generate(model, Array.from({ length: K }, () => ids), {
    maxNewTokens: numberBytes(o) * o.horizon,
    doSample: K > 1 || o.doSample,
    temperature: o.temperature,
    topP: o.topP,
    seed: o.seed,
    constraints: Array.from({ length: K }, () => new NumericListConstraint(strings, { count: o.horizon, precision: o.precision, separator: ' ', allowNegative: o.allowNegative, maxIntDigits: o.maxIntDigits, allowLeadingSpace: false })),
  });
  const latency = performance.now() - t0;
  const texts = res.ids.map((r) => Buffer.from(r.filter((i) => i < 256)).toString('latin1'));
  const parsed = texts.map((t) => parseNumberList(t, ' ').slice(0, o.horizon));
  const predicted = K === 1 ? parsed[0]! : combineSamples(parsed, lastKnownScaled, o.horizon).predicted;
  return { predicted, raw: texts.join('\n'), latency_ms: latency };
}

function buildModel(spec: ChildSpec): CausalLM {
  const m = spec.run.model;
  if (m.path) return loadModel(m.path);
  const g = new GPT2(presetOptions(m.preset!, 256));
  g.initWeights(spec.run.seed);
  return g as unknown as CausalLM;
}

function contextOf(model: CausalLM): number {
  const cfg = (model as unknown as { config?: { nPositions?: number; maxPositions?: number } }).config;
  return cfg?.nPositions ?? cfg?.maxPositions ?? 1024;
}

/** Mean loss per scored token over examples (no graph). */
export function meanLoss(model: CausalLM, examples: Example[], batchSize: number): number {
  let sum = 0;
  let count = 0;
  const was = model.training;
  model.eval();
  try {
    noGrad(() => {
      for (let i = 0; i < examples.length; i += batchSize) {
        const b = padBatch(examples.slice(i, i + batchSize), 0);
        sum += tidy(() => crossEntropy(model.forward(b.inputIds), b.labels, { ignoreIndex: IGNORE_INDEX, reduction: 'sum' }).item());
        for (const e of examples.slice(i, i + batchSize)) for (const l of e.labels) if (l !== IGNORE_INDEX) count++;
      }
    });
  } finally {
    model.train(was);
  }
  return sum / Math.max(count, 1);
}

function dirBytes(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
  }
  return n;
}

/** The newest checkpoint's folder: its weights file is the method's artefact (trainable tensors only for adapters). */
function artefactBytes(runDir: string): number {
  const ck = path.join(runDir, 'train', 'checkpoints');
  if (!fs.existsSync(ck)) return 0;
  const dirs = fs.readdirSync(ck).filter((d) => /^step-\d+$/.test(d)).sort();
  if (dirs.length === 0) return 0;
  const last = path.join(ck, dirs[dirs.length - 1]!);
  const model = fs.readdirSync(last).filter((f) => f.startsWith('model') && f.endsWith('.safetensors'));
  return model.length ? model.reduce((s, f) => s + fs.statSync(path.join(last, f)).size, 0) : dirBytes(last);
}

/** Longest a number can be in bytes under the constraint: sign, integer digits, point, decimals, separator. */
function numberBytes(o: { precision: number; allowNegative: boolean; maxIntDigits: number }): number {
  return (o.allowNegative ? 1 : 0) + o.maxIntDigits + 1 + o.precision + 1;
}

/**
 * Integer digits the forecaster may write: as many as the training answers ever had — plus one for scaled
 * values (a move larger than any seen is possible), none extra for raw prices (EURUSD at 1.1 never needs 11.1).
 */
function maxIntDigitsOf(data: StudyData): number {
  let d = 1;
  for (const t of data.train) for (const x of t.targetText.split(' ')) d = Math.max(d, x.replace(/^-/, '').split('.')[0]!.length);
  return data.cfg.scaling === 'raw' ? d : d + 1;
}

function forecastWindows(model: CausalLM, data: StudyData, spec: ChildSpec, windows: PriceWindow[], tag: string): ForecastRecord[] {
  const { config, run } = spec;
  const cfg: WindowConfig = data.cfg;
  const strings = byteTokenStrings(model.lm_head.weight.shape[0]!);
  const maxIntDigits = maxIntDigitsOf(data);
  const out: ForecastRecord[] = [];
  windows.forEach((w, i) => {
    // The last known value in text units: where "no change" sits, for the samples' direction agreement.
    const lastScaled = cfg.scaling === 'raw' ? w.ref.anchor : cfg.scaling === 'zscore' ? (w.ref.anchor - w.ref.mean) / w.ref.std : 0;
    const f = forecastText(model, strings, w.knownText + cfg.separator, lastScaled, {
      horizon: cfg.horizon,
      precision: cfg.precision ?? 1,
      allowNegative: cfg.scaling !== 'raw',
      maxIntDigits,
      samples: config.generation.samples,
      doSample: config.generation.sample,
      temperature: config.generation.temperature,
      topP: config.generation.topP,
      seed: run.seed * 100_003 + i,
    });
    // Numbers are in the text's units; the window's own reference (known bars only) maps them back to prices.
    const predicted = f.predicted.length ? decodeBars(f.predicted.map((x) => [x]), w.ref.anchor, w.ref, cfg).map((b) => b[0]!) : [];
    const rec: ForecastRecord = {
      schema: FORECAST_SCHEMA,
      run: tag,
      method: run.method.name,
      seed: run.seed,
      instrument: config.data.instrument,
      t0: new Date(data.time[w.predStart - 1]!).toISOString(),
      context: Array.from(data.close.subarray(w.knownStart, w.predStart)),
      predicted: predicted.every(Number.isFinite) ? predicted : [],
      true: w.target.map((b) => b[0]!),
      parse_ok: predicted.length === cfg.horizon && predicted.every(Number.isFinite),
      latency_ms: f.latency_ms,
      raw: f.raw,
    };
    out.push(rec);
  });
  return out;
}

export async function runChild(spec: ChildSpec): Promise<RunResult> {
  const t0 = performance.now();
  const { config, run, runDir } = spec;
  fs.mkdirSync(runDir, { recursive: true });
  const data = await loadStudyData(config);
  const model = buildModel(spec);
  if (spec.mode === 'multitask') {
    const multiTask = await runMultiTask(model, config, data, run.seed, meanLoss, contextOf(model));
    const out = { id: run.id, kind: 'multitask', multiTask, wallSeconds: (performance.now() - t0) / 1000, peakRssMB: process.resourceUsage().maxRSS / 1024, finishedAt: new Date().toISOString() };
    writeFileAtomic(path.join(runDir, 'result.json'), JSON.stringify(out, null, 1) + '\n');
    return out as unknown as RunResult;
  }
  const ctx = contextOf(model);
  const loss = config.training.loss;
  const trainEx = data.train.map((w) => windowExample(w, data.cfg, loss));
  const valEx = data.val.map((w) => windowExample(w, data.cfg, 'answer'));
  const longest = Math.max(...trainEx.map((e) => e.inputIds.length));
  if (longest > ctx) {
    throw new Error(`a window line is ${longest} tokens but model ${run.model.name} has a context of ${ctx}; lower data.known or data.horizon, or data.precision`);
  }
  // The forecaster leaves room for the longest numbers the constraint allows; prompt and answer must fit the context.
  const room = data.cfg.horizon * numberBytes({ precision: data.cfg.precision ?? 1, allowNegative: data.cfg.scaling !== 'raw', maxIntDigits: maxIntDigitsOf(data) });
  const longestPrompt = Math.max(0, ...data.test.map((w) => byteIds(w.knownText + data.cfg.separator).length));
  const longestValPrompt = Math.max(0, ...data.val.map((w) => byteIds(w.knownText + data.cfg.separator).length));
  if ((spec.generate && longestPrompt + room > ctx) || (spec.valForecast && longestValPrompt + room > ctx)) {
    throw new Error(
      `forecasting needs up to ${longestPrompt} prompt + ${room} generated tokens but model ${run.model.name} has a context of ${ctx}; ` +
        `lower data.known or data.horizon, or use a model with a longer context`,
    );
  }
  // Forgetting: the base model's loss on held-out pre-training-style data (another instrument), before and after.
  let forgetEx: Example[] | null = null;
  if (config.data.forgetting) {
    const f = config.data.forgetting;
    const fd = await loadStudyData({ protocol: 'honest', data: { ...config.data, file: f.file, lastBars: f.lastBars, maxTestWindows: 0, maxValWindows: 0, forgetting: undefined } });
    forgetEx = [...fd.train, ...fd.val, ...fd.test].slice(-f.maxWindows).map((w) => windowExample(w, fd.cfg, 'all'));
  }
  const forgetBefore = forgetEx ? meanLoss(model, forgetEx, config.training.batchSize) : null;

  const applied = await applyStudyMethod(model, run.method.method, run.method.params);
  const B = config.training.batchSize;
  const tokensPerEpoch = trainEx.reduce((s, e) => s + e.inputIds.length, 0);
  const steps =
    config.budget.rule === 'epochs'
      ? Math.max(1, Math.ceil((config.budget.epochs * trainEx.length) / B))
      : Math.max(1, Math.ceil(config.budget.tokens / Math.max(1, tokensPerEpoch / trainEx.length) / B));
  const steps_: StepMetrics[] = [];
  const trainDir = path.join(runDir, 'train');
  // An interrupted run restarts from scratch: its timing and memory must describe one uninterrupted run.
  fs.rmSync(trainDir, { recursive: true, force: true });
  const trainer = new Trainer({
    model,
    train: new ShuffledExamples(trainEx, { batchSize: B, seed: run.seed }),
    eval: valEx.length ? exampleBatches(valEx, B) : null,
    config: {
      runDir: trainDir,
      maxSteps: steps,
      lr: run.lr,
      schedule: config.training.schedule,
      warmupSteps: config.training.warmup,
      minLrRatio: 0,
      weightDecay: config.training.weightDecay,
      clipGradNorm: config.training.clip,
      evalEvery: config.training.evalEvery > 0 ? config.training.evalEvery : Math.max(1, Math.ceil(steps / 5)),
      checkpointEvery: 0,
      keepLast: 1,
      saveBest: false,
      progress: 'quiet',
    },
    callbacks: { onStep: (m) => void steps_.push(m) },
    describe: { command: 'study', study: config.name, run: run.id, method: run.method.method, lr: run.lr, seed: run.seed },
  });
  const tTrain = performance.now();
  const tr = await trainer.train();
  const trainSec = (performance.now() - tTrain) / 1000;
  const tokens = steps_.reduce((s, m) => s + m.tokens, 0);
  const valLoss = valEx.length ? trainer.evaluate().loss : null;
  const forgetAfter = forgetEx ? meanLoss(model, forgetEx, B) : null;

  let valSkill: number | null = null;
  let valSharpe: number | null = null;
  if (spec.valForecast && data.val.length) {
    // Validation windows only: a search may look at these as often as it likes, the test part stays untouched.
    const vr = forecastWindows(model, data, spec, data.val, `${config.name}/${run.id}/val`);
    const ve = evaluateForecasts(vr, { training: { [config.data.instrument]: data.trainCloses }, bootstrap: { replicates: 50, seed: run.seed } });
    valSkill = ve.methods.find((m) => m.kind === 'model')?.skill ?? null;
    // The same validation forecasts traded with costs (the study's back-test rule): an objective for `tune`.
    const valFile = path.join(runDir, 'val_forecasts.jsonl');
    await writeForecasts(valFile, vr);
    valSharpe = await validationSharpe(config, valFile);
  }
  let evaluation: RunResult['evaluation'] = null;
  let latencyUnmerged: number | null = null;
  let latencyMerged: number | null = null;
  let mergedNote = 'no adapter to merge: inference runs the model as trained';
  if (spec.generate) {
    const records = forecastWindows(model, data, spec, data.test, `${config.name}/${run.id}`);
    latencyUnmerged = mean(records.map((r) => r.latency_ms));
    if (applied.merge) {
      applied.merge();
      const few = data.test.slice(0, spec.mergedLatencyWindows ?? 5);
      latencyMerged = mean(forecastWindows(model, data, spec, few, 'merged').map((r) => r.latency_ms));
      mergedNote = `merged into the base weights; latency over ${few.length} windows`;
    } else latencyMerged = latencyUnmerged;
    await writeForecasts(path.join(runDir, 'forecasts.jsonl'), records);
    const ev = evaluateForecasts(records, {
      training: { [config.data.instrument]: data.trainCloses },
      bootstrap: { replicates: 300, seed: run.seed },
    });
    evaluation = ev;
  }
  const backend = getBackend();
  const usage = process.resourceUsage();
  const result: RunResult = {
    id: run.id,
    kind: run.kind,
    model: run.model.name,
    method: run.method.name,
    methodKind: run.method.method,
    params: run.method.params,
    lr: run.lr,
    seed: run.seed,
    steps: tr.step,
    epochs: (tr.step * B) / trainEx.length,
    tokens,
    trainSeconds: trainSec,
    wallSeconds: (performance.now() - t0) / 1000,
    tokensPerSec: tokens / Math.max(trainSec, 1e-9),
    peakRssMB: usage.maxRSS / 1024,
    trainable: applied.trainable,
    totalParams: applied.total,
    trainablePct: (100 * applied.trainable) / applied.total,
    artefactBytes: artefactBytes(runDir),
    latencyMsUnmerged: latencyUnmerged,
    latencyMsMerged: latencyMerged,
    mergedNote,
    finalTrainLoss: tr.lastLoss,
    valLoss,
    valSkill,
    valSharpe,
    windowsUsed: { train: spanOf(data.train), val: spanOf(data.val), test: spec.generate ? spanOf(data.test) : null },
    forgetting: forgetBefore === null ? null : { before: forgetBefore, after: forgetAfter!, delta: forgetAfter! - forgetBefore },
    env: {
      cpu: os.cpus()[0]?.model ?? 'unknown',
      backend: backend.name,
      simd: backend.simd,
      threads: backend.threads,
      node: process.version,
      fintune: VERSION,
      commit: spec.commit ?? null,
    },
    evaluation,
    finishedAt: new Date().toISOString(),
  };
  writeFileAtomic(path.join(runDir, 'result.json'), JSON.stringify(result, null, 1) + '\n');
  return result;
}

function spanOf(ws: PriceWindow[]): WindowSpan | null {
  if (ws.length === 0) return null;
  let first = Infinity;
  let last = -Infinity;
  for (const w of ws) {
    first = Math.min(first, w.startTime);
    last = Math.max(last, w.endTime);
  }
  return { n: ws.length, first: new Date(first).toISOString(), last: new Date(last).toISOString() };
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

// Entry point when run as a script (the runner spawns it).
const invoked = process.argv[1] ?? '';
if (/study[\\/]child\.(js|ts)$/.test(invoked)) {
  const specFile = process.argv[2];
  if (!specFile) {
    process.stderr.write('usage: child SPEC.json\n');
    process.exit(2);
  }
  const spec = JSON.parse(fs.readFileSync(specFile, 'utf8')) as ChildSpec;
  runChild(spec).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`study run ${spec.run?.id}: ${err instanceof Error ? (process.env.FINTUNE_DEBUG ? err.stack : err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}

/** Annualized Sharpe ratio of trading a forecasts file on the study's instrument with its back-test rule and costs. */
async function validationSharpe(config: StudyConfig, file: string): Promise<number | null> {
  const [{ loadPrices }, { readForecastFile, alignForecasts }, { runBacktest }] = await Promise.all([
    import('../backtest/prices.js'),
    import('../backtest/forecasts.js'),
    import('../backtest/backtest.js'),
  ]);
  try {
    const series = await loadPrices(config.data.file, { instrument: config.data.instrument });
    const aligned = alignForecasts(file, await readForecastFile(file), series);
    const r = runBacktest(series, aligned.predictions, {
      rule: { threshold: config.backtest.thresholdBps, units: 'bps', horizon: aligned.horizon, sizing: { kind: 'fixed' } },
      costs: { spreadBps: config.backtest.spreadBps },
      randomDraws: 0,
    });
    return Number.isFinite(r.model.metrics.sharpe) ? r.model.metrics.sharpe : null;
  } catch {
    return null; // e.g. no trade in the validation span: the trial has no back-test score
  }
}
