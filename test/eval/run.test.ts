import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluateForecastFiles, runForecaster, type EvalWindow, type WindowForecaster } from '../../src/eval/run.js';
import { writeForecasts } from '../../src/eval/schema.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-eval-run-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const windows: EvalWindow[] = [
  { instrument: 'X', t0: '2024-01-01', context: [1, 2, 3], true: [4, 5] },
  { instrument: 'X', t0: '2024-01-02', context: [2, 3, 4], true: [5, 6] },
  { instrument: 'X', t0: '2024-01-03', context: [3, 4, 5], true: [6, 5] },
  { instrument: 'X', t0: '2024-01-04', context: [4, 5, 6], true: [5, 4] },
];

describe('runForecaster', () => {
  it('applies the parse rules and never shows the forecaster the truth', async () => {
    const seen: number[][] = [];
    const f: WindowForecaster = {
      method: 'stub',
      seed: 0,
      forecast(context, horizon, where) {
        seen.push([...context, horizon]);
        if (where.t0 === '2024-01-01') return { predicted: [4, 5, 99], raw: '4 5 99' }; // extra numbers are cut
        if (where.t0 === '2024-01-02') return { predicted: [5, NaN], raw: '5 ??' }; // only one parsed
        if (where.t0 === '2024-01-03') return { samples: [[6, 6], [7, 4], [5], [6, 5]] }; // median of full paths
        return {}; // nothing
      },
    };
    const recs = await runForecaster(windows, f, 'r');
    expect(seen).toEqual([
      [1, 2, 3, 2],
      [2, 3, 4, 2],
      [3, 4, 5, 2],
      [4, 5, 6, 2],
    ]);
    expect(recs.map((r) => [r.predicted, r.parse_ok])).toEqual([
      [[4, 5], true],
      [[5], false],
      // Full paths [6, 6], [7, 4], [6, 5]: medians 6 and 5.
      [[6, 5], true],
      [[], false],
    ]);
    expect(recs[2]!.samples).toEqual([[6, 6], [7, 4], [5], [6, 5]]);
    expect(recs[0]!.raw).toBe('4 5 99');
    expect(recs.every((r) => r.latency_ms >= 0 && r.method === 'stub' && r.seed === 0)).toBe(true);

    // Round trip through a file into the evaluation.
    const file = path.join(dir, 'stub.jsonl');
    writeForecasts(file, recs);
    const res = await evaluateForecastFiles([file], { baselines: ['persistence'], bootstrap: { replicates: 20 } });
    expect(res.methods[0]!.method).toBe('stub@0');
    expect(res.methods[0]!.parse_failures).toBe(2);
  });
});
