// AVX2+FMA unit (-mavx2 -mfma -mf16c): the path for AMD Zen 3 and older Intel. See isa_avx512.cpp for the rules.
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ft.h"

namespace {

// 6×16 micro-tile: 12 ymm accumulators + 2 for B + 1 broadcast = 15 of the 16 ymm registers.
const long MR = 6, NR = 16;
// The A block (168×384 floats, 258 KB) fits half of a Zen 3 core's 512 KB L2; the B micro-panel (24 KB) its L1.
const long KC0 = 384, MC0 = 168, NC0 = 1536;

#pragma GCC push_options
#pragma GCC optimize("unroll-loops")
// Named accumulators instead of an array: with c[6][2] GCC kept a copy of the array on the stack and stored all
// twelve accumulators every k step (16 ymm registers leave it no slack), which cost ~40 % of the throughput.
void ukr(long kc, const float* A, const float* B, float* C, long ldc, float alpha, float beta, const float* bias) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (long k = 0; k < kc; ++k) {
    __m256 b0 = _mm256_load_ps(B), b1 = _mm256_load_ps(B + 8);
    __m256 a;
    a = _mm256_broadcast_ss(A + 0);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(A + 1);
    c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(A + 2);
    c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(A + 3);
    c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(A + 4);
    c40 = _mm256_fmadd_ps(a, b0, c40);
    c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(A + 5);
    c50 = _mm256_fmadd_ps(a, b0, c50);
    c51 = _mm256_fmadd_ps(a, b1, c51);
    A += MR;
    B += NR;
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta), one = _mm256_set1_ps(1.f);
  const bool useC = beta != 0.f;
  __m256 rows[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < 2; ++j) {
      float* p = C + i * ldc + j * 8;
      __m256 r = _mm256_mul_ps(va, rows[i][j]);
      if (useC) r = _mm256_fmadd_ps(vb, _mm256_loadu_ps(p), r);
      // An FMA by one, not an add: a plain add after the multiply may be contracted into one FMA, one
      // rounding fewer than filling C with the bias and accumulating gives.
      if (bias) r = _mm256_fmadd_ps(one, _mm256_loadu_ps(bias + j * 8), r);
      _mm256_storeu_ps(p, r);
    }
}

// Edge tiles go through gemm.inc's buffer and merge: with NR = 16 little is computed in vain.
bool ukr_edge(long, const float*, const float*, float*, long, float, float, const float*, long, long) { return false; }

// Independent FMA chains on registers only (named variables so they stay in registers).
double hsum(__m256 v) {
  float t[8];
  _mm256_storeu_ps(t, v);
  double r = 0;
  for (int i = 0; i < 8; ++i) r += t[i];
  return r;
}
double peak_loop(long iters) {
  __m256 a0 = _mm256_set1_ps(0e-3f), a1 = _mm256_set1_ps(1e-3f), a2 = _mm256_set1_ps(2e-3f), a3 = _mm256_set1_ps(3e-3f), a4 = _mm256_set1_ps(4e-3f), a5 = _mm256_set1_ps(5e-3f), a6 = _mm256_set1_ps(6e-3f), a7 = _mm256_set1_ps(7e-3f), a8 = _mm256_set1_ps(8e-3f), a9 = _mm256_set1_ps(9e-3f), a10 = _mm256_set1_ps(10e-3f), a11 = _mm256_set1_ps(11e-3f);
  __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it) {
    a0 = _mm256_fmadd_ps(a0, x, y);
    a1 = _mm256_fmadd_ps(a1, x, y);
    a2 = _mm256_fmadd_ps(a2, x, y);
    a3 = _mm256_fmadd_ps(a3, x, y);
    a4 = _mm256_fmadd_ps(a4, x, y);
    a5 = _mm256_fmadd_ps(a5, x, y);
    a6 = _mm256_fmadd_ps(a6, x, y);
    a7 = _mm256_fmadd_ps(a7, x, y);
    a8 = _mm256_fmadd_ps(a8, x, y);
    a9 = _mm256_fmadd_ps(a9, x, y);
    a10 = _mm256_fmadd_ps(a10, x, y);
    a11 = _mm256_fmadd_ps(a11, x, y);
  }
  auto h = hsum;
  return h(a0) + h(a1) + h(a2) + h(a3) + h(a4) + h(a5) + h(a6) + h(a7) + h(a8) + h(a9) + h(a10) + h(a11);
}
const double PEAK_FLOPS_PER_ITER = 12.0 * 8 * 2;
#pragma GCC pop_options

