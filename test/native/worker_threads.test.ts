// The addon is safe to use from several JS threads at once: whoever finds the pool busy runs serially on its own
// thread with its own scratch buffers, and gets the same bits (GEMM splits never change an element's sums).
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { NATIVE_ADDON_PATH } from '../../src/tensor/native_backend.js';
import { PATHS, expectBitwise, native, randn, usePath } from './helpers.js';

const M = 300, N = 200, K = 500;

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const addon = require(workerData.path);
const { a, b, M, N, K } = workerData;
const c = new Float32Array(M * N);
const P = new Float64Array([0, 0, M, N, K, 1, 0, 0, K, 0, 0, N, 0, 0, N, 0, 1]);
for (let i = 0; i < 20; i++) addon.gemm(a, b, c, P);
parentPort.postMessage(c);
`;

describe.runIf(PATHS.length > 0)('native addon in worker_threads', () => {
  it('concurrent GEMMs from three JS threads give the single-threaded bits', async () => {
    usePath(PATHS[0]!, 2, 'worker_threads');
    const a = randn(M * K, 1), b = randn(K * N, 2);
    const ref = new Float32Array(M * N);
    const nb = native();
    const p = { transA: false, transB: false, M, N, K, alpha: 1, beta: 0, a, aOff: 0, lda: K, strideA: 0, b, bOff: 0, ldb: N, strideB: 0, c: ref, cOff: 0, ldc: N, strideC: 0, batch: 1 };
    nb.gemm(p);
    const runs = [0, 1].map(
      () =>
        new Promise<Float32Array>((resolve, reject) => {
          const w = new Worker(WORKER, { eval: true, workerData: { path: NATIVE_ADDON_PATH, a, b, M, N, K } });
          w.once('message', (c: Float32Array) => {
            void w.terminate();
            resolve(c);
          });
          w.once('error', reject);
        }),
    );
    // Keep the main thread's pool busy meanwhile.
    const mine = new Float32Array(M * N);
    for (let i = 0; i < 20; i++) nb.gemm({ ...p, c: mine });
    const results = await Promise.all(runs);
    expect(results.length).toBe(2);
    for (const r of [...results, mine]) expectBitwise(r, ref, 'concurrent gemm');
  });
});
