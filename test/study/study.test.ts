import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, resolveStudyConfig, type StudyConfig } from '../../src/study/config.js';
import { costRows, skillCostRows } from '../../src/study/charts.js';
import { readResults, writeReport } from '../../src/study/report.js';
import { runStudy } from '../../src/study/runner.js';
import { DATA, FIXTURES, ROOT } from '../helpers/paths.js';

// Children run the TypeScript sources through the trainer tests' transpiling loader (no build needed).
const CHILD = ['--import', path.join(ROOT, 'test/train/fixtures/register-ts.mjs'), path.join(ROOT, 'src/study/child.ts')];

function tinyConfig(): StudyConfig {
  return resolveStudyConfig(
    {
      name: 'tiny',
      models: [{ name: 'tiny', path: path.join(FIXTURES, 'gpt2-tiny') }],
      methods: ['full', { method: 'bitfit', lr: 0.003 }, { method: 'lora', params: { r: 4, loraAlpha: 8 } }],
      data: {
        file: path.join(DATA, 'stocknet/price/AAPL.csv'),
        instrument: 'AAPL',
        known: 5,
        horizon: 2,
        scaling: 'bps',
        lastBars: 240,
        maxTestWindows: 8,
        maxValWindows: 8,
        forgetting: { file: path.join(DATA, 'stocknet/price/MSFT.csv'), lastBars: 120, maxWindows: 8 },
      },
      seeds: 1,
      budget: { rule: 'epochs', epochs: 0.5 },
      training: { batchSize: 16 },
      multiTask: {
        method: 'bitfit',
        train: path.join(DATA, 'fin-tweets-sentiment/sent_train.csv'),
        eval: path.join(DATA, 'fin-tweets-sentiment/sent_valid.csv'),
        maxTrain: 64,
        maxEval: 24,
      },
    },
    ROOT,
  );
}

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-study-'));
const logs: string[] = [];
const cleanup = [out];
afterAll(() => {
  for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
});

