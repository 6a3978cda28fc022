// Decode steps as one native call, GPT-2 and the Llama family (baseline unit; every kernel comes from the active
// ISA table).
//
// A decoded token of GPT-2 124M is ~150 kernel calls, and in JS each one builds tensors, views and parameter
// blocks around the kernel: ~1-1.5 ms a token of glue against ~15-20 ms of kernels, time in which the memory
// streams nothing. Here the same calls run back to back from C. Nothing is computed differently: the kernels,
// their order and their arguments are those the model's forward makes for a one-position batch (each bias passed
// to the GEMM with its product, the keys and values copied into the caches, attention over the cached positions
// with the same views, the residual adds), so a step gives the same bits as the JS path, which the tests hold it
// to.
#include <math.h>
#include <string.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "ft.h"

namespace {

// out[B, N] = x[B, K] · op(W) + bias as linear() does it: the bias goes to the GEMM with the product (beta 0).
// W is [K, N] (GPT-2's Conv1D) or, with out_in, [N, K] (nn.Linear).
void linear(const FtKernels* k, const float* x, long B, long K, long N, FtWeight w, const float* bias, bool out_in,
            float* out) {
  FtGemm g;
  memset(&g, 0, sizeof g);
  g.transB = out_in;
  g.M = B, g.N = N, g.K = K;
  g.alpha = 1.f, g.beta = 0.f;
  g.bias = bias;
  g.a = x, g.lda = K;
  g.ldb = out_in ? K : N;
  g.c = out, g.ldc = N;
  g.batch = 1;
  if (w.bf16) g.b16 = w.bf16, g.bfmt = FT_B_BF16;
  else g.b = w.f32, g.bfmt = FT_B_F32;
  k->gemm(&g);
}

void conv1d(const FtKernels* k, const float* x, long B, long K, long N, FtWeight w, const float* bias, float* out) {
  linear(k, x, B, K, N, w, bias, false, out);
}

// The LM head [V, C] over the final hidden rows: logits (beta 0), or each row's first largest logit.
void head(const FtKernels* k, long B, long V, long C, FtWeight w, const float* h, int32_t* idx, float* logits) {
  FtGemm g;
  memset(&g, 0, sizeof g);
  g.transB = 1;
  g.M = B, g.N = V, g.K = C;
  g.alpha = 1.f, g.beta = 0.f;
  g.a = h, g.lda = C;
  g.ldb = C;
  g.c = logits, g.ldc = V;
  g.batch = 1;
  if (w.bf16) g.b16 = w.bf16, g.bfmt = FT_B_BF16;
  else g.b = w.f32, g.bfmt = FT_B_F32;
  if (idx) k->gemv_argmax(&g, idx);
  else k->gemm(&g);
}

// Scratch buffers carved one after another, each rounded up to 16 floats (64-byte aligned when scratch is).
struct Carve {
  float* next;
  float* take(long n) {
    float* p = next;
    next += (n + 15) / 16 * 16;
    return p;
  }
};

// Copies row b's heads [Hkv, D] of a projection [B, Hkv·D] into a cache [B, Hkv, T, D] at position at.
void cache_put(float* cache, const float* src, long B, long Hkv, long T, long D, long at, long src_row) {
  for (long b = 0; b < B; ++b)
    for (long h = 0; h < Hkv; ++h) memcpy(cache + ((b * Hkv + h) * T + at) * D, src + b * src_row + h * D, sizeof(float) * D);
}

// Attention of one new position per row over the first S cached positions of a layer, as
// scaledDotProductAttention() calls the kernel for it: q heads of D in rows of q_row floats, caches
// [B, Hkv, T, D], the key mask [B, T] if any, the output written [B, H·D].
void attend_cached(const FtKernels* k, long B, long H, long Hkv, long D, long T, long S, long window, float scale,
                   const float* q, long q_row, float* k_cache, float* v_cache, const float* mask, float* y, float* lse) {
  FtAttn p;
  memset(&p, 0, sizeof p);
  p.B = B, p.H = H, p.Hkv = Hkv, p.T = 1, p.S = S, p.D = D;
  p.scale = scale;
  p.causal = 1;
  p.window = window;
  p.q = FtAttnView{const_cast<float*>(q), q_row, D, q_row};
  p.k = FtAttnView{k_cache, Hkv * T * D, T * D, D};
  p.v = FtAttnView{v_cache, Hkv * T * D, T * D, D};
  p.mask = mask;
  p.msb = mask ? T : 0;
  p.mst = 0;
  k->attn_fwd(&p, FtAttnView{y, H * D, D, H * D}, lse);
}

// The residual add x += t (x.add(branch) in JS: one rounding, the same bits in any order of the operands).
void add_into(float* x, const float* t, long n) {
  for (long i = 0; i < n; ++i) x[i] = x[i] + t[i];
}

float bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

// Element i of row r of a [rows, C] table as f32 (bf16 widened exactly, as the embedding lookups do).
float table_at(FtWeight w, long C, long r, long i) {
  return w.bf16 ? bf16_to_f32(w.bf16[r * C + i]) : w.f32[r * C + i];
}

}  // namespace

