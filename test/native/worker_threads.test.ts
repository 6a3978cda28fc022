// The addon is safe to use from several JS threads at once: whoever finds the pool busy runs serially on its own
// thread with its own scratch buffers, and gets the same bits (splits by rows or columns never change an element's
// sums; a split by depth runs its same two halves in the same order when serial).
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { NATIVE_ADDON_PATH } from '../../src/tensor/native_backend.js';
import { PATHS, expectBitwise, native, randn, usePath } from './helpers.js';

const M = 300, N = 200, K = 500;

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const addon = require(workerData.path);
const { a, b, M, N, K, reps } = workerData;
const c = new Float32Array(M * N);
const P = new Float64Array([0, 0, M, N, K, 1, 0, 0, K, 0, 0, N, 0, 0, N, 0, 1]);
for (let i = 0; i < reps; i++) addon.gemm(a, b, c, P);
parentPort.postMessage(c);
`;

function inWorker(a: Float32Array, b: Float32Array, M: number, N: number, K: number, reps: number): Promise<Float32Array> {
  return new Promise<Float32Array>((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData: { path: NATIVE_ADDON_PATH, a, b, M, N, K, reps } });
    w.once('message', (c: Float32Array) => {
      void w.terminate();
      resolve(c);
    });
    w.once('error', reject);
  });
}

describe.runIf(PATHS.length > 0)('native addon in worker_threads', () => {
  it('concurrent GEMMs from three JS threads give the single-threaded bits', async () => {
    usePath(PATHS[0]!, 2, 'worker_threads');
    const a = randn(M * K, 1), b = randn(K * N, 2);
    const ref = new Float32Array(M * N);
    const nb = native();
    const p = { transA: false, transB: false, M, N, K, alpha: 1, beta: 0, a, aOff: 0, lda: K, strideA: 0, b, bOff: 0, ldb: N, strideB: 0, c: ref, cOff: 0, ldc: N, strideC: 0, batch: 1 };
    nb.gemm(p);
    const runs = [0, 1].map(() => inWorker(a, b, M, N, K, 20));
    // Keep the main thread's pool busy meanwhile.
    const mine = new Float32Array(M * N);
    for (let i = 0; i < 20; i++) nb.gemm({ ...p, c: mine });
    const results = await Promise.all(runs);
    expect(results.length).toBe(2);
    for (const r of [...results, mine]) expectBitwise(r, ref, 'concurrent gemm');
  });

  it('a product split by depth passes its barrier from whichever JS thread holds the pool', async () => {
    // The two pool threads meet at a barrier between the halves and the final sum. Main thread, then a worker
    // thread with the pool to itself, then the main thread again: a barrier phase kept per OS thread would let
    // one side through early (a wrong sum) or never (a hang).
    usePath(PATHS[0]!, 2, 'worker_threads, depth split');
    const dM = 100, dN = 50, dK = 901; // K > 2M: split by depth on 2 threads
    const a = randn(dM * dK, 3), b = randn(dK * dN, 4);
    const nb = native();
    const p = { transA: false, transB: false, M: dM, N: dN, K: dK, alpha: 1, beta: 0, a, aOff: 0, lda: dK, strideA: 0, b, bOff: 0, ldb: dN, strideB: 0, c: new Float32Array(dM * dN), cOff: 0, ldc: dN, strideC: 0, batch: 1 };
    nb.gemm(p);
    const ref = p.c.slice();
    for (let round = 0; round < 3; round++) {
      expectBitwise(await inWorker(a, b, dM, dN, dK, 3), ref, `worker thread, round ${round}`);
      const again = new Float32Array(dM * dN);
      nb.gemm({ ...p, c: again });
      expectBitwise(again, ref, `main thread, round ${round}`);
    }
  });
});
