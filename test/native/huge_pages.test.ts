// Huge pages for model weights: the addon's madvise wrapper, and param() handing fresh weight memory to the
// advisor before anything is written to it.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { param } from '../../src/nn/module.js';
import { setWeightMemoryAdvisor, WEIGHT_ADVICE_MIN_BYTES } from '../../src/tensor/storage.js';
import { nativeHugePages } from '../../src/tensor/native_backend.js';
import type { AnyTypedArray } from '../../src/tensor/dtype.js';
import { status } from './helpers.js';

const HUGE = 2 << 20;

function thpMode(): string {
  try {
    return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? 'never';
  } catch {
    return 'never';
  }
}

describe.runIf(status.ok)('native hugePages', () => {
  const canAdvise = thpMode() !== 'never';

  it('advises nothing for an array smaller than a huge page', () => {
    expect(nativeHugePages(new Float32Array(1000))).toBe(0);
    expect(nativeHugePages(new Float32Array(HUGE / 4 - 1))).toBe(0);
  });

  it.runIf(canAdvise)('advises the whole huge pages inside a large array', () => {
    const a = new Float32Array((9 << 20) / 4);
    const n = nativeHugePages(a);
    console.log(`THP ${thpMode()}: advised ${n / HUGE} huge pages of a 9 MiB array`);
    expect(n % HUGE).toBe(0);
    // 9 MiB holds at least 3 and at most 4 aligned 2 MiB pages, wherever it starts.
    expect(n).toBeGreaterThanOrEqual(3 * HUGE);
    expect(n).toBeLessThanOrEqual(4 * HUGE);
    // Views advise their own range only.
    expect(nativeHugePages(a.subarray(0, 1000))).toBe(0);
  });

  it('keeps the contents of memory it collapses', () => {
    const a = new Float32Array((6 << 20) / 4);
    for (let i = 0; i < a.length; i++) a[i] = i * 0.5 - 7;
    nativeHugePages(a, true); // 0 where the kernel predates MADV_COLLAPSE: the contents must hold either way
    let bad = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== i * 0.5 - 7) bad++;
    expect(bad).toBe(0);
  });

  it('rejects what is not a typed array', () => {
    expect(() => nativeHugePages({} as ArrayBufferView)).toThrow(/typed array/);
  });
});

describe('param() and the weight memory advisor', () => {
  afterEach(() => setWeightMemoryAdvisor(status.ok ? (a) => nativeHugePages(a) : null));

  it('shows fresh weight memory of at least WEIGHT_ADVICE_MIN_BYTES to the advisor before writing it', () => {
    const seen: { bytes: number; allZero: boolean }[] = [];
    setWeightMemoryAdvisor((a: AnyTypedArray) => seen.push({ bytes: a.byteLength, allZero: (a as Float32Array).every((v) => v === 0) }));
    const n = WEIGHT_ADVICE_MIN_BYTES / 4;
    const big = param([n / 64, 64], { init: new Float32Array(n).fill(3) });
    param([8, 8]);
    param([n / 4 - 1, 4]); // 16 bytes short of the threshold
    expect(seen).toEqual([{ bytes: WEIGHT_ADVICE_MIN_BYTES, allZero: true }]);
    expect((big.data as Float32Array)[n - 1]).toBe(3);
  });

  it('bf16 weights are advised at their stored size', () => {
    const seen: number[] = [];
    setWeightMemoryAdvisor((a) => seen.push(a.byteLength));
    param([1024, 2048], { dtype: 'bf16' });
    expect(seen).toEqual([4 << 20]);
  });
});
