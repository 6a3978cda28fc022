/**
 * Smoke test of `fintune demo`'s plumbing at the test-only `--tiny` budget: every stage runs, every run folder
 * has its files, forecasts and generations parse against their schemas, the report exists and needs no network,
 * and the dashboard's run reader sees the folders. The numbers themselves mean nothing at this size.
 *
 * The real budgets (--quick, default) are not run here: they take minutes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSeries } from '../../src/backtest/prices.js';
import { backtestForecasts } from '../../src/demo/backtest.js';
import { demoBudget, demoMethods } from '../../src/demo/config.js';
import type { DemoResult } from '../../src/demo/run.js';
import { verdictOf } from '../../src/demo/run.js';
import { FORECAST_SCHEMA, readAll, readForecasts, readGenerations, type ForecastRecord } from '../../src/eval/schema.js';
import { listRuns } from '../../src/serve/runs.js';
import { runCli } from '../helpers/cli.js';
import { DATA, ROOT } from '../helpers/paths.js';

const registryBuilt = fs.existsSync(path.join(ROOT, 'src', 'peft', 'registry.ts'));

describe('fintune demo --tiny', () => {
  let out: string;
  let cli: { code: number; stdout: string; stderr: string };
  let seconds: number;
  beforeAll(async () => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-demo-'));
    const t0 = Date.now();
    cli = await runCli(['demo', '--tiny', '--out', out, '--data', DATA, '--seed', '3']);
    seconds = (Date.now() - t0) / 1000;
  });
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  it('runs every stage and prints the budget, the report and the dashboard command', () => {
    expect(cli.code, cli.stderr).toBe(0);
    for (const [i, stage] of ['data', 'pretrain', 'finetune', 'evaluate', 'backtest', 'fingpt', 'report'].entries()) expect(cli.stderr).toContain(`[${i + 1}/7] ${stage}:`);
    expect(cli.stderr).toMatch(/total\s+planned .* spent/);
    expect(cli.stderr).toContain(`Report:    ${path.join(out, 'report', 'report.html')}`);
    expect(cli.stderr).toContain(`npx fintune serve --runs ${out}`);
    expect(seconds).toBeLessThan(60);
  });

  it('records the seed, the stage times and a pre-training corpus that ends before validation', () => {
    const r = JSON.parse(fs.readFileSync(path.join(out, 'demo.json'), 'utf8')) as DemoResult;
    expect(r.seed).toBe(3);
    expect(r.stages.map((s) => s.stage)).toEqual(['data', 'pretrain', 'finetune', 'evaluate', 'backtest', 'fingpt', 'report']);
    for (const c of r.data.pretrainCorpus) expect(c.last < r.data.firstValidation.replace('T', ' ')).toBe(true);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, "pretrain", "config.json"), "utf8")) as { seed: number };
    expect(cfg.seed).toBe(3);
  });

  it('writes a run folder per method with config, metrics, forecasts of the same windows and a back-test', async () => {
    const n = demoBudget('tiny').testWindows;
    const keys = new Set<string>();
    for (const name of ['pretrain', ...demoMethods().map((m) => m.name)]) {
      const dir = path.join(out, name);
      expect(fs.existsSync(path.join(dir, 'config.json')), name).toBe(true);
      const ran = fs.existsSync(path.join(dir, 'forecasts.jsonl'));
      // Until src/peft/registry.ts lands only full fine-tuning can run; after that every method must.
      if (name === 'pretrain' || name === 'full' || registryBuilt) expect(ran, `${name} did not run`).toBe(true);
      if (!ran) continue;
      expect(fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').length).toBeGreaterThan(0);
      const recs = await readAll(readForecasts(path.join(dir, 'forecasts.jsonl')));
      expect(recs).toHaveLength(n);
      expect(recs.every((x) => x.schema === FORECAST_SCHEMA && x.true.length === 6 && x.context.length === 24)).toBe(true);
      keys.add(recs.map((x) => x.t0).join(','));
      // The dashboard draws the top-level equity; `fintune report --backtest` reads `methods`.
      const bt = JSON.parse(fs.readFileSync(path.join(dir, 'backtest.json'), 'utf8')) as { trades: number; equity: unknown[]; methods: Array<{ key: string }> };
      expect(bt.equity.length).toBeGreaterThan(n);
      expect(bt.trades).toBeLessThanOrEqual(n);
      expect(bt.methods.map((m) => m.key).slice(1)).toEqual(['buy-and-hold', 'momentum']);
    }
    // Every forecaster was scored on exactly the same windows.
    expect(keys.size).toBe(1);
    const ev = JSON.parse(fs.readFileSync(path.join(out, 'evaluation.json'), 'utf8')) as { methods: Array<{ method: string; kind: string }> };
    expect(ev.methods.filter((m) => m.kind === 'baseline').map((m) => m.method)).toContain('persistence');
  });

  it('leaves FinGPT generations the review page can read', async () => {
    const file = path.join(out, 'fingpt-lora', 'generations.jsonl');
    const gens = await readAll(readGenerations(file));
    expect(gens).toHaveLength(demoBudget('tiny').fingpt.evalExamples);
    expect(gens.every((g) => g.prompt.includes('Forecast:') && g.reference!.startsWith('[Positive Developments]:'))).toBe(true);
    const runs = listRuns(out);
    expect(runs.find((r) => r.id === 'fingpt-lora')?.has.generations).toBe(true);
    expect(runs.find((r) => r.id === 'full')?.has.forecasts).toBe(true);
  });

  it('writes a report that opens offline', () => {
    const html = fs.readFileSync(path.join(out, 'report', 'report.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    // No executable script, stylesheet link or remote resource: only inline CSS, inline SVG and a JSON data block.
    expect(html.replace(/<script type="application\/json"[^>]*>/g, '')).not.toMatch(/<script|<link|src="http|href="http|url\(http/);
    expect(html).toContain('<svg');
    expect(html).toContain('Time per stage');
    expect(html).toContain('persistence');
    expect(fs.readFileSync(path.join(out, 'report', 'report.md'), 'utf8')).toContain('## Time per stage');
    // The dashboard lists the report folder beside the runs.
    expect(listRuns(out).find((x) => x.id === 'report')?.has.report).toBe(true);
  });
});

describe('demo pieces', () => {
  // A steadily rising series of 4-hour bars: long forecasts must gain, short ones lose, failed parses stay flat.
  const H4 = 4 * 3600_000;
  const t0 = Date.UTC(2020, 0, 6);
  const closes = Array.from({ length: 60 }, (_, i) => 1.1 * (1 + 0.001 * i));
  const series = makeSeries('EURUSD_H4', closes.map((_, i) => t0 + i * H4), closes);
  const rec = (bar: number, dir: number, parsed = true): ForecastRecord => ({
    schema: FORECAST_SCHEMA,
    run: 'x',
    method: 'x',
    seed: null,
    instrument: 'EURUSD_H4',
    t0: new Date(t0 + bar * H4).toISOString(),
    context: [closes[bar - 1]!, closes[bar]!],
    predicted: parsed ? [closes[bar]! * (1 + dir * 0.001), closes[bar]! * (1 + dir * 0.002)] : [],
    true: [closes[bar + 1]!, closes[bar + 2]!],
    parse_ok: parsed,
    latency_ms: 0,
  });

  it('back-test: forecasts go through the engine, long gains on a rising series, failed parses stay flat', () => {
    const up = backtestForecasts('up', [rec(10, 1), rec(20, 1), rec(30, 1)], series, { randomDraws: 10 });
    expect(up.model.trades).toBe(3);
    expect(up.model.totalReturn).toBeGreaterThan(0);
    expect(up.model.costs).toBeGreaterThan(0);
    expect(up.benchmarks.map((b) => b.key)).toEqual(['buy-and-hold', 'momentum']);
    const down = backtestForecasts('down', [rec(10, -1), rec(20, -1), rec(30, -1)], series, { randomDraws: 10 });
    expect(down.model.totalReturn).toBeLessThan(0);
    const failed = backtestForecasts('failed', [rec(10, 1, false), rec(20, 1, false)], series, { randomDraws: 10 });
    expect(failed.model.trades).toBe(0);
    expect(failed.model.parseFailures).toBe(2);
  });

  it('verdict says plainly when nothing beats persistence', () => {
    const lines = verdictOf(
      { n_windows: 4, methods: [{ method: 'full', kind: 'model', skill: -0.5, dm: null }] } as never,
      [{ name: 'lora', ok: false, error: 'method lora: needs the PEFT registry (src/peft/registry.ts)' }],
      [],
    );
    expect(lines.join(' ')).toContain('No method beats persistence');
    expect(lines[0]).toBe('Not run: lora (the PEFT registry is not in this build).');
  });

  it('rejects unknown methods as a usage error', async () => {
    const r = await runCli(['demo', '--tiny', '--methods', 'lora,nope', '--out', path.join(os.tmpdir(), 'fintune-demo-never'), '--data', DATA]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown nope');
  });
});
