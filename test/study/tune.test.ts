import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveStudyConfig, type StudyConfig } from '../../src/study/config.js';
import { loadStudyData } from '../../src/study/data.js';
import { timeNotes, tune, tuneDatasets, type DatasetInfo } from '../../src/study/tune.js';
import { DATA, FIXTURES, ROOT } from '../helpers/paths.js';

// Children run the TypeScript sources through the trainer tests' transpiling loader (no build needed).
const CHILD = ['--import', path.join(ROOT, 'test/train/fixtures/register-ts.mjs'), path.join(ROOT, 'src/study/child.ts')];
const AAPL = path.join(DATA, 'stocknet/price/AAPL.csv');
const MSFT = path.join(DATA, 'stocknet/price/MSFT.csv');

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function config(extra: Record<string, unknown> = {}, data: Record<string, unknown> = {}): StudyConfig {
  return resolveStudyConfig(
    {
      name: 'tiny',
      models: [{ name: 'tiny', path: path.join(FIXTURES, 'gpt2-tiny') }],
      methods: ['full'],
      data: { file: AAPL, known: 5, horizon: 2, scaling: 'bps', lastBars: 240, maxTestWindows: 6, maxValWindows: 6, ...data },
      seeds: 1,
      budget: { rule: 'epochs', epochs: 0.5 },
      training: { batchSize: 16 },
      ...extra,
    },
    ROOT,
  );
}

