/**
 * The demo's price stages: data and splits, pre-training a price GPT from scratch on another instrument, one
 * fine-tuning run per method on the held-out instrument, and constrained forecasts of the same test windows.
 *
 * Everything goes through the project's own pieces (src/data splits and windows, the numeric tokenizer, the
 * Trainer, the PEFT registry (src/peft/registry.ts), src/eval's forecaster) so the demo shows the
 * toolkit as a user would drive it, and a bug anywhere in that path shows up here too.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadOhlcv, type OhlcvSeries } from '../data/loaders/ohlcv.js';
import { assertPretrainBeforeValidation, cutPretrainWindows, splitSeries, type Split } from '../data/splits.js';
import { formatTime } from '../data/time.js';
import type { PriceWindow, WindowConfig } from '../data/windows.js';
import { forecastWindows } from '../eval/price_forecast.js';
import type { ForecastRecord } from '../eval/schema.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadTokenizer, saveNumericTokenizer, type Tokenizer } from '../io/tokenizer.js';
import type { CausalLM } from '../models/common.js';
import { GPT2 } from '../models/gpt2.js';
import { loadModel } from '../models/load.js';
import { saveModel } from '../models/save.js';
import { applyMethod } from '../peft/registry.js';
import { quantizeModel } from '../peft/quant/model.js';
import '../tensor/native_backend.js';
import { exampleBatches, IGNORE_INDEX, ShuffledExamples, type Example } from '../train/data.js';
import { Trainer, type StepMetrics } from '../train/trainer.js';
import type { DemoBudget, MethodPlan } from './config.js';

export type Log = (line: string) => void;

export const HELD_OUT = 'EURUSD_H4';
export const PRETRAIN_INSTRUMENTS = ['AUDUSD_H4'];

export interface PriceData {
  cfg: WindowConfig;
  eurusd: OhlcvSeries;
  split: Split;
  /** Closes of the held-out instrument's training part (MASE scale, AR baseline). */
  trainCloses: number[];
  pretrain: { instrument: string; windows: PriceWindow[]; first: string; last: string }[];
  finetuneTrain: PriceWindow[];
  finetuneVal: PriceWindow[];
  test: PriceWindow[];
  tokenizerDir: string;
  tok: Tokenizer;
  /** Positions the models get: the longest training line or forecast prompt plus generation room, rounded up. */
  context: number;
  /** Integer digits a forecast number may have: the most any fine-tuning answer had, plus one. */
  maxIntDigits: number;
  /** Sampled forecasts per window (their median is scored). */
  samples: number;
}

/** n items spread evenly over xs (all when n <= 0 or n >= length), order kept. */
export function spread<T>(xs: readonly T[], n: number): T[] {
  if (n <= 0 || n >= xs.length) return xs.slice();
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(xs[Math.floor((i * xs.length) / n)]!);
  return out;
}

