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

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace {

const int kMaxThreads = 2;  // the calling thread plus one worker
const int kSlots = 14;

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

// Sense-reversing barrier for the two pool threads inside one ft_parallel call (the shared packed B, the depth
// split of a GEMM). Each arrival reads the phase to wait for from the shared sense, which cannot flip before this
// thread has arrived: a phase kept per OS thread goes out of step with the worker's as soon as another JS thread
// (worker_threads) holds the pool, and then lets one side through early or never.
std::atomic<int> g_bar_count{0};
std::atomic<int> g_bar_sense{0};

// Spin ~200 µs before sleeping by default: long enough to bridge the JS glue between consecutive kernels.
// Token-by-token generation leaves longer gaps (sampling, the JS of a whole step), so it may raise this for the
// length of a decode loop (ft_set_spin_us) instead of paying a wake-up per kernel.
std::atomic<long> g_spin_us{200};

// ---- read-ahead: the worker's idle time in a decode loop ----------------------------------------------------
// A decoded token is ~50 matrix-vector products, each streaming one weight from memory at the bandwidth limit,
// separated by JS and small kernels (~40 µs each) during which the memory sits idle and the worker only spins.
// Inside a read-ahead scope (ft_ahead_scope) each product reports where its threads start reading
// (ft_ahead_after) as it starts; the pool remembers which product followed which and posts the start of the one
// that followed it last time. The worker reads that once it has finished its share of the product and while it
// spins between products, with plain loads (software prefetches
// measured no gain here: they are dropped when the miss buffers are full), so the next product finds its first
// few hundred KB in the worker's L2 or the shared L3 instead of DRAM. A wrong guess costs only idle bandwidth.
// Only memory inside the scope's ranges is ever read ahead: the caller keeps it alive until the scope ends, and
// ending the scope waits until the worker has stopped reading.
const size_t kAheadChunk = 4096;  // read per share between two checks for new work
std::atomic<uint64_t> g_ahead_seq{0};  // odd while a post is being written
std::atomic<const char*> g_ahead_p[2];
std::atomic<size_t> g_ahead_n[2];
std::atomic<int> g_ahead_reading{0};
std::atomic<size_t> g_ahead_bytes{0};  // read ahead since the scope began
volatile uint64_t g_ahead_sink;

// Reads the post numbered `seq` from byte `done` of each share on, a chunk of each in turn, until both shares are
// read, new work arrives (generation != seen) or another post replaces it. Returns false when it stopped early.
bool read_ahead(uint64_t seq, uint64_t seen, size_t& done) {
  const char* p[2] = {g_ahead_p[0].load(std::memory_order_relaxed), g_ahead_p[1].load(std::memory_order_relaxed)};
  size_t n[2] = {g_ahead_n[0].load(std::memory_order_relaxed), g_ahead_n[1].load(std::memory_order_relaxed)};
  // Announce the reading, then confirm the post is still the one read above: ft_ahead_scope(end) bumps the
  // sequence and then waits while reading is set, so either it waits for us or we see its bump (both seq_cst).
  g_ahead_reading.store(1);
  bool whole = true;
  if (g_ahead_seq.load() != seq) {
    whole = false;
  } else {
    const size_t most = n[0] > n[1] ? n[0] : n[1];
    uint64_t acc = 0;
    while (done < most) {
      size_t got = 0;
      for (int r = 0; r < 2; ++r) {
        const size_t end = done + kAheadChunk < n[r] ? done + kAheadChunk : n[r];
        // One byte a cache line brings the line in; the hardware prefetcher follows the run.
        for (size_t o = done; o < end; o += 64) acc += *reinterpret_cast<const volatile uint8_t*>(p[r] + o);
        if (end > done) got += end - done;
      }
      g_ahead_bytes.fetch_add(got, std::memory_order_relaxed);
      done += kAheadChunk;
      if (g_generation.load(std::memory_order_acquire) != seen || g_ahead_seq.load() != seq) {
        whole = done >= most;
        break;
      }
    }
    g_ahead_sink = acc;
  }
  g_ahead_reading.store(0);
  return whole;
}

void worker_main() {
  uint64_t seen = 0;
  uint64_t ahead_seq = 0;  // the post being read ahead, and how far
  size_t ahead_done = 0;
  bool ahead_finished = true;
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    int n = 0;
    while (g_generation.load(std::memory_order_acquire) == seen) {
      const uint64_t as = g_ahead_seq.load(std::memory_order_acquire);
      if (as != ahead_seq && !(as & 1)) ahead_seq = as, ahead_done = 0, ahead_finished = false;
      if (!ahead_finished && as == ahead_seq) {
        // Resumes after a task interrupted it (attention between two products runs on both threads).
        ahead_finished = read_ahead(as, seen, ahead_done);
        continue;
      }
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

}  // extern "C"

namespace {
// The scope's ranges, sorted by start, and the record of which product followed which. The lock is for a
// second JS thread (worker_threads share this process-wide pool): its scope replaces the first one's, whose
// products then find they no longer own it and stop recording.
std::mutex g_scope_mutex;
struct AheadRange {
  uintptr_t lo, hi;
};
std::vector<AheadRange> g_scope;
std::thread::id g_scope_owner;
struct Follow {
  const void* key;  // the product's B
  const char* p[2];  // where the one after it started reading, per thread
  size_t n[2];
};
Follow g_follow[256];
const void* g_prev_b = nullptr;

size_t follow_slot(const void* b) { return (size_t)(((uintptr_t)b >> 6) * 0x9E3779B97F4A7C15ull >> 56); }

bool in_scope(const char* p, size_t n) {
  const uintptr_t lo = (uintptr_t)p, hi = lo + n;
  auto it = std::upper_bound(g_scope.begin(), g_scope.end(), lo, [](uintptr_t v, const AheadRange& r) { return v < r.lo; });
  return it != g_scope.begin() && hi <= (it - 1)->hi;
}

void post_ahead(const char* p0, size_t n0, const char* p1, size_t n1) {
  g_ahead_seq.fetch_add(1);
  g_ahead_p[0].store(p0, std::memory_order_relaxed), g_ahead_n[0].store(n0, std::memory_order_relaxed);
  g_ahead_p[1].store(p1, std::memory_order_relaxed), g_ahead_n[1].store(n1, std::memory_order_relaxed);
  g_ahead_seq.fetch_add(1);
}
}  // namespace

extern "C" {

size_t ft_ahead_scope(const void* const* ptrs, const size_t* bytes, int n) {
  std::lock_guard<std::mutex> lock(g_scope_mutex);
  // End the current scope first: an empty post, then wait until the worker has let go of the old memory.
  post_ahead(nullptr, 0, nullptr, 0);
  while (g_ahead_reading.load()) _mm_pause();
  const size_t read = g_ahead_bytes.exchange(0);
  g_scope.clear();
  for (auto& f : g_follow) f.key = nullptr;
  g_prev_b = nullptr;
  for (int i = 0; i < n; ++i)
    if (bytes[i] > 0) g_scope.push_back({(uintptr_t)ptrs[i], (uintptr_t)ptrs[i] + bytes[i]});
  std::sort(g_scope.begin(), g_scope.end(), [](const AheadRange& a, const AheadRange& b) { return a.lo < b.lo; });
  g_scope_owner = std::this_thread::get_id();
  return read;
}

void ft_ahead_after(const void* b, const void* p0, size_t n0, const void* p1, size_t n1) {
  std::unique_lock<std::mutex> lock(g_scope_mutex, std::try_to_lock);
  if (!lock.owns_lock() || g_scope.empty() || g_nthreads < 2 || std::this_thread::get_id() != g_scope_owner) return;
  const char* q0 = static_cast<const char*>(p0);
  const char* q1 = static_cast<const char*>(p1);
  if (!in_scope(q0, n0) || !in_scope(q1, n1)) {
    g_prev_b = nullptr;
    return;
  }
  if (g_prev_b) g_follow[follow_slot(g_prev_b)] = {g_prev_b, {q0, q1}, {n0, n1}};
  g_prev_b = b;
  const Follow& f = g_follow[follow_slot(b)];
  if (f.key == b) post_ahead(f.p[0], f.n[0], f.p[1], f.n[1]);
}

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
  const int sense = g_bar_sense.load(std::memory_order_acquire) ^ 1;
  if (g_bar_count.fetch_add(1, std::memory_order_acq_rel) == 1) {
    g_bar_count.store(0, std::memory_order_relaxed);
    g_bar_sense.store(sense, std::memory_order_release);
    return;
  }
  int n = 0;
  while (g_bar_sense.load(std::memory_order_acquire) != sense) {
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
