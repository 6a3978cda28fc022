/**
 * The native backend: the C++ addon in native/ (built by scripts/build-native.mjs into native/build/fintune.node).
 *
 * Every f32 call goes to the addon, which works on the typed arrays' own memory (no copies across the boundary);
 * f64 work, mixed types, and the few cases the addon does not handle (overlapping in/out ranges that are not
 * the same elements) go to the TypeScript reference backend.
 *
 * Loading: `loadNative()` says whether the addon is usable and why not. The backend registers itself with
 * backends.ts, which asks for it on first use unless FINTUNE_BACKEND=ts. When the addon is missing or broken:
 * FINTUNE_REQUIRE_NATIVE=1 (CI) or FINTUNE_BACKEND=native make that an error; otherwise the library falls back
 * to the TS backend and says so once on stderr.
 *
 * Run-time knobs (read by the addon at load): FINTUNE_SIMD=avx512|avx2|scalar forces an ISA path,
 * FINTUNE_THREADS=1|2 sets the pool size. `setNativeSimd` / `setNativeThreads` change them later (tests, bench).
 * FINTUNE_HUGE_PAGES=0 stops asking for huge pages for model weights (see the end of this file).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type {
  AttentionParams,
  AttnView,
  Backend,
  BinaryOp,
  Buf,
  GemmParams,
  StridedView,
  UnaryOp,
} from './backend.js';
import { registerBackendResolver } from './backends.js';
import { setWeightMemoryAdvisor } from './storage.js';
import { tsBackend } from './ts_backend/index.js';
import { biasAsAccumulate, gemmArgmaxVia } from './ts_backend/gemm.js';

/** The addon's exports (see native/src/addon.cpp): typed arrays first, numbers packed in a Float64Array. */
export interface NativeAddon {
  gemm(a: Float32Array, b: Float32Array, c: Float32Array, p: Float64Array): void;
  /** gemm plus a bias row added to every row of C, beta 0 (P as gemm's; P[18] = element offset into bias): the
   * addon's gemm with its optional bias argument, under a name of its own that the loader checks for. */
  gemmBias(a: Float32Array, b: Float32Array, c: Float32Array, bias: Float32Array, p: Float64Array): void;
  /** gemm with B as bf16 bits (P as gemm's; P[10] = element offset into b), optionally with a bias as gemmBias. */
  gemmBf16(a: Float32Array, b: Uint16Array, c: Float32Array, p: Float64Array): void;
  gemmBf16(a: Float32Array, b: Uint16Array, c: Float32Array, bias: Float32Array, p: Float64Array): void;
  /** gemm with B a bitsandbytes 4-bit tensor (P as gemm's; P[10] = first flat element, P[17] = block size). */
  gemm4bit(a: Float32Array, packed: Uint8Array, code: Float32Array, absmax: Float32Array, c: Float32Array, p: Float64Array): void;
  gemm4bit(a: Float32Array, packed: Uint8Array, code: Float32Array, absmax: Float32Array, c: Float32Array, bias: Float32Array, p: Float64Array): void;
  /** For each row of alpha·A·Bᵀ (M <= 4, B f32 or bf16 bits, one matrix), its first largest index (P as gemm's). */
  gemmArgmax(a: Float32Array, b: Float32Array | Uint16Array, idx: Int32Array, p: Float64Array): void;
  /** Measured read bandwidth in GB/s (a 256 MiB buffer summed with the current threads, best of passes). */
  readBandwidth(seconds: number): number;
  /** Advises huge pages for the array's memory (with collapse, also converts touched pages); returns bytes. */
  hugePages(a: ArrayBufferView, collapse: boolean): number;
  /** How long the pool worker spins after a task before sleeping (µs, default 200); returns the previous value. */
  setSpinMicros(us: number): number;
  /** The memory the pool worker may read ahead in a decode loop ([] ends it); returns the bytes the scope it ends read. */
  readAhead(arrays: ArrayBufferView[]): number;
  /**
   * A GPT-2 decode plan over its weights, caches and key mask (see native/src/addon.cpp for the array order and
   * P = [L, C, H, F, V, B, max_len, positions, eps, approx_gelu]); holds the arrays until it is collected.
   */
  gpt2DecodePlan(arrays: (Float32Array | Uint16Array | null)[], p: Float64Array): object;
  /** The same for the Llama family (P = [L, C, H, Hkv, D, F, V, B, max_len, positions, eps, window per layer]). */
  llamaDecodePlan(arrays: (Float32Array | Uint16Array | null)[], p: Float64Array): object;
  /** One decode step of a plan: greedy picks into an Int32Array (B <= 4) or logits into a Float32Array [B, V]. */
  decodeStep(plan: object, ids: Int32Array, pos: Int32Array, S: number, out: Int32Array | Float32Array): void;
  /** A step writing the logits and each row's candIdx.length / B largest of them (index order; -1 first: a NaN). */
  decodeStep(plan: object, ids: Int32Array, pos: Int32Array, S: number, out: Float32Array, candIdx: Int32Array, candVal: Float32Array): void;
  unary(op: number, x: Float32Array, out: Float32Array, p: Float64Array): void;
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, p: Float64Array): void;
  affine(x: Float32Array, out: Float32Array, p: Float64Array): void;
  copyStrided(src: Float32Array, dst: Float32Array, p: Float64Array): void;
  axpy(x: Float32Array, y: Float32Array, p: Float64Array): void;
  fill(out: Float32Array, p: Float64Array): void;
  reduceSum(x: Float32Array, out: Float32Array, p: Float64Array): void;
  reduceMax(x: Float32Array, out: Float32Array, idx: Int32Array | null, p: Float64Array): void;
  sumSquares(x: Float32Array, p: Float64Array): number;
  layerNormForward(...args: unknown[]): void;
  layerNormBackward(...args: unknown[]): void;
  rmsNormForward(...args: unknown[]): void;
  rmsNormBackward(...args: unknown[]): void;
  geluForward(...args: unknown[]): void;
  geluBackward(...args: unknown[]): void;
  siluForward(...args: unknown[]): void;
  siluBackward(...args: unknown[]): void;
  softmaxForward(...args: unknown[]): void;
  softmaxBackward(...args: unknown[]): void;
  crossEntropyForward(...args: unknown[]): void;
  crossEntropyBackward(...args: unknown[]): void;
  embeddingForward(...args: unknown[]): void;
  embeddingBackward(...args: unknown[]): void;
  attentionForward(...args: unknown[]): void;
  attentionBackward(...args: unknown[]): void;
  rope(...args: unknown[]): void;
  adamw(...args: unknown[]): void;
  info(): NativeInfo;
  setSimd(name: string): NativeInfo;
  setThreads(n: number): NativeInfo;
  /** 2-thread GEMMs share one packed B (rows split, a barrier per panel) instead of packing per thread. */
  setGemmSharedB(on: boolean): void;
  /** Measured FMA peak in GFLOP/s with the current ISA and thread count (runs for about `seconds`). */
  fmaPeak(seconds: number): number;
}

