/**
 * Decoding for evaluation: a language model as a forecaster of H numbers.
 *
 * Default: greedy decoding with constrained numeric decoding, so the output is always a list of exactly H
 * numbers at the training text's precision. With sampling: K sampled forecasts per window, scored by their
 * element-wise median, their spread kept, and the share of samples agreeing with the median's direction (last
 * step against the last known value) reported as the forecast's confidence.
 * Numbers are in the model's text units; the caller maps them back to prices with the data transform's inverse.
 */
import { generate } from '../generate/generate.js';
import { NumericListConstraint, parseNumberList } from '../generate/constrained.js';
import type { CausalLM } from '../models/common.js';

/** What the forecaster needs of a tokenizer. */
export interface ForecastTokenizer {
  readonly vocabSize: number;
  readonly eosIds: readonly number[];
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
}

export interface ForecastOptions {
  horizon: number;
  /** Digits after the point in the training text. */
  precision: number;
  separator?: string;
  allowNegative?: boolean;
  /** 1 = greedy (default); K > 1 = sample K forecasts. */
  samples?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  /** Turn off the numeric constraint (to measure how often a free model fails to parse). */
  unconstrained?: boolean;
  /** Most integer digits a number may have (default the constraint's, 8): caps runaway numbers of weak models. */
  maxIntDigits?: number;
}

export interface TextForecast {
  /** H numbers (median over samples when sampling); fewer than H means a parse failure. */
  predicted: number[];
  parse_ok: boolean;
  /** Each sample's parsed numbers (K > 1 only). */
  samples?: number[][];
  /** Share of samples whose last-step direction (vs the last known value) agrees with the median's; null for greedy. */
  agreement: number | null;
  /** Element-wise spread (max − min) over samples. */
  spread?: number[];
  raw: string;
  latency_ms: number;
}

/** Token strings of a vocabulary (each id decoded alone), cached per tokenizer. */
const tokenStringCache = new WeakMap<object, string[]>();
export function tokenStrings(tok: ForecastTokenizer): string[] {
  let s = tokenStringCache.get(tok);
  if (!s) {
    s = Array.from({ length: tok.vocabSize }, (_, id) => tok.decode([id], { skipSpecialTokens: true }));
    tokenStringCache.set(tok, s);
  }
  return s;
}

/** Forecast the H numbers that follow `contextText` (the known part in training format, ending with a separator). */
export function forecastFromText(model: CausalLM, tok: ForecastTokenizer, contextText: string, lastKnown: number, o: ForecastOptions): TextForecast {
  const K = o.samples ?? 1;
  const sep = o.separator ?? ' ';
  const prompt = tok.encode(contextText, { addSpecialTokens: false });
  if (prompt.length === 0) throw new Error('forecast: the context encodes to no tokens');
  const strings = o.unconstrained ? null : tokenStrings(tok);
  // Generous room: every character of H numbers as its own token, plus separators.
  const maxNew = o.horizon * (o.precision + 12);
  const t0 = performance.now();
  const prompts = Array.from({ length: K }, () => prompt);
  const res = generate(model, prompts, {
    maxNewTokens: maxNew,
    doSample: K > 1,
    temperature: o.temperature ?? 1,
    topP: o.topP,
    seed: o.seed ?? 0,
    eosTokenId: [...tok.eosIds],
    constraints: strings
      ? prompts.map(() => new NumericListConstraint(strings, { count: o.horizon, precision: o.precision, separator: sep, allowNegative: o.allowNegative ?? true, maxIntDigits: o.maxIntDigits, endTokenIds: [...tok.eosIds] }))
      : undefined,
  });
  const latency = performance.now() - t0;
  const texts = res.ids.map((ids) => tok.decode(ids, { skipSpecialTokens: true }));
  const parsed = texts.map((t) => parseNumberList(t, sep).slice(0, o.horizon));
  if (K === 1) {
    return { predicted: parsed[0]!, parse_ok: parsed[0]!.length === o.horizon, agreement: null, raw: texts[0]!, latency_ms: latency };
  }
  const full = parsed.filter((p) => p.length === o.horizon);
  if (full.length === 0) return { predicted: [], parse_ok: false, samples: parsed, agreement: null, raw: texts.join('\n'), latency_ms: latency };
  const median: number[] = [];
  const spread: number[] = [];
  for (let h = 0; h < o.horizon; h++) {
    const col = full.map((p) => p[h]!).sort((a, b) => a - b);
    const m = col.length % 2 ? col[(col.length - 1) / 2]! : (col[col.length / 2 - 1]! + col[col.length / 2]!) / 2;
    median.push(m);
    spread.push(col[col.length - 1]! - col[0]!);
  }
  const dir = Math.sign(median[o.horizon - 1]! - lastKnown);
  const agree = full.filter((p) => Math.sign(p[o.horizon - 1]! - lastKnown) === dir).length / full.length;
  return { predicted: median, parse_ok: true, samples: parsed, agreement: agree, spread, raw: texts.join('\n'), latency_ms: latency };
}

/** Digits after the point needed to show every value exactly as given (at most 8). */
export function inferPrecision(values: number[]): number {
  let p = 0;
  for (const v of values) {
    const s = String(v);
    const i = s.indexOf('.');
    if (i >= 0 && !s.includes('e')) p = Math.max(p, s.length - i - 1);
  }
  return Math.min(p, 8);
}