describe('fintune study', () => {
  it('runs a small study on the tiny fixture and a slice of StockNet prices, and resumes after an interruption', { timeout: 90_000 }, async () => {
    const config = tinyConfig();
    // Interrupted after the first run …
    const first = await runStudy(config, { out, childArgv: CHILD, maxRuns: 1, log: (l) => logs.push(l) });
    expect(first.interrupted).toBe(true);
    expect(first.executed).toEqual(['tiny/full/seed-0']);
    const doneFile = path.join(out, 'runs/tiny/full/seed-0/result.json');
    const stamp = fs.readFileSync(doneFile, 'utf8');
    // … with the second run left half-done (a training folder but no result): it must be redone from scratch.
    fs.mkdirSync(path.join(out, 'runs/tiny/bitfit/seed-0/train'), { recursive: true });
    fs.writeFileSync(path.join(out, 'runs/tiny/bitfit/seed-0/train/metrics.jsonl'), '{"step":1,"loss":');
    const second = await runStudy(config, { out, childArgv: CHILD, log: (l) => logs.push(l) });
    expect(second.interrupted).toBe(false);
    expect(second.skipped).toEqual(['tiny/full/seed-0']);
    expect(second.executed).toEqual(['tiny/bitfit/seed-0', 'tiny/lora/seed-0', 'tiny/multitask/seed-0']);
    expect(fs.readFileSync(doneFile, 'utf8')).toBe(stamp);

    const r = second.results;
    expect(r.failures).toEqual([]);
    expect(r.methods.map((m) => m.key)).toEqual(['full', 'bitfit', 'lora']);
    const full = r.runs.find((x) => x.method === 'full')!;
    const bitfit = r.runs.find((x) => x.method === 'bitfit')!;
    expect(full.trainablePct).toBe(100);
    expect(bitfit.trainablePct).toBeGreaterThan(0);
    expect(bitfit.trainablePct).toBeLessThan(5);
    expect(bitfit.artefactBytes).toBeLessThan(full.artefactBytes);
    // LoRA merges: its latency is measured both ways.
    const lora = r.runs.find((x) => x.method === 'lora')!;
    expect(lora.mergedNote).toMatch(/merged/);
    expect(lora.latencyMsMerged).toBeGreaterThan(0);
    expect(lora.artefactBytes).toBeLessThan(full.artefactBytes);
    for (const run of r.runs) {
      expect(run.peakRssMB).toBeGreaterThan(10);
      expect(run.tokensPerSec).toBeGreaterThan(0);
      expect(run.latencyMsUnmerged).toBeGreaterThan(0);
      expect(run.forgetting).not.toBeNull();
      expect(run.env.simd).toBeTruthy();
      expect(run.env.commit).toMatch(/^[0-9a-f]{40}$/);
      expect(run.evaluation!.n_windows).toBe(8);
    }
    // Every main run is evaluated together with the baselines on the same windows.
    expect(r.evaluation!.methods.map((m) => m.method)).toEqual(expect.arrayContaining(['full@0', 'bitfit@0', 'lora@0', 'persistence']));
    expect(r.methods[0]!.stats.skill!.values).toHaveLength(1);
    expect(r.curves.length).toBe(3);
    expect(r.paths.length).toBeGreaterThan(0);
    expect(r.data!.parts.map((p) => p.name)).toEqual(['train', 'val', 'test']);
    // Back-test of each method's first-seed forecasts, with buy-and-hold and momentum on the same span.
    const bt = r.backtest!;
    expect(bt.notes).toEqual([]);
    expect(bt.methods.map((m) => m.key)).toEqual(expect.arrayContaining(['full', 'bitfit', 'lora', 'buy-and-hold', 'momentum']));
    expect(bt.methods.every((m) => m.equity.length > 0)).toBe(true);
    // The multi-task case: the base and each adapter measured on both tasks, and what serving both costs.
    const mt = r.multiTask!;
    expect(mt.rows.map((x) => x.adapter)).toEqual(['none (base)', 'forecasting', 'sentiment']);
    for (const x of mt.rows) {
      expect(Number.isFinite(x.forecastValLoss)).toBe(true);
      expect(x.sentimentAccuracy).toBeGreaterThanOrEqual(0);
      expect(x.sentimentAccuracy).toBeLessThanOrEqual(1);
    }
    expect(mt.sharedMB).toBeLessThan(mt.twoCopiesMB);
  });

  it('writes a report whose tables and charts show the same numbers, and which opens offline', { timeout: 60_000 }, async () => {
    const r = readResults(path.join(out, 'results.json'));
    const w = await writeReport(r, out, { logCost: true });
    const html = fs.readFileSync(w.html, 'utf8');
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script(?![^>]*application\/json)/);
    expect(html).not.toMatch(/<link|<img|@import/);
    expect((html.match(/<svg/g) ?? []).length).toBe(w.rendered.charts.length);
    expect(w.rendered.charts.map((c) => c.id)).toEqual(expect.arrayContaining(['loss', 'paths', 'cost', 'skill-cost', 'horizon', 'returns', 'equity']));

    // The chart rows embedded in the page …
    const block = html.match(/<script type="application\/json" id="chart-data">([\s\S]*?)<\/script>/)![1]!;
    const chartData = JSON.parse(block) as Record<string, Array<Record<string, unknown>>>;
    expect(chartData.cost).toEqual(costRows(r));
    // … agree with the numbers in the methods table (data-value carries the unrounded cell).
    for (const row of w.rendered.table) {
      const method = String(row.method);
      const tr = html.match(new RegExp(`<tr data-method="${method}">(.*?)</tr>`))![1]!;
      const cell = (field: string): number => Number(tr.match(new RegExp(`data-field="${field}" data-value="([^"]+)"`))![1]);
      for (const field of ['trainSeconds', 'peakRssMB', 'latencyMsUnmerged']) {
        const bar = chartData.cost!.find((c) => c.method === method && c.field === field)!;
        expect(bar.value).toBe(cell(field));
      }
      const points = chartData['skill-cost']!.filter((c) => c.method === method);
      expect(points.length).toBeGreaterThan(0);
      for (const p of points) expect(p.skill).toBe(cell('skill'));
      expect(points.find((p) => p.field === 'trainablePct')!.x).toBe(cell('trainablePct'));
    }
    expect(skillCostRows(r).some((p) => p.pareto)).toBe(true);
    // The verdict speaks plainly, from the numbers.
    const md = fs.readFileSync(w.markdown, 'utf8');
    const anyWinner = r.methods.some((m) => m.beatsPersistence);
    expect(md).toContain(anyWinner ? 'beat persistence significantly' : 'Nothing beat persistence');
    expect(md).toContain('## Environment');
    expect(md).toContain('## Data');
    expect(md).toContain('## Multi-task: one base, two adapters');
  });

  it('rejects bad configs naming the key', () => {
    const base = { models: [{ name: 'm', preset: 'gpt2-tiny' }], methods: ['full'], data: { file: path.join(DATA, 'stocknet/price/AAPL.csv') } };
    expect(() => resolveStudyConfig({ ...base, methods: [] }, ROOT)).toThrow(/config\.methods/);
    expect(() => resolveStudyConfig({ ...base, seeds: 0 }, ROOT)).toThrow(/seeds/);
    expect(() => resolveStudyConfig({ ...base, budget: { rule: 'tokens' } }, ROOT)).toThrow(/budget\.tokens/);
    expect(() => resolveStudyConfig({ ...base, data: { ...base.data, precision: 0 } }, ROOT)).toThrow(ConfigError);
    expect(() => resolveStudyConfig({ ...base, methods: ['full', 'full'] }, ROOT)).toThrow(/twice/);
    const c = resolveStudyConfig({ ...base, methods: ['full', 'prefix', 'prompt', 'lora'] }, ROOT, { quick: true });
    expect(c.seeds).toEqual([0]);
    // Per-method defaults: prefix and prompt tuning get far larger rates than full fine-tuning.
    const lr = Object.fromEntries(c.methods.map((m) => [m.name, m.lr]));
    expect(lr.prefix!).toBeGreaterThan(10 * lr.full!);
    expect(lr.prompt!).toBeGreaterThan(10 * lr.full!);
    expect(resolveStudyConfig(base, ROOT).seeds).toEqual([0, 1, 2]);
  });
});

