import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointStore } from '../../src/train/checkpoints.js';
import { ROOT } from '../helpers/paths.js';
import { tmpDir } from './helpers.js';

const FIX = path.join(ROOT, 'test/train/fixtures');
const args = (runDir: string, steps: number, ...extra: string[]): string[] => [
  '--import',
  path.join(FIX, 'register-ts.mjs'),
  path.join(FIX, 'resume_child.ts'),
  runDir,
  String(steps),
  ...extra,
];

function metricsLines(runDir: string): string[] {
  return fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.trim());
}

/** The values that must match bit for bit, as JSON text (JSON keeps every bit of a double). */
function deterministicPart(line: string): string {
  const m = JSON.parse(line) as Record<string, unknown>;
  return JSON.stringify([m.step, m.loss, m.lr, m.gradNorm, m.tokens, m.valLoss ?? null]);
}

describe('resume after SIGKILL', () => {
  it('continues with bitwise the same losses as an uninterrupted run', async () => {
    const STEPS = 24;
    const ref = tmpDir('resume-ref');
    const r = spawnSync(process.execPath, args(ref, STEPS), { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);

    const run = tmpDir('resume-kill');
    const child = spawn(process.execPath, args(run, STEPS, '--delay-ms', '40'), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // Mid-run: after a few checkpoints, well before the end.
      if (/^step 11$/m.test(out) && !child.killed) child.kill('SIGKILL');
    });
    expect(await exit).toBe('SIGKILL');
    expect(err).toBe('');
    expect(out).not.toContain('done');
    const before = new CheckpointStore(path.join(run, 'checkpoints')).list().map((c) => c.step);
    expect(Math.max(...before)).toBeLessThan(STEPS);
    expect(Math.max(...before)).toBeGreaterThanOrEqual(9);

    const r2 = spawnSync(process.execPath, args(run, STEPS, '--resume'), { cwd: ROOT, encoding: 'utf8' });
    expect(r2.stderr).toBe('');
    expect(r2.status).toBe(0);
    expect(r2.stdout).toContain('done');
    // It really resumed: the first step it ran is the one after the last checkpoint.
    expect(r2.stdout.split('\n')[0]).toBe(`step ${Math.max(...before) + 1}`);

    const a = metricsLines(ref).map(deterministicPart);
    const b = metricsLines(run).map(deterministicPart);
    expect(a).toHaveLength(STEPS);
    expect(b).toEqual(a);
    const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
    expect(config.resumes).toHaveLength(1);
  });
});
