/**
 * The backend contract: every numerical op of the tensor library ends in one of these kernels.
 *
 * Two implementations exist and must agree:
 *  - `ts`     (src/tensor/ts_backend/): plain loops over typed arrays, written for clarity. It is the reference
 *             twin every fast kernel is tested against, and it handles f64 (for finite-difference checks).
 *  - `native` (native/ + src/tensor/native_backend.ts): the C++ addon, f32 only. For f64 buffers, or any call it
 *             does not accelerate, it delegates to the `ts` backend.
 *
 * Conventions (llm.c style: explicit sizes, no hidden allocation):
 *  - Buffers are typed arrays (`Buf`); every buffer argument comes with an element offset (`...Off`) so a kernel
 *    can work on a tensor's own storage in place, never on a copy. Native code reads the pointer from the typed
 *    array and adds its byteOffset and the element offset.
 *  - Kernels never allocate their outputs: the caller passes them, already sized. Outputs named "overwrite"
 *    are written fully; outputs named "accumulate" are added into (for gradients of shared weights).
 *  - All float buffers of one call have the same element type (f32 with f32, f64 with f64).
 *  - Integer inputs (token ids, targets) are Int32Array.
 *  - Results must not depend on timing: static work partitioning only, so a run reproduces bitwise for a given
 *    shape and thread count.
 */

export type Buf = Float32Array | Float64Array;

/** A strided view for the generic elementwise kernels (up to 8 dims). Strides are in elements, may be 0 (broadcast). */
export interface StridedView {
  data: Buf;
  offset: number;
  strides: readonly number[];
}

export type UnaryOp =
  | 'neg'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'rsqrt'
  | 'abs'
  | 'sign'
  | 'tanh'
  | 'sigmoid'
  | 'relu'
  | 'square'
  | 'reciprocal'
  | 'sin'
  | 'cos';

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'max' | 'min' | 'eq' | 'gt' | 'lt';

/**
 * A B operand of `gemm` stored in a compressed format instead of `b`; the kernels convert it element by element
 * as they read it (f32 accumulation throughout), so no f32 copy of the whole matrix is ever made.
 *
 *  - 'bf16': `data` holds bf16 bit patterns (the top half of an f32; widening is a shift left by 16). B's stored
 *    element (r, c) of batch bt is data[off + bt*strideB + r*ldb + c], exactly as `b` would be indexed.
 *  - 'nf4' | 'fp4': a bitsandbytes 4-bit tensor (Params4bit). Element (r, c) of batch bt is flat element
 *    e = off + bt*strideB + r*ldb + c of the quantized tensor: its code is the high nibble of packed[e >> 1] when e
 *    is even, the low nibble when odd, and its value is f32(code[nibble] * absmax[floor(e / blockSize)]) —
 *    dequantize4bitInto's arithmetic. A Params4bit [out, in] weight is row-major, so the forward x·Wᵀ is
 *    transB with ldb = in, and dy·W is not transB with ldb = in. `absmax` is the f32 absmax of every block (a
 *    double-quantized weight passes its nested absmaxes decoded once). The format name only documents which code
 *    book `code` is; the 16 values are what counts.
 *
 * With `bq` set, `b` and `bOff` are ignored (pass any buffer of the compute type, e.g. `c`); ldb and strideB keep
 * their meaning in elements of B.
 */
export type GemmQuantB =
  | { format: 'bf16'; data: Uint16Array; off: number }
  | {
      format: 'nf4' | 'fp4';
      packed: Uint8Array;
      code: Float32Array;
      absmax: Float32Array;
      blockSize: number;
      off: number;
    };