describe('fintune tune', () => {
  it('searches on validation loss only, covers a small space without repeats and says how many trials ran', { timeout: 90_000 }, async () => {
    const { tune } = await import('../../src/study/tune.js');
    const tuneOut = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-tune-'));
    cleanup.push(tuneOut);
    const config = { ...tinyConfig(), data: { ...tinyConfig().data, forgetting: undefined } };
    const r = await tune(config, { out: tuneOut, method: 'full', strategy: 'genetic', trials: 5, space: { lr: [1e-3, 1e-2] }, finalTest: false, childArgv: CHILD, log: () => {} });
    // Only two distinct points exist: both are tried once, not five times.
    expect(r.trialsRun).toBe(2);
    expect(r.trials.map((t) => t.values.lr).sort()).toEqual([1e-3, 1e-2]);
    expect(r.trials.every((t) => t.valLoss !== null && Number.isFinite(t.valLoss))).toBe(true);
    expect(r.best!.valLoss).toBe(Math.min(...r.trials.map((t) => t.valLoss!)));
    // No test forecasts were made for any trial.
    expect(fs.readdirSync(path.join(tuneOut, 'runs/tiny')).every((d) => !fs.existsSync(path.join(tuneOut, 'runs/tiny', d, 'seed-0/forecasts.jsonl')))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(tuneOut, 'tune.json'), 'utf8')).trialsRun).toBe(2);
  });

  it('searches the context length on validation skill (forecasting validation windows, never test ones)', { timeout: 90_000 }, async () => {
    const { tune } = await import('../../src/study/tune.js');
    const tuneOut = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-tune-'));
    cleanup.push(tuneOut);
    const config = { ...tinyConfig(), data: { ...tinyConfig().data, forgetting: undefined } };
    await expect(tune(config, { out: tuneOut, method: 'full', strategy: 'grid', trials: 2, space: { 'data.known': [4, 5] }, childArgv: CHILD })).rejects.toThrow(/val-skill/);
    const r = await tune(config, { out: tuneOut, method: 'full', strategy: 'random', trials: 2, objective: 'val-skill', space: { 'data.known': [4, 5] }, finalTest: false, childArgv: CHILD, log: () => {} });
    expect(r.trialsRun).toBe(2);
    expect(r.objective).toMatch(/skill/);
    for (const t of r.trials) {
      expect(Number.isFinite(t.valSkill)).toBe(true);
      expect(t.score).toBe(-t.valSkill!);
    }
    expect(r.best!.valSkill).toBe(Math.max(...r.trials.map((t) => t.valSkill!)));
    // The same trials scored by trading their validation forecasts with costs (finished runs are reused).
    const b = await tune(config, { out: tuneOut, method: 'full', strategy: 'random', trials: 2, objective: 'val-backtest', space: { 'data.known': [4, 5] }, finalTest: false, childArgv: CHILD, log: () => {} });
    expect(b.objective).toMatch(/back-test Sharpe/);
    expect(b.trials.some((t) => typeof t.valSharpe === 'number')).toBe(true);
    for (const t of b.trials) expect(t.score).toBe(t.valSharpe == null ? null : -t.valSharpe);
    const dirs = fs.readdirSync(path.join(tuneOut, 'runs/tiny'));
    expect(dirs.every((d) => !fs.existsSync(path.join(tuneOut, 'runs/tiny', d, 'seed-0/forecasts.jsonl')))).toBe(true);
  });
});

