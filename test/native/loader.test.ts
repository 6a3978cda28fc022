// The loader's contract, checked in child processes (the choice is made once per process): native by default,
// FINTUNE_BACKEND=ts opts out, FINTUNE_SIMD forces a path, and a missing addon is a single stderr notice — or an
// error under FINTUNE_REQUIRE_NATIVE=1.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths.js';
import { PATHS } from './helpers.js';

function run(env: Record<string, string>): { out: Record<string, unknown>; stderr: string } {
  const base = { ...process.env };
  for (const k of ['FINTUNE_BACKEND', 'FINTUNE_REQUIRE_NATIVE', 'FINTUNE_SIMD', 'FINTUNE_NATIVE_PATH', 'FINTUNE_THREADS']) delete base[k];
  const r = spawnSync(
    process.execPath,
    ['--import', path.join(ROOT, 'test/train/fixtures/register-ts.mjs'), path.join(ROOT, 'test/native/fixtures/which-backend.ts')],
    { env: { ...base, ...env }, encoding: 'utf8', timeout: 60_000 },
  );
  expect(r.status, r.stderr).toBe(0);
  return { out: JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}'), stderr: r.stderr };
}

describe('native loader', () => {
  it('falls back to the TS backend with one notice when the addon is missing', () => {
    const { out, stderr } = run({ FINTUNE_NATIVE_PATH: '/nonexistent/fintune.node' });
    expect(out.name).toBe('ts');
    expect(stderr.match(/using the TypeScript backend/g)?.length).toBe(1);
  });

  it('FINTUNE_REQUIRE_NATIVE=1 turns a missing addon into an error that says why', () => {
    const { out } = run({ FINTUNE_NATIVE_PATH: '/nonexistent/fintune.node', FINTUNE_REQUIRE_NATIVE: '1' });
    expect(String(out.error)).toMatch(/FINTUNE_REQUIRE_NATIVE=1.*does not exist/);
  });

  it('an addon built from older sources (missing entry points) is refused by name, not used until a TypeError', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fintune-stale-'));
    const stale = path.join(dir, 'stale.cjs');
    writeFileSync(stale, 'module.exports = { gemm() {}, info() { return { simd: "avx2", threads: 2, supported: ["avx2"] }; } };\n');
    const { out } = run({ FINTUNE_NATIVE_PATH: stale, FINTUNE_REQUIRE_NATIVE: '1' });
    expect(String(out.error)).toMatch(/out of date \(no gemmBias, gemmBf16, gemm4bit, .*\): rebuild it with `npm run build`/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('FINTUNE_BACKEND=ts picks the reference backend silently', () => {
    const { out, stderr } = run({ FINTUNE_BACKEND: 'ts', FINTUNE_NATIVE_PATH: '/nonexistent/fintune.node' });
    expect(out.name).toBe('ts');
    expect(stderr).not.toMatch(/TypeScript backend/);
  });

  it.runIf(PATHS.length > 0)('loads the native backend by default; FINTUNE_SIMD and FINTUNE_THREADS are honoured', () => {
    expect(run({}).out).toMatchObject({ name: 'native', simd: PATHS[0], threads: 2 });
    for (const simd of PATHS) {
      const { out } = run({ FINTUNE_SIMD: simd, FINTUNE_THREADS: '1', FINTUNE_REQUIRE_NATIVE: '1' });
      console.log(`native path: ${String(out.simd)}, threads ${String(out.threads)} (loader, FINTUNE_SIMD=${simd})`);
      expect(out).toMatchObject({ name: 'native', simd, threads: 1 });
    }
  });

  it.runIf(PATHS.length > 0 && !PATHS.includes('avx512'))('forcing a path the CPU lacks is an error, not a crash', () => {
    const { out } = run({ FINTUNE_SIMD: 'avx512', FINTUNE_REQUIRE_NATIVE: '1' });
    expect(String(out.error)).toMatch(/does not support/);
  });
});
