// Node-API glue (baseline unit): argument decoding, bounds checks, and the choice of ISA table.
//
// Every kernel takes its typed arrays plus one Float64Array of numeric parameters (one N-API call fetches them
// all instead of one call per number). Pointers come straight from the typed arrays: napi_get_typedarray_info
// returns the data pointer already advanced by the array's byteOffset, and the element offsets are added here,
// so kernels work on the tensors' own memory. Every access range is checked against the array length before
// the kernel runs, so a wrong shape from JS is a thrown RangeError, not memory corruption.
#define NAPI_VERSION 8
#include <node_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <new>
#include <string>
#include <vector>

#include "ft.h"

namespace {

FtKernels g_tables[3];
bool g_has[3] = {false, false, false};  // avx512, avx2, scalar
int g_active = 2;
const char* kNames[3] = {"avx512", "avx2", "scalar"};

struct Err {};  // thrown after a JS exception is pending; caught at the function boundary

thread_local napi_env g_env;  // per JS thread: the addon may be loaded in several worker_threads

[[noreturn]] void fail(const char* msg) {
  napi_throw_range_error(g_env, nullptr, msg);
  throw Err();
}

void check(napi_status s, const char* what) {
  if (s != napi_ok) fail(what);
}

struct Arr {
  void* p = nullptr;
  size_t len = 0;
  napi_typedarray_type type = napi_float32_array;
  bool null = false;
};

Arr get_arr(napi_value v, napi_typedarray_type want, bool nullable, const char* name) {
  Arr a;
  napi_valuetype t;
  check(napi_typeof(g_env, v, &t), name);
  if (nullable && (t == napi_null || t == napi_undefined)) {
    a.null = true;
    return a;
  }
  bool is = false;
  napi_is_typedarray(g_env, v, &is);
  if (!is) fail(name);
  napi_value ab;
  size_t byteoff;
  check(napi_get_typedarray_info(g_env, v, &a.type, &a.len, &a.p, &ab, &byteoff), name);
  if (a.type != want) fail(name);
  return a;
}

struct Args {
  napi_value v[16];
  size_t n = 16;
  const double* P = nullptr;
  size_t np = 0;
};

// Reads all arguments; the last one is the Float64Array of numbers. `optional` more may come before it.
Args read_args(napi_callback_info info, size_t expect, size_t optional = 0) {
  Args a;
  check(napi_get_cb_info(g_env, info, &a.n, a.v, nullptr, nullptr), "arguments");
  if (a.n < expect || a.n > expect + optional) fail("wrong argument count");
  expect = a.n;
  Arr p = get_arr(a.v[expect - 1], napi_float64_array, false, "params must be a Float64Array");
  a.P = static_cast<const double*>(p.p);
  a.np = p.len;
  return a;
}

// The element range [off + min, off + max] reached by a strided walk must lie inside the array.
void need_span(const Arr& a, double off, int nd, const double* shape, const double* strides, const char* what) {
  double lo = off, hi = off;
  bool empty = false;
  for (int d = 0; d < nd; ++d) {
    if (shape[d] <= 0) empty = true;
    double ext = (shape[d] - 1) * strides[d];
    if (ext > 0) hi += ext;
    else lo += ext;
  }
  if (empty) return;
  if (lo < 0 || hi >= (double)a.len) fail(what);
}

void need(const Arr& a, double off, double count, const char* what) {
  if (count <= 0) return;
  if (off < 0 || off + count > (double)a.len) fail(what);
}

Arr F(napi_value v, const char* name, bool nullable = false) { return get_arr(v, napi_float32_array, nullable, name); }
Arr I(napi_value v, const char* name, bool nullable = false) { return get_arr(v, napi_int32_array, nullable, name); }
float* fp(const Arr& a, double off = 0) { return a.null ? nullptr : static_cast<float*>(a.p) + (long)off; }
int32_t* ip(const Arr& a) { return a.null ? nullptr : static_cast<int32_t*>(a.p); }

napi_value num(double x) {
  napi_value r;
  napi_create_double(g_env, x, &r);
  return r;
}
napi_value undef() {
  napi_value r;
  napi_get_undefined(g_env, &r);
  return r;
}

const FtKernels& K() { return g_tables[g_active]; }

#define FN(name) napi_value name##_impl(napi_callback_info info); \
  napi_value name(napi_env env, napi_callback_info info) {           \
    g_env = env;                                                     \
    try {                                                            \
      return name##_impl(info);                                      \
    } catch (Err&) {                                                 \
      return nullptr;                                                \
    }                                                                \
  }                                                                  \
  napi_value name##_impl(napi_callback_info info)

// The f32 part of every GEMM call: P = [transA, transB, M, N, K, alpha, beta, aOff, lda, strideA, bOff, ldb,
// strideB, cOff, ldc, strideC, batch]. Checks A and C against their arrays; B's storage is the caller's to check
// (bSpan gives its stored shape and strides).
struct BSpan {
  double shape[3], strides[3];
};

FtGemm read_gemm(const Args& a, const Arr& A, const Arr* C, BSpan* bs) {
  if (a.np < 17) fail("gemm params");
  const double* P = a.P;
  FtGemm g;
  memset(&g, 0, sizeof g);
  g.transA = P[0] != 0;
  g.transB = P[1] != 0;
  g.M = (long)P[2], g.N = (long)P[3], g.K = (long)P[4];
  g.alpha = (float)P[5], g.beta = (float)P[6];
  g.lda = (long)P[8], g.strideA = (long)P[9];
  g.ldb = (long)P[11], g.strideB = (long)P[12];
  g.ldc = (long)P[14], g.strideC = (long)P[15];
  g.batch = (long)P[16];
  if (g.M < 0 || g.N < 0 || g.K < 0 || g.batch < 0) fail("gemm: negative size");
  // Stored shapes of A, B, C (rows × cols) with their row strides, plus the batch dimension.
  double ar = g.transA ? g.K : g.M, ac = g.transA ? g.M : g.K;
  double br = g.transB ? g.N : g.K, bc = g.transB ? g.K : g.N;
  double sa[3] = {(double)g.batch, ar, ac}, ta[3] = {(double)g.strideA, (double)g.lda, 1};
  double sc[3] = {(double)g.batch, (double)g.M, (double)g.N}, tc[3] = {(double)g.strideC, (double)g.ldc, 1};
  *bs = BSpan{{(double)g.batch, br, bc}, {(double)g.strideB, (double)g.ldb, 1}};
  if (g.K > 0) need_span(A, P[7], 3, sa, ta, "gemm: a is too small for the given shape");
  if (C) {
    need_span(*C, P[13], 3, sc, tc, "gemm: c is too small for the given shape");
    g.c = fp(*C, P[13]);
  }
  g.a = fp(A, P[7]);
  return g;
}

// The optional bias argument of a GEMM entry point (v[at], when given): N values from P[18], added to every row of
// C as it is first written, with beta 0. (The same bits as filling C's rows with the bias, then beta = 1.)
void read_bias(const Args& a, size_t at, FtGemm* g, const char* fn) {
  if (a.n <= at + 1) return;  // P is the last argument
  std::string f(fn);
  Arr bias = F(a.v[at], (f + ": bias must be a Float32Array").c_str());
  if (a.np < 19) fail((f + " params").c_str());
  if (g->beta != 0.f) fail((f + ": a bias needs beta = 0").c_str());
  if (!(a.P[18] >= 0) || a.P[18] != floor(a.P[18])) fail((f + ": the bias offset must be a non-negative integer").c_str());
  double bshape[1] = {(double)g->N}, bstride[1] = {1};
  need_span(bias, a.P[18], 1, bshape, bstride, (f + ": bias is shorter than N").c_str());
  g->bias = fp(bias, a.P[18]);
}

// gemm(a, b, c[, bias], P), also exported as gemmBias (the name the loader checks for, so an addon built before
// the bias existed is refused as out of date rather than failing on its argument count).
FN(js_gemm) {
  Args a = read_args(info, 4, 1);
  Arr A = F(a.v[0], "gemm: a must be a Float32Array"), B = F(a.v[1], "gemm: b must be a Float32Array"),
      C = F(a.v[2], "gemm: c must be a Float32Array");
  BSpan bs;
  FtGemm g = read_gemm(a, A, &C, &bs);
  read_bias(a, 3, &g, "gemm");
  if (g.K > 0) need_span(B, a.P[10], 3, bs.shape, bs.strides, "gemm: b is too small for the given shape");
  g.b = fp(B, a.P[10]);
  g.bfmt = FT_B_F32;
  K().gemm(&g);
  return undef();
}

// gemmBf16(a, b: Uint16Array of bf16 bits, c[, bias], P): the same GEMM with B stored as bf16, widened inside the
// kernels; with a bias row as gemmBias.
FN(js_gemm_bf16) {
  Args a = read_args(info, 4, 1);
  Arr A = F(a.v[0], "gemmBf16: a must be a Float32Array"), C = F(a.v[2], "gemmBf16: c must be a Float32Array");
  Arr B = get_arr(a.v[1], napi_uint16_array, false, "gemmBf16: b must be a Uint16Array");
  BSpan bs;
  FtGemm g = read_gemm(a, A, &C, &bs);
  read_bias(a, 3, &g, "gemmBf16");
  if (g.K > 0) need_span(B, a.P[10], 3, bs.shape, bs.strides, "gemmBf16: b is too small for the given shape");
  g.b16 = static_cast<const uint16_t*>(B.p) + (long)a.P[10];
  g.bfmt = FT_B_BF16;
  K().gemm(&g);
  return undef();
}

// gemmArgmax(a, b: Float32Array or Uint16Array of bf16 bits, idx: Int32Array, P): for each of the M rows of
// alpha·A·Bᵀ, the index of its first largest value (the greedy pick over an LM head's logits), written to idx
// without writing the product. P as gemm's; C's fields are ignored. M <= 4, B transposed ([N, K], a Linear's
// [out, in]), A not transposed, one matrix.
FN(js_gemm_argmax) {
  Args a = read_args(info, 4);
  Arr A = F(a.v[0], "gemmArgmax: a must be a Float32Array");
  Arr I = get_arr(a.v[2], napi_int32_array, false, "gemmArgmax: idx must be an Int32Array");
  bool is = false;
  napi_is_typedarray(g_env, a.v[1], &is);
  if (!is) fail("gemmArgmax: b must be a Float32Array or a Uint16Array");
  napi_typedarray_type bt;
  size_t blen, boff;
  void* bp;
  napi_value bab;
  check(napi_get_typedarray_info(g_env, a.v[1], &bt, &blen, &bp, &bab, &boff), "gemmArgmax: b");
  if (bt != napi_float32_array && bt != napi_uint16_array) fail("gemmArgmax: b must be a Float32Array or a Uint16Array");
  BSpan bs;
  FtGemm g = read_gemm(a, A, nullptr, &bs);
  if (g.M < 1 || g.M > 4 || !g.transB || g.transA || g.batch != 1 || g.N < 1 || g.K < 1)
    fail("gemmArgmax: needs 1 <= M <= 4, transB, not transA, batch 1 and N, K >= 1");
  if (I.len < (size_t)g.M) fail("gemmArgmax: idx is shorter than M");
  Arr B;
  B.p = bp;
  B.len = blen;
  B.type = bt;
  need_span(B, a.P[10], 3, bs.shape, bs.strides, "gemmArgmax: b is too small for the given shape");
  if (bt == napi_float32_array) {
    g.b = fp(B, a.P[10]);
    g.bfmt = FT_B_F32;
  } else {
    g.b16 = static_cast<const uint16_t*>(bp) + (long)a.P[10];
    g.bfmt = FT_B_BF16;
  }
  K().gemv_argmax(&g, static_cast<int32_t*>(I.p));
  return undef();
}

// gemm4bit(a, packed: Uint8Array, code: Float32Array(16), absmax: Float32Array, c[, bias], P): B is a bitsandbytes
// 4-bit tensor; P[10] (bOff) is the flat element of B's first element and P[17] the block size. Every element the
// strides reach must have its byte and its absmax. A bias row as gemmBias.
FN(js_gemm_4bit) {
  Args a = read_args(info, 6, 1);
  Arr A = F(a.v[0], "gemm4bit: a must be a Float32Array"), C = F(a.v[4], "gemm4bit: c must be a Float32Array");
  Arr Q = get_arr(a.v[1], napi_uint8_array, false, "gemm4bit: packed must be a Uint8Array");
  Arr Code = F(a.v[2], "gemm4bit: code must be a Float32Array"), Am = F(a.v[3], "gemm4bit: absmax must be a Float32Array");
  if (a.np < 18) fail("gemm4bit params");
  BSpan bs;
  FtGemm g = read_gemm(a, A, &C, &bs);
  read_bias(a, 5, &g, "gemm4bit");
  const double blockSize = a.P[17];
  if (!(blockSize >= 1) || blockSize != (double)(long)blockSize) fail("gemm4bit: block size must be a positive integer");
  if (Code.len < 16) fail("gemm4bit: the code must have 16 values");
  if (g.K > 0 && g.N > 0 && g.batch > 0) {
    // Element range [lo, hi] of the flat 4-bit tensor; then its bytes and blocks.
    Arr span;
    span.len = Q.len * 2;
    need_span(span, a.P[10], 3, bs.shape, bs.strides, "gemm4bit: b is too small for the given shape");
    double hi = a.P[10];
    for (int d = 0; d < 3; ++d) hi += (bs.shape[d] - 1) * bs.strides[d];
    if (floor(hi / blockSize) >= (double)Am.len) fail("gemm4bit: absmax has too few blocks for the given shape");
  }
  g.q4 = static_cast<const uint8_t*>(Q.p);
  g.q4code = fp(Code);
  g.q4absmax = fp(Am);
  g.q4block = (long)blockSize;
  g.q4off = (long)a.P[10];
  g.bfmt = FT_B_4BIT;
  K().gemm(&g);
  return undef();
}

// Strided views: P holds [nd, shape[nd], then per operand off, strides[nd]].
struct Shape {
  int nd;
  long shape[8];
  double dshape[8];
};

Shape read_shape(const Args& a, size_t* pos) {
  Shape s;
  s.nd = (int)a.P[(*pos)++];
  if (s.nd < 0 || s.nd > 8) fail("at most 8 dims");
  if (*pos + s.nd > a.np) fail("params too short");
  for (int d = 0; d < s.nd; ++d) {
    s.dshape[d] = a.P[*pos + d];
    s.shape[d] = (long)a.P[*pos + d];
  }
  *pos += s.nd;
  return s;
}

FtView read_view(const Args& a, const Shape& s, const Arr& arr, size_t* pos, const char* what) {
  if (*pos + 1 + s.nd > a.np) fail("params too short");
  FtView v;
  double off = a.P[(*pos)++];
  double st[8];
  for (int d = 0; d < s.nd; ++d) {
    st[d] = a.P[*pos + d];
    v.strides[d] = (long)st[d];
  }
  *pos += s.nd;
  need_span(arr, off, s.nd, s.dshape, st, what);
  v.p = fp(arr, off);
  return v;
}

double count_of(const Shape& s) {
  double n = 1;
  for (int d = 0; d < s.nd; ++d) n *= s.dshape[d];
  return n;
}

int32_t int_arg(napi_value v) {
  int32_t r;
  check(napi_get_value_int32(g_env, v, &r), "expected an integer");
  return r;
}

FN(js_unary) {
  Args a = read_args(info, 4);
  int op = int_arg(a.v[0]);
  Arr X = F(a.v[1], "unary: x"), O = F(a.v[2], "unary: out");
  size_t pos = 0;
  Shape s = read_shape(a, &pos);
  FtView x = read_view(a, s, X, &pos, "unary: x view out of range");
  double outOff = a.P[pos];
  need(O, outOff, count_of(s), "unary: out too small");
  if (op < 0 || op > U_COS) fail("unary: unknown op");
  K().unary(op, s.nd, s.shape, &x, fp(O, outOff));
  return undef();
}

FN(js_binary) {
  Args a = read_args(info, 5);
  int op = int_arg(a.v[0]);
  Arr A = F(a.v[1], "binary: a"), B = F(a.v[2], "binary: b"), O = F(a.v[3], "binary: out");
  size_t pos = 0;
  Shape s = read_shape(a, &pos);
  FtView va = read_view(a, s, A, &pos, "binary: a view out of range");
  FtView vb = read_view(a, s, B, &pos, "binary: b view out of range");
  double outOff = a.P[pos];
  need(O, outOff, count_of(s), "binary: out too small");
  if (op < 0 || op > B_LT) fail("binary: unknown op");
  K().binary(op, s.nd, s.shape, &va, &vb, fp(O, outOff));
  return undef();
}

FN(js_affine) {
  Args a = read_args(info, 3);
  Arr X = F(a.v[0], "affine: x"), O = F(a.v[1], "affine: out");
  size_t pos = 0;
  Shape s = read_shape(a, &pos);
  FtView x = read_view(a, s, X, &pos, "affine: x view out of range");
  float alpha = (float)a.P[pos], beta = (float)a.P[pos + 1];
  double outOff = a.P[pos + 2];
  need(O, outOff, count_of(s), "affine: out too small");
  K().affine(s.nd, s.shape, &x, alpha, beta, fp(O, outOff));
  return undef();
}

FN(js_copy_strided) {
  Args a = read_args(info, 3);
  Arr S = F(a.v[0], "copyStrided: src"), D = F(a.v[1], "copyStrided: dst");
  size_t pos = 0;
  Shape s = read_shape(a, &pos);
  FtView src = read_view(a, s, S, &pos, "copyStrided: src view out of range");
  FtView dst = read_view(a, s, D, &pos, "copyStrided: dst view out of range");
  K().copy_strided(s.nd, s.shape, &src, const_cast<float*>(dst.p), dst.strides);
  return undef();
}

FN(js_axpy) {
  Args a = read_args(info, 3);
  Arr X = F(a.v[0], "axpy: x"), Y = F(a.v[1], "axpy: y");
  double n = a.P[0];
  need(X, a.P[2], n, "axpy: x too small");
  need(Y, a.P[3], n, "axpy: y too small");
  K().axpy((long)n, (float)a.P[1], fp(X, a.P[2]), fp(Y, a.P[3]));
  return undef();
}

FN(js_fill) {
  Args a = read_args(info, 2);
  Arr O = F(a.v[0], "fill: out");
  need(O, a.P[2], a.P[0], "fill: out too small");
  K().fill((long)a.P[0], (float)a.P[1], fp(O, a.P[2]));
  return undef();
}

FN(js_reduce_sum) {
  Args a = read_args(info, 3);
  Arr X = F(a.v[0], "reduceSum: x"), O = F(a.v[1], "reduceSum: out");
  double outer = a.P[0], axis = a.P[1], inner = a.P[2];
  need(X, a.P[3], outer * axis * inner, "reduceSum: x too small");
  need(O, a.P[4], outer * inner, "reduceSum: out too small");
  K().reduce_sum((long)outer, (long)axis, (long)inner, fp(X, a.P[3]), fp(O, a.P[4]));
  return undef();
}

FN(js_reduce_max) {
  Args a = read_args(info, 4);
  Arr X = F(a.v[0], "reduceMax: x"), O = F(a.v[1], "reduceMax: out"), Ix = I(a.v[2], "reduceMax: idx", true);
  double outer = a.P[0], axis = a.P[1], inner = a.P[2];
  need(X, a.P[3], outer * axis * inner, "reduceMax: x too small");
  need(O, a.P[4], outer * inner, "reduceMax: out too small");
  if (!Ix.null) need(Ix, 0, outer * inner, "reduceMax: idx too small");
  K().reduce_max((long)outer, (long)axis, (long)inner, fp(X, a.P[3]), fp(O, a.P[4]), ip(Ix));
  return undef();
}

FN(js_sum_squares) {
  Args a = read_args(info, 2);
  Arr X = F(a.v[0], "sumSquares: x");
  need(X, a.P[1], a.P[0], "sumSquares: x too small");
  return num(K().sum_squares((long)a.P[0], fp(X, a.P[1])));
}

FN(js_ln_fwd) {
  Args a = read_args(info, 7);
  double N = a.P[0], C = a.P[1];
  Arr X = F(a.v[0], "x"), W = F(a.v[1], "w", true), B = F(a.v[2], "b", true), O = F(a.v[3], "out"),
      Mn = F(a.v[4], "mean"), R = F(a.v[5], "rstd");
  need(X, 0, N * C, "layerNorm: x too small");
  if (!W.null) need(W, 0, C, "layerNorm: w too small");
  if (!B.null) need(B, 0, C, "layerNorm: b too small");
  need(O, 0, N * C, "layerNorm: out too small");
  need(Mn, 0, N, "layerNorm: mean too small");
  need(R, 0, N, "layerNorm: rstd too small");
  K().ln_fwd((long)N, (long)C, (float)a.P[2], fp(X), fp(W), fp(B), fp(O), fp(Mn), fp(R));
  return undef();
}

FN(js_ln_bwd) {
  Args a = read_args(info, 9);
  double N = a.P[0], C = a.P[1];
  Arr G = F(a.v[0], "dout"), X = F(a.v[1], "x"), W = F(a.v[2], "w", true), Mn = F(a.v[3], "mean"),
      R = F(a.v[4], "rstd"), DX = F(a.v[5], "dx"), DW = F(a.v[6], "dw", true), DB = F(a.v[7], "db", true);
  need(G, 0, N * C, "layerNormBackward: dout too small");
  need(X, 0, N * C, "layerNormBackward: x too small");
  need(DX, 0, N * C, "layerNormBackward: dx too small");
  need(Mn, 0, N, "layerNormBackward: mean too small");
  need(R, 0, N, "layerNormBackward: rstd too small");
  if (!W.null) need(W, 0, C, "layerNormBackward: w too small");
  if (!DW.null) need(DW, 0, C, "layerNormBackward: dw too small");
  if (!DB.null) need(DB, 0, C, "layerNormBackward: db too small");
  K().ln_bwd((long)N, (long)C, fp(G), fp(X), fp(W), fp(Mn), fp(R), fp(DX), fp(DW), fp(DB));
  return undef();
}

FN(js_rms_fwd) {
  Args a = read_args(info, 5);
  double N = a.P[0], C = a.P[1];
  Arr X = F(a.v[0], "x"), W = F(a.v[1], "w", true), O = F(a.v[2], "out"), R = F(a.v[3], "rstd");
  need(X, 0, N * C, "rmsNorm: x too small");
  if (!W.null) need(W, 0, C, "rmsNorm: w too small");
  need(O, 0, N * C, "rmsNorm: out too small");
  need(R, 0, N, "rmsNorm: rstd too small");
  K().rms_fwd((long)N, (long)C, (float)a.P[2], fp(X), fp(W), fp(O), fp(R));
  return undef();
}

FN(js_rms_bwd) {
  Args a = read_args(info, 7);
  double N = a.P[0], C = a.P[1];
  Arr G = F(a.v[0], "dout"), X = F(a.v[1], "x"), W = F(a.v[2], "w", true), R = F(a.v[3], "rstd"),
      DX = F(a.v[4], "dx"), DW = F(a.v[5], "dw", true);
  need(G, 0, N * C, "rmsNormBackward: dout too small");
  need(X, 0, N * C, "rmsNormBackward: x too small");
  need(DX, 0, N * C, "rmsNormBackward: dx too small");
  need(R, 0, N, "rmsNormBackward: rstd too small");
  if (!W.null) need(W, 0, C, "rmsNormBackward: w too small");
  if (!DW.null) need(DW, 0, C, "rmsNormBackward: dw too small");
  K().rms_bwd((long)N, (long)C, fp(G), fp(X), fp(W), fp(R), fp(DX), fp(DW));
  return undef();
}

// Elementwise activations: P = [n, approx]; 2 or 3 buffers of n elements.
FN(js_gelu) {
  Args a = read_args(info, 3);
  Arr X = F(a.v[0], "x"), O = F(a.v[1], "out");
  need(X, 0, a.P[0], "gelu: x too small");
  need(O, 0, a.P[0], "gelu: out too small");
  K().gelu_fwd((long)a.P[0], a.P[1] != 0, fp(X), fp(O));
  return undef();
}

FN(js_gelu_bwd) {
  Args a = read_args(info, 4);
  Arr X = F(a.v[0], "x"), G = F(a.v[1], "dout"), D = F(a.v[2], "dx");
  need(X, 0, a.P[0], "geluBackward: x too small");
  need(G, 0, a.P[0], "geluBackward: dout too small");
  need(D, 0, a.P[0], "geluBackward: dx too small");
  K().gelu_bwd((long)a.P[0], a.P[1] != 0, fp(X), fp(G), fp(D));
  return undef();
}

FN(js_silu) {
  Args a = read_args(info, 3);
  Arr X = F(a.v[0], "x"), O = F(a.v[1], "out");
  need(X, 0, a.P[0], "silu: x too small");
  need(O, 0, a.P[0], "silu: out too small");
  K().silu_fwd((long)a.P[0], fp(X), fp(O));
  return undef();
}

FN(js_silu_bwd) {
  Args a = read_args(info, 4);
  Arr X = F(a.v[0], "x"), G = F(a.v[1], "dout"), D = F(a.v[2], "dx");
  need(X, 0, a.P[0], "siluBackward: x too small");
  need(G, 0, a.P[0], "siluBackward: dout too small");
  need(D, 0, a.P[0], "siluBackward: dx too small");
  K().silu_bwd((long)a.P[0], fp(X), fp(G), fp(D));
  return undef();
}

FN(js_softmax) {
  Args a = read_args(info, 3);
  double n = a.P[0] * a.P[1];
  Arr X = F(a.v[0], "x"), O = F(a.v[1], "out");
  need(X, 0, n, "softmax: x too small");
  need(O, 0, n, "softmax: out too small");
  K().softmax_fwd((long)a.P[0], (long)a.P[1], fp(X), fp(O));
  return undef();
}

FN(js_softmax_bwd) {
  Args a = read_args(info, 4);
  double n = a.P[0] * a.P[1];
  Arr Y = F(a.v[0], "y"), G = F(a.v[1], "dy"), D = F(a.v[2], "dx");
  need(Y, 0, n, "softmaxBackward: y too small");
  need(G, 0, n, "softmaxBackward: dy too small");
  need(D, 0, n, "softmaxBackward: dx too small");
  K().softmax_bwd((long)a.P[0], (long)a.P[1], fp(Y), fp(G), fp(D));
  return undef();
}

void check_targets(const Arr& T, double N, double V, int ignore) {
  need(T, 0, N, "crossEntropy: targets too small");
  const int32_t* t = ip(T);
  for (long n = 0; n < (long)N; ++n)
    if (t[n] != ignore && (t[n] < 0 || t[n] >= (long)V)) fail("crossEntropy: target out of range");
}

FN(js_ce_fwd) {
  Args a = read_args(info, 5);
  double N = a.P[0], V = a.P[1];
  int ignore = (int)a.P[2];
  Arr L = F(a.v[0], "logits"), T = I(a.v[1], "targets"), Lo = F(a.v[2], "losses"), Ls = F(a.v[3], "lse");
  need(L, 0, N * V, "crossEntropy: logits too small");
  need(Lo, 0, N, "crossEntropy: losses too small");
  need(Ls, 0, N, "crossEntropy: lse too small");
  check_targets(T, N, V, ignore);
  K().ce_fwd((long)N, (long)V, ignore, fp(L), ip(T), fp(Lo), fp(Ls));
  return undef();
}

FN(js_ce_bwd) {
  Args a = read_args(info, 6);
  double N = a.P[0], V = a.P[1];
  int ignore = (int)a.P[2];
  Arr L = F(a.v[0], "logits"), T = I(a.v[1], "targets"), Ls = F(a.v[2], "lse"), S = F(a.v[3], "scale"),
      D = F(a.v[4], "dlogits");
  need(L, 0, N * V, "crossEntropyBackward: logits too small");
  need(D, 0, N * V, "crossEntropyBackward: dlogits too small");
  need(Ls, 0, N, "crossEntropyBackward: lse too small");
  need(S, 0, N, "crossEntropyBackward: scale too small");
  check_targets(T, N, V, ignore);
  K().ce_bwd((long)N, (long)V, ignore, fp(L), ip(T), fp(Ls), fp(S), fp(D));
  return undef();
}

void check_ids(const Arr& ids, double N, double rows, const char* what) {
  need(ids, 0, N, what);
  const int32_t* t = ip(ids);
  for (long n = 0; n < (long)N; ++n)
    if (t[n] < 0 || t[n] >= (long)rows) fail(what);
}

FN(js_emb_fwd) {
  Args a = read_args(info, 4);
  double N = a.P[0], C = a.P[1];
  Arr Ids = I(a.v[0], "ids"), W = F(a.v[1], "weight"), O = F(a.v[2], "out");
  need(O, 0, N * C, "embedding: out too small");
  check_ids(Ids, N, C > 0 ? (double)(W.len / (size_t)C) : 0, "embedding: id out of range");
  K().emb_fwd((long)N, (long)C, ip(Ids), fp(W), fp(O));
  return undef();
}

FN(js_emb_bwd) {
  Args a = read_args(info, 4);
  double N = a.P[0], C = a.P[1];
  Arr Ids = I(a.v[0], "ids"), G = F(a.v[1], "dout"), DW = F(a.v[2], "dweight");
  need(G, 0, N * C, "embeddingBackward: dout too small");
  check_ids(Ids, N, C > 0 ? (double)(DW.len / (size_t)C) : 0, "embeddingBackward: id out of range");
  K().emb_bwd((long)N, (long)C, ip(Ids), fp(G), fp(DW));
  return undef();
}

// Attention views: P = [B,H,Hkv,T,S,D,scale,causal,window, then (off,sb,sh,st) for q,k,v, then mask (off,sb,st),
// then (off,sb,sh,st) for each further view].
FtAttnView attn_view(const Args& a, const Arr& arr, size_t pos, double b, double h, double t, double D,
                     const char* what) {
  const double* P = a.P + pos;
  double shape[4] = {b, h, t, D}, st[4] = {P[1], P[2], P[3], 1};
  need_span(arr, P[0], 4, shape, st, what);
  return FtAttnView{fp(arr, P[0]), (long)P[1], (long)P[2], (long)P[3]};
}

FtAttn read_attn(const Args& a, const Arr& Q, const Arr& Kk, const Arr& V, const Arr& M) {
  const double* P = a.P;
  FtAttn p;
  p.B = (long)P[0], p.H = (long)P[1], p.Hkv = (long)P[2], p.T = (long)P[3], p.S = (long)P[4], p.D = (long)P[5];
  p.scale = (float)P[6];
  p.causal = P[7] != 0;
  p.window = (long)P[8];
  if (p.Hkv <= 0 || p.H % p.Hkv != 0) fail("attention: H must be a multiple of Hkv");
  p.q = attn_view(a, Q, 9, P[0], P[1], P[3], P[5], "attention: q view out of range");
  p.k = attn_view(a, Kk, 13, P[0], P[2], P[4], P[5], "attention: k view out of range");
  p.v = attn_view(a, V, 17, P[0], P[2], P[4], P[5], "attention: v view out of range");
  if (M.null) {
    p.mask = nullptr;
    p.msb = p.mst = 0;
  } else {
    double shape[3] = {P[0], P[3], P[4]}, st[3] = {P[22], P[23], 1};
    need_span(M, P[21], 3, shape, st, "attention: mask view out of range");
    p.mask = fp(M, P[21]);
    p.msb = (long)P[22];
    p.mst = (long)P[23];
  }
  return p;
}

FN(js_attn_fwd) {
  Args a = read_args(info, 7);
  if (a.np < 28) fail("attention params");
  Arr Q = F(a.v[0], "q"), Kk = F(a.v[1], "k"), V = F(a.v[2], "v"), M = F(a.v[3], "mask", true), O = F(a.v[4], "out"),
      L = F(a.v[5], "lse");
  FtAttn p = read_attn(a, Q, Kk, V, M);
  FtAttnView out = attn_view(a, O, 24, a.P[0], a.P[1], a.P[3], a.P[5], "attention: out view out of range");
  need(L, 0, a.P[0] * a.P[1] * a.P[3], "attention: lse too small");
  K().attn_fwd(&p, out, fp(L));
  return undef();
}

FN(js_attn_bwd) {
  Args a = read_args(info, 11);
  if (a.np < 44) fail("attentionBackward params");
  Arr Q = F(a.v[0], "q"), Kk = F(a.v[1], "k"), V = F(a.v[2], "v"), M = F(a.v[3], "mask", true), O = F(a.v[4], "out"),
      L = F(a.v[5], "lse"), G = F(a.v[6], "dout"), DQ = F(a.v[7], "dq"), DK = F(a.v[8], "dk"), DV = F(a.v[9], "dv");
  FtAttn p = read_attn(a, Q, Kk, V, M);
  const double* P = a.P;
  FtAttnView out = attn_view(a, O, 24, P[0], P[1], P[3], P[5], "attentionBackward: out view out of range");
  FtAttnView dout = attn_view(a, G, 28, P[0], P[1], P[3], P[5], "attentionBackward: dout view out of range");
  FtAttnView dq = attn_view(a, DQ, 32, P[0], P[1], P[3], P[5], "attentionBackward: dq view out of range");
  FtAttnView dk = attn_view(a, DK, 36, P[0], P[2], P[4], P[5], "attentionBackward: dk view out of range");
  FtAttnView dv = attn_view(a, DV, 40, P[0], P[2], P[4], P[5], "attentionBackward: dv view out of range");
  need(L, 0, P[0] * P[1] * P[3], "attentionBackward: lse too small");
  K().attn_bwd(&p, out, fp(L), dout, dq, dk, dv);
  return undef();
}

// rope: P = [rows, D, xOff, outOff, inverse]
FN(js_rope) {
  Args a = read_args(info, 6);
  double rows = a.P[0], D = a.P[1];
  Arr X = F(a.v[0], "x"), Pos = I(a.v[1], "rowPos"), C = F(a.v[2], "cos"), S = F(a.v[3], "sin"), O = F(a.v[4], "out");
  if ((long)D % 2 != 0) fail("rope: D must be even");
  need(X, a.P[2], rows * D, "rope: x too small");
  need(O, a.P[3], rows * D, "rope: out too small");
  double P = D > 0 ? (double)((C.len < S.len ? C.len : S.len) / (size_t)(D / 2)) : 0;
  check_ids(Pos, rows, P, "rope: position out of range of the cos/sin tables");
  K().rope((long)rows, (long)D, fp(X, a.P[2]), ip(Pos), fp(C), fp(S), a.P[4] != 0, fp(O, a.P[3]));
  return undef();
}

// adamw: P = [n, lr, beta1, beta2, eps, weightDecay, step]
FN(js_adamw) {
  Args a = read_args(info, 5);
  double n = a.P[0];
  Arr Pm = F(a.v[0], "param"), G = F(a.v[1], "grad"), M = F(a.v[2], "m"), V = F(a.v[3], "v");
  need(Pm, 0, n, "adamw: param too small");
  need(G, 0, n, "adamw: grad too small");
  need(M, 0, n, "adamw: m too small");
  need(V, 0, n, "adamw: v too small");
  K().adamw((long)n, fp(Pm), fp(G), fp(M), fp(V), a.P[1], a.P[2], a.P[3], a.P[4], a.P[5], a.P[6]);
  return undef();
}

napi_value str(const char* s) {
  napi_value r;
  napi_create_string_utf8(g_env, s, NAPI_AUTO_LENGTH, &r);
  return r;
}

napi_value info_object() {
  napi_value o, arr;
  napi_create_object(g_env, &o);
  napi_set_named_property(g_env, o, "simd", str(kNames[g_active]));
  napi_set_named_property(g_env, o, "threads", num(ft_threads()));
  napi_create_array(g_env, &arr);
  uint32_t n = 0;
  for (int i = 0; i < 3; ++i)
    if (g_has[i]) napi_set_element(g_env, arr, n++, str(kNames[i]));
  napi_set_named_property(g_env, o, "supported", arr);
  return o;
}

FN(js_info) {
  (void)info;
  return info_object();
}

// setSimd(name): switch the ISA table (for tests and benchmarks); throws if this CPU cannot run it.
FN(js_set_simd) {
  size_t n = 1;
  napi_value v;
  check(napi_get_cb_info(g_env, info, &n, &v, nullptr, nullptr), "setSimd");
  char buf[16] = {0};
  size_t len;
  check(napi_get_value_string_utf8(g_env, v, buf, sizeof buf, &len), "setSimd: expected a string");
  for (int i = 0; i < 3; ++i)
    if (strcmp(buf, kNames[i]) == 0) {
      if (!g_has[i]) fail("setSimd: this CPU does not support that path");
      g_active = i;
      return info_object();
    }
  fail("setSimd: expected avx512, avx2 or scalar");
}

FN(js_set_threads) {
  size_t n = 1;
  napi_value v;
  check(napi_get_cb_info(g_env, info, &n, &v, nullptr, nullptr), "setThreads");
  ft_set_threads(int_arg(v));
  return info_object();
}

// setGemmSharedB(flag): 2-thread GEMMs share one packed B (rows split, barrier per panel) instead of each
// thread packing its own (columns split). Applies to every ISA table.
FN(js_set_gemm_shared_b) {
  size_t n = 1;
  napi_value v;
  check(napi_get_cb_info(g_env, info, &n, &v, nullptr, nullptr), "setGemmSharedB");
  bool on = false;
  check(napi_get_value_bool(g_env, v, &on), "setGemmSharedB: expected a boolean");
  for (int i = 0; i < 3; ++i)
    if (g_has[i]) g_tables[i].set_gemm_shared_b(on);
  return undef();
}

// readBandwidth(seconds): GB/s of summing a 256 MiB buffer with ft_threads() threads (best of several passes).
FN(js_read_bw) {
  size_t n = 1;
  napi_value v;
  check(napi_get_cb_info(g_env, info, &n, &v, nullptr, nullptr), "readBandwidth");
  double secs = 0.5;
  napi_get_value_double(g_env, v, &secs);
  return num(K().read_bw(secs));
}

// setSpinMicros(us): how long the pool worker spins after a task before sleeping; returns the previous value.
FN(js_set_spin_us) {
  size_t n = 1;
  napi_value v;
  check(napi_get_cb_info(g_env, info, &n, &v, nullptr, nullptr), "setSpinMicros");
  double us = 0;
  check(napi_get_value_double(g_env, v, &us), "setSpinMicros: expected a number");
  if (!(us >= 0)) fail("setSpinMicros: expected a non-negative number of microseconds");
  return num((double)ft_set_spin_us(us > 1e12 ? (long)1e12 : (long)us));
}

size_t typed_elem_bytes(napi_typedarray_type type) {
  return type == napi_float64_array || type == napi_bigint64_array || type == napi_biguint64_array ? 8
         : type == napi_float32_array || type == napi_int32_array || type == napi_uint32_array ? 4
         : type == napi_uint16_array || type == napi_int16_array ? 2 : 1;
}

// readAhead(arrays): the memory the pool's worker may read ahead during a decode loop (ft_ahead_scope): the
// model's weights, which the caller keeps alive until it calls readAhead([]) (the end of read-ahead; it returns
// once the worker has stopped reading the old arrays). Returns the bytes read ahead in the scope it ended.
FN(js_read_ahead) {
  size_t n = 1;
  napi_value v;
  check(napi_get_cb_info(g_env, info, &n, &v, nullptr, nullptr), "readAhead");
  bool isArr = false;
  if (n >= 1) napi_is_array(g_env, v, &isArr);
  if (!isArr) fail("readAhead: expected an array of typed arrays");
  uint32_t len = 0;
  check(napi_get_array_length(g_env, v, &len), "readAhead");
  std::vector<const void*> ptrs;
  std::vector<size_t> bytes;
  for (uint32_t i = 0; i < len; ++i) {
    napi_value e;
    check(napi_get_element(g_env, v, i, &e), "readAhead");
    bool is = false;
    napi_is_typedarray(g_env, e, &is);
    if (!is) fail("readAhead: expected an array of typed arrays");
    napi_typedarray_type type;
    size_t count, byteoff;
    void* data;
    napi_value ab;
    check(napi_get_typedarray_info(g_env, e, &type, &count, &data, &ab, &byteoff), "readAhead");
    ptrs.push_back(data);
    bytes.push_back(count * typed_elem_bytes(type));
  }
  return num((double)ft_ahead_scope(ptrs.data(), bytes.data(), (int)ptrs.size()));
}

// hugePages(typedArray, collapse): asks the kernel to back the 2 MiB-aligned interior of the array's memory
// with transparent huge pages (madvise MADV_HUGEPAGE; with collapse, also MADV_COLLAPSE, which converts pages
// already touched, synchronously). Streaming a weight from memory measured ~15 % faster from huge pages here:
// fewer TLB misses, and the prefetchers run on. Returns the bytes now advised (collapse: collapsed), 0 where the
// OS has no such advice or the array is smaller than one huge page.
FN(js_huge_pages) {
  size_t n = 2;
  napi_value v[2];
  check(napi_get_cb_info(g_env, info, &n, v, nullptr, nullptr), "hugePages");
  if (n < 1) fail("hugePages: expected a typed array");
  bool is = false;
  napi_is_typedarray(g_env, v[0], &is);
  if (!is) fail("hugePages: expected a typed array");
  napi_typedarray_type type;
  size_t len, byteoff;
  void* data;
  napi_value ab;
  check(napi_get_typedarray_info(g_env, v[0], &type, &len, &data, &ab, &byteoff), "hugePages");
  bool collapse = false;
  if (n >= 2) napi_get_value_bool(g_env, v[1], &collapse);
  return num((double)ft_huge_pages(data, len * typed_elem_bytes(type), collapse));
}

FN(js_fma_peak) {
  size_t n = 1;
  napi_value v;
  check(napi_get_cb_info(g_env, info, &n, &v, nullptr, nullptr), "fmaPeak");
  double secs = 0.5;
  napi_get_value_double(g_env, v, &secs);
  return num(K().fma_peak(secs));
}

// ---- decode plans (decode.cpp) ----------------------------------------------------------------------------
// gpt2DecodePlan(arrays, P) / llamaDecodePlan(arrays, P) gather a model's weights, KV caches and key mask once and
// return an opaque plan; decodeStep(plan, ids, pos, S, out) then runs a whole decode step in one call. A plan holds
// a reference to every array it points into, so none can be collected while it lives, and each was checked once
// here against the sizes in P. Weight matrices are Float32Arrays or Uint16Arrays of bf16 bits, everything else
// Float32Arrays; an optional array (mask, biases) may be null.
struct DecodePlan {
  napi_env env = nullptr;
  const char* fn = "";  // the constructor's name, for its error messages
  long B = 0, V = 0, max_len = 0, positions = 0;
  std::vector<napi_ref> refs;
  float* scratch = nullptr;
  virtual ~DecodePlan() {
    for (napi_ref r : refs) napi_delete_reference(env, r);
    free(scratch);
  }
  virtual void step(const int32_t* ids, const int32_t* pos, long S, int32_t* idx, float* logits) = 0;
  void alloc_scratch(size_t floats) {
    scratch = static_cast<float*>(aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64));
    if (!scratch) fail("decode plan: out of memory");
  }
};