export async function loadPriceData(dataDir: string, out: string, budget: DemoBudget, log: Log): Promise<PriceData> {
  const forex = path.join(dataDir, 'forex');
  const eurusd = await loadOhlcv(path.join(forex, `${HELD_OUT}.csv`));
  // Chronological 70/15/15 split; validation and test windows do not overlap (stride = horizon).
  const split = splitSeries(eurusd, { window: budget.window });
  const cfg = split.description.config.window;
  const d = split.description;
  for (const p of d.parts) log(`  ${HELD_OUT} ${p.name.padEnd(5)} ${p.first} .. ${p.last}  ${p.bars} bars, ${p.windows} windows (stride ${p.stride})`);
  const pretrain: PriceData['pretrain'] = [];
  for (const name of PRETRAIN_INSTRUMENTS) {
    const s = await loadOhlcv(path.join(forex, `${name}.csv`));
    // cutPretrainWindows only cuts bars before the held-out instrument's first validation bar and checks it; the
    // explicit assertion below states the rule again at the point where the demo relies on it.
    const windows = cutPretrainWindows(s, d, cfg);
    assertPretrainBeforeValidation(d, { name, lastTime: windows[windows.length - 1]!.endTime });
    const first = formatTime(windows[0]!.startTime);
    const last = formatTime(windows[windows.length - 1]!.endTime);
    log(`  pre-training corpus ${name}: ${windows.length} windows, ${first} .. ${last} (ends before ${HELD_OUT} validation starts ${formatTime(d.firstValTime)})`);
    pretrain.push({ instrument: name, windows, first, last });
  }
  const tr = d.parts.find((p) => p.name === 'train')!;
  const tokenizerDir = path.join(out, 'tokenizer');
  // Character-level numeric tokenizer: digits, sign, space. No merges, so every number is spelled out and the
  // constrained decoder can write any value.
  saveNumericTokenizer(tokenizerDir);
  const tok = loadTokenizer(tokenizerDir);
  // The most recent training windows are the closest to the test period; fine-tuning uses those.
  const finetuneTrain = budget.finetune.trainWindows > 0 ? split.windows.train.slice(-budget.finetune.trainWindows) : split.windows.train;
  const finetuneVal = spread(split.windows.val, budget.finetune.valWindows);
  const test = spread(split.windows.test, budget.testWindows);
  const enc = (t: string): number => tok.encode(t, { addSpecialTokens: false }).length;
  let longest = 0;
  for (const w of [...finetuneTrain, ...test, ...pretrain.flatMap((p) => spread(p.windows, 2000))]) longest = Math.max(longest, enc(w.text) + 1);
  // The forecaster allows up to horizon × (precision + 12) new tokens after the prompt.
  const room = cfg.horizon * ((cfg.precision ?? 0) + 12);
  const longestPrompt = Math.max(...test.map((w) => enc(w.knownText + cfg.separator)));
  const context = Math.ceil(Math.max(longest, longestPrompt + room) / 32) * 32 + 32;
  // A weak model under the numeric constraint can keep writing digits until it runs out of room ("10000000"):
  // capping the digits at one more than the training answers ever needed allows new extremes, not absurd ones.
  let digits = 1;
  for (const w of finetuneTrain) for (const x of w.targetText.split(cfg.layout.barSeparator)) digits = Math.max(digits, x.replace(/^-/, '').split('.')[0]!.length);
  return { cfg, eurusd, split, trainCloses: Array.from(eurusd.close.subarray(tr.from, tr.to)), pretrain, finetuneTrain, finetuneVal, test, tokenizerDir, tok, context, maxIntDigits: digits + 1, samples: budget.samples };
}

/** A window line as an example; 'answer' scores only the forecast part (the model is given the context). */
export function windowExample(tok: Tokenizer, w: PriceWindow, cfg: WindowConfig, loss: 'answer' | 'all'): Example {
  const ids = tok.encode(w.text, { addSpecialTokens: false });
  if (tok.eosId !== null) ids.push(tok.eosId);
  const all = Int32Array.from(ids);
  const inputIds = all.slice(0, -1);
  const labels = all.slice(1);
  if (loss === 'answer') {
    const promptLen = tok.encode(w.knownText + cfg.separator, { addSpecialTokens: false }).length;
    for (let t = 0; t + 1 < promptLen; t++) labels[t] = IGNORE_INDEX;
  }
  return { inputIds, labels };
}

/** Step progress every ~10 % of a run, as one line each (so a log file reads well too). */
function stepLogger(label: string, steps: number, log: Log): (m: StepMetrics) => void {
  const every = Math.max(1, Math.round(steps / 10));
  return (m) => {
    if (m.step % every === 0 || m.step === steps) {
      log(`  ${label} step ${m.step}/${steps}  loss ${m.loss.toFixed(3)}${m.valLoss !== undefined ? `  val ${m.valLoss.toFixed(3)}` : ''}  ${Math.round(m.tokensPerSec)} tok/s`);
    }
  };
}

export interface PretrainResult {
  dir: string;
  modelDir: string;
  steps: number;
  finalLoss: number;
  valLoss: number | null;
  trainWindows: number;
  params: number;
}

