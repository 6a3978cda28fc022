import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
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

const STEPS = 16;
let reference: string[] = [];

beforeAll(() => {
  const ref = tmpDir('resume-ref');
  const r = spawnSync(process.execPath, args(ref, STEPS), { cwd: ROOT, encoding: 'utf8' });
  expect(r.stderr).not.toMatch(/error|warning: resuming/i);
  expect(r.status).toBe(0);
  reference = metricsLines(ref).map(deterministicPart);
  expect(reference).toHaveLength(STEPS);
});

describe('resume after SIGKILL', () => {
  it('continues with bitwise the same losses as an uninterrupted run', async () => {
    const run = tmpDir('resume-kill');
    const child = spawn(process.execPath, args(run, STEPS, '--pause-at', '7'), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // Mid-run, one step after the last checkpoint (periodic every 3 steps; evaluations at 4 and 8 may add a best).
      if (/^step 7$/m.test(out) && !child.killed) child.kill('SIGKILL');
    });
    expect(await exit).toBe('SIGKILL');
    expect(err).not.toMatch(/error/i);
    expect(out).not.toContain('done');
    const before = new CheckpointStore(path.join(run, 'checkpoints')).list().map((c) => c.step);
    expect(Math.max(...before)).toBe(6);
    // Step 7 was logged after the last checkpoint: resume must drop it and compute it again.
    expect(metricsLines(run).map((l) => JSON.parse(l).step).at(-1)).toBe(7);

    const r2 = spawnSync(process.execPath, args(run, STEPS, '--resume'), { cwd: ROOT, encoding: 'utf8' });
    expect(r2.stderr).not.toMatch(/error|warning: resuming/i);
    expect(r2.status).toBe(0);
    expect(r2.stdout).toContain('done');
    // It really resumed: the first step it ran is the one after the last checkpoint.
    expect(r2.stdout.split('\n')[0]).toBe(`step ${Math.max(...before) + 1}`);

    expect(metricsLines(run).map(deterministicPart)).toEqual(reference);
    const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
    expect(config.resumes).toHaveLength(1);
  });
});

describe('a crash in the middle of writing a checkpoint', () => {
  it('leaves only a temporary folder, which resume removes; the continuation is still exact', () => {
    const run = tmpDir('resume-ckpt');
    const r = spawnSync(process.execPath, args(run, STEPS, '--die-in-checkpoint', '9'), { cwd: ROOT, encoding: 'utf8' });
    expect(r.signal).toBe('SIGKILL');
    const ckDir = path.join(run, 'checkpoints');
    expect(fs.readdirSync(ckDir).filter((n) => n.startsWith('.tmp-step-00000009-'))).toHaveLength(1);
    const steps = new CheckpointStore(ckDir).list().map((c) => c.step);
    expect(steps).not.toContain(9);

    const r2 = spawnSync(process.execPath, args(run, STEPS, '--resume'), { cwd: ROOT, encoding: 'utf8' });
    expect(r2.status).toBe(0);
    expect(fs.readdirSync(ckDir).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(r2.stdout.split('\n')[0]).toBe(`step ${Math.max(...steps) + 1}`);
    expect(metricsLines(run).map(deterministicPart)).toEqual(reference);
  });
});

describe('stop on SIGTERM', () => {
  it('finishes the step, checkpoints exactly there, exits 0, and a resume matches the uninterrupted run', async () => {
    const run = tmpDir('resume-term');
    const child = spawn(process.execPath, args(run, STEPS, '--pause-at', '5', '--handle-signals'), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/^step 5$/m.test(out) && !child.killed) child.kill('SIGTERM');
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    const stopped = Number(/stopped at (\d+)/.exec(out)?.[1]);
    expect(stopped).toBe(5);
    // The stop step is checkpointed even though it is not a multiple of checkpointEvery.
    expect(new CheckpointStore(path.join(run, 'checkpoints')).list().map((c) => c.step)).toContain(stopped);

    const r2 = spawnSync(process.execPath, args(run, STEPS, '--resume'), { cwd: ROOT, encoding: 'utf8' });
    expect(r2.status).toBe(0);
    expect(r2.stdout.split('\n')[0]).toBe(`step ${stopped + 1}`);
    expect(metricsLines(run).map(deterministicPart)).toEqual(reference);
  });
});
