/**
 * The demo's FinGPT-Forecaster stage: StockNet weeks turned into FinGPT-style prompt/answer pairs
 * (src/data/prompts.ts), a tiny byte-level GPT trained from scratch on them and then LoRA-tuned, its answers on
 * StockNet's dev weeks scored by FinGPT-Forecaster's rules (src/eval/fingpt.ts) and written as
 * `generations.jsonl` so the dashboard's review page can show them.
 *
 * No pretrained language model exists offline, so the model here knows no English beyond these few hundred
 * examples: the point is the pipeline (data → LoRA → generations → scores → human review), not the scores.
 *
 * The full Forecaster prompts run to thousands of characters; a byte-level model with a 512-position context
 * cannot read them. Each example is therefore compacted: the prompt keeps the ticker, the target week, the last
 * week's move and two headlines; the reference answer keeps the three sections with their first item, the
 * prediction and the analysis's first sentence. The scores compare the model with those compact references.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadStockNetPrices, loadStockNetTweets, loadStockTable } from '../data/loaders/stocknet.js';
import { forecasterExamples, type ForecasterExample } from '../data/prompts.js';
import { fingptParsedFields, parseFinGPTAnswer, scoreFinGPT, type FinGPTScores } from '../eval/fingpt.js';
import { GENERATION_SCHEMA, writeGenerations, type GenerationRecord } from '../eval/schema.js';
import { generate } from '../generate/generate.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { CausalLM } from '../models/common.js';
import { GPT2 } from '../models/gpt2.js';
import { applyMethod } from '../peft/registry.js';
import { exampleBatches, IGNORE_INDEX, ShuffledExamples, type Example } from '../train/data.js';
import { Trainer } from '../train/trainer.js';
import type { DemoBudget } from './config.js';
import { spread, type Log } from './prices.js';

/** Byte ids 0–255 plus one end-of-text id: the vocabulary of the tiny text model. */
const EOS = 256;
const VOCAB = 257;
const PROMPT_CHARS = 170;

export interface CompactPair {
  id: string;
  ticker: string;
  week: string;
  prompt: string;
  reference: string;
}

const clip = (s: string, n: number): string => {
  // StockNet's AT_USER / URL placeholders carry nothing a tiny model could use and eat the context.
  const t = s.replace(/\b(AT_USER|URL)\b/g, ' ').replace(/[ \t]+/g, ' ').trim();
  return t.length <= n ? t : t.slice(0, n - 1).trimEnd() + '…';
};

/** The compact prompt and reference for one Forecaster example (see the module comment). */
export function compactPair(e: ForecasterExample): CompactPair | null {
  const a = parseFinGPTAnswer(e.answer);
  if (!a) return null;
  const moves = e.user.split('\n').filter((l) => l.startsWith('From '));
  const lastMove = moves.length ? moves[moves.length - 1]!.replace(/ Posts during this period.*$/, '') : '';
  const heads = e.user
    .split('\n')
    .filter((l) => l.startsWith('[Headline]: '))
    .slice(-2)
    .map((l) => clip(l.slice('[Headline]: '.length), 45));
  let prompt = `${e.ticker} week ${e.start} to ${e.end}.\n${clip(lastMove, 110)}\nPosts: ${heads.join(' | ') || 'none'}`;
  prompt = clip(prompt, PROMPT_CHARS) + '\nForecast:\n';
  const first = (s: string): string => clip(s.split('\n').find((l) => l.trim() !== '') ?? s, 55);
  const sentence = clip(a.analysis.split(/(?<=\.)\s/)[0] ?? a.analysis, 90);
  const reference = `[Positive Developments]:\n${first(a.positives)}\n[Potential Concerns]:\n${first(a.concerns)}\n[Prediction & Analysis]:\nPrediction: ${a.prediction_text.trim()}\nAnalysis: ${sentence}`;
  return { id: `${e.ticker}-${e.start}`, ticker: e.ticker, week: `${e.start}..${e.end}`, prompt, reference };
}

const bytes = (s: string): number[] => Array.from(Buffer.from(s, 'utf8'));