export async function pretrain(data: PriceData, out: string, budget: DemoBudget, seed: number, log: Log): Promise<PretrainResult> {
  const b = budget.pretrain;
  const dir = path.join(out, 'pretrain');
  fs.rmSync(dir, { recursive: true, force: true });
  const all = data.pretrain.flatMap((p) => p.windows);
  // Held-out pre-training loss on the corpus's last windows; training stops one window length earlier so no
  // training window shares a bar with them.
  const heldOut = all.slice(-b.evalWindows);
  const gap = data.cfg.known + data.cfg.horizon;
  const pool = all.slice(0, Math.max(0, all.length - b.evalWindows - gap));
  const trainWindows = b.maxWindows > 0 ? spread(pool, b.maxWindows) : pool;
  const trainEx = trainWindows.map((w) => windowExample(data.tok, w, data.cfg, 'all'));
  const valEx = heldOut.map((w) => windowExample(data.tok, w, data.cfg, 'all'));
  const opts = { vocabSize: data.tok.vocabSize, nPositions: data.context, ...budget.model };
  const model = new GPT2(opts);
  model.initWeights(seed);
  const params = model.parameters().reduce((s, p) => s + p.size, 0);
  log(`  model: GPT-2 shape ${opts.nLayer} layers × ${opts.nEmbd} wide, ${opts.nHead} heads, context ${opts.nPositions}, vocabulary ${opts.vocabSize}: ${params.toLocaleString('en-US')} parameters, seed ${seed}`);
  const trainer = new Trainer({
    model,
    train: new ShuffledExamples(trainEx, { batchSize: b.batchSize, seed }),
    eval: exampleBatches(valEx, b.batchSize),
    config: {
      runDir: dir,
      maxSteps: b.steps,
      lr: b.lr,
      schedule: 'cosine',
      warmupSteps: Math.max(1, Math.round(b.steps / 20)),
      minLrRatio: 0.1,
      weightDecay: 0.01,
      clipGradNorm: 1,
      evalEvery: Math.max(1, Math.ceil(b.steps / 5)),
      checkpointEvery: 0,
      keepLast: 1,
      saveBest: false,
      progress: 'quiet',
      handleSignals: false,
    },
    callbacks: { onStep: stepLogger('pretrain', b.steps, log) },
    describe: {
      command: 'demo',
      stage: 'pretrain',
      method: 'pretrain',
      model: 'demo-price-gpt',
      instruments: PRETRAIN_INSTRUMENTS,
      corpus: data.pretrain.map((p) => ({ instrument: p.instrument, first: p.first, last: p.last, windows: p.windows.length })),
      trainWindows: trainWindows.length,
      heldOutWindows: heldOut.length,
      seed,
      options: opts as never,
    },
  });
  const r = await trainer.train();
  const valLoss = trainer.evaluate().loss;
  const modelDir = path.join(dir, 'final');
  saveModel(model as unknown as CausalLM, modelDir, { extraConfig: { fintune_tokenizer: 'numeric' } });
  copyTokenizer(data.tokenizerDir, modelDir);
  writeFileAtomic(path.join(dir, 'summary.json'), JSON.stringify({ steps: r.step, stoppedBy: r.stoppedBy, finalHeldOutLoss: valLoss, finalHeldOutPerplexity: Math.exp(valLoss), exported: 'last', exportedStep: r.step }, null, 2) + '\n');
  return { dir, modelDir, steps: r.step, finalLoss: r.lastLoss, valLoss, trainWindows: trainWindows.length, params };
}

function copyTokenizer(from: string, to: string): void {
  for (const f of fs.readdirSync(from)) fs.copyFileSync(path.join(from, f), path.join(to, f));
}

export interface MethodRun {
  name: string;
  method: string;
  dir: string;
  ok: boolean;
  /** Why the method did not run (e.g. not in this build's PEFT registry). */
  error?: string;
  trainable?: number;
  total?: number;
  steps?: number;
  finalLoss?: number;
  valLoss?: number | null;
  trainSeconds?: number;
  forecastSeconds?: number;
  records: ForecastRecord[];
}

export function forecastTest(model: CausalLM, data: PriceData, run: string, method: string, seed: number): ForecastRecord[] {
  // With a seed the evaluation names this forecaster "method@seed" (src/eval/evaluate.ts); the seed is the
  // sampling seed, recorded in every forecast.
  return forecastWindows(model, data.tok, data.eurusd, data.test, data.cfg, { run, method, seed, instrument: HELD_OUT, samples: data.samples, temperature: 1, maxIntDigits: data.maxIntDigits });
}

/** The pre-trained model on the held-out instrument before any fine-tuning: what fine-tuning has to improve on. */
export function forecastPretrained(pre: PretrainResult, data: PriceData, seed: number): ForecastRecord[] {
  const model = loadModel(pre.modelDir);
  model.eval();
  const recs = forecastTest(model, data, 'pretrain', 'pretrained (no fine-tuning)', seed);
  return recs;
}

export interface AppliedDemoMethod {
  trainable: number;
  total: number;
  merge?: () => void;
  /** What was done beyond the registry call (QLoRA's quantization). */
  note?: string;
}

/**
 * A method through the PEFT registry (src/peft/registry.ts). QLoRA is LoRA over a frozen 4-bit base, so it is
 * two steps: the base's linears are quantized to NF4 with double quantization (QLoRA's recipe; the tied LM
 * head stays in float), then LoRA goes on top. The adapters start at zero, so training starts from the
 * quantized base's outputs.
 */
