// ThreadPool: a fixed set of worker threads for the CPU kernels' data
// parallelism. ParallelFor splits a range into chunks that the workers and
// the calling thread take in turn, and returns when all are done.
//
// One ParallelFor at a time per pool (a Session serializes its runs); a
// ParallelFor issued from inside a chunk runs inline on that thread.
// Workers poll for the next job for 1 ms after each one before sleeping
// on a condition variable (a futex wake-up costs about as much as a small
// layer's work); the hand-off itself is lock-free (thread_pool.cc), and the
// caller polls for workers still in a chunk for 1 ms before sleeping.
// Destruction joins the workers.
#ifndef STRONGROOM_WORKER_ONNX_THREAD_POOL_H_
#define STRONGROOM_WORKER_ONNX_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace strongroom::worker::onnx {

class ThreadPool {
 public:
  // `threads` >= 1 counts the caller: threads - 1 workers are started.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return threads_; }

  // Calls fn(begin, end) on disjoint sub-ranges covering [0, n), each at
  // least `grain` long (but the last), possibly concurrently.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // Calls fn(begin, end) on disjoint sub-ranges covering [0, n), one item at
  // a time, with affinity: [0, n) is cut into num_threads() contiguous
  // parts of nearly equal size, thread t (0: the caller) takes part t's
  // items from its front, and a thread done with its own part takes the
  // others' from their back. Consecutive calls of the same size thus give
  // each item to the same thread unless one falls behind, so a kernel that
  // reads what the previous kernel wrote at the same place reads it from
  // its own core's cache (a line another core wrote costs ~4x as much to
  // read on the 2-vCPU VM, docs/bench.md).
  void ParallelForByOwner(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

  // Inside fn: which of this pool's threads runs it, 0 (the caller of
  // ParallelFor) to num_threads() - 1, distinct among chunks that run at
  // the same time (per-thread scratch for dynamically scheduled work). 0 on
  // any thread that is not one of this pool's workers.
  int ThreadIndex() const;

 private:
  struct Job;
  struct Part;  // ParallelForByOwner's per-thread range (thread_pool.cc)
  void WorkerLoop();
  static void RunChunks(Job& job);

  const int threads_;
  std::vector<std::thread> workers_;
  // Sleeping workers wait on work_cv_, a caller waiting for the last
  // workers to leave its job on idle_cv_, both under mu_; nothing else
  // takes mu_.
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  // The job of the ParallelFor in progress (on its caller's stack), or null.
  std::atomic<Job*> job_{nullptr};
  std::atomic<uint64_t> published_{0};  // bumped per job, and on stop
  std::atomic<bool> stop_{false};
  std::atomic<int> busy_{0};      // workers that may be inside job_
  std::atomic<int> sleepers_{0};  // workers waiting on work_cv_
  std::atomic<bool> caller_sleeps_{false};
  // One per thread, reused by every ParallelForByOwner (one at a time).
  std::unique_ptr<Part[]> parts_;
};

}  // namespace strongroom::worker::onnx

#endif  // STRONGROOM_WORKER_ONNX_THREAD_POOL_H_
