import { getNativeBackend, loadNative } from '../../src/tensor/native_backend.js';
import { setBackend, tsBackend, type Backend } from '../../src/tensor/index.js';

/**
 * The backends a parity test must pass on: the TypeScript reference always, and the native one when the addon
 * loads — which CI requires (FINTUNE_REQUIRE_NATIVE=1), so there a missing addon fails instead of shrinking the
 * list.
 */
export function parityBackends(): [string, Backend][] {
  const list: [string, Backend][] = [['ts', tsBackend]];
  const native = getNativeBackend();
  if (native) list.push([`native-${native.simd}`, native]);
  else if (process.env.FINTUNE_REQUIRE_NATIVE === '1') {
    throw new Error(`FINTUNE_REQUIRE_NATIVE=1 but the native backend is unavailable: ${(loadNative() as { reason?: string }).reason}`);
  }
  return list;
}

/** Run fn with `b` as the active backend, restoring the previous one afterwards. */
export function withBackend<T>(b: Backend, fn: () => T): T {
  const prev = setBackend(b);
  try {
    return fn();
  } finally {
    setBackend(prev);
  }
}
