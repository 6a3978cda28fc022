// Baseline unit (x86-64 SSE2 only): the fallback for any CPU, and the reference path the others are checked
// against in the twin tests. The micro-kernel is plain C++; the compiler vectorizes its rows with SSE2.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ft.h"

namespace {

const long MR = 4, NR = 8;
const long KC0 = 256, MC0 = 128, NC0 = 512;

void ukr(long kc, const float* A, const float* B, float* C, long ldc, float alpha, float beta) {
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
      C[i * ldc + j] = beta == 0.f ? r : r + beta * C[i * ldc + j];
    }
}

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

#include "peak.inc"
#include "gemm.inc"
#include "impl.inc"

}  // namespace

extern "C" void ft_kernels_scalar(FtKernels* k) {
  fill_table(k);
  k->name = "scalar";
}
