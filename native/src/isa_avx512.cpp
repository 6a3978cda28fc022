// AVX-512 unit: compiled with -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma and entered only after addon.cpp
// has checked the CPU. Everything except the exported table filler is in an anonymous namespace, so no inline
// function or template instance compiled here can be shared with (and picked by the linker for) other units.
// GCC 12's AVX-512 intrinsics (vpmovzx, vpermps, vshuff32x4, ...) build their unused pass-through operand from
// an intentionally uninitialized `_mm512_undefined_*()`, and -Wall then reports it at the header line (GCC bug
// 105593, fixed in 13). The pragmas must precede the header for its lines to be covered.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ft.h"

namespace {

// 8×48 micro-tile: 24 zmm accumulators, 3 zmm of B per k, A broadcast from memory (embedded broadcast).
// 24 independent FMA chains cover 2 FMA ports × 4-cycle latency three times over.
const long MR = 8, NR = 48;
// KC 768: with 128 a GEMM of depth 3072 made 24 passes over C, and a cold C (the vocabulary-sized weight
// gradient) paid for each; the micro-panel of B (144 KB) lives in L2, which the kernel measured no slower from.
// 768 rather than 512 takes GPT-2's depth-768 products in one pass over C: at M=512, 768×3072 gained 2-4 % (1
// and 2 threads) and 768×768 1-2 %, the deeper shapes within ±1 % (alternating processes).
const long KC0 = 768, MC0 = 128, NC0 = 1536;

#pragma GCC push_options
#pragma GCC optimize("unroll-loops")
// Named accumulators (not an array) so they provably live in registers for the whole k loop.
void ukr(long kc, const float* A, const float* B, float* C, long ldc, float alpha, float beta, const float* bias) {
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00;
  __m512 c10 = _mm512_setzero_ps(), c11 = c10, c12 = c10;
  __m512 c20 = _mm512_setzero_ps(), c21 = c20, c22 = c20;
  __m512 c30 = _mm512_setzero_ps(), c31 = c30, c32 = c30;
  __m512 c40 = _mm512_setzero_ps(), c41 = c40, c42 = c40;
  __m512 c50 = _mm512_setzero_ps(), c51 = c50, c52 = c50;
  __m512 c60 = _mm512_setzero_ps(), c61 = c60, c62 = c60;
  __m512 c70 = _mm512_setzero_ps(), c71 = c70, c72 = c70;
  for (long k = 0; k < kc; ++k) {
    __m512 b0 = _mm512_load_ps(B), b1 = _mm512_load_ps(B + 16), b2 = _mm512_load_ps(B + 32);
    __m512 a;
    a = _mm512_set1_ps(A[0]);
    c00 = _mm512_fmadd_ps(a, b0, c00);
    c01 = _mm512_fmadd_ps(a, b1, c01);
    c02 = _mm512_fmadd_ps(a, b2, c02);
    a = _mm512_set1_ps(A[1]);
    c10 = _mm512_fmadd_ps(a, b0, c10);
    c11 = _mm512_fmadd_ps(a, b1, c11);
    c12 = _mm512_fmadd_ps(a, b2, c12);
    a = _mm512_set1_ps(A[2]);
    c20 = _mm512_fmadd_ps(a, b0, c20);
    c21 = _mm512_fmadd_ps(a, b1, c21);
    c22 = _mm512_fmadd_ps(a, b2, c22);
    a = _mm512_set1_ps(A[3]);
    c30 = _mm512_fmadd_ps(a, b0, c30);
    c31 = _mm512_fmadd_ps(a, b1, c31);
    c32 = _mm512_fmadd_ps(a, b2, c32);
    a = _mm512_set1_ps(A[4]);
    c40 = _mm512_fmadd_ps(a, b0, c40);
    c41 = _mm512_fmadd_ps(a, b1, c41);
    c42 = _mm512_fmadd_ps(a, b2, c42);
    a = _mm512_set1_ps(A[5]);
    c50 = _mm512_fmadd_ps(a, b0, c50);
    c51 = _mm512_fmadd_ps(a, b1, c51);
    c52 = _mm512_fmadd_ps(a, b2, c52);
    a = _mm512_set1_ps(A[6]);
    c60 = _mm512_fmadd_ps(a, b0, c60);
    c61 = _mm512_fmadd_ps(a, b1, c61);
    c62 = _mm512_fmadd_ps(a, b2, c62);
    a = _mm512_set1_ps(A[7]);
    c70 = _mm512_fmadd_ps(a, b0, c70);
    c71 = _mm512_fmadd_ps(a, b1, c71);
    c72 = _mm512_fmadd_ps(a, b2, c72);
    A += MR;
    B += NR;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta), one = _mm512_set1_ps(1.f);
  const bool useC = beta != 0.f;
  __m512 rows[MR][3] = {{c00, c01, c02}, {c10, c11, c12}, {c20, c21, c22}, {c30, c31, c32}, {c40, c41, c42}, {c50, c51, c52}, {c60, c61, c62}, {c70, c71, c72}};
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < 3; ++j) {
      float* p = C + i * ldc + j * 16;
      __m512 r = _mm512_mul_ps(va, rows[i][j]);
      if (useC) r = _mm512_fmadd_ps(vb, _mm512_loadu_ps(p), r);
      // An FMA by one, not an add: a plain add after the multiply may be contracted into one FMA, one
      // rounding fewer than filling C with the bias and accumulating gives.
      if (bias) r = _mm512_fmadd_ps(one, _mm512_loadu_ps(bias + j * 16), r);
      _mm512_storeu_ps(p, r);
    }
}

