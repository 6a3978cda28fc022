/**
 * Summaries of a data file for `fintune data inspect`: size, span, columns, gaps in the time axis, bad rows,
 * and the distribution of bar-to-bar returns.
 */
import type { Validated } from './detect.js';
import type { OhlcvSeries } from './loaders/ohlcv.js';
import { formatTime } from './time.js';

export interface GapSummary {
  /** The most common step between consecutive bars, in seconds: the series' regular spacing. */
  regularStepSeconds: number;
  /** Steps longer than the regular one (weekends and holidays included: they are not filled, only counted). */
  gaps: number;
  /** Most frequent gap lengths (seconds) with their counts, longest gap first among equals. */
  commonGaps: { seconds: number; count: number }[];
  largest?: { seconds: number; after: string; before: string };
}

export interface ReturnSummary {
  count: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  quantiles: Record<'p01' | 'p05' | 'p25' | 'p50' | 'p75' | 'p95' | 'p99', number>;
  up: number;
  down: number;
  flat: number;
}

export interface Inspection {
  file: string;
  format: string;
  rows: number;
  columns?: string[];
  first?: string;
  last?: string;
  badRows: number;
  gaps?: GapSummary;
  /** Simple returns of Close (Adj Close when present), in percent. */
  returns?: ReturnSummary;
  /** Format-specific counts (labels, quotes per currency, ...). */
  details?: Record<string, unknown>;
}

