/**
 * Reading run folders for the dashboard: every subfolder of the runs folder that holds a config.json or a
 * metrics.jsonl is a run. Readers are tolerant — a run being written right now may have a half-written last
 * line, and a damaged line must not break a page — and say how many lines they skipped.
 */
import fs from 'node:fs';
import path from 'node:path';

export type RunStatus = 'running' | 'finished' | 'failed' | 'stopped';

export interface RunInfo {
  id: string;
  status: RunStatus;
  /** What config.json says the run is (method, model…), when readable. */
  method: string | null;
  model: string | null;
  steps: number;
  lastLoss: number | null;
  bestValLoss: number | null;
  updated: string;
  has: { metrics: boolean; forecasts: boolean; generations: boolean; reviews: boolean; report: boolean; backtest: boolean; model: boolean };
}

/** A run that wrote metrics in the last this many ms and has no summary is considered running. */
const RUNNING_WINDOW_MS = 60_000;

export function listRuns(root: string): RunInfo[] {
  if (!fs.existsSync(root)) return [];
  const out: RunInfo[] = [];
  for (const ent of fs.readdirSync(root, { withFileTypes: true })) {
    if (!ent.isDirectory() || ent.name.startsWith('.')) continue;
    const dir = path.join(root, ent.name);
    if (!fs.existsSync(path.join(dir, 'config.json')) && !fs.existsSync(path.join(dir, 'metrics.jsonl')) && !fs.existsSync(path.join(dir, 'forecasts.jsonl')) && !fs.existsSync(path.join(dir, 'generations.jsonl')) && !fs.existsSync(path.join(dir, 'report.html'))) continue;
    out.push(runInfo(root, ent.name));
  }
  return out.sort((a, b) => b.updated.localeCompare(a.updated));
}

export function runInfo(root: string, id: string): RunInfo {
  const dir = path.join(root, id);
  const metricsFile = path.join(dir, 'metrics.jsonl');
  const { rows } = readMetrics(metricsFile);
  const cfg = readJsonSafe(path.join(dir, 'config.json')) as Record<string, unknown> | null;
  const summary = readJsonSafe(path.join(dir, 'summary.json')) as Record<string, unknown> | null;
  const failed = rows.some((r) => r.event === 'non_finite' || r.event === 'error');
  let mtime = 0;
  for (const f of ['metrics.jsonl', 'config.json', 'summary.json', 'forecasts.jsonl', 'report.html']) {
    try {
      mtime = Math.max(mtime, fs.statSync(path.join(dir, f)).mtimeMs);
    } catch {
      /* absent */
    }
  }
  const steps = rows.reduce((m, r) => (typeof r.step === 'number' ? Math.max(m, r.step) : m), 0);
  const losses = rows.filter((r) => typeof r.loss === 'number');
  const vals = rows.map((r) => r.valLoss).filter((v): v is number => typeof v === 'number');
  const status: RunStatus = failed ? 'failed' : summary ? 'finished' : Date.now() - mtime < RUNNING_WINDOW_MS && rows.length ? 'running' : rows.length ? 'stopped' : 'finished';
  const pick = (o: Record<string, unknown> | null, ...keys: string[]): string | null => {
    for (const k of keys) {
      const v = o?.[k];
      if (typeof v === 'string') return v;
      if (v && typeof v === 'object' && typeof (v as Record<string, unknown>).name === 'string') return (v as Record<string, string>).name!;
    }
    return null;
  };
  const desc = (cfg?.description ?? cfg) as Record<string, unknown> | null;
  return {
    id,
    status,
    method: pick(desc, 'method') ?? pick(cfg, 'method'),
    model: pick(desc, 'model', 'base', 'baseModel') ?? pick(cfg, 'model'),
    steps,
    lastLoss: losses.length ? (losses[losses.length - 1]!.loss as number) : null,
    bestValLoss: vals.length ? Math.min(...vals) : null,
    updated: new Date(mtime || Date.now()).toISOString(),
    has: {
      metrics: rows.length > 0,
      forecasts: fs.existsSync(path.join(dir, 'forecasts.jsonl')),
      generations: fs.existsSync(path.join(dir, 'generations.jsonl')),
      reviews: fs.existsSync(path.join(dir, 'reviews.jsonl')),
      report: fs.existsSync(path.join(dir, 'report.html')),
      backtest: fs.existsSync(path.join(dir, 'backtest.json')),
      model: fs.existsSync(path.join(dir, 'final', 'config.json')) || fs.existsSync(path.join(dir, 'final', 'adapter_config.json')),
    },
  };
}

export type MetricRow = Record<string, unknown> & { step?: number; loss?: number; valLoss?: number; event?: string };

/**
 * metrics.jsonl rows from `fromByte` on. A last line without a newline is not yet complete and is left for the
 * next read; unparsable complete lines are skipped and counted.
 */
export function readMetrics(file: string, fromByte = 0): { rows: MetricRow[]; skipped: number; nextByte: number } {
  let buf: Buffer;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      if (size < fromByte) fromByte = 0; // rewritten (e.g. truncated on resume): start over
      buf = Buffer.alloc(size - fromByte);
      fs.readSync(fd, buf, 0, buf.length, fromByte);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return { rows: [], skipped: 0, nextByte: fromByte };
  }
  const lastNl = buf.lastIndexOf(10);
  const complete = lastNl < 0 ? '' : buf.subarray(0, lastNl).toString('utf8');
  const rows: MetricRow[] = [];
  let skipped = 0;
  for (const line of complete.split('\n')) {
    if (!line.trim()) continue;
    try {
      const v = JSON.parse(line);
      if (v && typeof v === 'object' && !Array.isArray(v)) rows.push(v as MetricRow);
      else skipped++;
    } catch {
      skipped++;
    }
  }
  return { rows, skipped, nextByte: fromByte + (lastNl < 0 ? 0 : lastNl + 1) };
}

/** JSON lines of any kind, tolerant like readMetrics (for forecasts/generations shown on pages). */
export function readJsonlSafe(file: string, limit = 10_000): { rows: Record<string, unknown>[]; skipped: number } {
  const { rows, skipped } = readMetrics(file);
  return { rows: rows.slice(0, limit), skipped };
}

export function readJsonSafe(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}