// Edge tiles: an mr×nr corner of C (mr <= MR, nr < NR, or a full-width tile with mr < MR) straight from the
// same packed panels, with NV = ceil(nr / 16) vectors a row instead of 3 and masked loads and stores, so a
// 64-wide product (attention's head dimension: 48 + 16) does not compute 96 columns and merge 16 of them through
// a buffer. Each element gets the same operations in the same order as in ukr.
template <int NV>
void ukr_nv(long kc, const float* A, const float* B, float* C, long ldc, float alpha, float beta, const float* bias,
            long mr, long nr) {
  __m512 c[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 3
    for (int j = 0; j < NV; ++j) c[i][j] = _mm512_setzero_ps();
  for (long k = 0; k < kc; ++k) {
    __m512 b[NV];
#pragma GCC unroll 3
    for (int j = 0; j < NV; ++j) b[j] = _mm512_load_ps(B + 16 * j);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      __m512 a = _mm512_set1_ps(A[i]);
#pragma GCC unroll 3
      for (int j = 0; j < NV; ++j) c[i][j] = _mm512_fmadd_ps(a, b[j], c[i][j]);
    }
    A += MR;
    B += NR;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta), one = _mm512_set1_ps(1.f);
  const bool useC = beta != 0.f;
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    if (i >= mr) break;
#pragma GCC unroll 3
    for (int j = 0; j < NV; ++j) {
      long left = nr - 16 * j;
      __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
      float* p = C + i * ldc + j * 16;
      __m512 r = _mm512_mul_ps(va, c[i][j]);
      if (useC) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, p), r);
      if (bias) r = _mm512_fmadd_ps(one, _mm512_maskz_loadu_ps(m, bias + j * 16), r);  // as in ukr
      _mm512_mask_storeu_ps(p, m, r);
    }
  }
}

// The edge tiles gemm.inc's driver hands over (it merges through a buffer when this returns false).
bool ukr_edge(long kc, const float* A, const float* B, float* C, long ldc, float alpha, float beta, const float* bias,
              long mr, long nr) {
  if (nr <= 16) ukr_nv<1>(kc, A, B, C, ldc, alpha, beta, bias, mr, nr);
  else if (nr <= 32) ukr_nv<2>(kc, A, B, C, ldc, alpha, beta, bias, mr, nr);
  else ukr_nv<3>(kc, A, B, C, ldc, alpha, beta, bias, mr, nr);
  return true;
}

