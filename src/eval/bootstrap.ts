/**
 * Moving-block bootstrap confidence intervals over forecast windows.
 *
 * Consecutive windows overlap and share market regimes, so their errors are correlated; resampling single windows
 * (the ordinary bootstrap) would understate the uncertainty. The moving-block bootstrap resamples runs of `L`
 * consecutive windows instead: each replicate concatenates blocks starting at uniformly drawn positions
 * s ∈ {0, …, n − L} until it has n windows (the last block cut short), and recomputes the statistic on them.
 * The interval is the percentile interval of the replicates. Draws come from the project's seeded Philox
 * generator, so the same seed gives the same interval on every machine.
 */

import { createRng, type Seed } from '../tensor/rng.js';
import { quantile } from './stats.js';

export interface BootstrapOptions {
  /** Replicates; default 1000. */
  replicates?: number;
  /** Block length; default ⌈n^{1/3}⌉ (the usual rate for variance estimation), at least 1, at most n. */
  blockLength?: number;
  /** Confidence level; default 0.95. */
  level?: number;
  seed?: Seed;
}

export interface BootstrapSettings {
  replicates: number;
  blockLength: number;
  level: number;
  seed: Seed;
}

export function defaultBlockLength(n: number): number {
  return Math.max(1, Math.min(n, Math.ceil(Math.cbrt(n))));
}

export function resolveBootstrap(n: number, opts: BootstrapOptions = {}): BootstrapSettings {
  const replicates = opts.replicates ?? 1000;
  const blockLength = opts.blockLength ?? defaultBlockLength(n);
  const level = opts.level ?? 0.95;
  if (!(Number.isInteger(replicates) && replicates >= 1)) throw new Error(`bootstrap: replicates must be ≥ 1`);
  if (!(Number.isInteger(blockLength) && blockLength >= 1)) throw new Error(`bootstrap: block length must be ≥ 1`);
  if (!(level > 0 && level < 1)) throw new Error(`bootstrap: level must be in (0, 1), got ${level}`);
  return { replicates, blockLength: Math.min(blockLength, Math.max(n, 1)), level, seed: opts.seed ?? 0 };
}

/**
 * The resampled index sets, one Int32Array of length n per replicate. Exposed so several statistics (e.g. a
 * model's MSE and persistence's MSE, for the skill score) can be computed on the same resamples.
 */
export function blockBootstrapIndices(n: number, settings: BootstrapSettings): Int32Array[] {
  if (n < 1) throw new Error('bootstrap: no observations');
  const rng = createRng(settings.seed, 'eval/moving-block-bootstrap');
  const L = Math.min(settings.blockLength, n);
  const starts = n - L + 1;
  const out: Int32Array[] = [];
  for (let b = 0; b < settings.replicates; b++) {
    const idx = new Int32Array(n);
    let filled = 0;
    while (filled < n) {
      const s = rng.randint(starts);
      for (let j = 0; j < L && filled < n; j++) idx[filled++] = s + j;
    }
    out.push(idx);
  }
  return out;
}

export interface ConfidenceInterval {
  lower: number;
  upper: number;
  level: number;
}

/** Percentile interval of `statistic` over the replicates (non-finite replicate values are dropped). */
export function percentileInterval(
  samples: Int32Array[],
  statistic: (indices: Int32Array) => number,
  level: number,
): ConfidenceInterval | null {
  const values = samples.map(statistic).filter((v) => Number.isFinite(v));
  if (values.length === 0) return null;
  const alpha = (1 - level) / 2;
  return { lower: quantile(values, alpha), upper: quantile(values, 1 - alpha), level };
}
