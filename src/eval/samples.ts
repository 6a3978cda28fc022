/**
 * Combining K sampled forecasts of one window (decoding with sampling): the per-step median is the forecast that
 * gets scored, the 10–90 % band is its spread, and the share of paths agreeing with the median's direction is its
 * confidence. Only paths that parsed to a full horizon take part; if none did, the window is a parse failure
 * (and will be scored as persistence like any other).
 */

import { median, quantile } from './stats.js';

export interface SampleSummary {
  /** The per-step median of the parsed paths; empty when none parsed. */
  predicted: number[];
  parse_ok: boolean;
  /** Paths with all H values. */
  parsed_paths: number;
  total_paths: number;
  /** Per-step 10th and 90th percentiles of the parsed paths; null when none parsed. */
  spread: { p10: number[]; p90: number[] } | null;
  /**
   * Share of parsed paths whose last-step direction against the last known value (up, down or flat) equals the
   * median's; null when none parsed.
   */
  confidence: number | null;
}

export function combineSamples(samples: readonly (readonly number[])[], lastKnown: number, horizon: number): SampleSummary {
  const full = samples.filter((s) => s.length >= horizon && s.slice(0, horizon).every(Number.isFinite));
  if (full.length === 0) {
    return { predicted: [], parse_ok: false, parsed_paths: 0, total_paths: samples.length, spread: null, confidence: null };
  }
  const predicted: number[] = [];
  const p10: number[] = [];
  const p90: number[] = [];
  for (let h = 0; h < horizon; h++) {
    const column = full.map((s) => s[h]!);
    predicted.push(median(column));
    p10.push(quantile(column, 0.1));
    p90.push(quantile(column, 0.9));
  }
  const direction = Math.sign(predicted[horizon - 1]! - lastKnown);
  const agreeing = full.filter((s) => Math.sign(s[horizon - 1]! - lastKnown) === direction).length;
  return {
    predicted,
    parse_ok: true,
    parsed_paths: full.length,
    total_paths: samples.length,
    spread: { p10, p90 },
    confidence: agreeing / full.length,
  };
}