export interface NativeInfo {
  simd: string;
  threads: number;
  /** ISA paths this CPU can run, best first. */
  supported: string[];
}

export type NativeStatus = { ok: true; addon: NativeAddon; path: string; info: NativeInfo } | { ok: false; reason: string; path: string };

/**
 * Where the build script puts the addon (the same relative path from src/tensor and dist/tensor);
 * FINTUNE_NATIVE_PATH points elsewhere (tests of the fall-back use a path that does not exist).
 */
export const NATIVE_ADDON_PATH =
  process.env.FINTUNE_NATIVE_PATH || fileURLToPath(new URL('../../native/build/fintune.node', import.meta.url));

let status: NativeStatus | null = null;

/** Every entry point this version calls (NativeAddon's methods). */
const ADDON_FUNCTIONS: readonly (keyof NativeAddon)[] = [
  'gemm', 'gemmBias', 'gemmBf16', 'gemm4bit', 'gemmArgmax', 'readBandwidth', 'setSpinMicros', 'hugePages', 'readAhead', 'gpt2DecodePlan', 'llamaDecodePlan', 'decodeStep', 'unary', 'binary', 'affine', 'copyStrided', 'axpy',
  'fill', 'reduceSum', 'reduceMax', 'sumSquares', 'layerNormForward', 'layerNormBackward', 'rmsNormForward',
  'rmsNormBackward', 'geluForward', 'geluBackward', 'siluForward', 'siluBackward', 'softmaxForward', 'softmaxBackward',
  'crossEntropyForward', 'crossEntropyBackward', 'embeddingForward', 'embeddingBackward', 'attentionForward',
  'attentionBackward', 'rope', 'adamw', 'info', 'setSimd', 'setThreads', 'setGemmSharedB', 'fmaPeak',
];