function example(p: CompactPair, loss: 'answer' | 'all'): Example {
  const prompt = bytes(p.prompt);
  const all = Int32Array.from([...prompt, ...bytes(p.reference), EOS]);
  const labels = all.slice(1);
  if (loss === 'answer') for (let t = 0; t + 1 < prompt.length; t++) labels[t] = IGNORE_INDEX;
  return { inputIds: all.slice(0, -1), labels };
}

export async function loadFingptPairs(dataDir: string, budget: DemoBudget, seed: number): Promise<{ train: CompactPair[]; dev: CompactPair[] }> {
  const dir = path.join(dataDir, 'stocknet');
  const table = await loadStockTable(path.join(dir, 'StockTable'), 'skip');
  const train: CompactPair[] = [];
  const dev: CompactPair[] = [];
  for (const ticker of budget.fingpt.tickers) {
    const prices = await loadStockNetPrices(path.join(dir, 'price', `${ticker}.csv`), 'skip');
    const tweets = (await loadStockNetTweets(path.join(dir, 'tweets', `${ticker}.jsonl.gz`), 'skip')).tweets;
    const info = table.find((r) => r.symbol === ticker);
    // StockNet's own split: train before 2015-08-01, dev 2015-08-01 .. 2015-10-01 (the test quarter is not shipped).
    const opts = { pastWeeks: 2, tweetsPerWeek: 3, seed, template: 'plain' as const };
    for (const e of forecasterExamples(ticker, prices, tweets, info, { ...opts, from: '2014-01-01', to: '2015-08-01' }).examples) {
      const p = compactPair(e);
      if (p) train.push(p);
    }
    for (const e of forecasterExamples(ticker, prices, tweets, info, { ...opts, from: '2015-08-01', to: '2015-10-01' }).examples) {
      const p = compactPair(e);
      if (p) dev.push(p);
    }
  }
  // A pair must fit the context with room to answer: prompt + reference + end-of-text.
  const fits = (p: CompactPair): boolean => bytes(p.prompt).length + bytes(p.reference).length + 1 < budget.fingpt.model.nPositions;
  return { train: spread(train.filter(fits), budget.fingpt.trainExamples), dev: spread(dev.filter(fits), budget.fingpt.evalExamples) };
}

export interface FingptResult {
  dir: string;
  method: string;
  note: string;
  trainPairs: number;
  devPairs: number;
  scores: FinGPTScores;
  generations: string;
}

