/**
 * Reproducible randomness: a counter-based generator, Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel
 * random numbers: as easy as 1, 2, 3", SC'11), with named streams and a state that fits in a small JSON object.
 *
 * Why counter-based: the n-th random word of a stream is a pure function of (seed, stream, n). So the whole
 * generator state is three values, a resumed run continues with exactly the numbers an uninterrupted run would
 * have drawn, and independent consumers (weight init, dropout, data order) cannot disturb one another's draws.
 *
 * The block function. Philox4x32-10 maps a 128-bit counter (c0..c3) and a 64-bit key (k0, k1) to 128 random bits
 * through 10 rounds of
 *     (hi0, lo0) = M0 × c0,  (hi1, lo1) = M1 × c2          (32×32 → 64-bit products)
 *     c = (hi1 ^ c1 ^ k0,  lo1,  hi0 ^ c3 ^ k1,  lo0)
 * with the key bumped by the Weyl constants (W0, W1) between rounds; M0 = 0xD2511F53, M1 = 0xCD9E8D57,
 * W0 = 0x9E3779B9, W1 = 0xBB67AE85. It is a bijection of the counter for a fixed key, so distinct counters never
 * repeat an output block. `philox4x32_10` is exported and checked against Random123's published known-answer
 * vectors in test/tensor/rng.test.ts.
 *
 * How fintune fills key and counter:
 *  - key   = the 64-bit seed: k0 = low 32 bits, k1 = high 32 bits.
 *  - c2,c3 = a 64-bit id of the stream name: FNV-1a-64 over the name's UTF-8 bytes (offset basis
 *            0xcbf29ce484222325, prime 0x100000001b3); c2 = low 32 bits, c3 = high 32 bits.
 *  - c0,c1 = the block index within the stream (low, high 32 bits). Block b yields words 4b .. 4b+3, in order
 *            x0, x1, x2, x3.
 * A stream is therefore 2^64 blocks long and distinct names get disjoint counter ranges (barring a 64-bit hash
 * collision). `fork(name)` derives the stream "<parent>/<name>"; `split(n)` forks "0" .. "n-1". Forks start at
 * position 0 and do not depend on how much the parent has drawn — only on the names.
 *
 * State: `{ algorithm: 'philox4x32-10', seed: '<decimal u64>', stream: '<name>', position: <words consumed> }`.
 * The seed is a decimal string because JSON numbers cannot hold 64 bits. `position` counts 32-bit words, so a
 * half-used block is resumed exactly.
 *
 * How draws use words (this is the contract a resumed run relies on):
 *  - `nextUint32()`: one word.
 *  - `uniform()`: one word w → (w >>> 8) × 2^-24, a float32-exact value in [0, 1).
 *  - `uniform53()`: two words a, b → ((a >>> 5) × 2^26 + (b >>> 6)) × 2^-53, in [0, 1) (the usual 53-bit recipe).
 *  - `fillUniform(out, low, high)`: Float32Array → one word per element (24-bit uniforms); Float64Array → two.
 *  - normals (Box–Muller): two words a, b → u1 = (a + 0.5) × 2^-32 and u2 = (b + 0.5) × 2^-32, both in (0, 1)
 *    so log(u1) is finite; r = sqrt(−2 ln u1); the pair is (r cos 2πu2, r sin 2πu2). `fillNormal` writes both
 *    members of each pair to consecutive elements (an odd length discards the last sine); `normal()` uses one pair
 *    and returns the cosine member only. So `normal()` twice ≠ `fillNormal` of length 2, by design: each call is
 *    self-contained. Tails reach about ±6.7σ. Uniform and integer draws are bit-exact everywhere; normals depend
 *    on Math.log/cos/sin, which are deterministic for a given Node/V8 version.
 *  - `randint(n)`: unbiased by rejection. n ≤ 2^32: one word w, rejected while w ≥ 2^32 − (2^32 mod n), result
 *    w mod n. Larger n (up to 2^53): two words per try (21 high bits, 32 low bits), same rule with 2^53.
 *  - `fillBernoulli(out, p)`: one word per element, 1 when w < p × 2^32 (p is resolved to 2^-32).
 *  - `shuffle(a)`: Fisher–Yates from the end: for i = n−1 … 1, swap a[i] with a[randint(i + 1)].
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
// 16-bit halves of the multipliers, for the high word of the 64-bit product (JS has no 64-bit integer multiply
// short of BigInt, which is far slower).
const M0_LO = M0 & 0xffff;
const M0_HI = M0 >>> 16;
const M1_LO = M1 & 0xffff;
const M1_HI = M1 >>> 16;

const TWO32 = 4294967296;
const TWO53 = 9007199254740992;

/** High 32 bits of the 64-bit product of a 32-bit constant (given as 16-bit halves) and a 32-bit word. */
function mulhi(mLo: number, mHi: number, x: number): number {
  const xLo = x & 0xffff;
  const xHi = x >>> 16;
  const ll = mLo * xLo;
  const lh = mLo * xHi;
  const hl = mHi * xLo;
  // Every partial product is < 2^32 and the sums below stay < 2^34: exact in double arithmetic.
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (mHi * xHi + Math.floor(lh / 65536) + Math.floor(hl / 65536) + Math.floor(mid / 65536)) >>> 0;
}