// Vector primitives of the GEMV path (gemv.inc) and the bandwidth probe (peak.inc).
typedef __m256 V;
const long VL = 8;
const int GEMV_REGS = 16;
inline V v_zero() { return _mm256_setzero_ps(); }
inline V v_set1(float x) { return _mm256_set1_ps(x); }
inline V v_load(const float* p) { return _mm256_loadu_ps(p); }
// bf16 → f32 is a shift into the top half of each lane.
inline V v_load(const uint16_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p)), 16));
}
inline V v_fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
inline V v_add(V a, V b) { return _mm256_add_ps(a, b); }
inline void v_store(float* p, V v) { _mm256_storeu_ps(p, v); }
inline float v_hsum(V v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
inline float s_fma(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
// r[i] = row i of a VL×VL tile -> r[j] = column j: unpacks transpose the 4×4 blocks within each 128-bit lane, then
// the lanes are exchanged.
inline void v_transpose(V* r) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  // u[4g + c], lane L: column 4L + c of rows 4g..4g+3.
  for (int g = 0; g < 2; ++g) {
    __m256d lo0 = _mm256_castps_pd(t[4 * g]), hi0 = _mm256_castps_pd(t[4 * g + 1]);
    __m256d lo1 = _mm256_castps_pd(t[4 * g + 2]), hi1 = _mm256_castps_pd(t[4 * g + 3]);
    u[4 * g + 0] = _mm256_castpd_ps(_mm256_unpacklo_pd(lo0, lo1));
    u[4 * g + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(lo0, lo1));
    u[4 * g + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(hi0, hi1));
    u[4 * g + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(hi0, hi1));
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}

// The 16 values of one 4-bit block (code[k] * absmax, each one f32 multiply, as the TS dequantizer) in two
// registers, and the decoder of 2·VL elements from VL bytes: `hi` gets the high nibbles (elements 0, 2, ...),
// `lo` the low ones. vpermps reads the low 3 bits of an index; bit 3 of the nibble, shifted to the sign bit,
// picks the table half (blendv).
struct Lut {
  __m256 l0, l1;
};
inline Lut lut_make(const float* code, float am) {
  __m256 a = _mm256_set1_ps(am);
  return {_mm256_mul_ps(_mm256_loadu_ps(code), a), _mm256_mul_ps(_mm256_loadu_ps(code + 8), a)};
}
inline void dec4_hl(const uint8_t* q, const Lut& L, V& hi, V& lo) {
  __m256i x = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)q));
  __m256i h = _mm256_srli_epi32(x, 4);
  hi = _mm256_blendv_ps(_mm256_permutevar8x32_ps(L.l0, h), _mm256_permutevar8x32_ps(L.l1, h),
                        _mm256_castsi256_ps(_mm256_slli_epi32(x, 24)));
  lo = _mm256_blendv_ps(_mm256_permutevar8x32_ps(L.l0, x), _mm256_permutevar8x32_ps(L.l1, x),
                        _mm256_castsi256_ps(_mm256_slli_epi32(x, 28)));
}

// out[2j] = lut[q[j] >> 4], out[2j+1] = lut[q[j] & 15]. vpermps indexes 8 entries, so the 16-entry table is two
// registers and bit 3 of each nibble (moved to the sign bit) picks between the two lookups.
void dec4_pairs(const uint8_t* q, long np, const float* lut, float* out) {
  const __m256 l0 = _mm256_loadu_ps(lut), l1 = _mm256_loadu_ps(lut + 8);
  const __m128i m4 = _mm_set1_epi8(15);
  long j = 0;
  for (; j + 8 <= np; j += 8) {
    __m128i x = _mm_loadl_epi64((const __m128i*)(q + j));
    __m128i ix = _mm_unpacklo_epi8(_mm_and_si128(_mm_srli_epi16(x, 4), m4), _mm_and_si128(x, m4));
    __m256i i0 = _mm256_cvtepu8_epi32(ix), i1 = _mm256_cvtepu8_epi32(_mm_srli_si128(ix, 8));
    __m256 v0 = _mm256_blendv_ps(_mm256_permutevar8x32_ps(l0, i0), _mm256_permutevar8x32_ps(l1, i0),
                                 _mm256_castsi256_ps(_mm256_slli_epi32(i0, 28)));
    __m256 v1 = _mm256_blendv_ps(_mm256_permutevar8x32_ps(l0, i1), _mm256_permutevar8x32_ps(l1, i1),
                                 _mm256_castsi256_ps(_mm256_slli_epi32(i1, 28)));
    _mm256_storeu_ps(out + 2 * j, v0);
    _mm256_storeu_ps(out + 2 * j + 8, v1);
  }
  for (; j < np; ++j) {
    out[2 * j] = lut[q[j] >> 4];
    out[2 * j + 1] = lut[q[j] & 15];
  }
}

#include "gemv.inc"
#include "peak.inc"
#include "gemm.inc"
#include "impl.inc"

}  // namespace

extern "C" void ft_kernels_avx2(FtKernels* k) {
  fill_table(k);
  k->name = "avx2";
}
