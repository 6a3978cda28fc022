/**
 * A small trained sentiment scorer for the Forecaster answers: multinomial naive Bayes over words, fitted on the
 * labelled finance tweets (0 bearish, 1 bullish, 2 neutral). It stands between the word-list `lexiconScorer` and
 * the fine-tuned classifier the issue asks for (that one needs the trainer); it is deterministic and trains in
 * well under a second on the shipped 9,543 tweets.
 *
 * Text is lower-cased, URLs and the StockNet placeholders (`URL`, `AT_USER`, `rt`) are removed, `$ aapl` and
 * `$AAPL` both become `$aapl`, and numbers become `<num>`, so the labelled news tweets and StockNet's tokenized
 * tweets share one vocabulary.
 */
import type { LabelledText, SentimentLabel } from './loaders/text.js';
import type { SentimentScorer } from './prompts.js';

export function sentimentTokens(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/https?:\/\/\S+/g, ' ')
    .replace(/\b(url|at_user|rt)\b/g, ' ')
    .replace(/\$\s+(?=[a-z])/g, '$')
    .split(/[^a-z0-9$%']+/)
    .filter((w) => w.length > 0)
    .map((w) => (/^[0-9][0-9%]*$/.test(w) ? '<num>' : w));
}

export interface NaiveBayesModel {
  /** Word counts per class [bearish, bullish, neutral]. */
  counts: Map<string, [number, number, number]>;
  /** Documents per class. */
  docs: [number, number, number];
  /** Word tokens per class. */
  tokens: [number, number, number];
  /** Additive (Laplace) smoothing. */
  alpha: number;
}

export function trainNaiveBayes(rows: Iterable<Pick<LabelledText, 'text' | 'label'>>, alpha = 1): NaiveBayesModel {
  if (!(alpha > 0)) throw new Error(`alpha must be positive, got ${alpha}`);
  const counts = new Map<string, [number, number, number]>();
  const docs: [number, number, number] = [0, 0, 0];
  const tokens: [number, number, number] = [0, 0, 0];
  for (const r of rows) {
    docs[r.label]++;
    for (const w of sentimentTokens(r.text)) {
      let c = counts.get(w);
      if (!c) counts.set(w, (c = [0, 0, 0]));
      c[r.label]++;
      tokens[r.label]++;
    }
  }
  if (docs.some((d) => d === 0)) throw new Error(`trainNaiveBayes: every label needs examples, got ${docs.join('/')} (bearish/bullish/neutral)`);
  return { counts, docs, tokens, alpha };
}

/** Class probabilities [bearish, bullish, neutral]; words never seen in training are ignored. */
export function naiveBayesProbabilities(model: NaiveBayesModel, text: string): [number, number, number] {
  const total = model.docs[0] + model.docs[1] + model.docs[2];
  const v = model.counts.size;
  const logp = [0, 1, 2].map((k) => Math.log(model.docs[k]! / total));
  for (const w of sentimentTokens(text)) {
    const c = model.counts.get(w);
    if (!c) continue;
    for (let k = 0; k < 3; k++) logp[k]! += Math.log((c[k]! + model.alpha) / (model.tokens[k]! + model.alpha * v));
  }
  const m = Math.max(...logp);
  const e = logp.map((x) => Math.exp(x - m));
  const z = e[0]! + e[1]! + e[2]!;
  return [e[0]! / z, e[1]! / z, e[2]! / z];
}

export function naiveBayesPredict(model: NaiveBayesModel, text: string): SentimentLabel {
  const p = naiveBayesProbabilities(model, text);
  return (p[1] > p[0] ? (p[1] >= p[2] ? 1 : 2) : p[0] >= p[2] ? 0 : 2) as SentimentLabel;
}

/**
 * As a Forecaster scorer: P(bullish) − P(bearish) when the most likely class is bullish or bearish, 0 when it is
 * neutral, so neutral posts never become "developments" or "concerns".
 */
export function naiveBayesScorer(model: NaiveBayesModel): SentimentScorer {
  return {
    name: 'naive-bayes-v1',
    score(text: string): number {
      const p = naiveBayesProbabilities(model, text);
      return naiveBayesPredict(model, text) === 2 ? 0 : p[1] - p[0];
    },
  };
}
