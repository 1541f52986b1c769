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
// wake-up costs tens of microseconds on a VM, as much as a small layer.
constexpr auto kSpin = std::chrono::microseconds(100);

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

struct ThreadPool::Job {
  const std::function<void(int64_t, int64_t)>* fn;
  int64_t n;
  int64_t chunk;
  std::atomic<int64_t> next{0};
};

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)) {
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
    stop_ = true;
    published_.fetch_add(1, std::memory_order_release);
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

void ThreadPool::WorkerLoop() {
  uint64_t seen = 0;
  for (;;) {
    SpinUntil([&] { return published_.load(std::memory_order_acquire) != seen; });
    Job* job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || (job_ != nullptr && generation_ != seen); });
      if (stop_) return;
      seen = generation_;
      job = job_;
      ++users_;
      busy_.fetch_add(1, std::memory_order_relaxed);
    }
    RunChunks(*job);
    {
      std::lock_guard<std::mutex> lock(mu_);
      --users_;
      busy_.fetch_sub(1, std::memory_order_release);
    }
    idle_cv_.notify_all();
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &job;
    ++generation_;
    published_.store(generation_, std::memory_order_release);
  }
  work_cv_.notify_all();
  RunChunks(job);
  // Every chunk is taken; wait (spinning first) for workers still in one.
  SpinUntil([&] { return busy_.load(std::memory_order_acquire) == 0; });
  std::unique_lock<std::mutex> lock(mu_);
  job_ = nullptr;
  idle_cv_.wait(lock, [&] { return users_ == 0; });
}

}  // namespace strongroom::worker::onnx
