// `bench --ablation`: every configuration runs in its own process with one setting changed and is reported
// against the full configuration. Checked here at the tiny size (FINTUNE_BENCH_TINY) for decode: the records,
// their order and that each child ran with its setting (the decode record says whether its steps were one native
// call). No speed is asserted: the numbers belong to the benchmark.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths.js';
import { PATHS } from './helpers.js';

describe.runIf(PATHS.length > 0)('bench --ablation', () => {
  it('decode: threads, ISA paths and each decode feature turned off, one process each', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', path.join(ROOT, 'test/train/fixtures/register-ts.mjs'), path.join(ROOT, 'src/cli/main.ts'), 'bench', '--task', 'decode', '--ablation'],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, FINTUNE_BENCH_TINY: '1' }, timeout: 240_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const best = PATHS[0]!;
    expect(recs.map((x) => x.ablation)).toEqual([
      `native ${best} 2 threads`,
      `native ${best} 1 thread`,
      ...PATHS.slice(1).map((p) => `native ${p} 2 threads`),
      `native ${best} 2 threads, decode steps through the tensor API`,
      `native ${best} 2 threads, no read-ahead`,
      `native ${best} 2 threads, weights on 4 KiB pages`,
    ]);
    expect(recs[0]!.full_config_speedup).toBe(1);
    for (const x of recs) {
      expect(x).toMatchObject({ task: 'decode', metric: 'tok_per_s' });
      expect(x.value as number).toBeGreaterThan(0);
    }
    // The setting reached the child: only the tensor-API configuration decoded without the native plan.
    expect(recs.map((x) => x.native_step)).toEqual(recs.map((x) => !String(x.ablation).includes('tensor API')));
    expect(recs[1]!.threads).toBe(1);
  });
});
