/**
 * Scoring of FinGPT-Forecaster style answers, reproducing the rules of FinGPT-Forecaster's own evaluation so our
 * numbers can be set beside the ones it reports. The rules (facts from its `utils.py`; the code is ours):
 *
 *  1. (ours, for reasoning models) a leading `<think>…</think>` block is removed first.
 *  2. The answer must match, from the start, `[Positive Developments]:` … `[Potential Concerns]:` …
 *     `[Prediction & Analysis]:` (or `[Prediction and Analysis]:`) …; each section runs greedily to the next
 *     heading, so a repeated heading splits at its last occurrence.
 *  3. The last section must be `Prediction:` … `Analysis:` …, again greedy (split at the last "Analysis:").
 *  4. Direction: the lower-cased prediction text containing "up" or "increase" → +1, else "down", "decrease" or
 *     "decline" → −1, else 0. These are substring tests, so e.g. "upside" counts as up and is tested first.
 *  5. Magnitude: the first "d-d%" (single digits) gives the lower bound + 0.5 ("2-3%" → 2.5); otherwise the first
 *     "d%" pattern gives that digit + 0.5 ("more than 5%" → 5.5). The original pattern `(\d)+?%` keeps only the
 *     last digit before "%", so "10%" scores 0.5 — reproduced, because that is what the published numbers used.
 *     The signed magnitude is direction × magnitude (0 when either is missing).
 *  6. Over the pairs where both the model's answer and the reference parse: binary accuracy (the three-way
 *     direction labels must be equal), MSE of the signed magnitudes, and the mean ROUGE-1/2/L F-measures (with
 *     stemming) of positives, concerns and the text after "Analysis:", the reference being the target.
 *
 * The share of answers that failed to parse is reported beside the scores: a model that parses 10 % of the time
 * and scores well on those is not a good model.
 */

import { rougeScores } from './rouge.js';

export interface FinGPTAnswer {
  positives: string;
  concerns: string;
  /** The text between "Prediction:" and "Analysis:". */
  prediction_text: string;
  /** +1 up, −1 down, 0 neither. */
  direction: -1 | 0 | 1;
  /** direction × (magnitude + 0.5 rule), 0 when no magnitude was found. */
  signed_magnitude: number;
  analysis: string;
}

/** Removes one leading `<think>…</think>` block. An unclosed `<think>` leaves no answer at all. */
export function stripThink(text: string): string {
  const opened = /^\s*<think>/.exec(text);
  if (!opened) return text;
  const close = text.indexOf('</think>', opened[0].length);
  if (close < 0) return '';
  return text.slice(close + '</think>'.length);
}

const SECTIONS =
  /^\s*\[Positive Developments\]:\s*(.*)\s*\[Potential Concerns\]:\s*(.*)\s*\[Prediction (?:&|and) Analysis\]:\s*(.*)\s*$/s;
const PREDICTION_ANALYSIS = /^Prediction:\s*(.*)\s*Analysis:\s*(.*)\s*$/s;

export function directionOf(predictionText: string): -1 | 0 | 1 {
  const lower = predictionText.toLowerCase();
  if (/up|increase/.test(lower)) return 1;
  if (/down|decrease|decline/.test(lower)) return -1;
  return 0;
}

/** The magnitude rule (before the sign): "2-3%" → 2.5, "more than 5%" → 5.5, none → null. */
export function magnitudeOf(predictionText: string): number | null {
  const range = /(\d)-(\d)%/.exec(predictionText);
  if (range) return Number(range[1]) + 0.5;
  const single = /(?:more than )?(\d)+?%/.exec(predictionText);
  if (single) return Number(single[1]) + 0.5;
  return null;
}