/**
 * The Philox4x32-10 block function: counter (4 words) and key (2 words) → 4 words, written to `out`.
 * All words are unsigned 32-bit integers.
 */
export function philox4x32_10(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array = new Uint32Array(4),
): Uint32Array {
  c0 >>>= 0;
  c1 >>>= 0;
  c2 >>>= 0;
  c3 >>>= 0;
  k0 >>>= 0;
  k1 >>>= 0;
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulhi(M0_LO, M0_HI, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1_LO, M1_HI, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const U64_MASK = (1n << 64n) - 1n;

/** The 64-bit id of a stream name (FNV-1a over UTF-8), as [low, high] 32-bit words. */
export function streamId(name: string): [number, number] {
  let h = FNV64_OFFSET;
  for (const byte of new TextEncoder().encode(name)) {
    h ^= BigInt(byte);
    h = (h * FNV64_PRIME) & U64_MASK;
  }
  return [Number(h & 0xffffffffn), Number(h >> 32n)];
}

/** Serializable generator state; see the module comment. */
export interface RngState {
  algorithm: 'philox4x32-10';
  /** The 64-bit seed in decimal. */
  seed: string;
  stream: string;
  /** 32-bit words consumed so far. */
  position: number;
}

export type Seed = number | bigint | string;

function parseSeed(seed: Seed, where: string): bigint {
  let s: bigint;
  if (typeof seed === 'bigint') s = seed;
  else if (typeof seed === 'number') {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`${where}: seed ${seed} is not a non-negative safe integer (use a bigint or a decimal string for 64-bit seeds)`);
    s = BigInt(seed);
  } else if (typeof seed === 'string' && /^[0-9]{1,20}$/.test(seed)) s = BigInt(seed);
  else throw new Error(`${where}: seed ${JSON.stringify(seed)} is not an unsigned integer`);
  if (s < 0n || s > U64_MASK) throw new Error(`${where}: seed ${s} is outside [0, 2^64)`);
  return s;
}

function checkPosition(p: unknown, where: string): number {
  if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 0) {
    throw new Error(`${where}: position ${JSON.stringify(p)} is not a non-negative safe integer`);
  }
  return p;
}

/** A Philox4x32-10 stream. Create with `createRng(seed, stream)` or `Philox.fromState(state)`. */
export class Philox {
  readonly seed: bigint;
  readonly stream: string;
  private readonly k0: number;
  private readonly k1: number;
  private readonly s0: number;
  private readonly s1: number;
  /** Index of the block in `buf`, and how many of its 4 words have been used (4 = exhausted). */
  private block: number;
  private used: number;
  private readonly buf = new Uint32Array(4);

  constructor(seed: Seed, stream = 'default', position = 0) {
    this.seed = parseSeed(seed, 'rng');
    if (typeof stream !== 'string') throw new Error(`rng: stream name must be a string, got ${typeof stream}`);
    this.stream = stream;
    this.k0 = Number(this.seed & 0xffffffffn);
    this.k1 = Number(this.seed >> 32n);
    [this.s0, this.s1] = streamId(stream);
    this.block = 0;
    this.used = 4;
    this.seek(checkPosition(position, 'rng'));
  }

  /** Rebuilds a generator from `state()` output (e.g. parsed from a checkpoint's JSON). */
  static fromState(state: RngState): Philox {
    if (typeof state !== 'object' || state === null) throw new Error('rng state: not an object');
    if (state.algorithm !== 'philox4x32-10') {
      throw new Error(`rng state: algorithm ${JSON.stringify(state.algorithm)} is not "philox4x32-10"`);
    }
    if (typeof state.stream !== 'string') throw new Error('rng state: stream is not a string');
    return new Philox(parseSeed(state.seed, 'rng state'), state.stream, checkPosition(state.position, 'rng state'));
  }

  /** Words consumed so far. */
  get position(): number {
    return this.block * 4 + this.used;
  }

  /** A plain, JSON-safe snapshot; `Philox.fromState` of it continues with exactly the same draws. */
  state(): RngState {
    return { algorithm: 'philox4x32-10', seed: this.seed.toString(), stream: this.stream, position: this.position };
  }

  /** Moves to an absolute word position (counter-based: O(1), no matter how far). */
  seek(position: number): this {
    checkPosition(position, 'rng.seek');
    const block = Math.floor(position / 4);
    this.block = block;
    this.refill();
    this.used = position - block * 4;
    return this;
  }

  /** Skips `words` words. */
  skip(words: number): this {
    return this.seek(this.position + checkPosition(words, 'rng.skip'));
  }

  /** An independent generator for the sub-stream "<stream>/<name>", at position 0. */
  fork(name: string): Philox {
    return new Philox(this.seed, `${this.stream}/${name}`);
  }

  /** `n` independent sub-streams, forks named "0" … "n-1". */
  split(n: number): Philox[] {
    return Array.from({ length: n }, (_, i) => this.fork(String(i)));
  }