/** Loads the addon once; never throws. `reason` says why it is unavailable (missing build, load error, CPU). */
export function loadNative(): NativeStatus {
  if (status) return status;
  const path = NATIVE_ADDON_PATH;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    status = { ok: false, path, reason: `the native addon is built for linux-x64 only (this is ${process.platform}-${process.arch})` };
  } else if (!existsSync(path)) {
    status = { ok: false, path, reason: `${path} does not exist (run \`npm run build\` or \`node scripts/build-native.mjs\`)` };
  } else {
    try {
      const addon = createRequire(import.meta.url)(path) as NativeAddon;
      // An addon built from older sources loads but lacks newer entry points: say so now rather than fail with a
      // TypeError in the middle of a run.
      const missing = ADDON_FUNCTIONS.filter((f) => typeof (addon as unknown as Record<string, unknown>)[f] !== 'function');
      if (missing.length) {
        status = { ok: false, path, reason: `${path} is out of date (no ${missing.join(', ')}): rebuild it with \`npm run build\`` };
      } else {
        status = { ok: true, addon, path, info: addon.info() };
      }
    } catch (err) {
      status = { ok: false, path, reason: `loading ${path} failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  }
  return status;
}

function addonOrThrow(): NativeAddon {
  const s = loadNative();
  if (!s.ok) throw new Error(`fintune: the native backend is unavailable: ${s.reason}`);
  return s.addon;
}

/** Switch the ISA path at run time ('avx512' | 'avx2' | 'scalar'); throws if the CPU cannot run it. */
export function setNativeSimd(simd: string): NativeInfo {
  return addonOrThrow().setSimd(simd);
}

/** Set the pool size (1 = calling thread only, 2 = plus the worker). */
export function setNativeThreads(n: number): NativeInfo {
  return addonOrThrow().setThreads(n);
}

/** Opt into 2-thread GEMMs with one shared packed B (see native/src/gemm.inc, mode 4). */
export function setNativeGemmSharedB(on: boolean): void {
  addonOrThrow().setGemmSharedB(on);
}

export function nativeInfo(): NativeInfo {
  return addonOrThrow().info();
}

/** FMA peak (GFLOP/s) measured in-process with the current ISA and threads: the yardstick for GEMM efficiency. */
export function nativeFmaPeak(seconds = 0.5): number {
  return addonOrThrow().fmaPeak(seconds);
}

/**
 * Read bandwidth (GB/s) measured in-process with the current ISA and threads: summing a 256 MiB buffer (far
 * beyond the caches), best of the passes that fit in about `seconds`. The yardstick of the decode GEMV, which
 * reads each weight once per token.
 */
export function nativeReadBandwidth(seconds = 0.5): number {
  return addonOrThrow().readBandwidth(seconds);
}

/**
 * Asks the OS to back the whole 2 MiB pages inside the array's memory with transparent huge pages (Linux
 * madvise MADV_HUGEPAGE: pages touched from now on; with `collapse`, MADV_COLLAPSE also converts the pages
 * already there, a synchronous copy). Returns the bytes advised (collapsed); 0 when the addon is unavailable,
 * the OS refuses, or the array holds no whole huge page.
 */
export function nativeHugePages(a: ArrayBufferView, collapse = false): number {
  const s = loadNative();
  return s.ok ? s.addon.hugePages(a, collapse) : 0;
}

/**
 * How long (µs) the native pool's worker spins after each task before it sleeps; 200 by default. A decode loop
 * may raise it (e.g. to 20000) so the worker stays hot across the JS work between two tokens, and restore it
 * after: it returns the previous value. A no-op returning 0 when the native addon is unavailable.
 */
export function setNativeSpinMicros(us: number): number {
  const s = loadNative();
  return s.ok ? s.addon.setSpinMicros(us) : 0;
}

/**
 * Read-ahead for a decode loop: while the JS between two matrix-vector products runs, the pool's worker reads the
 * start of the weight the next product will stream (the one that followed the same product last time), so that
 * product finds it in cache instead of DRAM (native/src/pool.cpp). Only memory in `arrays` is ever read; the
 * caller keeps them alive until it calls this again with [] (which returns once the worker has stopped reading
 * them). Returns the bytes the worker read ahead in the scope this call ended (0 without the addon).
 */
export function setNativeReadAhead(arrays: readonly ArrayBufferView[]): number {
  const s = loadNative();
  return s.ok ? s.addon.readAhead([...arrays]) : 0;
}

// ---- argument packing -------------------------------------------------------------------------------------
// One reusable parameter block: calls are synchronous, so it is never in use twice at once.
const P = new Float64Array(64);

const UNARY: Record<UnaryOp, number> = {
  neg: 0, exp: 1, log: 2, sqrt: 3, rsqrt: 4, abs: 5, sign: 6, tanh: 7, sigmoid: 8, relu: 9, square: 10,
  reciprocal: 11, sin: 12, cos: 13,
};
const BINARY: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3, pow: 4, max: 5, min: 6, eq: 7, gt: 8, lt: 9 };

function f32(...bufs: (Buf | null)[]): boolean {
  for (const b of bufs) if (b !== null && !(b instanceof Float32Array)) return false;
  return true;
}

/** Element range [lo, hi] a strided view reaches. */
function extent(shape: readonly number[], strides: readonly number[], off: number): [number, number] {
  let lo = off;
  let hi = off;
  for (let d = 0; d < shape.length; d++) {
    const s = (shape[d] - 1) * strides[d];
    if (s > 0) hi += s;
    else lo += s;
  }
  return [lo, hi];
}

/**
 * True when two element ranges of typed arrays share memory but are not the very same elements in the same
 * order. The native kernels split work over threads, so such partial overlaps would race; they are rare
 * (same-range in-place ops are fine and common) and go to the sequential reference kernel.
 */
function partialOverlap(a: Buf, aLo: number, aHi: number, b: Buf, bLo: number, bHi: number, same: boolean): boolean {
  if (a.buffer !== b.buffer) return false;
  const ea = a.BYTES_PER_ELEMENT;
  const a0 = a.byteOffset + aLo * ea;
  const a1 = a.byteOffset + (aHi + 1) * ea;
  const b0 = b.byteOffset + bLo * b.BYTES_PER_ELEMENT;
  const b1 = b.byteOffset + (bHi + 1) * b.BYTES_PER_ELEMENT;
  if (a1 <= b0 || b1 <= a0) return false;
  return !(same && a0 === b0 && a1 === b1);
}

function contiguous(shape: readonly number[], v: StridedView): boolean {
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && v.strides[d] !== s) return false;
    s *= shape[d];
  }
  return true;
}

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** Writes [nd, shape...] at P[0..] and returns the next position. */
function putShape(shape: readonly number[]): number {
  if (shape.length > 8) throw new Error(`native: at most 8 dims, got ${shape.length}`);
  P[0] = shape.length;
  for (let d = 0; d < shape.length; d++) P[1 + d] = shape[d];
  return 1 + shape.length;
}

function putView(pos: number, off: number, strides: readonly number[]): number {
  P[pos++] = off;
  for (const s of strides) P[pos++] = s;
  return pos;
}

function putAttn(p: AttentionParams): void {
  P[0] = p.B; P[1] = p.H; P[2] = p.Hkv; P[3] = p.T; P[4] = p.S; P[5] = p.D;
  P[6] = p.scale; P[7] = p.causal ? 1 : 0; P[8] = p.window;
  putAttnView(9, p.q); putAttnView(13, p.k); putAttnView(17, p.v);
  if (p.mask) {
    P[21] = p.mask.off; P[22] = p.mask.sb; P[23] = p.mask.st;
  } else {
    P[21] = 0; P[22] = 0; P[23] = 0;
  }
}

function putAttnView(pos: number, v: AttnView): void {
  P[pos] = v.off; P[pos + 1] = v.sb; P[pos + 2] = v.sh; P[pos + 3] = v.st;
}

function attnF32(p: AttentionParams, ...views: AttnView[]): boolean {
  return f32(p.q.data, p.k.data, p.v.data, p.mask ? p.mask.data : null, ...views.map((v) => v.data));
}

/** The Backend over a loaded addon. */
export function createNativeBackend(addon: NativeAddon): Backend {
  const A = addon;
  const ts = tsBackend;
  const info = () => A.info();
  const self: Backend = {
    name: 'native',
    get simd() {
      return info().simd;
    },
    get threads() {
      return info().threads;
    },

    gemm(p: GemmParams): void {
      const q = p.bq;
      if (q ? !f32(p.a, p.c) : !f32(p.a, p.b, p.c)) return ts.gemm(p);
      if (p.bias && !f32(p.bias)) return self.gemm(biasAsAccumulate(p));
      P[0] = p.transA ? 1 : 0; P[1] = p.transB ? 1 : 0; P[2] = p.M; P[3] = p.N; P[4] = p.K;
      P[5] = p.alpha; P[6] = p.beta;
      P[7] = p.aOff; P[8] = p.lda; P[9] = p.strideA;
      P[10] = q ? q.off : p.bOff; P[11] = p.ldb; P[12] = p.strideB;
      P[13] = p.cOff; P[14] = p.ldc; P[15] = p.strideC; P[16] = p.batch;
      // The compressed B goes over as its own typed arrays (no copy); the kernels convert while reading.
      // A bias row goes over as its own argument (offset P[18]); the kernels add it as C is first written.
      const bias = p.bias as Float32Array | undefined;
      if (bias) P[18] = p.biasOff ?? 0;
      const c = p.c as Float32Array;
      if (!q) {
        if (bias) A.gemmBias(p.a as Float32Array, p.b as Float32Array, c, bias, P);
        else A.gemm(p.a as Float32Array, p.b as Float32Array, c, P);
      } else if (q.format === 'bf16') {
        if (bias) A.gemmBf16(p.a as Float32Array, q.data, c, bias, P);
        else A.gemmBf16(p.a as Float32Array, q.data, c, P);
      } else {
        P[17] = q.blockSize;
        if (bias) A.gemm4bit(p.a as Float32Array, q.packed, q.code, q.absmax, c, bias, P);
        else A.gemm4bit(p.a as Float32Array, q.packed, q.code, q.absmax, c, P);
      }
    },

    gemmArgmax(p, out) {
      const q = p.bq;
      const bits = q?.format === 'bf16' ? q.data : null;
      const fused = p.M >= 1 && p.M <= 4 && p.N >= 1 && p.K >= 1 && p.transB && !p.transA && (q ? bits !== null : p.b instanceof Float32Array) && p.a instanceof Float32Array;
      // Anything else is the product written by this backend's gemm, then the same scan.
      if (!fused) return gemmArgmaxVia((g) => self.gemm(g), p, out);
      if (out.length < p.M) throw new Error(`gemmArgmax: out holds ${out.length} indices for ${p.M} rows`);
      P[0] = 0; P[1] = 1; P[2] = p.M; P[3] = p.N; P[4] = p.K;
      P[5] = p.alpha; P[6] = 0;
      P[7] = p.aOff; P[8] = p.lda; P[9] = 0;
      P[10] = q ? q.off : p.bOff; P[11] = p.ldb; P[12] = 0;
      P[13] = 0; P[14] = 0; P[15] = 0; P[16] = 1;
      A.gemmArgmax(p.a as Float32Array, bits ?? (p.b as Float32Array), out, P);
    },

    unary(op, shape, x, out, outOff) {
      if (!f32(x.data, out) || x.strides.length !== shape.length) return ts.unary(op, shape, x, out, outOff);
      const n = numel(shape);
      const [lo, hi] = extent(shape, x.strides, x.offset);
      if (n > 0 && partialOverlap(x.data, lo, hi, out, outOff, outOff + n - 1, contiguous(shape, x))) {
        return ts.unary(op, shape, x, out, outOff);
      }
      let pos = putShape(shape);
      pos = putView(pos, x.offset, x.strides);
      P[pos] = outOff;
      A.unary(UNARY[op], x.data as Float32Array, out as Float32Array, P);
    },

    binary(op, shape, a, b, out, outOff) {
      if (!f32(a.data, b.data, out) || a.strides.length !== shape.length || b.strides.length !== shape.length) {
        return ts.binary(op, shape, a, b, out, outOff);
      }
      const n = numel(shape);
      if (n > 0) {
        const [alo, ahi] = extent(shape, a.strides, a.offset);
        const [blo, bhi] = extent(shape, b.strides, b.offset);
        if (
          partialOverlap(a.data, alo, ahi, out, outOff, outOff + n - 1, contiguous(shape, a)) ||
          partialOverlap(b.data, blo, bhi, out, outOff, outOff + n - 1, contiguous(shape, b))
        ) {
          return ts.binary(op, shape, a, b, out, outOff);
        }
      }
      let pos = putShape(shape);
      pos = putView(pos, a.offset, a.strides);
      pos = putView(pos, b.offset, b.strides);
      P[pos] = outOff;
      A.binary(BINARY[op], a.data as Float32Array, b.data as Float32Array, out as Float32Array, P);
    },

    affine(shape, x, alpha, beta, out, outOff) {
      if (!f32(x.data, out) || x.strides.length !== shape.length) return ts.affine(shape, x, alpha, beta, out, outOff);
      const n = numel(shape);
      const [lo, hi] = extent(shape, x.strides, x.offset);
      if (n > 0 && partialOverlap(x.data, lo, hi, out, outOff, outOff + n - 1, contiguous(shape, x))) {
        return ts.affine(shape, x, alpha, beta, out, outOff);
      }
      let pos = putShape(shape);
      pos = putView(pos, x.offset, x.strides);
      P[pos] = alpha;
      P[pos + 1] = beta;
      P[pos + 2] = outOff;
      A.affine(x.data as Float32Array, out as Float32Array, P);
    },

    copyStrided(shape, src, dst) {
      if (!f32(src.data, dst.data) || src.strides.length !== shape.length || dst.strides.length !== shape.length) {
        return ts.copyStrided(shape, src, dst);
      }
      if (numel(shape) > 0) {
        const [slo, shi] = extent(shape, src.strides, src.offset);
        const [dlo, dhi] = extent(shape, dst.strides, dst.offset);
        const same = src.offset === dst.offset && src.strides.every((s, d) => s === dst.strides[d]);
        if (partialOverlap(src.data, slo, shi, dst.data, dlo, dhi, same)) return ts.copyStrided(shape, src, dst);
      }
      let pos = putShape(shape);
      pos = putView(pos, src.offset, src.strides);
      putView(pos, dst.offset, dst.strides);
      A.copyStrided(src.data as Float32Array, dst.data as Float32Array, P);
    },

    axpy(n, alpha, x, xOff, y, yOff) {
      if (!f32(x, y) || (n > 0 && partialOverlap(x, xOff, xOff + n - 1, y, yOff, yOff + n - 1, true))) {
        return ts.axpy(n, alpha, x, xOff, y, yOff);
      }
      P[0] = n; P[1] = alpha; P[2] = xOff; P[3] = yOff;
      A.axpy(x as Float32Array, y as Float32Array, P);
    },

    fill(n, value, out, outOff) {
      if (!f32(out)) return ts.fill(n, value, out, outOff);
      P[0] = n; P[1] = value; P[2] = outOff;
      A.fill(out as Float32Array, P);
    },

    reduceSum(outer, axis, inner, x, xOff, out, outOff) {
      const n = outer * axis * inner;
      const m = outer * inner;
      // An empty axis (n = 0, e.g. a bias gradient over 0 rows): the kernel reads x before zeroing, so it goes to ts.
      if (!f32(x, out) || n === 0 || (m > 0 && partialOverlap(x, xOff, xOff + n - 1, out, outOff, outOff + m - 1, false))) {
        return ts.reduceSum(outer, axis, inner, x, xOff, out, outOff);
      }
      P[0] = outer; P[1] = axis; P[2] = inner; P[3] = xOff; P[4] = outOff;
      A.reduceSum(x as Float32Array, out as Float32Array, P);
    },

    reduceMax(outer, axis, inner, x, xOff, out, outOff, idx) {
      const n = outer * axis * inner;
      const m = outer * inner;
      if (!f32(x, out) || (n > 0 && m > 0 && partialOverlap(x, xOff, xOff + n - 1, out, outOff, outOff + m - 1, false))) {
        return ts.reduceMax(outer, axis, inner, x, xOff, out, outOff, idx);
      }
      P[0] = outer; P[1] = axis; P[2] = inner; P[3] = xOff; P[4] = outOff;
      A.reduceMax(x as Float32Array, out as Float32Array, idx, P);
    },

    layerNormForward(N, C, eps, x, w, b, out, mean, rstd) {
      if (!f32(x, w, b, out, mean, rstd)) return ts.layerNormForward(N, C, eps, x, w, b, out, mean, rstd);
      P[0] = N; P[1] = C; P[2] = eps;
      A.layerNormForward(x, w, b, out, mean, rstd, P);
    },

    layerNormBackward(N, C, dout, x, w, mean, rstd, dx, dw, db) {
      if (!f32(dout, x, w, mean, rstd, dx, dw, db)) return ts.layerNormBackward(N, C, dout, x, w, mean, rstd, dx, dw, db);
      P[0] = N; P[1] = C;
      A.layerNormBackward(dout, x, w, mean, rstd, dx, dw, db, P);
    },

    rmsNormForward(N, C, eps, x, w, out, rstd) {
      if (!f32(x, w, out, rstd)) return ts.rmsNormForward(N, C, eps, x, w, out, rstd);
      P[0] = N; P[1] = C; P[2] = eps;
      A.rmsNormForward(x, w, out, rstd, P);
    },

    rmsNormBackward(N, C, dout, x, w, rstd, dx, dw) {
      if (!f32(dout, x, w, rstd, dx, dw)) return ts.rmsNormBackward(N, C, dout, x, w, rstd, dx, dw);
      P[0] = N; P[1] = C;
      A.rmsNormBackward(dout, x, w, rstd, dx, dw, P);
    },

    geluForward(n, approximate, x, out) {
      if (!f32(x, out)) return ts.geluForward(n, approximate, x, out);
      P[0] = n; P[1] = approximate ? 1 : 0;
      A.geluForward(x, out, P);
    },

    geluBackward(n, approximate, x, dout, dx) {
      if (!f32(x, dout, dx)) return ts.geluBackward(n, approximate, x, dout, dx);
      P[0] = n; P[1] = approximate ? 1 : 0;
      A.geluBackward(x, dout, dx, P);
    },

    siluForward(n, x, out) {
      if (!f32(x, out)) return ts.siluForward(n, x, out);
      P[0] = n;
      A.siluForward(x, out, P);
    },

    siluBackward(n, x, dout, dx) {
      if (!f32(x, dout, dx)) return ts.siluBackward(n, x, dout, dx);
      P[0] = n;
      A.siluBackward(x, dout, dx, P);
    },

    softmaxForward(N, C, x, out) {
      if (!f32(x, out)) return ts.softmaxForward(N, C, x, out);
      P[0] = N; P[1] = C;
      A.softmaxForward(x, out, P);
    },

    softmaxBackward(N, C, y, dy, dx) {
      if (!f32(y, dy, dx)) return ts.softmaxBackward(N, C, y, dy, dx);
      P[0] = N; P[1] = C;
      A.softmaxBackward(y, dy, dx, P);
    },

    crossEntropyForward(N, V, ignoreIndex, logits, targets, losses, lse) {
      if (!f32(logits, losses, lse)) return ts.crossEntropyForward(N, V, ignoreIndex, logits, targets, losses, lse);
      P[0] = N; P[1] = V; P[2] = ignoreIndex;
      A.crossEntropyForward(logits, targets, losses, lse, P);
    },

    crossEntropyBackward(N, V, ignoreIndex, logits, targets, lse, scale, dlogits) {
      if (!f32(logits, lse, scale, dlogits)) {
        return ts.crossEntropyBackward(N, V, ignoreIndex, logits, targets, lse, scale, dlogits);
      }
      P[0] = N; P[1] = V; P[2] = ignoreIndex;
      A.crossEntropyBackward(logits, targets, lse, scale, dlogits, P);
    },

    embeddingForward(N, C, ids, weight, out) {
      if (!f32(weight, out)) return ts.embeddingForward(N, C, ids, weight, out);
      P[0] = N; P[1] = C;
      A.embeddingForward(ids, weight, out, P);
    },

    embeddingBackward(N, C, ids, dout, dweight) {
      if (!f32(dout, dweight)) return ts.embeddingBackward(N, C, ids, dout, dweight);
      P[0] = N; P[1] = C;
      A.embeddingBackward(ids, dout, dweight, P);
    },

    attentionForward(p, out, lse) {
      if (!attnF32(p, out) || !f32(lse)) return ts.attentionForward(p, out, lse);
      putAttn(p);
      putAttnView(24, out);
      A.attentionForward(p.q.data, p.k.data, p.v.data, p.mask ? p.mask.data : null, out.data, lse, P);
    },

    attentionBackward(p, out, lse, dout, dq, dk, dv) {
      if (!attnF32(p, out, dout, dq, dk, dv) || !f32(lse)) return ts.attentionBackward(p, out, lse, dout, dq, dk, dv);
      putAttn(p);
      putAttnView(24, out);
      putAttnView(28, dout);
      putAttnView(32, dq);
      putAttnView(36, dk);
      putAttnView(40, dv);
      A.attentionBackward(
        p.q.data, p.k.data, p.v.data, p.mask ? p.mask.data : null, out.data, lse, dout.data, dq.data, dk.data, dv.data, P,
      );
    },

    rope(rows, D, x, xOff, rowPos, cos, sin, inverse, out, outOff) {
      const n = rows * D;
      if (!f32(x, cos, sin, out) || (n > 0 && partialOverlap(x, xOff, xOff + n - 1, out, outOff, outOff + n - 1, true))) {
        return ts.rope(rows, D, x, xOff, rowPos, cos, sin, inverse, out, outOff);
      }
      P[0] = rows; P[1] = D; P[2] = xOff; P[3] = outOff; P[4] = inverse ? 1 : 0;
      A.rope(x, rowPos, cos, sin, out, P);
    },

    adamw(n, param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step) {
      if (!f32(param, grad, m, v)) return ts.adamw(n, param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step);
      P[0] = n; P[1] = lr; P[2] = beta1; P[3] = beta2; P[4] = eps; P[5] = weightDecay; P[6] = step;
      A.adamw(param, grad, m, v, P);
    },

    sumSquares(n, x, xOff) {
      if (!f32(x)) return ts.sumSquares(n, x, xOff);
      P[0] = n; P[1] = xOff;
      return A.sumSquares(x as Float32Array, P);
    },
  };
  return self;
}

let backend: Backend | null = null;

/** The native Backend, or null when the addon is unavailable (see `loadNative().reason`). */
export function getNativeBackend(): Backend | null {
  if (backend) return backend;
  const s = loadNative();
  if (!s.ok) return null;
  backend = createNativeBackend(s.addon);
  return backend;
}

/**
 * The native Backend; throws when the addon is unavailable. Prefer getNativeBackend() or the automatic
 * selection in backends.ts when a fall-back is acceptable.
 */
export const nativeBackend: Backend = new Proxy({} as Backend, {
  get(_t, prop) {
    const b = getNativeBackend();
    if (!b) throw new Error(`fintune: the native backend is unavailable: ${(loadNative() as { reason: string }).reason}`);
    return (b as unknown as Record<string | symbol, unknown>)[prop];
  },
});

let warned = false;

/**
 * Decides what the automatic selection gets: the native backend, or null (TS) after saying why once.
 * FINTUNE_REQUIRE_NATIVE=1 or FINTUNE_BACKEND=native turn an unavailable addon into an error.
 */
export function resolveNativeBackend(): Backend | null {
  if (process.env.FINTUNE_BACKEND === 'ts') return null; // an explicit choice: nothing to report
  const b = getNativeBackend();
  if (b) return b;
  const reason = (loadNative() as { reason: string }).reason;
  if (process.env.FINTUNE_REQUIRE_NATIVE === '1' || process.env.FINTUNE_BACKEND === 'native') {
    const why = process.env.FINTUNE_REQUIRE_NATIVE === '1' ? 'FINTUNE_REQUIRE_NATIVE=1' : 'FINTUNE_BACKEND=native';
    throw new Error(`fintune: ${why} but the native backend is unavailable: ${reason}`);
  }
  if (!warned) {
    warned = true;
    process.stderr.write(`fintune: native backend unavailable, using the TypeScript backend (${reason})\n`);
  }
  return null;
}

registerBackendResolver(resolveNativeBackend);

// Huge pages for model weights whenever the addon loads, whichever backend computes: the advice is about how
// the OS maps the memory, and parameters are usually made before the first kernel call picks a backend.
// FINTUNE_HUGE_PAGES=0 turns it off (to measure what it is worth).
if (process.env.FINTUNE_HUGE_PAGES !== '0') {
  setWeightMemoryAdvisor((a) => nativeHugePages(a));
}