export interface GemmParams {
  /**
   * For b in [0, batch): C_b = alpha * op(A_b) @ op(B_b) + beta * C_b, op(X) = X or Xᵀ.
   * op(A_b) is M×K, op(B_b) is K×N, C_b is M×N with row stride ldc (column stride 1).
   * A_b starts at aOff + b*strideA; when transA is false A_b is stored M×K with row stride lda, else K×M with
   * row stride lda. Same for B (K×N or N×K). strideX may be 0 to broadcast one matrix over the batch.
   * beta = 0 means C is overwritten (its old contents, even NaN, are ignored).
   * C must not overlap A or B.
   */
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  a: Buf;
  aOff: number;
  lda: number;
  strideA: number;
  b: Buf;
  bOff: number;
  ldb: number;
  strideB: number;
  c: Buf;
  cOff: number;
  ldc: number;
  strideC: number;
  batch: number;
  /** B stored as bf16 or 4-bit codes instead of `b` (see GemmQuantB). */
  bq?: GemmQuantB;
  /**
   * A bias row (N values of C's type from biasOff) added to every row of every C_b, with beta = 0:
   * C_b = alpha * op(A_b) @ op(B_b) + bias. The result is what filling C's rows with the bias and accumulating
   * (beta = 1) gives, bit for bit; a backend may add it as C is first written instead (the native one does).
   */
  bias?: Buf;
  biasOff?: number;
}

/** gemm's operands without C, for gemmArgmax (one matrix: batch and the strides of A and B are not used). */
export type GemmArgmaxParams = Omit<GemmParams, 'beta' | 'c' | 'cOff' | 'ldc' | 'strideC' | 'batch' | 'strideA' | 'strideB'>;

/**
 * Scaled-dot-product attention over views whose last (head) dimension is contiguous.
 * q: [B, H, T, D]; k, v: [B, Hkv, S, D]; out: [B, H, T, D]. H must be a multiple of Hkv (grouped-query attention:
 * query head h reads key/value head floor(h / (H / Hkv))).
 * Each view gives its strides for the batch, head and position dims (elements); D has stride 1. This lets the
 * caller pass slices of a fused qkv projection, or a preallocated KV cache, without copying.
 *
 * Keys are the last T queries' past: query i sits at key position i + (S - T) (S - T = prefix + cached length).
 *  - causal: key j is visible to query i only if j <= i + (S - T);
 *  - window > 0 (sliding window, Mistral): also only if j > i + (S - T) - window;
 *  - mask (optional): an additive float mask read at maskOff + b*sb + i*st + j (its own strides; pass 0 to
 *    broadcast), e.g. 0 / -Infinity for padding or for packed documents.
 * scale multiplies q·k (usually 1/sqrt(D)). A fully masked row produces zeros and lse = -Infinity.
 */
export interface AttnView {
  data: Buf;
  off: number;
  sb: number;
  sh: number;
  st: number;
}

export interface AttentionParams {
  B: number;
  H: number;
  Hkv: number;
  T: number;
  S: number;
  D: number;
  scale: number;
  causal: boolean;
  window: number;
  q: AttnView;
  k: AttnView;
  v: AttnView;
  mask: { data: Buf; off: number; sb: number; st: number } | null;
}

export interface Backend {
  readonly name: 'ts' | 'native';
  /** SIMD path in use ('avx512' | 'avx2' | 'scalar' | 'none' for ts). */
  readonly simd: string;
  readonly threads: number;

  // ---- dense linear algebra -------------------------------------------------------------------------------
  /**
   * The native backend streams B once instead of packing it when M <= 4 (decoding: a matrix-vector product per
   * row of A), and converts a `bq` operand inside the kernels; the ts backend widens / dequantizes `bq` into a
   * temporary and runs its reference GEMM.
   */
  gemm(p: GemmParams): void;
  /**
   * The greedy pick over an LM head's logits without writing them: for each of the M rows of alpha·op(A)·op(B),
   * out[i] = the index of its first largest value, where NaN is never larger than anything and element 0 wins
   * when it is NaN (the rule of a plain `v > best` scan starting from element 0). The values compared are the
   * ones `gemm` would write, so the pick equals gemm followed by that scan. The native backend fuses the scan
   * into its matrix-vector kernel for M <= 4 with B transposed (a Linear's [out, in] weight), f32 or bf16.
   */
  gemmArgmax(p: GemmArgmaxParams, out: Int32Array): void;

