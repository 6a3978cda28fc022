/**
 * mulberry32: a tiny seeded generator for the tests themselves (fuzz cases, property tests), independent of
 * src/tensor/rng.ts so a bug there cannot hide in the tests' own randomness.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