// P = [L, C, H, F, V, B, max_len, positions, eps, approx_gelu]; arrays = [wte, wpe, lnf_w, lnf_b, head, mask,
// then per layer ln1_w, ln1_b, attn_w, attn_b, proj_w, proj_b, ln2_w, ln2_b, fc_w, fc_b, fc2_w, fc2_b, k_cache,
// v_cache]. Matrices: wte, wpe, head and the four per layer.
struct Gpt2Plan : DecodePlan {
  FtGpt2 m;
  std::vector<FtGpt2Layer> layers;
  void step(const int32_t* ids, const int32_t* pos, long S, int32_t* idx, float* logits) override {
    ft_gpt2_step(&K(), &m, ids, pos, S, scratch, idx, logits);
  }
};

// P = [L, C, H, Hkv, D, F, V, B, max_len, positions, eps, then one attention window a layer]; arrays = [embed,
// norm, head, mask, cos, sin, then per layer in_norm, q, q_b, k, k_b, v, v_b, o, o_b, post_norm, gate, gate_b, up,
// up_b, down, down_b, k_cache, v_cache]. Matrices: embed, head and the seven per layer; biases may be null.
struct LlamaPlan : DecodePlan {
  FtLlama m;
  std::vector<FtLlamaLayer> layers;
  std::vector<int32_t> rowpos;
  void step(const int32_t* ids, const int32_t* pos, long S, int32_t* idx, float* logits) override {
    ft_llama_step(&K(), &m, ids, pos, S, scratch, rowpos.data(), idx, logits);
  }
};