  // ---- generic strided elementwise (out is contiguous, `n` elements, shape given) ---------------------------
  /**
   * out[i] = op(x[idx(i)]) for the contiguous out of the given shape (rank 0..8; [] is one element). Semantics
   * follow PyTorch: NaN propagates (relu, max, min included) except through sign, which is (0 < x) - (x < 0) as
   * in ATen (so sign(NaN) = sign(±0) = +0); pow is C's pow (pow(1, NaN) = 1); comparisons give 1 / 0.
   * out may alias an input only exactly (the same contiguous elements), never partially.
   */
  unary(op: UnaryOp, shape: readonly number[], x: StridedView, out: Buf, outOff: number): void;
  /** out[i] = op(a[idx(i)], b[idx(i)]); a and b are already broadcast to `shape` through 0 strides. */
  binary(op: BinaryOp, shape: readonly number[], a: StridedView, b: StridedView, out: Buf, outOff: number): void;
  /** out[i] = x[idx(i)] * alpha + beta (scalar affine; also used for plain copies with alpha=1, beta=0). */
  affine(shape: readonly number[], x: StridedView, alpha: number, beta: number, out: Buf, outOff: number): void;
  /** Strided copy into a strided destination (used for slice-assign, cat and KV-cache appends). src and dst must
   *  not overlap. Elements of dst outside the view are left untouched. */
  copyStrided(shape: readonly number[], src: StridedView, dst: StridedView): void;
  /** y[i] += alpha * x[i] over n contiguous elements (gradient accumulation). */
  axpy(n: number, alpha: number, x: Buf, xOff: number, y: Buf, yOff: number): void;
  fill(n: number, value: number, out: Buf, outOff: number): void;

  // ---- reductions over a contiguous [outer, axis, inner] layout (overwrite) ---------------------------------
  reduceSum(outer: number, axis: number, inner: number, x: Buf, xOff: number, out: Buf, outOff: number): void;
  /**
   * Max along the axis; argmax (first index of the max; NaN wins, the first NaN if several) goes to idx if given.
   * idx has no offset: it is the [outer, inner] array from element 0. axis = 0 (an empty max) throws.
   */
  reduceMax(
    outer: number,
    axis: number,
    inner: number,
    x: Buf,
    xOff: number,
    out: Buf,
    outOff: number,
    idx: Int32Array | null,
  ): void;

  // ---- fused NN kernels: x is [N, C] contiguous -------------------------------------------------------------
  // These kernels take no offsets: every buffer (x, w, b, out, mean, rstd, dx, ...) starts at element 0 (pass a
  // subarray for a view into larger storage). Variance is the biased one (divide by C), as torch.nn.LayerNorm.
  /** out = (x - mean) * rstd * w + b; mean/rstd [N] saved for backward. w, b may be null (no affine). */
  layerNormForward(
    N: number,
    C: number,
    eps: number,
    x: Buf,
    w: Buf | null,
    b: Buf | null,
    out: Buf,
    mean: Buf,
    rstd: Buf,
  ): void;
  /** dx overwrite; dw, db accumulate (either may be null). */
  layerNormBackward(
    N: number,
    C: number,
    dout: Buf,
    x: Buf,
    w: Buf | null,
    mean: Buf,
    rstd: Buf,
    dx: Buf,
    dw: Buf | null,
    db: Buf | null,
  ): void;
  /** out = x * rstd * w, rstd = 1/sqrt(mean(x²) + eps). w may be null. */
  rmsNormForward(N: number, C: number, eps: number, x: Buf, w: Buf | null, out: Buf, rstd: Buf): void;
  rmsNormBackward(N: number, C: number, dout: Buf, x: Buf, w: Buf | null, rstd: Buf, dx: Buf, dw: Buf | null): void;

  /** GELU, tanh approximation (GPT-2's gelu_new) when approximate, else exact erf form. out may alias x. */
  geluForward(n: number, approximate: boolean, x: Buf, out: Buf): void;
  /** dx = dout * gelu'(x); dx may alias dout. */
  geluBackward(n: number, approximate: boolean, x: Buf, dout: Buf, dx: Buf): void;
  siluForward(n: number, x: Buf, out: Buf): void;
  siluBackward(n: number, x: Buf, dout: Buf, dx: Buf): void;

  /** Row softmax of [N, C]; out may alias x. A row of all -Infinity gives NaN (as PyTorch). */
  softmaxForward(N: number, C: number, x: Buf, out: Buf): void;
  /** dx = y * (dy - sum(dy*y)); dx may alias dy. */
  softmaxBackward(N: number, C: number, y: Buf, dy: Buf, dx: Buf): void;

