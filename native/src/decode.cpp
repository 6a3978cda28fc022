// GPT-2's decode step as one native call (baseline unit; every kernel comes from the active ISA table).
//
// A decoded token of GPT-2 124M is ~150 kernel calls, and in JS each one builds tensors, views and parameter
// blocks around the kernel: ~1-1.5 ms a token of glue against ~15-20 ms of kernels, time in which the memory
// streams nothing. Here the same calls run back to back from C. Nothing is computed differently: the kernels,
// their order and their arguments are those GPT2.forward makes for a one-position batch (the bias rows written
// first and the product added to them, the keys and values copied into the caches, attention over the cached
// positions with the same views, the residual adds), so a step gives the same bits as the JS path, which the
// tests hold it to.
#include <math.h>
#include <string.h>

#include "ft.h"

namespace {

// out[B, N] = x[B, K] · W[K, N] + bias, as linear() does it: the bias rows first, then the product with beta 1.
void conv1d(const FtKernels* k, const float* x, long B, long K, long N, FtWeight w, const float* bias, float* out) {
  for (long b = 0; b < B; ++b) memcpy(out + b * N, bias, sizeof(float) * N);
  FtGemm g;
  memset(&g, 0, sizeof g);
  g.M = B, g.N = N, g.K = K;
  g.alpha = 1.f, g.beta = 1.f;
  g.a = x, g.lda = K;
  g.ldb = N;
  g.c = out, g.ldc = N;
  g.batch = 1;
  if (w.bf16) g.b16 = w.bf16, g.bfmt = FT_B_BF16;
  else g.b = w.f32, g.bfmt = FT_B_F32;
  k->gemm(&g);
}

// The LM head [V, C] over the final hidden rows: logits (beta 0), or each row's first largest logit.
void head(const FtKernels* k, const FtGpt2* m, const float* h, int32_t* idx, float* logits) {
  FtGemm g;
  memset(&g, 0, sizeof g);
  g.transB = 1;
  g.M = m->B, g.N = m->V, g.K = m->C;
  g.alpha = 1.f, g.beta = 0.f;
  g.a = h, g.lda = m->C;
  g.ldb = m->C;
  g.c = logits, g.ldc = m->V;
  g.batch = 1;
  if (m->head.bf16) g.b16 = m->head.bf16, g.bfmt = FT_B_BF16;
  else g.b = m->head.f32, g.bfmt = FT_B_F32;
  if (idx) k->gemv_argmax(&g, idx);
  else k->gemm(&g);
}

float bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace

extern "C" {

size_t ft_gpt2_scratch_floats(const FtGpt2* m) {
  const long B = m->B, C = m->C;
  // x, h, y, t: [B, C]; qkv: [B, 3C]; f, gelu: [B, F]; mean, rstd: [B]; lse: [B, H]; 16 floats of slack a buffer
  // keep each one 64-byte aligned.
  return (size_t)(4 * B * C + 3 * B * C + 2 * B * m->F + 2 * B + B * m->H + 10 * 16);
}

void ft_gpt2_step(const FtKernels* k, const FtGpt2* m, const int32_t* ids, const int32_t* pos, long S, float* scratch,
                  int32_t* idx, float* logits) {
  const long B = m->B, C = m->C, H = m->H, D = C / H, F = m->F, T = m->max_len;
  float* next = scratch;
  auto take = [&next](long n) {
    float* p = next;
    next += (n + 15) / 16 * 16;
    return p;
  };
  float *x = take(B * C), *h = take(B * C), *y = take(B * C), *t = take(B * C), *qkv = take(3 * B * C);
  float *f = take(B * F), *gl = take(B * F), *mean = take(B), *rstd = take(B), *lse = take(B * H);

  // Token plus position embedding (two row copies, bf16 rows widened, and an add in JS: the same sums).
  auto row = [C](FtWeight w, long r, long i) {
    return w.bf16 ? bf16_to_f32(w.bf16[r * C + i]) : w.f32[r * C + i];
  };
  for (long b = 0; b < B; ++b)
    for (long i = 0; i < C; ++i) x[b * C + i] = row(m->wte, ids[b], i) + row(m->wpe, pos[b], i);

  const float scale = (float)(1.0 / sqrt((double)D));
  for (long l = 0; l < m->L; ++l) {
    const FtGpt2Layer& ly = m->layers[l];
    k->ln_fwd(B, C, m->eps, x, ly.ln1_w, ly.ln1_b, h, mean, rstd);
    conv1d(k, h, B, C, 3 * C, ly.attn, ly.attn_b, qkv);
    // The new keys and values go into the caches at position S - 1.
    for (long b = 0; b < B; ++b)
      for (long hh = 0; hh < H; ++hh) {
        const long at = ((b * H + hh) * T + (S - 1)) * D;
        memcpy(ly.k_cache + at, qkv + b * 3 * C + C + hh * D, sizeof(float) * D);
        memcpy(ly.v_cache + at, qkv + b * 3 * C + 2 * C + hh * D, sizeof(float) * D);
      }
    // q: heads of the fused projection in place; k, v: the first S cached positions; the output is written
    // [B, 1, H, D], which is [B, C] for the projection.
    FtAttn p;
    memset(&p, 0, sizeof p);
    p.B = B, p.H = H, p.Hkv = H, p.T = 1, p.S = S, p.D = D;
    p.scale = scale;
    p.causal = 1;
    p.window = 0;
    p.q = FtAttnView{qkv, 3 * C, D, 3 * C};
    p.k = FtAttnView{ly.k_cache, H * T * D, T * D, D};
    p.v = FtAttnView{ly.v_cache, H * T * D, T * D, D};
    p.mask = m->mask;
    p.msb = m->mask ? T : 0;
    p.mst = 0;
    k->attn_fwd(&p, FtAttnView{y, C, D, C}, lse);
    conv1d(k, y, B, C, C, ly.proj, ly.proj_b, t);
    for (long i = 0; i < B * C; ++i) x[i] = x[i] + t[i];

    k->ln_fwd(B, C, m->eps, x, ly.ln2_w, ly.ln2_b, h, mean, rstd);
    conv1d(k, h, B, C, F, ly.fc, ly.fc_b, f);
    k->gelu_fwd(B * F, m->approx_gelu, f, gl);
    conv1d(k, gl, B, F, C, ly.fc2, ly.fc2_b, t);
    for (long i = 0; i < B * C; ++i) x[i] = x[i] + t[i];
  }
  k->ln_fwd(B, C, m->eps, x, m->lnf_w, m->lnf_b, h, mean, rstd);
  head(k, m, h, idx, logits);
}

}  // extern "C"
