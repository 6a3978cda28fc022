// AVX-512 unit: compiled with -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma and entered only after addon.cpp
// has checked the CPU. Everything except the exported table filler is in an anonymous namespace, so no inline
// function or template instance compiled here can be shared with (and picked by the linker for) other units.
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
const long KC0 = 192, MC0 = 512, NC0 = 1536;

#pragma GCC push_options
#pragma GCC optimize("unroll-loops")
void ukr(long kc, const float* A, const float* B, float* C, long ldc, float alpha, float beta) {
  __m512 c[MR][3];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < 3; ++j) c[i][j] = _mm512_setzero_ps();
  for (long k = 0; k < kc; ++k) {
    __m512 b0 = _mm512_load_ps(B), b1 = _mm512_load_ps(B + 16), b2 = _mm512_load_ps(B + 32);
    for (int i = 0; i < MR; ++i) {
      __m512 a = _mm512_set1_ps(A[i]);
      c[i][0] = _mm512_fmadd_ps(a, b0, c[i][0]);
      c[i][1] = _mm512_fmadd_ps(a, b1, c[i][1]);
      c[i][2] = _mm512_fmadd_ps(a, b2, c[i][2]);
    }
    A += MR;
    B += NR;
  }
  __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < 3; ++j) {
      float* p = C + i * ldc + j * 16;
      __m512 r = _mm512_mul_ps(va, c[i][j]);
      if (beta != 0.f) r = _mm512_fmadd_ps(vb, _mm512_loadu_ps(p), r);
      _mm512_storeu_ps(p, r);
    }
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

#include "peak.inc"
#include "gemm.inc"
#include "impl.inc"

}  // namespace

extern "C" void ft_kernels_avx512(FtKernels* k) {
  fill_table(k);
  k->name = "avx512";
}
