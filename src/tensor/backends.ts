/**
 * Which backend runs the kernels. f64 work always goes to the TypeScript reference backend (the native one is
 * f32 only and delegates f64 itself, but deciding here keeps the reference path independent of the addon).
 *
 * Selection: FINTUNE_BACKEND=ts|native; by default native when the addon loads, else ts (see native_loader).
 */
import type { Backend, Buf } from './backend.js';
import { tsBackend } from './ts_backend/index.js';

let active: Backend = tsBackend;
let resolved = false;
let resolver: (() => Backend | null) | null = null;

/** Called once by the native backend module to offer itself (keeps this file free of the addon import). */
export function registerBackendResolver(fn: () => Backend | null): void {
  resolver = fn;
  resolved = false;
}

export function getBackend(): Backend {
  if (!resolved) {
    resolved = true;
    const want = process.env.FINTUNE_BACKEND;
    if (want !== 'ts' && resolver) {
      const b = resolver();
      if (b) active = b;
    }
  }
  return active;
}

/** The backend for a given buffer: f64 buffers always use the reference backend. */
export function backendFor(buf: Buf): Backend {
  return buf instanceof Float64Array ? tsBackend : getBackend();
}

/** Force a backend (tests and the ablation benchmark). Returns the previous one. */
export function setBackend(b: Backend): Backend {
  const prev = getBackend();
  active = b;
  resolved = true;
  return prev;
}

export { tsBackend };
