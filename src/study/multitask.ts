/**
 * The multi-task case: a forecasting adapter and a sentiment adapter trained separately on one frozen base, then
 * swapped in and out. Measured for the base alone and with each adapter: validation loss on the forecasting
 * windows and sentiment accuracy on labelled finance tweets (label picked as the most likely of the three label
 * words, so nothing depends on free generation), next to the majority-class baseline; and the bytes of the base
 * plus two adapters against two full copies. It shows whether the adapters are separable (each task needs its
 * own) and what serving both costs.
 */
import { loadLabelledTweets, SENTIMENT_NAMES, type LabelledText } from '../data/loaders/text.js';
import type { CausalLM } from '../models/common.js';
import { noGrad } from '../tensor/autograd.js';
import { crossEntropy, tidy } from '../tensor/index.js';
import { createRng } from '../tensor/rng.js';
import { fromArray } from '../tensor/tensor.js';
import { IGNORE_INDEX, ShuffledExamples, type Example } from '../train/data.js';
import { Trainer } from '../train/trainer.js';
import type { StudyConfig } from './config.js';
import { byteIds, windowExample, type StudyData } from './data.js';
import { applyStudyMethod } from './methods.js';

export interface MultiTaskResult {
  method: string;
  steps: number;
  rows: Array<{ adapter: 'none (base)' | 'forecasting' | 'sentiment'; forecastValLoss: number; sentimentAccuracy: number }>;
  sentimentMajority: number;
  sentimentEvalExamples: number;
  baseMB: number;
  adapterMB: { forecasting: number; sentiment: number };
  /** Base + both adapters vs two fully fine-tuned copies. */
  sharedMB: number;
  twoCopiesMB: number;
}

/** Tweet text cut to fit the model's context with the longest label (bytes: the ids are UTF-8 bytes). */
let maxTextBytes = 160;
const SUFFIX = '\nsentiment:';
function prompt(t: string): string {
  let b = Buffer.from(t.replace(/\s+/g, ' ').trim(), 'utf8');
  if (b.length > maxTextBytes) b = b.subarray(0, maxTextBytes);
  // A cut inside a multi-byte character decodes to U+FFFD, which would re-encode longer: drop it.
  return b.toString('utf8').replace(/\uFFFD+$/, '') + SUFFIX;
}

function sentimentExample(r: LabelledText): Example {
  const p = byteIds(prompt(r.text));
  const all = byteIds(prompt(r.text) + ' ' + SENTIMENT_NAMES[r.label]);
  const labels = all.slice(1);
  for (let t = 0; t + 1 < p.length; t++) labels[t] = IGNORE_INDEX;
  return { inputIds: all.slice(0, -1), labels };
}

/** The label whose word the model finds most likely after the prompt (lowest summed loss over its bytes). */
function classify(model: CausalLM, r: LabelledText): number {
  let best = 0;
  let bestLoss = Infinity;
  SENTIMENT_NAMES.forEach((_, k) => {
    const e = sentimentExample({ ...r, label: k as 0 | 1 | 2 });
    const loss = tidy(() =>
      crossEntropy(model.forward(fromArray(e.inputIds, [1, e.inputIds.length])), fromArray(e.labels, [1, e.labels.length]), { ignoreIndex: IGNORE_INDEX, reduction: 'sum' }).item(),
    );
    if (loss < bestLoss) {
      bestLoss = loss;
      best = k;
    }
  });
  return best;
}

function snapshot(model: CausalLM): Float32Array[] {
  return model.parameters().filter((p) => p.requiresGrad).map((p) => Float32Array.from(p.toFloat32Array()));
}

function restore(model: CausalLM, s: Float32Array[]): void {
  const ps = model.parameters().filter((p) => p.requiresGrad);
  ps.forEach((p, i) => (p.buf as Float32Array).set(s[i]!, p.offset));
}

export async function runMultiTask(
  model: CausalLM,
  config: StudyConfig,
  data: StudyData,
  seed: number,
  meanLoss: (m: CausalLM, ex: Example[], b: number) => number,
  contextTokens: number,
): Promise<MultiTaskResult> {
  const mt = config.multiTask!;
  const longestLabel = Math.max(...SENTIMENT_NAMES.map((n) => n.length));
  maxTextBytes = Math.min(160, contextTokens - SUFFIX.length - 1 - longestLabel);
  if (maxTextBytes < 16) throw new Error(`multiTask: a context of ${contextTokens} positions leaves no room for a tweet`);
  const applied = await applyStudyMethod(model, mt.method, {});
  const B = config.training.batchSize;
  const fTrain = data.train.map((w) => windowExample(w, data.cfg, config.training.loss));
  const fVal = data.val.map((w) => windowExample(w, data.cfg, 'answer'));
  // The files are grouped by label, so a head slice would hold one class only: sample with a fixed seed.
  const sample = (rows: LabelledText[], n: number, stream: string): LabelledText[] =>
    Array.from(createRng(seed, stream).permutation(rows.length).slice(0, n), (i) => rows[i]!);
  const sTrainRows = sample((await loadLabelledTweets(mt.train, 'skip')).rows, mt.maxTrain, 'study.multitask.train');
  const sEvalRows = sample((await loadLabelledTweets(mt.eval, 'skip')).rows, mt.maxEval, 'study.multitask.eval');
  const sTrain = sTrainRows.map(sentimentExample);
  // Same number of updates for both adapters: neither task gets more training than the other.
  const steps = Math.max(1, Math.ceil(((config.budget.rule === 'epochs' ? config.budget.epochs : 1) * fTrain.length) / B));
  const base = snapshot(model);
  const train = async (ex: Example[]): Promise<Float32Array[]> => {
    restore(model, base);
    const lr = mt.lr;
    const t = new Trainer({ model, train: new ShuffledExamples(ex, { batchSize: B, seed }), config: { runDir: null, maxSteps: steps, lr, schedule: config.training.schedule, progress: 'quiet' } });
    await t.train();
    return snapshot(model);
  };
  const forecasting = await train(fTrain);
  const sentiment = await train(sTrain);
  const measure = (s: Float32Array[]): { forecastValLoss: number; sentimentAccuracy: number } => {
    restore(model, s);
    const was = model.training;
    model.eval();
    let correct = 0;
    noGrad(() => {
      for (const r of sEvalRows) if (classify(model, r) === r.label) correct++;
    });
    model.train(was);
    return { forecastValLoss: meanLoss(model, fVal, B), sentimentAccuracy: correct / Math.max(1, sEvalRows.length) };
  };
  const rows: MultiTaskResult['rows'] = [
    { adapter: 'none (base)', ...measure(base) },
    { adapter: 'forecasting', ...measure(forecasting) },
    { adapter: 'sentiment', ...measure(sentiment) },
  ];
  const counts = [0, 0, 0];
  for (const r of sEvalRows) counts[r.label]!++;
  const mb = (n: number): number => (4 * n) / 1e6;
  return {
    method: mt.method,
    steps,
    rows,
    sentimentMajority: Math.max(...counts) / Math.max(1, sEvalRows.length),
    sentimentEvalExamples: sEvalRows.length,
    baseMB: mb(applied.total),
    adapterMB: { forecasting: mb(applied.trainable), sentiment: mb(applied.trainable) },
    sharedMB: mb(applied.total + applied.trainable),
    twoCopiesMB: mb(2 * applied.total),
  };
}