void decode_plan_free(napi_env, void* data, void*) { delete static_cast<DecodePlan*>(data); }

const napi_type_tag kDecodePlanTag = {0x6674756e65677074ULL, 0x32706c616e763032ULL};

// Element i of the plan's arrays, checked to hold `count` elements: a Float32Array, or with `weight` also a
// Uint16Array of bf16 bits. Null only when `nullable`.
FtWeight plan_array(DecodePlan* plan, napi_value list, uint32_t i, double count, bool weight, bool nullable,
                    const char* what) {
  thread_local char msg[160];  // the addon may run in several worker_threads at once
  napi_value v;
  check(napi_get_element(g_env, list, i, &v), "decode plan: arrays");
  napi_valuetype t;
  check(napi_typeof(g_env, v, &t), "decode plan: arrays");
  if (nullable && (t == napi_null || t == napi_undefined)) return FtWeight{nullptr, nullptr};
  bool is = false;
  napi_is_typedarray(g_env, v, &is);
  napi_typedarray_type type = napi_int8_array;
  size_t len = 0, byteoff;
  void* data = nullptr;
  napi_value ab;
  if (is) check(napi_get_typedarray_info(g_env, v, &type, &len, &data, &ab, &byteoff), what);
  const bool f32 = is && type == napi_float32_array, bf16 = is && weight && type == napi_uint16_array;
  if (!f32 && !bf16) {
    snprintf(msg, sizeof msg, "%s: %s must be a Float32Array%s", plan->fn, what, weight ? " or a Uint16Array of bf16 bits" : "");
    fail(msg);
  }
  if ((double)len < count) {
    snprintf(msg, sizeof msg, "%s: %s holds %zu elements, needs %.0f", plan->fn, what, len, count);
    fail(msg);
  }
  napi_ref r;
  check(napi_create_reference(g_env, v, 1, &r), what);
  plan->refs.push_back(r);
  return f32 ? FtWeight{static_cast<const float*>(data), nullptr} : FtWeight{nullptr, static_cast<const uint16_t*>(data)};
}

