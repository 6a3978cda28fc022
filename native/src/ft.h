// Shared declarations between the baseline glue (addon.cpp, pool.cpp) and the per-ISA units.
//
// Only plain C declarations and POD structs live here: no inline functions and no templates, so nothing
// defined in this header can be instantiated inside an ISA unit and then picked by the linker for baseline
// code (which would run AVX-512 instructions on a machine without them).
#pragma once
#include <stddef.h>
#include <stdint.h>

extern "C" {

// ---- thread pool (pool.cpp, baseline) -------------------------------------------------------------------
typedef void (*ft_task_fn)(void* ctx, int tid, int nthreads);
// Runs fn(ctx, tid, n) on the calling thread (tid 0) and the worker (tid 1); returns when both finished.
void ft_parallel(ft_task_fn fn, void* ctx);
int ft_threads(void);
void ft_set_threads(int n);
// Waits until both threads of the current 2-thread ft_parallel call reach it. Only for tasks run with nthreads == 2.
void ft_barrier(void);
// A per-thread, 64-byte aligned scratch buffer that only grows; `slot` separates independent uses.
// Slots: 0, 1 GEMM packing; 2, 3 norms/attention; 4, 5 shared packed B (4 also the depth split's second sum);
// 6 decoded B rows (bf16/4-bit); 7 GEMV accumulators; 8 GEMV gathered A; 9 GEMV partial sums of a split over k;
// 10 a narrow product's transpose; 11-13 attention's packed keys and values.
float* ft_scratch(int tid, int slot, size_t floats);
// How long the worker spins after a task before it sleeps (microseconds; default 200). Decode loops raise it
// so the worker stays hot between tokens; returns the previous value.
long ft_set_spin_us(long us);
// Read-ahead for decode loops (pool.cpp): ft_ahead_scope names the memory that may be read ahead (the model's
// weights, kept alive by the caller) and ends the previous scope, waiting until the worker has stopped reading
// it; n = 0 ends read-ahead. Returns the bytes the worker read ahead in the scope that ended. Inside a scope a
// matrix-vector product calls ft_ahead_after with its B and the start of what each of its two threads reads;
// the pool then has the worker read the start of the product that followed this one last time while it waits.
size_t ft_ahead_scope(const void* const* ptrs, const size_t* bytes, int n);
void ft_ahead_after(const void* b, const void* p0, size_t n0, const void* p1, size_t n1);
// Advises transparent huge pages for the 2 MiB-aligned interior of [p, p + bytes) (and with `collapse`, converts
// the pages already touched now); returns the bytes advised / collapsed, 0 where the OS cannot.
size_t ft_huge_pages(void* p, size_t bytes, bool collapse);

// ---- kernel arguments -----------------------------------------------------------------------------------
struct FtGemm {
  int transA, transB;
  long M, N, K;
  float alpha, beta;
  const float* a;
  long lda, strideA;
  const float* b;
  long ldb, strideB;
  float* c;
  long ldc, strideC;
  long batch;
  // The storage of B (fields after `batch`, so the positional initializers of f32 GEMMs leave them zero = f32).
  //  FT_B_F32:  `b`.
  //  FT_B_BF16: `b16` (already offset), bf16 bits (the top half of an f32), same ldb / strideB in elements.
  //  FT_B_4BIT: element (r, c) of stored B in batch bi is element e = q4off + bi*strideB + r*ldb + c of a flat
  //             bitsandbytes 4-bit tensor: byte q4[e >> 1], high nibble when e is even; its value is
  //             q4code[nibble] * q4absmax[e / q4block], one f32 multiply.
  int bfmt;
  const uint16_t* b16;
  const uint8_t* q4;
  const float* q4code;
  const float* q4absmax;
  long q4block, q4off;
  // Optional bias row (N values, null for none): C = alpha·op(A)·op(B) + bias broadcast over the rows, with
  // beta = 0. The packed path adds it in the micro-kernels' first store of each tile, so C is never written twice;
  // the other paths fill C's rows with it and accumulate (beta = 1), which gives the same bits.
  const float* bias;
};
enum { FT_B_F32 = 0, FT_B_BF16 = 1, FT_B_4BIT = 2 };

// A strided operand of an elementwise op (strides in elements, up to 8 dims).
struct FtView {
  const float* p;
  long strides[8];
};

struct FtAttnView {
  float* p;  // already offset to the view's first element
  long sb, sh, st;
};

struct FtAttn {
  long B, H, Hkv, T, S, D;
  float scale;
  int causal;
  long window;
  FtAttnView q, k, v;
  const float* mask;  // null when absent
  long msb, mst;
};

enum FtUnary {
  U_NEG, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_ABS, U_SIGN, U_TANH, U_SIGMOID, U_RELU, U_SQUARE, U_RECIP, U_SIN, U_COS
};
enum FtBinary { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_EQ, B_GT, B_LT };

// One table per ISA; addon.cpp picks one at load time (or when a test switches paths).
struct FtKernels {
  const char* name;
  void (*gemm)(const FtGemm*);
  // Row-wise index of the first largest value of C = A·Bᵀ (M <= 4, B f32 or bf16), C never written.
  void (*gemv_argmax)(const FtGemm*, int32_t* idx);
  void (*set_gemm_shared_b)(int on);
  double (*fma_peak)(double seconds);  // measured GFLOP/s over ft_threads() threads
  double (*read_bw)(double seconds);   // measured read bandwidth (GB/s) over ft_threads() threads
  void (*unary)(int op, int nd, const long* shape, const FtView* x, float* out);
  void (*binary)(int op, int nd, const long* shape, const FtView* a, const FtView* b, float* out);
  void (*affine)(int nd, const long* shape, const FtView* x, float alpha, float beta, float* out);
  void (*copy_strided)(int nd, const long* shape, const FtView* src, float* dst, const long* dstStrides);
  void (*axpy)(long n, float alpha, const float* x, float* y);
  void (*fill)(long n, float v, float* out);
  void (*reduce_sum)(long outer, long axis, long inner, const float* x, float* out);
  void (*reduce_max)(long outer, long axis, long inner, const float* x, float* out, int32_t* idx);
  double (*sum_squares)(long n, const float* x);
  void (*ln_fwd)(long N, long C, float eps, const float* x, const float* w, const float* b, float* out, float* mean,
                 float* rstd);
  void (*ln_bwd)(long N, long C, const float* dout, const float* x, const float* w, const float* mean,
                 const float* rstd, float* dx, float* dw, float* db);
  void (*rms_fwd)(long N, long C, float eps, const float* x, const float* w, float* out, float* rstd);
  void (*rms_bwd)(long N, long C, const float* dout, const float* x, const float* w, const float* rstd, float* dx,
                  float* dw);
  void (*gelu_fwd)(long n, int approx, const float* x, float* out);
  void (*gelu_bwd)(long n, int approx, const float* x, const float* dout, float* dx);
  void (*silu_fwd)(long n, const float* x, float* out);
  void (*silu_bwd)(long n, const float* x, const float* dout, float* dx);
  void (*softmax_fwd)(long N, long C, const float* x, float* out);
  void (*softmax_bwd)(long N, long C, const float* y, const float* dy, float* dx);
  void (*ce_fwd)(long N, long V, int ignore, const float* logits, const int32_t* targets, float* losses, float* lse);
  void (*ce_bwd)(long N, long V, int ignore, const float* logits, const int32_t* targets, const float* lse,
                 const float* scale, float* dlogits);
  void (*emb_fwd)(long N, long C, const int32_t* ids, const float* w, float* out);
  void (*emb_bwd)(long N, long C, const int32_t* ids, const float* dout, float* dw);
  void (*attn_fwd)(const FtAttn* p, FtAttnView out, float* lse);
  void (*attn_bwd)(const FtAttn* p, FtAttnView out, const float* lse, FtAttnView dout, FtAttnView dq, FtAttnView dk,
                   FtAttnView dv);
  void (*rope)(long rows, long D, const float* x, const int32_t* pos, const float* cos, const float* sin, int inverse,
               float* out);
  void (*adamw)(long n, float* p, const float* g, float* m, float* v, double lr, double b1, double b2, double eps,
                double wd, double step);
};

// ---- one native call per decoded token (decode.cpp, baseline) ---------------------------------------------
// A weight matrix as stored: f32, or bf16 bits widened by the kernels (exactly one is set).
struct FtWeight {
  const float* f32;
  const uint16_t* bf16;
};

// One GPT-2 block: Conv1D weights [in, out], biases and norm parameters f32, caches [B, H, max_len, D].
struct FtGpt2Layer {
  const float *ln1_w, *ln1_b;
  FtWeight attn;
  const float* attn_b;
  FtWeight proj;
  const float* proj_b;
  const float *ln2_w, *ln2_b;
  FtWeight fc;
  const float* fc_b;
  FtWeight fc2;
  const float* fc2_b;
  float *k_cache, *v_cache;
};

struct FtGpt2 {
  long L, C, H, F, V, B, max_len;
  float eps;
  int approx_gelu;
  FtWeight wte;       // [V, C]
  FtWeight wpe;       // [positions, C]
  const float *lnf_w, *lnf_b;
  FtWeight head;      // [V, C] (nn.Linear layout; wte itself when tied)
  const float* mask;  // additive key mask [B, max_len], or null
  const FtGpt2Layer* layers;
};

// Scratch (floats) one step needs.
size_t ft_gpt2_scratch_floats(const FtGpt2* g);
// One position per row through the whole model with kernels `k`: token ids[b] at position pos[b]; the caches
// hold S - 1 positions and this step's keys and values go to position S - 1. Writes each row's greedy pick to
// idx (B <= 4) when idx is set, else the logits [B, V]. Makes the same kernel calls, in the same order and with
// the same arguments, as GPT2.forward on a one-position batch, so the results are the same bits.
void ft_gpt2_step(const FtKernels* k, const FtGpt2* g, const int32_t* ids, const int32_t* pos, long S, float* scratch,
                  int32_t* idx, float* logits);

// One Llama-family decoder layer: nn.Linear weights [out, in], biases (null when absent) and RMSNorm weights f32,
// caches [B, Hkv, max_len, D], attention window 0 (full causal) or the layer's sliding window.
struct FtLlamaLayer {
  const float* in_norm;
  FtWeight q, k, v, o;
  const float *q_b, *k_b, *v_b, *o_b;
  const float* post_norm;
  FtWeight gate, up, down;
  const float *gate_b, *up_b, *down_b;
  float *k_cache, *v_cache;
  long window;
};

struct FtLlama {
  long L, C, H, Hkv, D, F, V, B, max_len;
  float eps;
  FtWeight embed;             // [V, C]
  const float* norm;          // final RMSNorm weight [C]
  FtWeight head;              // [V, C]
  const float *cos, *sin;     // rotary tables [positions, D/2]
  const float* mask;          // additive key mask [B, max_len], or null
  const FtLlamaLayer* layers;
};

// As ft_gpt2_scratch_floats / ft_gpt2_step, for the Llama family (Llama, Qwen2, Mistral): the kernel calls of
// Llama.forward on one position per row. rowpos: B * max(H, Hkv) ints of scratch for the rotary rows' positions.
size_t ft_llama_scratch_floats(const FtLlama* m);
void ft_llama_step(const FtKernels* k, const FtLlama* m, const int32_t* ids, const int32_t* pos, long S, float* scratch,
                   int32_t* rowpos, int32_t* idx, float* logits);

// Top-k sampling's candidates (src/generate/select.ts topCandidates is the twin): the `cap` largest of row[0, n)
// (1 <= cap <= n), ties to the lower index, written in index order. Returns false, writing nothing, when the row
// holds a NaN.
bool ft_top_candidates(const float* row, long n, long cap, int32_t* idx, float* val);

void ft_kernels_avx512(FtKernels* k);
void ft_kernels_avx2(FtKernels* k);
void ft_kernels_scalar(FtKernels* k);

}  // extern "C"
