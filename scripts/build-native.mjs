#!/usr/bin/env node
// Builds native/build/fintune.node with the system g++ and the Node-API headers from the node-api-headers npm
// package: nothing is downloaded and node-gyp is not involved. Run by `npm ci` / `npm install` (the package's
// install script) and by `npm run build`.
//
// Each ISA lives in its own translation unit with its own flags; only the baseline units (addon, pool, decode) run
// before the CPU check. Never -march=native (the .node must run on any x86-64 it is copied to) and never
// -ffast-math / -Ofast (a library built with them turns on flush-to-zero for the whole Node process).
//
// Usage: node scripts/build-native.mjs [--force]. Skips the build when the addon is newer than every source.
// A failed build is reported and exits 0 (the library falls back to the TS backend and says so) unless
// FINTUNE_REQUIRE_NATIVE=1, when it exits 1.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = path.join(root, 'native', 'src');
const outDir = path.join(root, 'native', 'build');
const target = path.join(outDir, 'fintune.node');
const cxx = process.env.CXX || 'g++';
const require = createRequire(import.meta.url);

// -fno-trapping-math lets GCC if-convert the clamps and selects of the vectorizable exp (without it the softmax and
// cross-entropy exp loops stay scalar: "control flow in loop"). It changes no result and, unlike -ffast-math,
// neither reassociates sums nor turns on flush-to-zero.
const common = ['-std=c++17', '-O3', '-fPIC', '-fvisibility=hidden', '-fno-math-errno', '-fno-trapping-math', '-pthread', '-Wall'];
// [source, ISA flags]
const units = [
  ['addon.cpp', []],
  ['pool.cpp', []],
  ['decode.cpp', []],
  ['isa_scalar.cpp', []],
  ['isa_avx2.cpp', ['-mavx2', '-mfma', '-mf16c']],
  ['isa_avx512.cpp', ['-mavx512f', '-mavx512bw', '-mavx512dq', '-mavx512vl', '-mfma']],
];

function run(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cxx, args, { stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(err) : reject(new Error(`${cxx} ${args.join(' ')}\n${err}`))));
  });
}

async function main() {
  const t0 = Date.now();
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the native addon builds on linux-x64 only (this is ${process.platform}-${process.arch})`);
  }
  const headers = path.join(path.dirname(require.resolve('node-api-headers/package.json')), 'include');
  const sources = fs.readdirSync(srcDir).map((f) => path.join(srcDir, f));
  const newest = Math.max(...sources.map((f) => fs.statSync(f).mtimeMs), fs.statSync(fileURLToPath(import.meta.url)).mtimeMs);
  if (!process.argv.includes('--force') && fs.existsSync(target) && fs.statSync(target).mtimeMs > newest) {
    console.log(`fintune native: up to date (${path.relative(root, target)})`);
    return;
  }
  fs.mkdirSync(outDir, { recursive: true });
  // Compile the units in parallel (two cores), then link.
  const objs = [];
  const queue = units.map(([src, flags]) => {
    const obj = path.join(outDir, src.replace(/\.cpp$/, '.o'));
    objs.push(obj);
    return () => run([...common, ...flags, `-I${headers}`, '-c', path.join(srcDir, src), '-o', obj]);
  });
  const warnings = [];
  const workers = Array.from({ length: 2 }, async () => {
    for (let job = queue.shift(); job; job = queue.shift()) warnings.push(await job());
  });
  await Promise.all(workers);
  const tmp = `${target}.tmp`;
  await run(['-shared', '-pthread', '-o', tmp, ...objs]);
  fs.renameSync(tmp, target); // atomic: a running process never sees a half-written addon
  for (const o of objs) fs.rmSync(o, { force: true });
  const w = warnings.filter(Boolean).join('');
  if (w) process.stderr.write(w);
  console.log(`fintune native: built ${path.relative(root, target)} in ${((Date.now() - t0) / 1000).toFixed(1)} s (${cxx}; avx512, avx2, scalar)`);
}

main().catch((err) => {
  const required = process.env.FINTUNE_REQUIRE_NATIVE === '1';
  console.error(`fintune native: build failed${required ? '' : ' (falling back to the TypeScript backend)'}: ${err.message}`);
  process.exit(required ? 1 : 0);
});