export function gapSummary(time: ArrayLike<number>): GapSummary | undefined {
  if (time.length < 2) return undefined;
  const counts = new Map<number, number>();
  for (let i = 1; i < time.length; i++) {
    const d = time[i]! - time[i - 1]!;
    counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  let regular = 0;
  let best = -1;
  for (const [d, c] of counts) if (c > best || (c === best && d < regular)) [regular, best] = [d, c];
  let gaps = 0;
  let largest: GapSummary['largest'];
  let largestMs = regular;
  for (let i = 1; i < time.length; i++) {
    const d = time[i]! - time[i - 1]!;
    if (d > regular) {
      gaps++;
      if (d > largestMs) {
        largestMs = d;
        largest = { seconds: d / 1000, after: formatTime(time[i - 1]!), before: formatTime(time[i]!) };
      }
    }
  }
  const commonGaps = [...counts]
    .filter(([d]) => d > regular)
    .sort((a, b) => b[1] - a[1] || b[0] - a[0])
    .slice(0, 5)
    .map(([d, c]) => ({ seconds: d / 1000, count: c }));
  const out: GapSummary = { regularStepSeconds: regular / 1000, gaps, commonGaps };
  if (largest) out.largest = largest;
  return out;
}

function quantile(sorted: number[], q: number): number {
  // Linear interpolation between closest ranks (the common "type 7" definition).
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Percent returns from one value to the next. */
export function returnSummary(values: ArrayLike<number>): ReturnSummary | undefined {
  const r: number[] = [];
  for (let i = 1; i < values.length; i++) r.push(100 * (values[i]! / values[i - 1]! - 1));
  if (r.length === 0) return undefined;
  const mean = r.reduce((a, b) => a + b, 0) / r.length;
  const std = Math.sqrt(r.reduce((a, b) => a + (b - mean) * (b - mean), 0) / Math.max(1, r.length - 1));
  const sorted = [...r].sort((a, b) => a - b);
  return {
    count: r.length,
    mean,
    std,
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    quantiles: {
      p01: quantile(sorted, 0.01),
      p05: quantile(sorted, 0.05),
      p25: quantile(sorted, 0.25),
      p50: quantile(sorted, 0.5),
      p75: quantile(sorted, 0.75),
      p95: quantile(sorted, 0.95),
      p99: quantile(sorted, 0.99),
    },
    up: r.filter((x) => x > 0).length,
    down: r.filter((x) => x < 0).length,
    flat: r.filter((x) => x === 0).length,
  };
}

function seriesInspection(v: Validated, s: OhlcvSeries): Inspection {
  const out: Inspection = { file: v.file, format: v.loaded.format, rows: v.rows, columns: s.columns, badRows: v.badRows.length };
  if (s.time.length > 0) {
    out.first = formatTime(s.time[0]!);
    out.last = formatTime(s.time[s.time.length - 1]!);
  }
  const gaps = gapSummary(s.time);
  if (gaps) out.gaps = gaps;
  const returns = returnSummary(s.adjClose ?? s.close);
  if (returns) out.returns = returns;
  out.details = { delimiter: s.delimiter === '\t' ? 'tab' : s.delimiter, header: s.header, timeFormat: s.timeFormat };
  return out;
}

export function inspect(v: Validated): Inspection {
  const base: Inspection = { file: v.file, format: v.loaded.format, rows: v.rows, badRows: v.badRows.length };
  const span = (times: number[]): void => {
    if (times.length === 0) return;
    base.first = formatTime(Math.min(...times));
    base.last = formatTime(Math.max(...times));
  };
  const l = v.loaded;
  switch (l.format) {
    case 'ohlcv':
      return seriesInspection(v, l.data);
    case 'fx-daily': {
      base.columns = ['date', ...l.data.currencies];
      span([l.data.time[0]!, l.data.time[l.data.time.length - 1]!].filter((t) => t !== undefined));
      const quotes: Record<string, { quotes: number; first?: string; last?: string }> = {};
      for (const [c, values] of l.data.rates) {
        let n = 0;
        let first = -1;
        let last = -1;
        values.forEach((x, i) => {
          if (!Number.isNaN(x)) {
            n++;
            if (first < 0) first = i;
            last = i;
          }
        });
        quotes[c] = n > 0 ? { quotes: n, first: formatTime(l.data.time[first]!), last: formatTime(l.data.time[last]!) } : { quotes: 0 };
      }
      const gaps = gapSummary(l.data.time);
      if (gaps) base.gaps = gaps;
      base.details = { quotes };
      return base;
    }
    case 'stocknet-tweets':
      span(l.data.length ? [l.data[0]!.date, l.data[l.data.length - 1]!.date] : []);
      base.details = { days: new Set(l.data.map((t) => t.date)).size };
      return base;
    case 'news':
      span(l.data.map((n) => n.date));
      base.details = { tickers: new Set(l.data.map((n) => n.ticker)).size };
      return base;
    case 'labelled-tweets': {
      const labels = { bearish: 0, bullish: 0, neutral: 0 };
      for (const r of l.data) labels[(['bearish', 'bullish', 'neutral'] as const)[r.label]]++;
      base.details = { labels };
      return base;
    }
    case 'stocktable':
      base.details = { sectors: new Set(l.data.map((r) => r.sector)).size };
      return base;
    case 'prompts': {
      const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
      base.details = { meanPromptChars: Math.round(mean(l.data.map((r) => r.prompt.length))), meanAnswerChars: Math.round(mean(l.data.map((r) => r.answer.length))) };
      return base;
    }
    case 'jsonl':
    case 'text':
      base.details = { characters: l.data.reduce((a, d) => a + d.text.length, 0) };
      return base;
  }
}

const fmt = (x: number, d = 4): string => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const duration = (s: number): string => (s % 86400 === 0 ? `${s / 86400}d` : s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`);

/** Human-readable lines. */
export function formatInspection(i: Inspection): string {
  const lines = [`file      ${i.file}`, `format    ${i.format}`, `rows      ${i.rows}`];
  if (i.columns) lines.push(`columns   ${i.columns.join(', ')}`);
  if (i.first !== undefined) lines.push(`span      ${i.first} .. ${i.last}`);
  lines.push(`bad rows  ${i.badRows}`);
  if (i.gaps) {
    const g = i.gaps;
    const common = g.commonGaps.map((c) => `${duration(c.seconds)} x${c.count}`).join(', ');
    lines.push(`step      ${duration(g.regularStepSeconds)}; ${g.gaps} longer gaps${common ? ` (${common})` : ''}`);
    if (g.largest) lines.push(`largest   ${duration(g.largest.seconds)} between ${g.largest.after} and ${g.largest.before}`);
  }
  if (i.returns) {
    const r = i.returns;
    const q = r.quantiles;
    lines.push(`returns % n=${r.count} mean=${fmt(r.mean)} std=${fmt(r.std)} min=${fmt(r.min)} max=${fmt(r.max)}`);
    lines.push(`          p1=${fmt(q.p01)} p5=${fmt(q.p05)} p25=${fmt(q.p25)} p50=${fmt(q.p50)} p75=${fmt(q.p75)} p95=${fmt(q.p95)} p99=${fmt(q.p99)}; up ${r.up} / down ${r.down} / flat ${r.flat}`);
  }
  if (i.details) for (const [k, v] of Object.entries(i.details)) lines.push(`${k.padEnd(9)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return lines.join('\n');
}
