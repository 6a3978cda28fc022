/**
 * Learning-rate schedules: a pure function of the optimizer step, so a resumed run recomputes exactly the rate
 * the uninterrupted run used (no schedule state to save).
 *
 * Conventions (the ones Hugging Face's `get_*_schedule_with_warmup` use, so runs are comparable):
 *  - `step` counts optimizer updates already done: the first update uses step 0.
 *  - warm-up: lr · step / warmup for step < warmup (so the very first update uses lr 0 when warmup > 0 — this is
 *    what HF does, and it keeps the first, noisiest gradients from moving the weights).
 *  - after warm-up, progress p = (step − warmup) / (total − warmup) in [0, 1]:
 *      constant: lr;   linear: lr · max(minRatio, 1 − p · (1 − minRatio));
 *      cosine:   lr · (minRatio + (1 − minRatio) · ½ · (1 + cos(π · p))).
 *  - past `total` the rate stays at its final value (lr · minRatio for linear/cosine).
 */

export type ScheduleKind = 'constant' | 'linear' | 'cosine';

export interface ScheduleOptions {
  kind: ScheduleKind;
  /** Peak learning rate. */
  lr: number;
  /** Warm-up updates (linear ramp from 0). Default 0. */
  warmupSteps?: number;
  /** Total optimizer updates of the run (needed by linear and cosine). */
  totalSteps?: number;
  /** Final rate as a fraction of lr for linear/cosine decay. Default 0. */
  minLrRatio?: number;
}

export type Schedule = (step: number) => number;

export function makeSchedule(o: ScheduleOptions): Schedule {
  const warmup = o.warmupSteps ?? 0;
  const total = o.totalSteps ?? 0;
  const minRatio = o.minLrRatio ?? 0;
  if (!isScheduleKind(o.kind)) throw new Error(`schedule: unknown kind ${JSON.stringify(o.kind)} (constant, linear or cosine)`);
  if (!(o.lr >= 0) || !Number.isFinite(o.lr)) throw new Error(`schedule: lr must be a finite number >= 0, got ${o.lr}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`schedule: warmupSteps must be an integer >= 0, got ${warmup}`);
  if (!(minRatio >= 0 && minRatio <= 1)) throw new Error(`schedule: minLrRatio must be in [0, 1], got ${minRatio}`);
  if (o.kind !== 'constant') {
    if (!Number.isInteger(total) || total <= 0) {
      throw new Error(`schedule: "${o.kind}" needs totalSteps (an integer > 0), got ${o.totalSteps}`);
    }
    if (warmup > total) throw new Error(`schedule: warmupSteps ${warmup} is more than totalSteps ${total}`);
  }
  const lr = o.lr;
  const ramp = (step: number): number | null => (step < warmup ? (lr * step) / warmup : null);
  switch (o.kind) {
    case 'constant':
      return (step) => ramp(step) ?? lr;
    case 'linear':
      return (step) => {
        const r = ramp(step);
        if (r !== null) return r;
        const p = progress(step, warmup, total);
        return lr * Math.max(minRatio, 1 - p * (1 - minRatio));
      };
    case 'cosine':
      return (step) => {
        const r = ramp(step);
        if (r !== null) return r;
        const p = progress(step, warmup, total);
        return lr * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * p)));
      };
  }
}

function progress(step: number, warmup: number, total: number): number {
  // warmup === total leaves no decay phase: treat everything after warm-up as finished.
  if (total <= warmup) return 1;
  return Math.min(1, (step - warmup) / (total - warmup));
}

export function isScheduleKind(x: unknown): x is ScheduleKind {
  return x === 'constant' || x === 'linear' || x === 'cosine';
}