describe('fintune tune over several data sets', () => {
  it('scores every trial on each instrument\'s validation part, ranks by the mean, tests the best once, and resumes', { timeout: 120_000 }, async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-tune-multi-'));
    dirs.push(out);
    const cfg = config({ tune: { datasets: [{ file: AAPL }, { file: MSFT, instrument: 'MSFT' }] } });
    const opts = { out, method: 'full', strategy: 'grid' as const, trials: 2, space: { lr: [1e-3, 1e-2] }, objective: 'val-skill' as const, childArgv: CHILD, log: () => {} };
    const r = await tune(cfg, opts);

    expect(r.datasets.map((d) => d.dataset)).toEqual(['AAPL', 'MSFT']);
    expect(r.trialsRun).toBe(2);
    expect(r.trainingRuns).toBe(4);
    expect(r.runsExecuted).toBe(4);
    expect(r.runSeed).toBe(0);
    for (const t of r.trials) {
      expect(t.perDataset.map((p) => p.dataset)).toEqual(['AAPL', 'MSFT']);
      const v = t.perDataset.map((p) => p.objective!);
      for (const x of v) expect(Number.isFinite(x)).toBe(true);
      // The aggregate is the mean of the per-data-set values; the worst is the lowest skill.
      expect(t.aggregate.mean).toBeCloseTo((v[0]! + v[1]!) / 2, 12);
      expect(t.aggregate.worst).toBe(Math.min(...v));
      expect(t.aggregate.worstDataset).toBe(t.perDataset[v.indexOf(Math.min(...v))]!.dataset);
      expect(t.score).toBe(-t.aggregate.mean!);
      expect(t.perDataset.every((p) => p.seed === 0 && p.valSkill === p.objective)).toBe(true);
    }
    expect(r.best!.aggregate.mean).toBe(Math.max(...r.trials.map((t) => t.aggregate.mean!)));

    // No test span was read during the search: each run trained before its data set's validation part, scored
    // validation windows only (ending before the test part starts), made no test forecast and wrote none.
    for (const t of r.trials) {
      for (const p of t.perDataset) {
        const info = r.datasets.find((d) => d.dataset === p.dataset)!;
        const w = p.windowsUsed!;
        expect(w.test).toBeNull();
        expect(w.train!.last < info.val.first).toBe(true);
        expect(w.val!.first >= info.val.first).toBe(true);
        expect(w.val!.last <= info.val.last).toBe(true);
        expect(w.val!.last < info.test.first).toBe(true);
        expect(fs.existsSync(path.join(out, p.run, 'result.json'))).toBe(true);
        expect(fs.existsSync(path.join(out, p.run, 'forecasts.jsonl'))).toBe(false);
      }
    }
    // The best point, once per data set, on test: the model beside the baselines on the same windows.
    expect(r.finalTest.map((f) => f.dataset)).toEqual(['AAPL', 'MSFT']);
    for (const f of r.finalTest) {
      const info = r.datasets.find((d) => d.dataset === f.dataset)!;
      expect(f.error).toBeUndefined();
      expect(f.rows.filter((x) => x.kind === 'model')).toHaveLength(1);
      expect(f.rows.map((x) => x.name)).toContain('persistence');
      expect(f.windowsUsed!.test!.n).toBe(6);
      expect(f.windowsUsed!.test!.first >= info.test.first).toBe(true);
    }
    const md = fs.readFileSync(path.join(out, 'tune.md'), 'utf8');
    expect(md).toContain('2 trial(s) × 2 data set(s) = 4 training run(s)');
    expect(md).toContain('| AAPL | MSFT | mean | worst');
    expect(md).toContain('## The best point on test');
    expect(JSON.parse(fs.readFileSync(path.join(out, 'tune.json'), 'utf8')).trainingRuns).toBe(4);

    // A re-run finds every trial × data set (and the final runs) finished: nothing is trained again.
    const again = await tune(cfg, opts);
    expect(again.runsExecuted).toBe(0);
    expect(again.runsSkipped).toBe(4);
    expect(again.trials.map((t) => t.aggregate.mean)).toEqual(r.trials.map((t) => t.aggregate.mean));
    expect(again.finalTest.map((f) => f.rows)).toEqual(r.finalTest.map((f) => f.rows));
  });

  it('cuts periods into disjoint spans, each with its own chronological split', async () => {
    const cfg = config({ tune: { periods: 2 } }, { lastBars: 400 });
    const sets = tuneDatasets(cfg);
    expect(sets.map((s) => s.label)).toEqual(['AAPL.p1of2', 'AAPL.p2of2']);
    expect(sets.map((s) => s.dir)).toEqual([path.join('sets', 'AAPL.p1of2'), path.join('sets', 'AAPL.p2of2')]);
    const [a, b] = await Promise.all(sets.map((s) => loadStudyData({ protocol: 'honest', data: s.data })));
    expect(a!.time.length + b!.time.length).toBe(400);
    expect(a!.time[a!.time.length - 1]!).toBeLessThan(b!.time[0]!);
    // Period 1's test windows all end before period 2's first training bar.
    const lastTest1 = Math.max(...a!.test.map((w) => w.endTime));
    expect(lastTest1).toBeLessThan(Math.min(...b!.train.map((w) => w.startTime)));
    for (const d of [a!, b!]) expect(d.summary.parts.map((p) => p.name)).toEqual(['train', 'val', 'test']);

    // Date periods: bars with start <= time < end.
    const dated = tuneDatasets(config({ tune: { datasets: [AAPL, MSFT], periods: [{ start: '2013-01-01', end: '2014-01-01' }, { start: '2014-01-01' }] } }, { lastBars: 0 }));
    expect(dated.map((s) => s.label)).toEqual(['AAPL.2013-01-01_2014-01-01', 'AAPL.2014-01-01_end', 'MSFT.2013-01-01_2014-01-01', 'MSFT.2014-01-01_end']);
    const d0 = await loadStudyData({ protocol: 'honest', data: dated[0]!.data });
    expect(d0.summary.first >= '2013-01-01').toBe(true);
    expect(d0.summary.last < '2014-01-01').toBe(true);
  });

  it('notes every data set whose test part starts before a validation bar the search read', () => {
    const info = (dataset: string, val: [string, string], test: [string, string]): DatasetInfo => ({
      dataset,
      file: `${dataset}.csv`,
      instrument: dataset,
      period: null,
      bars: 100,
      train: { first: '2014-01-01T00:00:00.000Z', last: val[0], windows: 10 },
      val: { first: val[0], last: val[1], windows: 5 },
      test: { first: test[0], last: test[1], windows: 5 },
    });
    const p1 = info('X.p1of2', ['2014-03-01T00:00:00.000Z', '2014-04-01T00:00:00.000Z'], ['2014-04-02T00:00:00.000Z', '2014-05-01T00:00:00.000Z']);
    const p2 = info('X.p2of2', ['2014-08-01T00:00:00.000Z', '2014-09-01T00:00:00.000Z'], ['2014-09-02T00:00:00.000Z', '2014-10-01T00:00:00.000Z']);
    const notes = timeNotes([p1, p2]);
    // Period 1's test precedes period 2's validation (the search's choice used later data); period 2's is clean.
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^X\.p1of2: its test part starts 2014-04-02, .*X\.p2of2 up to 2014-09-01.*not strictly out of sample/);
    // Instruments split on the same dates: nothing to note.
    expect(timeNotes([{ ...p2, dataset: 'A' }, { ...p2, dataset: 'B' }])).toEqual([]);
  });

  it('rejects bad tune sections naming the key', () => {
    const bad = (tuneSection: unknown, data: Record<string, unknown> = {}): (() => StudyConfig) => () => config({ tune: tuneSection }, data);
    expect(bad({ datasets: [{ file: MSFT, known: 8 }] })).toThrow(/tune\.datasets\[0\]\.known is not a data-set key.*search it with --space data\.known/);
    expect(bad({ datasets: [{ file: 'nowhere.csv' }] })).toThrow(/tune\.datasets\[0\]\.file .*nowhere\.csv: no such file/);
    expect(bad({ datasets: [AAPL, AAPL] })).toThrow(/instrument: "AAPL" appears twice/);
    expect(bad({ datasets: [] })).toThrow(/tune\.datasets must be a non-empty list/);
    expect(bad({ dataset: [AAPL] })).toThrow(/tune\.dataset is not a tune key/);
    expect(bad({ periods: 0 })).toThrow(/tune\.periods must be a count/);
    expect(bad({ periods: [{ start: '2014-01-01', end: '2015-01-01' }, { start: '2014-06-01' }] })).toThrow(/tune\.periods\[1\] overlaps/);
    expect(bad({ periods: [{ start: 'soon' }] })).toThrow(/tune\.periods\[0\]\.start must be a date/);
    expect(bad({ periods: 2 }, { split: { dates: { valStart: '2015-01-01', testStart: '2015-06-01' } } })).toThrow(/tune\.periods needs fraction splits/);
    // A new file gets its own instrument label; a new scaling its own default precision.
    const c = config({ tune: { datasets: [AAPL, { file: MSFT, scaling: 'pct' }] } }, { instrument: 'apple' });
    expect(c.tune!.instruments.map((d) => [d.instrument, d.scaling, d.precision, d.known])).toEqual([
      ['AAPL', 'bps', 1, 5],
      ['MSFT', 'pct', 2, 5],
    ]);
  });

  it('refuses the leaky protocol, whose validation windows share bars with test windows', async () => {
    const cfg = { ...config(), protocol: 'mql5-leaky' as const };
    await expect(tune(cfg, { out: os.tmpdir(), method: 'full', strategy: 'grid', trials: 1, space: { lr: [1e-3] }, childArgv: CHILD })).rejects.toThrow(/protocol: honest/);
  });
});