// Independent FMA chains on registers only: the core's FMA throughput for this ISA. Named variables rather
// than an array, so the compiler cannot turn the chains into a loop over memory.
double hsum(__m512 v) {
  float t[16];
  _mm512_storeu_ps(t, v);
  double r = 0;
  for (int i = 0; i < 16; ++i) r += t[i];
  return r;
}
double peak_loop(long iters) {
  __m512 a0 = _mm512_set1_ps(0e-3f), a1 = _mm512_set1_ps(1e-3f), a2 = _mm512_set1_ps(2e-3f), a3 = _mm512_set1_ps(3e-3f), a4 = _mm512_set1_ps(4e-3f), a5 = _mm512_set1_ps(5e-3f), a6 = _mm512_set1_ps(6e-3f), a7 = _mm512_set1_ps(7e-3f), a8 = _mm512_set1_ps(8e-3f), a9 = _mm512_set1_ps(9e-3f), a10 = _mm512_set1_ps(10e-3f), a11 = _mm512_set1_ps(11e-3f), a12 = _mm512_set1_ps(12e-3f), a13 = _mm512_set1_ps(13e-3f), a14 = _mm512_set1_ps(14e-3f), a15 = _mm512_set1_ps(15e-3f), a16 = _mm512_set1_ps(16e-3f), a17 = _mm512_set1_ps(17e-3f), a18 = _mm512_set1_ps(18e-3f), a19 = _mm512_set1_ps(19e-3f), a20 = _mm512_set1_ps(20e-3f), a21 = _mm512_set1_ps(21e-3f), a22 = _mm512_set1_ps(22e-3f), a23 = _mm512_set1_ps(23e-3f);
  __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it) {
    a0 = _mm512_fmadd_ps(a0, x, y);
    a1 = _mm512_fmadd_ps(a1, x, y);
    a2 = _mm512_fmadd_ps(a2, x, y);
    a3 = _mm512_fmadd_ps(a3, x, y);
    a4 = _mm512_fmadd_ps(a4, x, y);
    a5 = _mm512_fmadd_ps(a5, x, y);
    a6 = _mm512_fmadd_ps(a6, x, y);
    a7 = _mm512_fmadd_ps(a7, x, y);
    a8 = _mm512_fmadd_ps(a8, x, y);
    a9 = _mm512_fmadd_ps(a9, x, y);
    a10 = _mm512_fmadd_ps(a10, x, y);
    a11 = _mm512_fmadd_ps(a11, x, y);
    a12 = _mm512_fmadd_ps(a12, x, y);
    a13 = _mm512_fmadd_ps(a13, x, y);
    a14 = _mm512_fmadd_ps(a14, x, y);
    a15 = _mm512_fmadd_ps(a15, x, y);
    a16 = _mm512_fmadd_ps(a16, x, y);
    a17 = _mm512_fmadd_ps(a17, x, y);
    a18 = _mm512_fmadd_ps(a18, x, y);
    a19 = _mm512_fmadd_ps(a19, x, y);
    a20 = _mm512_fmadd_ps(a20, x, y);
    a21 = _mm512_fmadd_ps(a21, x, y);
    a22 = _mm512_fmadd_ps(a22, x, y);
    a23 = _mm512_fmadd_ps(a23, x, y);
  }
  auto h = hsum;
  return h(a0) + h(a1) + h(a2) + h(a3) + h(a4) + h(a5) + h(a6) + h(a7) + h(a8) + h(a9) + h(a10) + h(a11) + h(a12) + h(a13) + h(a14) + h(a15) + h(a16) + h(a17) + h(a18) + h(a19) + h(a20) + h(a21) + h(a22) + h(a23);
}
const double PEAK_FLOPS_PER_ITER = 24.0 * 16 * 2;
#pragma GCC pop_options