  /** A copy at the same position (draws from it do not advance this one). */
  clone(): Philox {
    return new Philox(this.seed, this.stream, this.position);
  }

  private refill(): void {
    philox4x32_10(this.block % TWO32, Math.floor(this.block / TWO32), this.s0, this.s1, this.k0, this.k1, this.buf);
    this.used = 0;
  }

  /** The next 32-bit word, as an unsigned integer. */
  nextUint32(): number {
    if (this.used === 4) {
      this.block++;
      this.refill();
    }
    return this.buf[this.used++]!;
  }

  /** Fills `out` with raw 32-bit words. */
  fillUint32(out: Uint32Array): Uint32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.nextUint32();
    return out;
  }

  /** Uniform in [0, 1) with 24 random bits (exactly representable in float32). */
  uniform(): number {
    return (this.nextUint32() >>> 8) * 5.960464477539063e-8;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform53(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) * 1.1102230246251565e-16;
  }

  /**
   * Fills with uniforms in [low, high): 24-bit draws for a Float32Array, 53-bit for a Float64Array. For ranges
   * other than [0, 1) the float32 result can round to `high` itself, as in any float implementation.
   */
  fillUniform<T extends Float32Array | Float64Array>(out: T, low = 0, high = 1): T {
    const scale = high - low;
    if (out instanceof Float64Array) for (let i = 0; i < out.length; i++) out[i] = low + scale * this.uniform53();
    else for (let i = 0; i < out.length; i++) out[i] = low + scale * this.uniform();
    return out;
  }

  /** One standard normal: a Box–Muller pair from two words, cosine member returned (see module comment). */
  normal(mean = 0, std = 1): number {
    const u1 = (this.nextUint32() + 0.5) * 2.3283064365386963e-10;
    const u2 = (this.nextUint32() + 0.5) * 2.3283064365386963e-10;
    return mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Fills with normals N(mean, std²), both members of each Box–Muller pair used (see module comment). */
  fillNormal<T extends Float32Array | Float64Array>(out: T, mean = 0, std = 1): T {
    const n = out.length;
    for (let i = 0; i < n; i += 2) {
      const u1 = (this.nextUint32() + 0.5) * 2.3283064365386963e-10;
      const u2 = (this.nextUint32() + 0.5) * 2.3283064365386963e-10;
      const r = std * Math.sqrt(-2 * Math.log(u1));
      const t = 2 * Math.PI * u2;
      out[i] = mean + r * Math.cos(t);
      if (i + 1 < n) out[i + 1] = mean + r * Math.sin(t);
    }
    return out;
  }

  /** An integer in [0, n), without modulo bias. n: a positive safe integer. */
  randint(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`rng.randint: n must be a positive safe integer, got ${n}`);
    if (n <= TWO32) {
      const limit = TWO32 - (TWO32 % n);
      for (;;) {
        const w = this.nextUint32();
        if (w < limit) return w % n;
      }
    }
    const limit = TWO53 - (TWO53 % n);
    for (;;) {
      const v = (this.nextUint32() & 0x1fffff) * TWO32 + this.nextUint32();
      if (v < limit) return v % n;
    }
  }

  /** Fills with integers in [low, high). */
  fillRandint<T extends Int32Array | Float32Array | Float64Array | Uint32Array>(out: T, low: number, high: number): T {
    const n = high - low;
    for (let i = 0; i < out.length; i++) out[i] = low + this.randint(n);
    return out;
  }

  /** 1 with probability p, else 0, per element. */
  fillBernoulli<T extends Uint8Array | Float32Array | Float64Array | Int32Array>(out: T, p: number): T {
    if (!(p >= 0 && p <= 1)) throw new Error(`rng.fillBernoulli: p must be in [0, 1], got ${p}`);
    const threshold = p * TWO32;
    for (let i = 0; i < out.length; i++) out[i] = this.nextUint32() < threshold ? 1 : 0;
    return out;
  }

  /**
   * An inverted-dropout multiplier mask: each element is 0 with probability `pDrop`, else 1 / (1 − pDrop), so
   * the expected value of x × mask is x. Uses the same words as `fillBernoulli(out, 1 − pDrop)`.
   */
  fillDropoutMask<T extends Float32Array | Float64Array>(out: T, pDrop: number): T {
    if (!(pDrop >= 0 && pDrop < 1)) throw new Error(`rng.fillDropoutMask: pDrop must be in [0, 1), got ${pDrop}`);
    const threshold = (1 - pDrop) * TWO32;
    const keep = 1 / (1 - pDrop);
    for (let i = 0; i < out.length; i++) out[i] = this.nextUint32() < threshold ? keep : 0;
    return out;
  }

  /** Shuffles in place (Fisher–Yates) and returns the same array. */
  shuffle<T extends { length: number; [i: number]: any }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.randint(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A random permutation of 0 … n−1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}

/** A generator for `stream` (e.g. 'init', 'dropout', 'data') of `seed`. */
export function createRng(seed: Seed, stream = 'default'): Philox {
  return new Philox(seed, stream);
}

export type Rng = Philox;
