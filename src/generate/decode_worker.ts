/**
 * What the native pool's worker does while a decode loop runs. Between two kernels of a decode step the main
 * thread runs JS (in a one-call native step, CausalLM.stepDecoder, a little C) and the worker idles; two
 * settings put that time to use, both restored when the loop ends.
 *
 * Spin. By default the worker spins ~200 µs after a kernel and then sleeps; within a decode step the JS between
 * two kernels is far shorter, but the boundary between two tokens (argmax over the vocabulary, ending the
 * step's memory scope, the next step's set-up) took ~270 µs for GPT-2 124M, so the worker fell asleep once a
 * token and the next token's first parallel kernel paid a wake-up. 1 ms covers the boundary with margin. Much
 * longer spins were measured to hurt on a loaded 2-core machine (a spinning worker takes the core the main
 * thread's single-threaded stretches and other processes need: the prefill of a 12-layer model went from 19 ms
 * to ~280 ms at 20 ms of spin), so the spin stays short. FINTUNE_DECODE_SPIN_US overrides it (200 = the pool's
 * default, no change).
 *
 * Read-ahead. Each decoded token streams every weight matrix from memory once, and between two of those
 * products the memory sits idle. While spinning, the worker reads the start of the weight the next product
 * will stream (native/src/pool.cpp learns the order from the previous token), so that product starts from
 * cache. The model's parameters are the only memory it may read, and the loop holds them. FINTUNE_READ_AHEAD=0
 * turns it off.
 *
 * With one thread or the TS backend there is no worker, and everything is left as is.
 */
import type { Module } from '../nn/module.js';
import { getBackend } from '../tensor/backends.js';
import { setNativeReadAhead, setNativeSpinMicros } from '../tensor/native_backend.js';

const DEFAULT_SPIN_MICROS = 200;

/** The pool's spin (µs) while a decode loop runs; see above. */
export const DECODE_SPIN_MICROS = spinFromEnv(process.env.FINTUNE_DECODE_SPIN_US) ?? 1000;

/** Whether decode loops have the worker read ahead (FINTUNE_READ_AHEAD=0: no). */
export const DECODE_READ_AHEAD = process.env.FINTUNE_READ_AHEAD !== '0';

function spinFromEnv(v: string | undefined): number | null {
  if (v === undefined || v.trim() === '') return null;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

/**
 * Run a decode loop over `model` with the worker spinning DECODE_SPIN_MICROS between kernels and reading the
 * model's weights ahead (DECODE_READ_AHEAD); the previous spin comes back and read-ahead ends afterwards.
 */
export function withDecodeWorker<T>(model: Module, fn: () => T): T {
  const be = getBackend();
  if (be.name !== 'native' || be.threads < 2) return fn();
  const prev = setNativeSpinMicros(DECODE_SPIN_MICROS);
  // The arrays stay referenced here until read-ahead has ended, so the worker never reads freed memory.
  const weights = DECODE_READ_AHEAD ? model.parameters().map((p) => p.data) : [];
  if (weights.length) setNativeReadAhead(weights);
  try {
    return fn();
  } finally {
    if (weights.length) setNativeReadAhead([]);
    setNativeSpinMicros(prev >= 0 ? prev : DEFAULT_SPIN_MICROS);
  }
}