const float* plan_f32(DecodePlan* plan, napi_value list, uint32_t i, double count, const char* what, bool nullable = false) {
  return plan_array(plan, list, i, count, false, nullable, what).f32;
}

// A projection: its weight (out × in elements, f32 or bf16) at arrays[i] and its f32 bias (out) at arrays[i + 1],
// named "<name> weight" and "<name> bias" in errors; the bias may be null when `optional_bias`.
void plan_linear(DecodePlan* plan, napi_value list, uint32_t i, double out, double in, const char* name,
                 bool optional_bias, FtWeight* w, const float** b) {
  const std::string n(name);
  *w = plan_array(plan, list, i, out * in, true, false, (n + " weight").c_str());
  *b = plan_f32(plan, list, i + 1, out, (n + " bias").c_str(), optional_bias);
}

// The arrays argument: a JS array of exactly `fixed + per * L` entries.
napi_value plan_list(napi_value v, double fixed, double per, double L, const char* msg) {
  bool isArr = false;
  napi_is_array(g_env, v, &isArr);
  uint32_t n = 0;
  if (isArr) check(napi_get_array_length(g_env, v, &n), msg);
  if (!isArr || (double)n != fixed + per * L) fail(msg);
  return v;
}

// Builds a plan with `fill` (which reads the arrays and sizes the scratch); on any failure the plan and its
// references are released before the error reaches JS. Returns the tagged external.
template <class Plan, class Fill>
napi_value make_plan(const char* fn, Fill fill) {
  Plan* plan = new (std::nothrow) Plan();
  if (!plan) fail("decode plan: out of memory");
  plan->env = g_env;
  plan->fn = fn;
  try {
    fill(plan);
  } catch (Err&) {
    delete plan;
    throw;
  } catch (std::bad_alloc&) {
    delete plan;
    fail("decode plan: out of memory");
  }
  napi_value ext;
  if (napi_create_external(g_env, static_cast<DecodePlan*>(plan), decode_plan_free, nullptr, &ext) != napi_ok) {
    delete plan;
    fail("decode plan: cannot create the plan object");
  }
  // Tagged, so a step never takes another external (another addon's, or another kind of ours) for a plan.
  check(napi_type_tag_object(g_env, ext, &kDecodePlanTag), "decode plan: tag");
  return ext;
}