describe('fintune report edge cases', () => {
  it('reports a study where every run failed, and attaches back-test results when given', { timeout: 30_000 }, async () => {
    const { aggregate } = await import('../../src/study/runner.js');
    const { renderReport, readBacktest } = await import('../../src/study/report.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-report-'));
    cleanup.push(dir);
    const r = await aggregate(tinyConfig(), dir, [], [{ id: 'tiny/full/seed-0', error: 'out of memory' }], []);
    const empty = await renderReport(r);
    expect(empty.markdown).toContain('No run finished');
    expect(empty.markdown).toContain('tiny/full/seed-0');
    expect(empty.html).not.toMatch(/https?:\/\//);

    const bt = path.join(dir, 'backtest.json');
    const equity = [
      { t: '2015-08-01', equity: 1 },
      { t: '2015-09-01', equity: 1.02 },
    ];
    fs.writeFileSync(bt, JSON.stringify({ methods: [{ key: 'full', sharpe: 0.4, totalReturn: 0.02, maxDrawdown: -0.01, trades: 3, equity }] }));
    const withBt = await renderReport({ ...r, backtest: readBacktest(bt) });
    expect(withBt.charts.find((c) => c.id === 'equity')!.rows).toHaveLength(2);
    expect(withBt.markdown).toContain('## Back-test');
    fs.writeFileSync(bt, '{"rows": []}');
    expect(() => readBacktest(bt)).toThrow(/methods/);
  });
});

describe('the leak paragraph', () => {
  it('is written from the twin numbers: NRMSE change split into forecast error and normaliser', async () => {
    const { twinParagraph } = await import('../../src/study/report.js');
    const { aggregate } = await import('../../src/study/runner.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-twin-'));
    cleanup.push(dir);
    const base = await aggregate(tinyConfig(), dir, [], [], []);
    const rows = (nr: [number, number], rmse: [number, number], skill: [number, number]) => [
      { key: 'full', metric: 'nrmse_mql5', leaky: nr[0], honest: nr[1] },
      { key: 'full', metric: 'rmse', leaky: rmse[0], honest: rmse[1] },
      { key: 'full', metric: 'skill', leaky: skill[0], honest: skill[1] },
    ];
    // Normaliser-driven: NRMSE 0.1 → 0.3 while RMSE barely moves.
    const a = twinParagraph({ ...base, twin: { name: 'x-twin', protocol: 'honest', rows: rows([0.1, 0.3], [0.01, 0.011], [-2, -1]) } })!;
    expect(a).toContain('3× worse without the leak');
    expect(a).toContain('most of the difference comes from the metric');
    expect(a).toContain('no skill for the leak to inflate');
    // Forecast-driven and positive skill under the leak: no such sentences.
    const b = twinParagraph({ ...base, twin: { name: 'x-twin', protocol: 'honest', rows: rows([0.1, 0.4], [0.01, 0.04], [0.5, -0.2]) } })!;
    expect(b).toContain('4× worse without the leak');
    expect(b).toContain('most of the difference is in the forecasts themselves');
    expect(b).not.toContain('no skill for the leak to inflate');
    expect(twinParagraph(base)).toBeNull();
  });
});