extern "C" {

size_t ft_gpt2_scratch_floats(const FtGpt2* m) {
  const long B = m->B, C = m->C;
  // x, h, y, t: [B, C]; qkv: [B, 3C]; f, gelu: [B, F]; mean, rstd: [B]; lse: [B, H]; up to 15 floats of slack a
  // buffer (Carve).
  return (size_t)(4 * B * C + 3 * B * C + 2 * B * m->F + 2 * B + B * m->H + 10 * 16);
}

void ft_gpt2_step(const FtKernels* k, const FtGpt2* m, const int32_t* ids, const int32_t* pos, long S, float* scratch,
                  int32_t* idx, float* logits) {
  const long B = m->B, C = m->C, H = m->H, D = C / H, F = m->F, T = m->max_len;
  Carve sc{scratch};
  float *x = sc.take(B * C), *h = sc.take(B * C), *y = sc.take(B * C), *t = sc.take(B * C), *qkv = sc.take(3 * B * C);
  float *f = sc.take(B * F), *gl = sc.take(B * F), *mean = sc.take(B), *rstd = sc.take(B), *lse = sc.take(B * H);

  // Token plus position embedding (two row copies, bf16 rows widened, and an add in JS: the same sums).
  for (long b = 0; b < B; ++b)
    for (long i = 0; i < C; ++i) x[b * C + i] = table_at(m->wte, C, ids[b], i) + table_at(m->wpe, C, pos[b], i);

  const float scale = (float)(1.0 / sqrt((double)D));
  for (long l = 0; l < m->L; ++l) {
    const FtGpt2Layer& ly = m->layers[l];
    k->ln_fwd(B, C, m->eps, x, ly.ln1_w, ly.ln1_b, h, mean, rstd);
    conv1d(k, h, B, C, 3 * C, ly.attn, ly.attn_b, qkv);
    // The new keys and values go into the caches at position S - 1.
    cache_put(ly.k_cache, qkv + C, B, H, T, D, S - 1, 3 * C);
    cache_put(ly.v_cache, qkv + 2 * C, B, H, T, D, S - 1, 3 * C);
    // q: heads of the fused projection in place; the output [B, 1, H, D] is [B, C] for the projection.
    attend_cached(k, B, H, H, D, T, S, 0, scale, qkv, 3 * C, ly.k_cache, ly.v_cache, m->mask, y, lse);
    conv1d(k, y, B, C, C, ly.proj, ly.proj_b, t);
    add_into(x, t, B * C);

    k->ln_fwd(B, C, m->eps, x, ly.ln2_w, ly.ln2_b, h, mean, rstd);
    conv1d(k, h, B, C, F, ly.fc, ly.fc_b, f);
    k->gelu_fwd(B * F, m->approx_gelu, f, gl);
    conv1d(k, gl, B, F, C, ly.fc2, ly.fc2_b, t);
    add_into(x, t, B * C);
  }
  k->ln_fwd(B, C, m->eps, x, m->lnf_w, m->lnf_b, h, mean, rstd);
  head(k, B, m->V, C, m->head, h, idx, logits);
}

size_t ft_llama_scratch_floats(const FtLlama* m) {
  const long B = m->B, C = m->C, QD = m->H * m->D, KD = m->Hkv * m->D, F = m->F;
  // x, h, t: [B, C]; q, q rotated, y: [B, H·D]; k, k rotated, v: [B, Hkv·D]; gate, up, silu: [B, F]; rstd: [B];
  // lse: [B, H]; up to 15 floats of slack a buffer (Carve).
  return (size_t)(3 * B * C + 3 * B * QD + 3 * B * KD + 3 * B * F + B + B * m->H + 14 * 16);
}

void ft_llama_step(const FtKernels* k, const FtLlama* m, const int32_t* ids, const int32_t* pos, long S, float* scratch,
                   int32_t* rowpos, int32_t* idx, float* logits) {
  const long B = m->B, C = m->C, H = m->H, Hkv = m->Hkv, D = m->D, F = m->F, T = m->max_len;
  const long QD = H * D, KD = Hkv * D;
  Carve sc{scratch};
  float *x = sc.take(B * C), *h = sc.take(B * C), *t = sc.take(B * C);
  float *q = sc.take(B * QD), *qr = sc.take(B * QD), *y = sc.take(B * QD);
  float *kk = sc.take(B * KD), *kr = sc.take(B * KD), *v = sc.take(B * KD);
  float *gate = sc.take(B * F), *up = sc.take(B * F), *act = sc.take(B * F);
  float *rstd = sc.take(B), *lse = sc.take(B * H);

  // The embedding rows (bf16 rows widened), as embedding() copies them.
  for (long b = 0; b < B; ++b)
    for (long i = 0; i < C; ++i) x[b * C + i] = table_at(m->embed, C, ids[b], i);
  // rope() gives every head of a token its token's position; q has the most heads when H >= Hkv.
  const long HR = H > Hkv ? H : Hkv;
  for (long b = 0; b < B; ++b)
    for (long hh = 0; hh < HR; ++hh) rowpos[b * HR + hh] = pos[b];

  const float scale = (float)(1.0 / sqrt((double)D));
  for (long l = 0; l < m->L; ++l) {
    const FtLlamaLayer& ly = m->layers[l];
    k->rms_fwd(B, C, m->eps, x, ly.in_norm, h, rstd);
    linear(k, h, B, C, QD, ly.q, ly.q_b, true, q);
    linear(k, h, B, C, KD, ly.k, ly.k_b, true, kk);
    linear(k, h, B, C, KD, ly.v, ly.v_b, true, v);
    // Rows of D: B·H of q, B·Hkv of k; row r of a token-major [B, heads, D] block belongs to token r / heads.
    if (HR == H) {
      k->rope(B * H, D, q, rowpos, m->cos, m->sin, 0, qr);
    } else {
      for (long b = 0; b < B; ++b) k->rope(H, D, q + b * QD, rowpos + b * HR, m->cos, m->sin, 0, qr + b * QD);
    }
    if (HR == Hkv) {
      k->rope(B * Hkv, D, kk, rowpos, m->cos, m->sin, 0, kr);
    } else {
      for (long b = 0; b < B; ++b) k->rope(Hkv, D, kk + b * KD, rowpos + b * HR, m->cos, m->sin, 0, kr + b * KD);
    }
    cache_put(ly.k_cache, kr, B, Hkv, T, D, S - 1, KD);
    cache_put(ly.v_cache, v, B, Hkv, T, D, S - 1, KD);
    attend_cached(k, B, H, Hkv, D, T, S, ly.window, scale, qr, QD, ly.k_cache, ly.v_cache, m->mask, y, lse);
    linear(k, y, B, QD, C, ly.o, ly.o_b, true, t);
    add_into(x, t, B * C);

    k->rms_fwd(B, C, m->eps, x, ly.post_norm, h, rstd);
    linear(k, h, B, C, F, ly.gate, ly.gate_b, true, gate);
    linear(k, h, B, C, F, ly.up, ly.up_b, true, up);
    k->silu_fwd(B * F, gate, act);
    for (long i = 0; i < B * F; ++i) act[i] = act[i] * up[i];
    linear(k, act, B, F, C, ly.down, ly.down_b, true, t);
    add_into(x, t, B * C);
  }
  k->rms_fwd(B, C, m->eps, x, m->norm, h, rstd);
  head(k, B, m->V, C, m->head, h, idx, logits);
}

// A min-heap over (value, index) whose root is the worst kept entry: the smallest value, of equal values the
// highest index. Scanning in index order, an entry equal to the root comes later, so only larger values enter.
bool ft_top_candidates(const float* row, long n, long cap, int32_t* idx, float* val) {
  auto worse = [&](long a, long b) { return val[a] < val[b] || (val[a] == val[b] && idx[a] > idx[b]); };
  auto swap_at = [&](long a, long b) {
    float tv = val[a];
    val[a] = val[b], val[b] = tv;
    int32_t ti = idx[a];
    idx[a] = idx[b], idx[b] = ti;
  };
  for (long i = 0; i < n; ++i)
    if (row[i] != row[i]) return false;
  long count = 0;
  for (long i = 0; i < n; ++i) {
    const float v = row[i];
    if (count < cap) {
      long c = count++;
      val[c] = v, idx[c] = (int32_t)i;
      while (c > 0 && worse(c, (c - 1) / 2)) swap_at(c, (c - 1) / 2), c = (c - 1) / 2;
    } else if (v > val[0]) {
      val[0] = v, idx[0] = (int32_t)i;
      for (long c = 0;;) {
        long l = 2 * c + 1, r = l + 1;
        if (l >= count) break;
        long w = r < count && worse(r, l) ? r : l;
        if (!worse(w, c)) break;
        swap_at(c, w);
        c = w;
      }
    }
  }
  // Index order.
  std::vector<std::pair<int32_t, float>> kept((size_t)count);
  for (long i = 0; i < count; ++i) kept[(size_t)i] = {idx[i], val[i]};
  std::sort(kept.begin(), kept.end(), [](const std::pair<int32_t, float>& a, const std::pair<int32_t, float>& b) { return a.first < b.first; });
  for (long i = 0; i < count; ++i) idx[i] = kept[(size_t)i].first, val[i] = kept[(size_t)i].second;
  return true;
}

}  // extern "C"