void need_sizes(const double* P, int n, const char* msg) {
  for (int i = 0; i < n; ++i)
    if (!(P[i] >= 1) || P[i] != floor(P[i]) || P[i] > 1e12) fail(msg);
}

FN(js_gpt2_plan) {
  Args a = read_args(info, 2);
  if (a.np < 10) fail("gpt2DecodePlan params");
  const double* P = a.P;
  need_sizes(P, 8, "gpt2DecodePlan: sizes must be positive integers");
  const double L = P[0], C = P[1], H = P[2], F = P[3], V = P[4], B = P[5], T = P[6], NP = P[7];
  if (fmod(C, H) != 0) fail("gpt2DecodePlan: C is not a multiple of H");
  napi_value list = plan_list(a.v[0], 6, 14, L, "gpt2DecodePlan: expected 6 + 14 per layer arrays");
  return make_plan<Gpt2Plan>("gpt2DecodePlan", [&](Gpt2Plan* plan) {
    FtGpt2& m = plan->m;
    memset(&m, 0, sizeof m);
    m.L = (long)L, m.C = (long)C, m.H = (long)H, m.F = (long)F, m.V = (long)V, m.B = (long)B, m.max_len = (long)T;
    m.eps = (float)P[8];
    m.approx_gelu = P[9] != 0;
    plan->B = m.B, plan->V = m.V, plan->max_len = m.max_len, plan->positions = (long)NP;
    m.wte = plan_array(plan, list, 0, V * C, true, false, "wte");
    m.wpe = plan_array(plan, list, 1, NP * C, true, false, "wpe");
    m.lnf_w = plan_f32(plan, list, 2, C, "ln_f weight");
    m.lnf_b = plan_f32(plan, list, 3, C, "ln_f bias");
    m.head = plan_array(plan, list, 4, V * C, true, false, "lm_head weight");
    m.mask = plan_f32(plan, list, 5, B * T, "key mask", true);
    plan->layers.resize((size_t)L);
    for (uint32_t l = 0; l < (uint32_t)L; ++l) {
      FtGpt2Layer& y = plan->layers[l];
      const uint32_t o = 6 + 14 * l;
      y.ln1_w = plan_f32(plan, list, o + 0, C, "ln_1 weight");
      y.ln1_b = plan_f32(plan, list, o + 1, C, "ln_1 bias");
      plan_linear(plan, list, o + 2, 3 * C, C, "attn.c_attn", false, &y.attn, &y.attn_b);
      plan_linear(plan, list, o + 4, C, C, "attn.c_proj", false, &y.proj, &y.proj_b);
      y.ln2_w = plan_f32(plan, list, o + 6, C, "ln_2 weight");
      y.ln2_b = plan_f32(plan, list, o + 7, C, "ln_2 bias");
      plan_linear(plan, list, o + 8, F, C, "mlp.c_fc", false, &y.fc, &y.fc_b);
      plan_linear(plan, list, o + 10, C, F, "mlp.c_proj", false, &y.fc2, &y.fc2_b);
      y.k_cache = const_cast<float*>(plan_f32(plan, list, o + 12, B * T * C, "key cache"));
      y.v_cache = const_cast<float*>(plan_f32(plan, list, o + 13, B * T * C, "value cache"));
    }
    m.layers = plan->layers.data();
    plan->alloc_scratch(ft_gpt2_scratch_floats(&m));
  });
}

