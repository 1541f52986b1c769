#include "worker/onnx/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>

namespace strongroom::worker::onnx {
namespace {
thread_local bool in_parallel_region = false;
thread_local int thread_index = 0;  // a worker's 1 .. threads - 1
thread_local const ThreadPool* worker_of = nullptr;  // the pool this thread works for

// How long a worker polls for the next job, and the caller for the workers
// to finish, before sleeping on a condition variable: kernels issue
// ParallelFor back to back (a squeezenet run issues hundreds), and a futex
// wake-up costs tens of microseconds on a VM, as much as a small layer. At
// 100 us a two-thread squeezenet run still slept ~3.4 times (context
// switches), at 1 ms ~0.4 times; in alternating runs 1 ms made resnet50
// ~11% and squeezenet ~3.5% faster at two threads, and 5 ms gained nothing
// more (docs/bench.md, seventh pass). The price: up to 1 ms of polling
// after the last job of a run.
constexpr auto kSpin = std::chrono::milliseconds(1);

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Polls `done` for up to kSpin; true when it became true.
template <typename Done>
bool SpinUntil(const Done& done) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (done()) return true;
    CpuRelax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() >= until) return false;
  }
}
}  // namespace

// Part p's unclaimed items are [front, back), packed in one word (front
// low, back high) so that the owner (front) and a thief (back) claim with
// one compare-and-swap.
struct alignas(64) ThreadPool::Part {
  std::atomic<uint64_t> bounds{0};
};

struct ThreadPool::Job {
  const std::function<void(int64_t, int64_t)>* fn;
  int64_t n;
  int64_t chunk;
  std::atomic<int64_t> next{0};
};

ThreadPool::ThreadPool(int threads)
    : threads_(std::max(1, threads)), parts_(new Part[static_cast<size_t>(threads_)]) {
  for (int i = 1; i < threads_; ++i) {
    workers_.emplace_back([this, i] {
      thread_index = i;
      worker_of = this;
      WorkerLoop();
    });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
    published_.fetch_add(1);
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

int ThreadPool::ThreadIndex() const { return worker_of == this ? thread_index : 0; }

void ThreadPool::RunChunks(Job& job) {
  const bool was = in_parallel_region;
  in_parallel_region = true;
  for (;;) {
    const int64_t begin = job.next.fetch_add(job.chunk, std::memory_order_relaxed);
    if (begin >= job.n) break;
    (*job.fn)(begin, std::min(job.n, begin + job.chunk));
  }
  in_parallel_region = was;
}

// The hand-off takes no lock unless a worker sleeps. All accesses to
// published_, job_, busy_, sleepers_ and caller_sleeps_ are sequentially
// consistent, which the three Dekker-style pairs below rely on:
//  - a worker counts itself in busy_ before it reads job_, and the caller
//    clears job_ before it waits for busy_ to reach zero: either the worker
//    sees no job, or the caller waits for it to leave the job (which lives
//    on the caller's stack);
//  - a worker counts itself in sleepers_ (under mu_) before it checks
//    published_ one last time, and the caller bumps published_ before it
//    reads sleepers_: either the worker sees the new job, or the caller
//    sees the sleeper and wakes it under mu_;
//  - the caller raises caller_sleeps_ (under mu_) before it checks busy_
//    one last time, and a worker leaves busy_ before it reads
//    caller_sleeps_: either the caller sees busy_ at zero, or the worker
//    sees the flag and wakes it under mu_.
void ThreadPool::WorkerLoop() {
  uint64_t seen = 0;
  for (;;) {
    if (!SpinUntil([&] { return published_.load() != seen; })) {
      std::unique_lock<std::mutex> lock(mu_);
      sleepers_.fetch_add(1);
      work_cv_.wait(lock, [&] { return published_.load() != seen; });
      sleepers_.fetch_sub(1);
    }
    // published_ before stop_: the destructor sets stop_ before its bump,
    // so a worker whose `seen` includes that bump also sees stop_ (checked
    // the other way round, it could miss stop_ and then wait for a bump
    // that never comes).
    seen = published_.load();
    if (stop_.load()) return;
    busy_.fetch_add(1);
    if (Job* job = job_.load(); job != nullptr) RunChunks(*job);
    busy_.fetch_sub(1);
    if (caller_sleeps_.load()) {
      std::lock_guard<std::mutex> lock(mu_);
      idle_cv_.notify_all();
    }
  }
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (threads_ == 1 || n <= grain || in_parallel_region) {
    fn(0, n);
    return;
  }
  // About four chunks per thread balances uneven chunks without much
  // scheduling overhead.
  const int64_t max_chunks = std::min<int64_t>((n + grain - 1) / grain, int64_t{threads_} * 4);
  Job job;
  job.fn = &fn;
  job.n = n;
  job.chunk = (n + max_chunks - 1) / max_chunks;
  job_.store(&job);
  published_.fetch_add(1);
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    work_cv_.notify_all();
  }
  RunChunks(job);
  // Every chunk is taken: withdraw the job, then wait for workers still in
  // one (polling, then asleep until the last one leaves).
  job_.store(nullptr);
  if (SpinUntil([&] { return busy_.load() == 0; })) return;
  std::unique_lock<std::mutex> lock(mu_);
  caller_sleeps_.store(true);
  idle_cv_.wait(lock, [&] { return busy_.load() == 0; });
  caller_sleeps_.store(false);
}

void ThreadPool::ParallelForByOwner(int64_t n,
                                    const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int parts = threads_;
  if (parts == 1 || n == 1 || in_parallel_region) {
    for (int64_t i = 0; i < n; ++i) fn(i, i + 1);
    return;
  }
  if (n > int64_t{0xffffffff}) {  // more items than the packed bounds hold
    ParallelFor(n, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) fn(i, i + 1);
    });
    return;
  }
  // Part p is [p * n / parts, (p + 1) * n / parts). The parts are the
  // pool's own (one ParallelForByOwner at a time; a nested one ran inline
  // above), set here before ParallelFor publishes the job.
  for (int p = 0; p < parts; ++p) {
    const uint64_t lo = static_cast<uint64_t>(p * n / parts);
    const uint64_t hi = static_cast<uint64_t>((p + 1) * n / parts);
    parts_[static_cast<size_t>(p)].bounds.store(lo | (hi << 32), std::memory_order_relaxed);
  }
  // Claims one item of part p, from its front or its back; -1 when empty.
  auto claim = [&](int p, bool from_front) -> int64_t {
    std::atomic<uint64_t>& b = parts_[static_cast<size_t>(p)].bounds;
    uint64_t cur = b.load(std::memory_order_relaxed);
    for (;;) {
      const uint64_t front = cur & 0xffffffffu, back = cur >> 32;
      if (front >= back) return -1;
      const uint64_t next = from_front ? (front + 1) | (back << 32) : front | ((back - 1) << 32);
      if (b.compare_exchange_weak(cur, next, std::memory_order_relaxed)) {
        return static_cast<int64_t>(from_front ? front : back - 1);
      }
    }
  };
  // Each chunk is one thread's turn: its own part, then the others' leftovers.
  // ThreadIndex() is distinct among chunks that run at the same time.
  ParallelFor(parts, 1, [&](int64_t, int64_t) {
    const int me = ThreadIndex();
    for (int64_t i; (i = claim(me, true)) >= 0;) fn(i, i + 1);
    for (int k = 1; k < parts; ++k) {
      const int victim = (me + k) % parts;
      for (int64_t i; (i = claim(victim, false)) >= 0;) fn(i, i + 1);
    }
  });
}

}  // namespace strongroom::worker::onnx