export function applyDemoMethod(model: CausalLM, plan: MethodPlan, seed: number): AppliedDemoMethod {
  let note: string | undefined;
  let method = plan.method;
  if (method === 'qlora') {
    const q = quantizeModel(model, { type: 'nf4', doubleQuant: true });
    note = `${q.replaced.length} linear layers quantized to NF4 (${(q.quantizedBytes / 1024).toFixed(0)} KiB instead of ${(q.fp32Bytes / 1024).toFixed(0)} KiB in float32)`;
    method = 'lora';
  }
  const a = applyMethod(model, method, { ...plan.params, seed });
  // Merging into a 4-bit base would need dequantizing it first; QLoRA's servable form is base + adapter.
  return { trainable: a.counts.trainable, total: a.counts.total, merge: plan.method === 'qlora' ? undefined : a.merge, note };
}

export async function finetuneMethod(plan: MethodPlan, pre: PretrainResult, data: PriceData, out: string, budget: DemoBudget, seed: number, log: Log): Promise<MethodRun> {
  const b = budget.finetune;
  const dir = path.join(out, plan.name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  // Every method starts from the same saved pre-trained weights.
  const model = loadModel(pre.modelDir);
  let applied: AppliedDemoMethod;
  try {
    applied = applyDemoMethod(model, plan, seed);
  } catch (err) {
    const msg = (err as Error).message;
    writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify({ command: 'demo', stage: 'finetune', method: plan.name, model: 'demo-price-gpt', seed, error: msg }, null, 2) + '\n');
    return { name: plan.name, method: plan.method, dir, ok: false, error: msg, records: [] };
  }
  log(`  ${plan.name}: ${applied.trainable.toLocaleString('en-US')} of ${applied.total.toLocaleString('en-US')} parameters train (${((100 * applied.trainable) / applied.total).toFixed(1)} %), lr ${plan.lr}${applied.note ? `; ${applied.note}` : ''}`);
  const trainEx = data.finetuneTrain.map((w) => windowExample(data.tok, w, data.cfg, 'answer'));
  const valEx = data.finetuneVal.map((w) => windowExample(data.tok, w, data.cfg, 'answer'));
  const t0 = performance.now();
  const trainer = new Trainer({
    model,
    train: new ShuffledExamples(trainEx, { batchSize: b.batchSize, seed }),
    eval: exampleBatches(valEx, b.batchSize),
    config: {
      runDir: dir,
      maxSteps: b.steps,
      lr: plan.lr,
      schedule: 'cosine',
      warmupSteps: Math.max(1, Math.round(b.steps / 10)),
      minLrRatio: 0.1,
      weightDecay: plan.method === 'full' ? 0.01 : 0,
      clipGradNorm: 1,
      evalEvery: Math.max(1, Math.ceil(b.steps / 4)),
      checkpointEvery: 0,
      keepLast: 1,
      saveBest: false,
      progress: 'quiet',
      handleSignals: false,
    },
    callbacks: { onStep: stepLogger(plan.name, b.steps, log) },
    describe: {
      command: 'demo',
      stage: 'finetune',
      method: plan.name,
      peft: plan.method,
      params: plan.params as never,
      model: 'demo-price-gpt',
      base: pre.modelDir,
      instrument: HELD_OUT,
      trainWindows: trainEx.length,
      valWindows: valEx.length,
      lr: plan.lr,
      seed,
      ...(applied.note ? { note: applied.note } : {}),
    },
  });
  const r = await trainer.train();
  const valLoss = trainer.evaluate().loss;
  const trainSeconds = (performance.now() - t0) / 1000;
  model.eval();
  const t1 = performance.now();
  const records = forecastTest(model, data, plan.name, plan.name, seed);
  const forecastSeconds = (performance.now() - t1) / 1000;
  // A servable model for the dashboard's prompt box: full fine-tuning as is, adapters merged when they can be.
  let saved: string | null = null;
  try {
    if (plan.method === 'full') saved = path.join(dir, 'final');
    else if (applied.merge) {
      applied.merge();
      saved = path.join(dir, 'final');
    }
    if (saved) {
      saveModel(model, saved, { extraConfig: { fintune_tokenizer: 'numeric' } });
      copyTokenizer(data.tokenizerDir, saved);
    }
  } catch (err) {
    log(`  ${plan.name}: could not export a merged model (${(err as Error).message.split('\n')[0]}); forecasts are kept`);
    saved = null;
  }
  writeFileAtomic(
    path.join(dir, 'summary.json'),
    JSON.stringify({ steps: r.step, stoppedBy: r.stoppedBy, finalHeldOutLoss: valLoss, finalHeldOutPerplexity: Math.exp(valLoss), trainable: applied.trainable, total: applied.total, exported: saved ? 'last' : null, exportedStep: saved ? r.step : null }, null, 2) + '\n',
  );
  return { name: plan.name, method: plan.method, dir, ok: true, trainable: applied.trainable, total: applied.total, steps: r.step, finalLoss: r.lastLoss, valLoss, trainSeconds, forecastSeconds, records };
}