FN(js_llama_plan) {
  Args a = read_args(info, 2);
  const double* P = a.P;
  if (a.np < 11) fail("llamaDecodePlan params");
  need_sizes(P, 10, "llamaDecodePlan: sizes must be positive integers");
  const double L = P[0], C = P[1], H = P[2], Hkv = P[3], D = P[4], F = P[5], V = P[6], B = P[7], T = P[8], NP = P[9];
  if (fmod(H, Hkv) != 0 || fmod(D, 2) != 0) fail("llamaDecodePlan: H must be a multiple of Hkv, D even");
  if ((double)a.np != 11 + L) fail("llamaDecodePlan: expected one attention window a layer");
  napi_value list = plan_list(a.v[0], 6, 18, L, "llamaDecodePlan: expected 6 + 18 per layer arrays");
  return make_plan<LlamaPlan>("llamaDecodePlan", [&](LlamaPlan* plan) {
    FtLlama& m = plan->m;
    memset(&m, 0, sizeof m);
    m.L = (long)L, m.C = (long)C, m.H = (long)H, m.Hkv = (long)Hkv, m.D = (long)D, m.F = (long)F, m.V = (long)V;
    m.B = (long)B, m.max_len = (long)T;
    m.eps = (float)P[10];
    plan->B = m.B, plan->V = m.V, plan->max_len = m.max_len, plan->positions = (long)NP;
    const double QD = H * D, KD = Hkv * D;
    m.embed = plan_array(plan, list, 0, V * C, true, false, "embed_tokens weight");
    m.norm = plan_f32(plan, list, 1, C, "norm weight");
    m.head = plan_array(plan, list, 2, V * C, true, false, "lm_head weight");
    m.mask = plan_f32(plan, list, 3, B * T, "key mask", true);
    m.cos = plan_f32(plan, list, 4, NP * D / 2, "rotary cos table");
    m.sin = plan_f32(plan, list, 5, NP * D / 2, "rotary sin table");
    plan->layers.resize((size_t)L);
    for (uint32_t l = 0; l < (uint32_t)L; ++l) {
      FtLlamaLayer& y = plan->layers[l];
      const uint32_t o = 6 + 18 * l;
      y.in_norm = plan_f32(plan, list, o + 0, C, "input_layernorm weight");
      plan_linear(plan, list, o + 1, QD, C, "q_proj", true, &y.q, &y.q_b);
      plan_linear(plan, list, o + 3, KD, C, "k_proj", true, &y.k, &y.k_b);
      plan_linear(plan, list, o + 5, KD, C, "v_proj", true, &y.v, &y.v_b);
      plan_linear(plan, list, o + 7, C, QD, "o_proj", true, &y.o, &y.o_b);
      y.post_norm = plan_f32(plan, list, o + 9, C, "post_attention_layernorm weight");
      plan_linear(plan, list, o + 10, F, C, "gate_proj", true, &y.gate, &y.gate_b);
      plan_linear(plan, list, o + 12, F, C, "up_proj", true, &y.up, &y.up_b);
      plan_linear(plan, list, o + 14, C, F, "down_proj", true, &y.down, &y.down_b);
      y.k_cache = const_cast<float*>(plan_f32(plan, list, o + 16, B * T * KD, "key cache"));
      y.v_cache = const_cast<float*>(plan_f32(plan, list, o + 17, B * T * KD, "value cache"));
      const double w = P[11 + l];
      if (!(w >= 0) || w != floor(w)) fail("llamaDecodePlan: attention windows must be non-negative integers");
      y.window = (long)w;
    }
    m.layers = plan->layers.data();
    plan->rowpos.resize((size_t)(B * (H > Hkv ? H : Hkv)));
    plan->alloc_scratch(ft_llama_scratch_floats(&m));
  });
}

