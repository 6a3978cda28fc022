import { describe, expect, it } from 'vitest';
import { combineSamples } from '../../src/eval/samples.js';

describe('combining sampled forecasts', () => {
  it('median, spread and direction confidence over the parsed paths', () => {
    // Last known 10, horizon 2. Paths [11, 12], [9, 13], [12, 8] and one short path [5] (ignored).
    // Step medians: median(11, 9, 12) = 11, median(12, 13, 8) = 12 → up against 10.
    // Last-step directions: 12 up, 13 up, 8 down → 2 of 3 agree.
    const s = combineSamples([[11, 12], [9, 13], [12, 8], [5]], 10, 2);
    expect(s.predicted).toEqual([11, 12]);
    expect(s.parse_ok).toBe(true);
    expect(s.parsed_paths).toBe(3);
    expect(s.total_paths).toBe(4);
    expect(s.confidence).toBeCloseTo(2 / 3, 14);
    // 10th percentile of step 1 (sorted 9, 11, 12): position 0.2 → 9 + 0.2·2 = 9.4.
    expect(s.spread!.p10[0]).toBeCloseTo(9.4, 12);
    // 90th percentile of step 2 (sorted 8, 12, 13): position 1.8 → 12 + 0.8·1 = 12.8.
    expect(s.spread!.p90[1]).toBeCloseTo(12.8, 12);
  });

  it('no parsed path is a parse failure', () => {
    const s = combineSamples([[1], []], 10, 2);
    expect(s.parse_ok).toBe(false);
    expect(s.predicted).toEqual([]);
    expect(s.confidence).toBeNull();
  });
});