export async function runFingpt(dataDir: string, out: string, budget: DemoBudget, seed: number, log: Log): Promise<FingptResult> {
  const f = budget.fingpt;
  const dir = path.join(out, 'fingpt-lora');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const { train, dev } = await loadFingptPairs(dataDir, budget, seed);
  if (train.length === 0 || dev.length === 0) throw new Error(`FinGPT stage: no StockNet examples for ${f.tickers.join(', ')} (train ${train.length}, dev ${dev.length})`);
  log(`  StockNet ${f.tickers.join(', ')}: ${train.length} training weeks (before 2015-08-01), ${dev.length} dev weeks (2015-08/09)`);
  const model = new GPT2({ vocabSize: VOCAB, ...f.model });
  model.initWeights(seed + 1);
  const lm = model as unknown as CausalLM;
  // Step 1, from scratch: plain language modelling of the training prompts and answers (every weight trains), so
  // the model has some notion of the answer format before LoRA adapts it.
  const base = new Trainer({
    model,
    train: new ShuffledExamples(train.map((p) => example(p, 'all')), { batchSize: f.batchSize, seed }),
    config: { runDir: null, maxSteps: f.pretrainSteps, lr: 3e-3, schedule: 'cosine', warmupSteps: Math.max(1, Math.round(f.pretrainSteps / 10)), minLrRatio: 0.1, clipGradNorm: 1, progress: 'quiet', handleSignals: false },
    callbacks: { onStep: (m) => void (m.step % Math.max(1, Math.round(f.pretrainSteps / 4)) === 0 && log(`  text model from scratch step ${m.step}/${f.pretrainSteps}  loss ${m.loss.toFixed(3)}`)) },
  });
  await base.train();
  // Step 2: LoRA on prompt → answer (only the answer is scored), the FinGPT-Forecaster recipe in miniature.
  let method = 'lora';
  let note = 'tiny byte-level GPT trained from scratch on these examples, then LoRA (r 8) on prompt → answer; the point is the pipeline, not the scores';
  try {
    const applied = applyMethod(lm, 'lora', { r: 8, loraAlpha: 16, targetModules: ['c_attn', 'c_proj', 'c_fc'], seed });
    log(`  LoRA: ${applied.counts.trainable.toLocaleString('en-US')} of ${applied.counts.total.toLocaleString('en-US')} parameters train`);
  } catch (err) {
    // Without the PEFT registry the stage still produces generations for the review page, from the base model,
    // and says so everywhere the results appear.
    method = 'base (LoRA unavailable)';
    note = `LoRA could not be applied (${(err as Error).message.split('\n')[0]}); generations come from the from-scratch base model`;
    log(`  ${note}`);
  }
  if (method === 'lora') {
    const tuner = new Trainer({
      model,
      train: new ShuffledExamples(train.map((p) => example(p, 'answer')), { batchSize: f.batchSize, seed }),
      eval: exampleBatches(dev.map((p) => example(p, 'answer')), f.batchSize),
      config: { runDir: dir, maxSteps: f.loraSteps, lr: 2e-3, schedule: 'cosine', warmupSteps: 1, minLrRatio: 0.1, clipGradNorm: 1, evalEvery: Math.max(1, Math.ceil(f.loraSteps / 3)), checkpointEvery: 0, keepLast: 1, saveBest: false, progress: 'quiet', handleSignals: false },
      callbacks: { onStep: (m) => void (m.step % Math.max(1, Math.round(f.loraSteps / 4)) === 0 && log(`  LoRA step ${m.step}/${f.loraSteps}  loss ${m.loss.toFixed(3)}`)) },
      describe: { command: 'demo', stage: 'fingpt', method: 'lora', model: 'demo-text-gpt (from scratch)', tickers: f.tickers, trainPairs: train.length, devPairs: dev.length, seed, note },
    });
    await tuner.train();
  } else {
    writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify({ command: 'demo', stage: 'fingpt', method, model: 'demo-text-gpt (from scratch)', seed, note }, null, 2) + '\n');
  }
  model.eval();
  const records: GenerationRecord[] = [];
  const pairs: Array<{ answer: string; reference: string }> = [];
  for (const p of dev) {
    const t0 = performance.now();
    const prompt = bytes(p.prompt);
    // The last generated token is fed back once more, so it needs a position too.
    const room = f.model.nPositions - prompt.length - 1;
    const res = generate(lm, [prompt], { maxNewTokens: Math.max(1, Math.min(f.maxNewTokens, room)), eosTokenId: EOS, seed });
    const out = Buffer.from(res.ids[0]!.filter((i) => i < 256)).toString('utf8');
    const { parsed, parse_ok } = fingptParsedFields(out);
    records.push({ schema: GENERATION_SCHEMA, id: `demo-${p.id}`, run: 'fingpt-lora', model: `demo-text-gpt + ${method}`, prompt: p.prompt, output: out, reference: p.reference, parsed, parse_ok, latency_ms: performance.now() - t0 });
    pairs.push({ answer: out, reference: p.reference });
  }
  const generations = path.join(dir, 'generations.jsonl');
  writeGenerations(generations, records);
  const scores = scoreFinGPT(pairs);
  writeFileAtomic(path.join(dir, 'fingpt.json'), JSON.stringify({ method, note, tickers: f.tickers, trainPairs: train.length, devPairs: dev.length, seed, scores }, null, 2) + '\n');
  writeFileAtomic(path.join(dir, 'summary.json'), JSON.stringify({ stage: 'fingpt', method, generations: records.length }, null, 2) + '\n');
  return { dir, method, note, trainPairs: train.length, devPairs: dev.length, scores, generations };
}