// decodeStep(plan, ids: Int32Array [B], pos: Int32Array [B], S, out[, candIdx, candVal]): out is an Int32Array
// [B] for each row's greedy pick (B <= 4) or a Float32Array [B, V] for the logits. S counts the keys after this
// step. With candIdx (Int32Array [B·cap]) and candVal (Float32Array, as long), the logits are also reduced to
// each row's cap largest (ft_top_candidates, for top-k sampling); a row holding a NaN gets candIdx[b·cap] = -1.
FN(js_decode_step) {
  size_t n = 7;
  napi_value v[7];
  check(napi_get_cb_info(g_env, info, &n, v, nullptr, nullptr), "decodeStep");
  if (n != 5 && n != 7) fail("decodeStep: wrong argument count");
  void* data = nullptr;
  napi_valuetype t;
  check(napi_typeof(g_env, v[0], &t), "decodeStep: plan");
  bool tagged = false;
  if (t == napi_external) check(napi_check_object_type_tag(g_env, v[0], &kDecodePlanTag, &tagged), "decodeStep: plan");
  if (!tagged) fail("decodeStep: plan must come from gpt2DecodePlan or llamaDecodePlan");
  check(napi_get_value_external(g_env, v[0], &data), "decodeStep: plan");
  DecodePlan* plan = static_cast<DecodePlan*>(data);
  Arr ids = I(v[1], "decodeStep: ids must be an Int32Array"), pos = I(v[2], "decodeStep: pos must be an Int32Array");
  double S = 0;
  check(napi_get_value_double(g_env, v[3], &S), "decodeStep: S must be a number");
  if (!(S >= 1 && S <= (double)plan->max_len) || S != floor(S)) fail("decodeStep: S is outside the caches");
  check_ids(ids, (double)plan->B, (double)plan->V, "decodeStep: a token id is out of range (or too few ids)");
  check_ids(pos, (double)plan->B, (double)plan->positions, "decodeStep: a position is out of range (or too few)");
  bool is = false;
  napi_is_typedarray(g_env, v[4], &is);
  napi_typedarray_type type = napi_int8_array;
  size_t len = 0, byteoff;
  void* out = nullptr;
  napi_value ab;
  if (is) check(napi_get_typedarray_info(g_env, v[4], &type, &len, &out, &ab, &byteoff), "decodeStep: out");
  if (type == napi_int32_array) {
    if (n == 7) fail("decodeStep: candidates come with the logits (out must be a Float32Array)");
    if (plan->B > 4) fail("decodeStep: greedy picks need B <= 4 (ask for the logits)");
    if (len < (size_t)plan->B) fail("decodeStep: out is shorter than B");
    plan->step(ip(ids), ip(pos), (long)S, static_cast<int32_t*>(out), nullptr);
  } else if (type == napi_float32_array) {
    if ((double)len < (double)plan->B * (double)plan->V) fail("decodeStep: out is shorter than B x V logits");
    Arr ci, cv;
    long cap = 0;
    if (n == 7) {
      ci = I(v[5], "decodeStep: candIdx must be an Int32Array");
      cv = F(v[6], "decodeStep: candVal must be a Float32Array");
      cap = (long)(ci.len / (size_t)plan->B);
      if (cap < 1 || cap > plan->V || ci.len != (size_t)(cap * plan->B) || cv.len < ci.len)
        fail("decodeStep: candIdx must hold B x cap entries (1 <= cap <= V), candVal as many");
      // The selection reads the logits while it writes the candidates: no two of them may share memory.
      auto apart = [](const void* a, size_t an, const void* b, size_t bn) {
        const char *x = static_cast<const char*>(a), *y = static_cast<const char*>(b);
        return x + an <= y || y + bn <= x;
      };
      const size_t lb = len * 4, ib = ci.len * 4, vb = cv.len * 4;
      if (!apart(out, lb, ci.p, ib) || !apart(out, lb, cv.p, vb) || !apart(ci.p, ib, cv.p, vb))
        fail("decodeStep: out, candIdx and candVal must not overlap");
    }
    float* logits = static_cast<float*>(out);
    plan->step(ip(ids), ip(pos), (long)S, nullptr, logits);
    for (long b = 0; b < (n == 7 ? plan->B : 0); ++b) {
      int32_t* bi = ip(ci) + b * cap;
      if (!ft_top_candidates(logits + b * plan->V, plan->V, cap, bi, fp(cv) + b * cap)) bi[0] = -1;
    }
  } else {
    fail("decodeStep: out must be an Int32Array (picks) or a Float32Array (logits)");
  }
  return undef();
}