/** Parses one answer; null when the sections or the Prediction/Analysis split are missing. */
export function parseFinGPTAnswer(text: string): FinGPTAnswer | null {
  const sections = SECTIONS.exec(stripThink(text));
  if (!sections) return null;
  const pa = PREDICTION_ANALYSIS.exec(sections[3]!);
  if (!pa) return null;
  const predictionText = pa[1]!;
  const direction = directionOf(predictionText);
  const magnitude = magnitudeOf(predictionText);
  return {
    positives: sections[1]!,
    concerns: sections[2]!,
    prediction_text: predictionText,
    direction,
    signed_magnitude: magnitude === null ? 0 : direction * magnitude,
    analysis: pa[2]!,
  };
}

/**
 * The parsed fields of one answer in the shape a generation record stores (`GenerationRecord.parsed`), so the
 * review tools and the scorer read the same fields.
 */
export function fingptParsedFields(text: string): { parsed: Record<string, string | number>; parse_ok: boolean } {
  const a = parseFinGPTAnswer(text);
  if (a === null) return { parsed: {}, parse_ok: false };
  return {
    parsed: {
      positives: a.positives.trim(),
      concerns: a.concerns.trim(),
      prediction: a.prediction_text.trim(),
      direction: a.direction,
      signed_magnitude: a.signed_magnitude,
      analysis: a.analysis.trim(),
    },
    parse_ok: true,
  };
}

export interface RougeF {
  rouge1: number;
  rouge2: number;
  rougeL: number;
}

export interface FinGPTScores {
  /** Pairs given. */
  n: number;
  /** Pairs where both sides parsed: the denominator of every score below. */
  scored: number;
  /** Model answers that failed to parse, and their share of all pairs. */
  answer_parse_failures: number;
  answer_parse_failure_share: number;
  /** References that failed to parse (a data problem, reported so it is not mistaken for a model problem). */
  reference_parse_failures: number;
  /** Null when no pair was scored. */
  binary_accuracy: number | null;
  mse: number | null;
  rouge: { positives: RougeF; concerns: RougeF; analysis: RougeF } | null;
}

function meanRouge(pairs: Array<[string, string]>): RougeF {
  let r1 = 0;
  let r2 = 0;
  let rl = 0;
  for (const [ref, cand] of pairs) {
    const s = rougeScores(ref, cand, true);
    r1 += s.rouge1.fmeasure;
    r2 += s.rouge2.fmeasure;
    rl += s.rougeL.fmeasure;
  }
  const n = pairs.length;
  return { rouge1: r1 / n, rouge2: r2 / n, rougeL: rl / n };
}

/** Scores model answers against reference answers, pair by pair in order. */
export function scoreFinGPT(pairs: ReadonlyArray<{ answer: string; reference: string }>): FinGPTScores {
  const both: Array<[FinGPTAnswer, FinGPTAnswer]> = [];
  let answerFailures = 0;
  let referenceFailures = 0;
  for (const { answer, reference } of pairs) {
    const a = parseFinGPTAnswer(answer);
    const r = parseFinGPTAnswer(reference);
    if (a === null) answerFailures++;
    if (r === null) referenceFailures++;
    if (a !== null && r !== null) both.push([a, r]);
  }
  const base = {
    n: pairs.length,
    scored: both.length,
    answer_parse_failures: answerFailures,
    answer_parse_failure_share: pairs.length > 0 ? answerFailures / pairs.length : 0,
    reference_parse_failures: referenceFailures,
  };
  if (both.length === 0) return { ...base, binary_accuracy: null, mse: null, rouge: null };
  let hits = 0;
  let se = 0;
  for (const [a, r] of both) {
    if (a.direction === r.direction) hits++;
    se += (a.signed_magnitude - r.signed_magnitude) ** 2;
  }
  return {
    ...base,
    binary_accuracy: hits / both.length,
    mse: se / both.length,
    rouge: {
      positives: meanRouge(both.map(([a, r]) => [r.positives, a.positives])),
      concerns: meanRouge(both.map(([a, r]) => [r.concerns, a.concerns])),
      analysis: meanRouge(both.map(([a, r]) => [r.analysis, a.analysis])),
    },
  };
}
