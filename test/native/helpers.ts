/**
 * Shared pieces of the native twin tests: the addon status, the SIMD paths to run under, seeded random data and
 * a tolerance check that reports the worst element.
 */
import { expect } from 'vitest';
import { loadNative, setNativeSimd, setNativeThreads, getNativeBackend } from '../../src/tensor/native_backend.js';
import type { Backend } from '../../src/tensor/backend.js';

export const status = loadNative();
if (!status.ok && process.env.FINTUNE_REQUIRE_NATIVE === '1') {
  throw new Error(`FINTUNE_REQUIRE_NATIVE=1 but the native addon is unavailable: ${status.reason}`);
}
/** Every ISA path this CPU can run (best first); empty when the addon is missing (tests then skip). */
export const PATHS: string[] = status.ok ? status.info.supported : [];
if (!status.ok) console.log(`native twin tests skipped: ${status.reason}`);

export function native(): Backend {
  const b = getNativeBackend();
  if (!b) throw new Error('native backend unavailable');
  return b;
}

/** Selects a path and thread count for the following calls and prints what runs. */
export function usePath(simd: string, threads = 2, label = ''): void {
  setNativeSimd(simd);
  const info = setNativeThreads(threads);
  console.log(`native path: ${info.simd}, threads ${info.threads}${label ? ` (${label})` : ''}`);
}

/** Deterministic uniform numbers in [-1, 1) (xorshift32), so a failure reproduces. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2147483648 - 1;
  };
}

export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r() * scale;
  return a;
}

/** |a - b| <= atol + rtol*|b| elementwise (NaN matches NaN, ±Inf must match exactly). */
export function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  expect(a.length, `${what}: length`).toBe(b.length);
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (Number.isNaN(y) || !Number.isFinite(y)) {
      if (!(Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y)) || x === y)) {
        worst = i;
        worstRatio = Infinity;
        break;
      }
      continue;
    }
    const diff = Math.abs(x - y);
    const ratio = diff === 0 ? 0 : diff / (atol + rtol * Math.abs(y));
    if (!(ratio <= worstRatio)) {
      worstRatio = ratio;
      worst = i;
    }
  }
  if (worstRatio > 1 || Number.isNaN(worstRatio)) {
    expect.fail(`${what}: element ${worst} is ${a[worst]}, reference ${b[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}

export function expectBitwise(a: Float32Array, b: Float32Array, what: string): void {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) expect.fail(`${what}: element ${i} differs (${a[i]} vs ${b[i]})`);
  }
}
