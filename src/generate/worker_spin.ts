/**
 * Keep the native pool's worker spinning across a token boundary. By default the worker spins ~200 µs after a
 * kernel and then sleeps; within a decode step the JS between two kernels is far shorter, but the boundary
 * between two tokens (argmax over the vocabulary, ending the step's memory scope, the next step's set-up) took
 * ~270 µs for GPT-2 124M, so the worker fell asleep once a token and the next token's first parallel kernel paid
 * a wake-up. 1 ms covers the boundary with margin. Much longer spins were measured to hurt on a loaded 2-core
 * machine (a spinning worker takes the core the main thread's single-threaded stretches and other processes
 * need: the prefill of a 12-layer model went from 19 ms to ~280 ms at 20 ms of spin), so the spin stays short and
 * is restored when the loop ends. FINTUNE_DECODE_SPIN_US overrides it (200 = the pool's default, no change).
 *
 * With one thread or the TS backend there is no worker, and everything is left as is.
 */
import { getBackend } from '../tensor/backends.js';
import { setNativeSpinMicros } from '../tensor/native_backend.js';

const DEFAULT_SPIN_MICROS = 200;

/** The pool's spin (µs) while a decode loop runs; see above. */
export const DECODE_SPIN_MICROS = spinFromEnv(process.env.FINTUNE_DECODE_SPIN_US) ?? 1000;

function spinFromEnv(v: string | undefined): number | null {
  if (v === undefined || v.trim() === '') return null;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

/** Run fn with the worker spinning `us` µs between kernels; the previous setting comes back afterwards. */
export function withWorkerSpin<T>(us: number, fn: () => T): T {
  const be = getBackend();
  if (be.name !== 'native' || be.threads < 2) return fn();
  const prev = setNativeSpinMicros(us);
  try {
    return fn();
  } finally {
    setNativeSpinMicros(prev >= 0 ? prev : DEFAULT_SPIN_MICROS);
  }
}