  /**
   * Cross-entropy of [N, V] logits against targets (ignoreIndex skipped): losses[n] = lse - logit[target]
   * (0 for ignored rows), lse[n] saved. Never materializes softmax.
   * lse is written for every row, ignored ones included. A target that is neither in [0, V) nor ignoreIndex throws
   * in the ts backend.
   */
  crossEntropyForward(N: number, V: number, ignoreIndex: number, logits: Buf, targets: Int32Array, losses: Buf, lse: Buf): void;
  /**
   * dlogits[n] = scale[n] * (softmax(logits[n]) - onehot(target)); ignored rows get 0. dlogits may alias logits
   * (the gradient is written in place of the logits, so no second logits-sized buffer exists).
   * scale holds the incoming gradient of each row's loss (e.g. 1/count for a mean).
   */
  crossEntropyBackward(
    N: number,
    V: number,
    ignoreIndex: number,
    logits: Buf,
    targets: Int32Array,
    lse: Buf,
    scale: Buf,
    dlogits: Buf,
  ): void;

  /** out[n] = weight[ids[n]] ([N, C]); ids out of range throw in the ts backend (checked by the caller). */
  embeddingForward(N: number, C: number, ids: Int32Array, weight: Buf, out: Buf): void;
  /** dweight[ids[n]] += dout[n] (accumulate; sequential so that results are deterministic). */
  embeddingBackward(N: number, C: number, ids: Int32Array, dout: Buf, dweight: Buf): void;

  /**
   * out ([B,H,T,D], overwrite; usually contiguous, but any view with D contiguous is honoured through its own
   * strides) and lse (contiguous [B,H,T] from element 0, saved for backward).
   * window > 0 bounds keys from below whether or not causal is set. The mask has no head stride: one [B, T, S]
   * mask (key stride 1) is shared by all heads. A row is "fully masked" when no key is visible or every visible
   * score is -Infinity; its dq row is 0 and it adds nothing to dk / dv.
   */
  attentionForward(p: AttentionParams, out: AttnView, lse: Buf): void;
  /**
   * Gradients of attention. out/lse from the forward; dout [B,H,T,D] view. dq overwrite (same layout as q's
   * view), dk and dv overwrite ([B,Hkv,S,D] views; summed over the query heads of each group).
   */
  attentionBackward(
    p: AttentionParams,
    out: AttnView,
    lse: Buf,
    dout: AttnView,
    dq: AttnView,
    dk: AttnView,
    dv: AttnView,
  ): void;

  /**
   * Rotary embedding, rotate-half convention (Hugging Face's Llama): for x [N, D] rows with position pos[row],
   * out[i] = x[i]*cos - x[i+D/2]*sin, out[i+D/2] = x[i+D/2]*cos + x[i]*sin, where cos/sin tables are [P, D/2]
   * (row = position). rows = B*T*H with rowPos[row] giving the position. inverse = true rotates by -θ (backward).
   * out may alias x. x and out rows are contiguous ([rows, D] from xOff / outOff); the tables start at element 0
   * and have P = cos.length / (D/2) rows; D must be even; a position outside [0, P) throws in the ts backend.
   */
  rope(rows: number, D: number, x: Buf, xOff: number, rowPos: Int32Array, cos: Buf, sin: Buf, inverse: boolean, out: Buf, outOff: number): void;

  /**
   * PyTorch's AdamW on n contiguous elements (in place on param, m, v):
   *   param *= 1 - lr*wd;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g²;
   *   param -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
   * t is the 1-based step count. All buffers start at element 0; grad is only read. PyTorch evaluates the m
   * update as m.lerp_(g, 1-b1) and the last line as param.addcdiv_(m, denom, -lr/(1-b1^t)); the ts backend uses
   * that same grouping so float64 results agree with PyTorch to the last bits.
   */
  adamw(
    n: number,
    param: Buf,
    grad: Buf,
    m: Buf,
    v: Buf,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    step: number,
  ): void;

  /** Sum of squares of n contiguous elements, accumulated in f64 (for global-norm clipping). */
  sumSquares(n: number, x: Buf, xOff: number): number;
}
