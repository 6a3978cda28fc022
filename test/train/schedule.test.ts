import { describe, expect, it } from 'vitest';
import { makeSchedule } from '../../src/train/schedule.js';

const run = (s: (n: number) => number, steps: number[]): number[] => steps.map(s);

describe('learning-rate schedules (hand-computed values)', () => {
  it('constant with warm-up ramps linearly from 0, then holds', () => {
    const s = makeSchedule({ kind: 'constant', lr: 0.1, warmupSteps: 4 });
    const got = run(s, [0, 1, 2, 3, 4, 5, 1000]);
    [0, 0.025, 0.05, 0.075, 0.1, 0.1, 0.1].forEach((v, i) => expect(got[i]).toBeCloseTo(v, 15));
    expect(makeSchedule({ kind: 'constant', lr: 3e-4 })(0)).toBe(3e-4);
  });

  it('linear: warm-up to the peak, then straight down to 0 (or minLrRatio) at totalSteps', () => {
    const s = makeSchedule({ kind: 'linear', lr: 1, warmupSteps: 2, totalSteps: 10 });
    // step 6: progress (6-2)/(10-2) = 0.5
    const got = run(s, [0, 1, 2, 6, 8, 10, 12]);
    [0, 0.5, 1, 0.5, 0.25, 0, 0].forEach((v, i) => expect(got[i]).toBeCloseTo(v, 15));
    const floor = makeSchedule({ kind: 'linear', lr: 1, warmupSteps: 2, totalSteps: 10, minLrRatio: 0.1 });
    expect(floor(6)).toBeCloseTo(0.55, 15); // 1 - 0.5 · 0.9
    expect(floor(10)).toBeCloseTo(0.1, 15);
  });

  it('cosine: half a cosine period from the peak to 0 (or minLrRatio)', () => {
    const s = makeSchedule({ kind: 'cosine', lr: 1, totalSteps: 4 });
    // ½(1 + cos(π/4)) = 0.853553390593…, ½(1 + cos(3π/4)) = 0.146446609406…
    const got = run(s, [0, 1, 2, 3, 4, 5]);
    [1, 0.8535533905932737, 0.5, 0.14644660940672627, 0, 0].forEach((v, i) => expect(got[i]).toBeCloseTo(v, 14));
    const w = makeSchedule({ kind: 'cosine', lr: 2, warmupSteps: 2, totalSteps: 6, minLrRatio: 0.2 });
    expect(w(1)).toBeCloseTo(1, 15); // 2 · 1/2 in warm-up
    expect(w(2)).toBeCloseTo(2, 15); // peak
    expect(w(4)).toBeCloseTo(2 * (0.2 + 0.8 * 0.5), 15); // progress 0.5
    expect(w(6)).toBeCloseTo(0.4, 15);
  });

  it('rejects bad settings with the parameter named', () => {
    expect(() => makeSchedule({ kind: 'cosine', lr: 1 })).toThrow(/needs totalSteps/);
    expect(() => makeSchedule({ kind: 'linear', lr: 1, warmupSteps: 5, totalSteps: 3 })).toThrow(/warmupSteps 5 is more than totalSteps 3/);
    expect(() => makeSchedule({ kind: 'constant', lr: -1 })).toThrow(/lr must be/);
    expect(() => makeSchedule({ kind: 'exp' as 'constant', lr: 1 })).toThrow(/unknown kind "exp"/);
  });
});
