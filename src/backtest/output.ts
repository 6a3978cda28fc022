/**
 * Files for other tools: the signals CSV a MetaTrader expert advisor (or any platform) can follow, and equity
 * curves as CSV.
 *
 * Signals CSV: `time,instrument,signal,size`, one row each time the target position changes. `time` is the open
 * of the bar at which to trade (the bar after the one whose close produced the signal), UTC, written
 * `YYYY.MM.DD HH:MM:SS`, which MQL5's StringToTime reads; `signal` is 1 long, −1 short, 0 flat; `size` is the
 * position as a fraction of equity (the EA maps it to lots). The position holds until the next row.
 */
import { writeFileAtomic } from '../io/atomic.js';

const pad = (n: number): string => String(n).padStart(2, '0');

export function metaTraderTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}.${pad(d.getUTCMonth() + 1)}.${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

export interface PositionPath {
  instrument: string;
  time: ArrayLike<number>;
  /** Position held during each bar (Simulation.held). */
  held: ArrayLike<number>;
}

/** Rows of the signals CSV (without header), in time order across instruments. */
export function signalRows(paths: readonly PositionPath[]): string[] {
  const rows: { t: number; line: string }[] = [];
  for (const p of paths) {
    let prev = 0;
    for (let i = 0; i < p.held.length; i++) {
      const w = p.held[i]!;
      if (w === prev) continue;
      // Sizes are rounded to 6 digits: an EA needs lots, not floating-point noise.
      rows.push({ t: p.time[i]!, line: `${metaTraderTime(p.time[i]!)},${p.instrument},${Math.sign(w)},${+Math.abs(w).toFixed(6)}` });
      prev = w;
    }
  }
  rows.sort((a, b) => a.t - b.t);
  return rows.map((r) => r.line);
}

export function writeSignalsCsv(file: string, paths: readonly PositionPath[]): number {
  const rows = signalRows(paths);
  writeFileAtomic(file, ['time,instrument,signal,size', ...rows].join('\n') + '\n');
  return rows.length;
}

/** One strategy's curve and headline figures, as the study report's back-test section takes them. */
export interface ReportEntry {
  key: string;
  sharpe: number | null;
  totalReturn: number | null;
  maxDrawdown: number | null;
  trades: number | null;
  equity: Array<{ t: string; equity: number }>;
}

/**
 * The file `fintune report --backtest FILE` reads ({methods: [...]}, src/study/report.ts): one entry per model
 * and benchmark with its equity curve. Times are ISO 8601 UTC.
 */
export function reportEntry(
  key: string,
  m: { sharpe: number | null; totalReturn: number; maxDrawdown: number; trades: number },
  time: ArrayLike<number>,
  equity: ArrayLike<number>,
): ReportEntry {
  const curve: ReportEntry['equity'] = [];
  for (let i = 0; i < equity.length; i++) curve.push({ t: new Date(time[i]!).toISOString(), equity: equity[i]! });
  return { key, sharpe: m.sharpe, totalReturn: m.totalReturn, maxDrawdown: m.maxDrawdown, trades: m.trades, equity: curve };
}

export function writeReportSection(file: string, entries: readonly ReportEntry[]): void {
  writeFileAtomic(file, JSON.stringify({ methods: entries }) + '\n');
}