// Vector primitives of the GEMV path (gemv.inc) and the bandwidth probe (peak.inc).
typedef __m512 V;
const long VL = 16;
const int GEMV_REGS = 32;
inline V v_zero() { return _mm512_setzero_ps(); }
inline V v_set1(float x) { return _mm512_set1_ps(x); }
inline V v_load(const float* p) { return _mm512_loadu_ps(p); }
// bf16 → f32 is a shift into the top half of each lane (no AVX512-BF16 instructions).
inline V v_load(const uint16_t* p) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)p)), 16));
}
inline V v_fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
inline V v_add(V a, V b) { return _mm512_add_ps(a, b); }
inline void v_store(float* p, V v) { _mm512_storeu_ps(p, v); }
// Fixed-order tree: 256-bit halves, then 128-bit quarters, then within the lane. (Not _mm512_reduce_add_ps:
// GCC 12 warns about an uninitialized temporary inside it.)
inline float v_hsum(V v) {
  V s = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
  s = _mm512_add_ps(s, _mm512_shuffle_f32x4(s, s, 0xB1));
  __m128 q = _mm512_castps512_ps128(s);
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
  return _mm_cvtss_f32(q);
}
inline float s_fma(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
// r[i] = row i of a VL×VL tile -> r[j] = column j. Unpacks interleave rows within 128-bit lanes (4×4 blocks), then
// two 128-bit-lane shuffles transpose the 4×4 grid of those blocks.
inline void v_transpose(V* r) {
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  // u[4g + c], lane L: column 4L + c of rows 4g..4g+3.
  for (int g = 0; g < 4; ++g) {
    __m512d lo0 = _mm512_castps_pd(t[4 * g]), hi0 = _mm512_castps_pd(t[4 * g + 1]);
    __m512d lo1 = _mm512_castps_pd(t[4 * g + 2]), hi1 = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo0, lo1));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo0, lo1));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi0, hi1));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi0, hi1));
  }
  for (int c = 0; c < 4; ++c) {
    __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44), v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
    __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44), v3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
    r[c] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    r[4 + c] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
    r[8 + c] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
  }
}

// The 16 values of one 4-bit block (code[k] * absmax, each one f32 multiply, as the TS dequantizer) in one
// register, and the decoder of 2·VL elements from VL bytes: `hi` gets the high nibbles (elements 0, 2, 4, ...),
// `lo` the low ones (1, 3, 5, ...). vpermps reads only the low 4 bits of each index, so the zero-extended byte is
// already the low nibble's index.
typedef __m512 Lut;
inline Lut lut_make(const float* code, float am) { return _mm512_mul_ps(_mm512_loadu_ps(code), _mm512_set1_ps(am)); }
inline void dec4_hl(const uint8_t* q, Lut L, V& hi, V& lo) {
  __m512i x = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)q));
  hi = _mm512_permutexvar_ps(_mm512_srli_epi32(x, 4), L);
  lo = _mm512_permutexvar_ps(x, L);
}

// out[2j] = lut[q[j] >> 4], out[2j+1] = lut[q[j] & 15]: the 16-entry table sits in one register and
// vpermps looks up 16 nibbles at once (16 bytes → 32 floats per step).
void dec4_pairs(const uint8_t* q, long np, const float* lut, float* out) {
  const __m512 l = _mm512_loadu_ps(lut);
  const __m128i m4 = _mm_set1_epi8(15);
  long j = 0;
  for (; j + 16 <= np; j += 16) {
    __m128i x = _mm_loadu_si128((const __m128i*)(q + j));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), m4), lo = _mm_and_si128(x, m4);
    _mm512_storeu_ps(out + 2 * j, _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(hi, lo)), l));
    _mm512_storeu_ps(out + 2 * j + 16, _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm_unpackhi_epi8(hi, lo)), l));
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

extern "C" void ft_kernels_avx512(FtKernels* k) {
  fill_table(k);
  k->name = "avx512";
}