// Picks the best ISA the CPU (and OS: libgcc checks that the wide registers are enabled) supports.
// FINTUNE_SIMD forces one; forcing a path this CPU cannot run is an error rather than a crash later.
const char* init_tables() {
  __builtin_cpu_init();
  g_has[0] = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
  g_has[1] = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  g_has[2] = true;
  if (g_has[0]) ft_kernels_avx512(&g_tables[0]);
  if (g_has[1]) ft_kernels_avx2(&g_tables[1]);
  ft_kernels_scalar(&g_tables[2]);
  g_active = g_has[0] ? 0 : g_has[1] ? 1 : 2;
  const char* want = getenv("FINTUNE_SIMD");
  if (want && *want) {
    int found = -1;
    for (int i = 0; i < 3; ++i)
      if (strcmp(want, kNames[i]) == 0) found = i;
    if (found < 0) return "FINTUNE_SIMD must be avx512, avx2 or scalar";
    if (!g_has[found]) return "FINTUNE_SIMD asks for a path this CPU does not support";
    g_active = found;
  }
  const char* sb = getenv("FINTUNE_GEMM_SHARED_B");
  if (sb && *sb == '1')
    for (int i = 0; i < 3; ++i)
      if (g_has[i]) g_tables[i].set_gemm_shared_b(1);
  const char* th = getenv("FINTUNE_THREADS");
  ft_set_threads(th && *th ? atoi(th) : 2);
  return nullptr;
}

}  // namespace

NAPI_MODULE_INIT() {
  g_env = env;
  if (const char* err = init_tables()) {
    napi_throw_error(env, nullptr, err);
    return nullptr;
  }
  struct {
    const char* name;
    napi_callback fn;
  } fns[] = {
      {"gemm", js_gemm},
      {"gemmBias", js_gemm},
      {"gemmBf16", js_gemm_bf16},
      {"gemm4bit", js_gemm_4bit},
      {"gemmArgmax", js_gemm_argmax},
      {"readBandwidth", js_read_bw},
      {"setSpinMicros", js_set_spin_us},
      {"hugePages", js_huge_pages},
      {"readAhead", js_read_ahead},
      {"gpt2DecodePlan", js_gpt2_plan},
      {"llamaDecodePlan", js_llama_plan},
      {"decodeStep", js_decode_step},
      {"unary", js_unary},
      {"binary", js_binary},
      {"affine", js_affine},
      {"copyStrided", js_copy_strided},
      {"axpy", js_axpy},
      {"fill", js_fill},
      {"reduceSum", js_reduce_sum},
      {"reduceMax", js_reduce_max},
      {"sumSquares", js_sum_squares},
      {"layerNormForward", js_ln_fwd},
      {"layerNormBackward", js_ln_bwd},
      {"rmsNormForward", js_rms_fwd},
      {"rmsNormBackward", js_rms_bwd},
      {"geluForward", js_gelu},
      {"geluBackward", js_gelu_bwd},
      {"siluForward", js_silu},
      {"siluBackward", js_silu_bwd},
      {"softmaxForward", js_softmax},
      {"softmaxBackward", js_softmax_bwd},
      {"crossEntropyForward", js_ce_fwd},
      {"crossEntropyBackward", js_ce_bwd},
      {"embeddingForward", js_emb_fwd},
      {"embeddingBackward", js_emb_bwd},
      {"attentionForward", js_attn_fwd},
      {"attentionBackward", js_attn_bwd},
      {"rope", js_rope},
      {"adamw", js_adamw},
      {"info", js_info},
      {"setSimd", js_set_simd},
      {"setThreads", js_set_threads},
      {"fmaPeak", js_fma_peak},
      {"setGemmSharedB", js_set_gemm_shared_b},
  };
  for (auto& f : fns) {
    napi_value v;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v);
    napi_set_named_property(env, exports, f.name, v);
  }
  return exports;
}
