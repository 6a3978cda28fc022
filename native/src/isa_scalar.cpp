// Baseline unit (x86-64 SSE2 only): the fallback for any CPU, and the reference path the others are checked
// against in the twin tests. The micro-kernel is plain C++; the compiler vectorizes its rows with SSE2.
#include <emmintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ft.h"

namespace {

const long MR = 4, NR = 8;
const long KC0 = 256, MC0 = 128, NC0 = 512;

void ukr(long kc, const float* A, const float* B, float* C, long ldc, float alpha, float beta, const float* bias) {
  float c[MR][NR] = {};
  for (long k = 0; k < kc; ++k) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) c[i][j] += A[i] * B[j];
    A += MR;
    B += NR;
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) {
      float r = alpha * c[i][j];
      if (beta != 0.f) r = r + beta * C[i * ldc + j];
      C[i * ldc + j] = bias ? r + bias[j] : r;
    }
}

// Edge tiles go through gemm.inc's buffer and merge: with NR = 8 little is computed in vain.
bool ukr_edge(long, const float*, const float*, float*, long, float, float, const float*, long, long) { return false; }

// Baseline x86-64 has no FMA: the peak is a multiply and an add per lane (SSE2, 4 lanes), 8 chains.
double peak_loop(long iters) {
  float acc[8][4];
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = (float)(i + j) * 1e-3f;
  for (long it = 0; it < iters; ++it) {
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 4; ++j) acc[i][j] = acc[i][j] * 0.999999f + 1e-7f;
  }
  double s = 0;
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 4; ++j) s += acc[i][j];
  return s;
}
const double PEAK_FLOPS_PER_ITER = 8.0 * 4 * 2;


// Vector primitives of the GEMV path (gemv.inc) and the bandwidth probe (peak.inc): SSE2, which every x86-64
// has. No FMA here, so v_fma and its scalar twin are a multiply then an add.
typedef __m128 V;
const long VL = 4;
const int GEMV_REGS = 16;
inline V v_zero() { return _mm_setzero_ps(); }
inline V v_set1(float x) { return _mm_set1_ps(x); }
inline V v_load(const float* p) { return _mm_loadu_ps(p); }
// bf16 → f32: interleaving zeros below each 16-bit value puts it in the top half of a 32-bit lane.
inline V v_load(const uint16_t* p) {
  return _mm_castsi128_ps(_mm_unpacklo_epi16(_mm_setzero_si128(), _mm_loadl_epi64((const __m128i*)p)));
}
inline V v_fma(V a, V b, V c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
inline V v_add(V a, V b) { return _mm_add_ps(a, b); }
inline void v_store(float* p, V v) { _mm_storeu_ps(p, v); }
inline float v_hsum(V v) {
  V s = _mm_add_ps(v, _mm_movehl_ps(v, v));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
inline float s_fma(float a, float b, float c) { return a * b + c; }
// r[i] = row i of a 4×4 tile -> r[j] = column j.
inline void v_transpose(V* r) { _MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3]); }

// One 4-bit block's 16 values (code[k] * absmax) and the decoder of 2·VL elements from VL bytes into their high
// nibbles' values (elements 0, 2, ...) and low nibbles' values (1, 3, ...): table lookups.
struct Lut {
  float t[16];
};
inline Lut lut_make(const float* code, float am) {
  Lut L;
  for (int k = 0; k < 16; ++k) L.t[k] = code[k] * am;
  return L;
}
inline void dec4_hl(const uint8_t* q, const Lut& L, V& hi, V& lo) {
  hi = _mm_setr_ps(L.t[q[0] >> 4], L.t[q[1] >> 4], L.t[q[2] >> 4], L.t[q[3] >> 4]);
  lo = _mm_setr_ps(L.t[q[0] & 15], L.t[q[1] & 15], L.t[q[2] & 15], L.t[q[3] & 15]);
}

void dec4_pairs(const uint8_t* q, long np, const float* lut, float* out) {
  for (long j = 0; j < np; ++j) {
    out[2 * j] = lut[q[j] >> 4];
    out[2 * j + 1] = lut[q[j] & 15];
  }
}

#include "gemv.inc"
#include "peak.inc"
#include "gemm.inc"
#include "impl.inc"

}  // namespace

extern "C" void ft_kernels_scalar(FtKernels* k) {
  fill_table(k);
  k->name = "scalar";
}
