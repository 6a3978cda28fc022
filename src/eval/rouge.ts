/**
 * ROUGE-N and ROUGE-L F-measures computed the way Google's `rouge_score` package computes them (which in turn
 * reproduces ROUGE-1.5.5), so scores are comparable with papers that used it, FinGPT-Forecaster included.
 *
 * Tokenizer: lower-case; every run of characters outside [a-z0-9] becomes one space; split on whitespace; with
 * stemming, tokens longer than 3 characters go through the Porter stemmer (NLTK's variant, `porter.ts`); empty
 * tokens are dropped. Non-ASCII letters are therefore separators, exactly as in `rouge_score`.
 *
 * ROUGE-N: clipped n-gram overlap; precision = overlap / max(#candidate n-grams, 1), recall = overlap /
 * max(#reference n-grams, 1). ROUGE-L: longest common subsequence of the token lists; 0 if either is empty.
 * F = 2PR / (P + R), 0 when P + R = 0.
 */

import { porterStem } from './porter.js';

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

export function rougeTokenize(text: string, stem: boolean): string[] {
  const spaced = text.toLowerCase().replace(/[^a-z0-9]+/g, ' ');
  const out: string[] = [];
  for (const raw of spaced.split(/\s+/)) {
    if (raw.length === 0) continue;
    out.push(stem && raw.length > 3 ? porterStem(raw) : raw);
  }
  return out;
}

function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    // Tokens are [a-z0-9]+, so a space cannot occur inside one and joining with it is unambiguous.
    const key = tokens.slice(i, i + n).join(' ');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

export function rougeN(reference: readonly string[], candidate: readonly string[], n: number): RougeScore {
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`ROUGE-N: n must be a positive integer, got ${n}`);
  const ref = ngramCounts(reference, n);
  const cand = ngramCounts(candidate, n);
  let overlap = 0;
  for (const [gram, count] of ref) overlap += Math.min(count, cand.get(gram) ?? 0);
  let refTotal = 0;
  for (const c of ref.values()) refTotal += c;
  let candTotal = 0;
  for (const c of cand.values()) candTotal += c;
  const precision = overlap / Math.max(candTotal, 1);
  const recall = overlap / Math.max(refTotal, 1);
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** Length of the longest common subsequence, with one rolling row (O(min) memory). */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  const row = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    let diag = 0; // row[j − 1] from the previous i
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = a[i - 1] === b[j - 1] ? diag + 1 : Math.max(up, row[j - 1]!);
      diag = up;
    }
  }
  return row[b.length]!;
}

export function rougeL(reference: readonly string[], candidate: readonly string[]): RougeScore {
  if (reference.length === 0 || candidate.length === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  const lcs = lcsLength(reference, candidate);
  const precision = lcs / candidate.length;
  const recall = lcs / reference.length;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

export interface RougeTriple {
  rouge1: RougeScore;
  rouge2: RougeScore;
  rougeL: RougeScore;
}

/** ROUGE-1, ROUGE-2 and ROUGE-L of `candidate` against `reference` (the argument order of `rouge_score`'s
 * `score(target, prediction)`). */
export function rougeScores(reference: string, candidate: string, stem = true): RougeTriple {
  const ref = rougeTokenize(reference, stem);
  const cand = rougeTokenize(candidate, stem);
  return { rouge1: rougeN(ref, cand, 1), rouge2: rougeN(ref, cand, 2), rougeL: rougeL(ref, cand) };
}
