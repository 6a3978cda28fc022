// The thread pool: the calling (JS) thread plus one persistent worker.
//
// Calls are synchronous: ft_parallel hands the task to the worker, runs its own share, and waits. The worker
// spins for a short while after each task (training issues kernels back to back, and waking a sleeping thread
// costs tens of microseconds), then sleeps on a condition variable so an idle Node process burns no CPU.
// Work is split statically by the kernels themselves (tid / nthreads), never by who finishes first, so results
// are bitwise identical run to run for a given thread count.
#include "ft.h"

#include <immintrin.h>
#include <sched.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace {

const int kMaxThreads = 2;  // the calling thread plus one worker
const int kSlots = 11;

std::atomic<uint64_t> g_generation{0};
std::atomic<int> g_done{0};
ft_task_fn g_fn = nullptr;
void* g_ctx = nullptr;
int g_nthreads = 2;
bool g_started = false;
// Held by the thread running a parallel call. A second JS thread (worker_threads) or a nested call finds it
// taken and runs its task serially on itself instead of sharing the worker.
std::atomic<bool> g_busy{false};
// Heap-allocated and never freed: at process exit, destroying a condition variable that the worker still
// waits on blocks forever in glibc, which would hang Node's exit.
std::mutex& g_mutex = *new std::mutex;
std::condition_variable& g_cv = *new std::condition_variable;
bool g_sleeping = false;

struct Scratch {
  float* p = nullptr;
  size_t cap = 0;
  ~Scratch() { free(p); }
};
// Scratch belongs to the OS thread that runs the code (not to the task's tid): a nested or concurrent call runs
// serially with tid 0 on whatever thread made it, and must not share buffers with the pool's caller.
thread_local Scratch t_scratch[kSlots];

// Sense-reversing barrier for the two pool threads inside one ft_parallel call (shared GEMM packing).
std::atomic<int> g_bar_count{0};
std::atomic<int> g_bar_sense{0};
thread_local int t_sense = 0;

// Spin ~200 µs before sleeping by default: long enough to bridge the JS glue between consecutive kernels.
// Token-by-token generation leaves longer gaps (sampling, the JS of a whole step), so it may raise this for the
// length of a decode loop (ft_set_spin_us) instead of paying a wake-up per kernel.
std::atomic<long> g_spin_us{200};

void worker_main() {
  uint64_t seen = 0;
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    int n = 0;
    while (g_generation.load(std::memory_order_acquire) == seen) {
      _mm_pause();
      if (++n % 256 == 0 &&
          std::chrono::steady_clock::now() - t0 > std::chrono::microseconds(g_spin_us.load(std::memory_order_relaxed))) {
        std::unique_lock<std::mutex> lock(g_mutex);
        g_sleeping = true;
        g_cv.wait(lock, [&] { return g_generation.load(std::memory_order_acquire) != seen; });
        g_sleeping = false;
        break;
      }
    }
    seen = g_generation.load(std::memory_order_acquire);
    g_fn(g_ctx, 1, 2);
    g_done.store(1, std::memory_order_release);
  }
}

}  // namespace

extern "C" {

int ft_threads(void) { return g_nthreads; }

void ft_set_threads(int n) { g_nthreads = n < 1 ? 1 : n > kMaxThreads ? kMaxThreads : n; }

long ft_set_spin_us(long us) { return g_spin_us.exchange(us < 0 ? 0 : us, std::memory_order_relaxed); }

float* ft_scratch(int, int slot, size_t floats) {
  Scratch& s = t_scratch[slot];
  if (s.cap < floats) {
    free(s.p);
    size_t bytes = ((floats * sizeof(float)) + 63) & ~size_t(63);
    s.p = static_cast<float*>(aligned_alloc(64, bytes));
    s.cap = s.p ? floats : 0;
  }
  return s.p;
}

size_t ft_huge_pages(void* p, size_t bytes, bool collapse) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t huge = (uintptr_t)2 << 20;
  uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
  uintptr_t hi = ((uintptr_t)p + bytes) & ~(huge - 1);
  if (hi <= lo) return 0;
  if (madvise((void*)lo, hi - lo, MADV_HUGEPAGE) != 0) return 0;
  if (!collapse) return hi - lo;
  // MADV_COLLAPSE (Linux 6.1) may be missing from older headers; an older kernel answers EINVAL.
  const int kCollapse = 25;
  return madvise((void*)lo, hi - lo, kCollapse) == 0 ? hi - lo : 0;
#else
  (void)p, (void)bytes, (void)collapse;
  return 0;
#endif
}

void ft_barrier(void) {
  t_sense ^= 1;
  if (g_bar_count.fetch_add(1, std::memory_order_acq_rel) == 1) {
    g_bar_count.store(0, std::memory_order_relaxed);
    g_bar_sense.store(t_sense, std::memory_order_release);
    return;
  }
  int n = 0;
  while (g_bar_sense.load(std::memory_order_acquire) != t_sense) {
    if (++n < 4096) _mm_pause();
    else sched_yield();
  }
}

void ft_parallel(ft_task_fn fn, void* ctx) {
  // Nested calls (a kernel calling another parallel kernel) and calls from a second JS thread while the pool
  // is busy run serially on the caller.
  bool expected = false;
  if (g_nthreads == 1 || !g_busy.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
    fn(ctx, 0, 1);
    return;
  }
  if (!g_started) {
    std::thread(worker_main).detach();
    g_started = true;
  }
  g_fn = fn;
  g_ctx = ctx;
  g_done.store(0, std::memory_order_relaxed);
  g_generation.fetch_add(1, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (g_sleeping) g_cv.notify_one();
  }
  fn(ctx, 0, 2);
  // The shares are balanced, so the wait is short; yield if the worker was descheduled by another process.
  int n = 0;
  while (g_done.load(std::memory_order_acquire) == 0) {
    if (++n < 4096) _mm_pause();
    else sched_yield();
  }
  g_busy.store(false, std::memory_order_release);
}

}  // extern "C"
