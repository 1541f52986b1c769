// ThreadPool: a fixed set of worker threads for the CPU kernels' data
// parallelism. ParallelFor splits a range into chunks that the workers and
// the calling thread take in turn, and returns when all are done.
//
// One ParallelFor at a time per pool (a Session serializes its runs); a
// ParallelFor issued from inside a chunk runs inline on that thread.
// Workers poll for the next job for 100 µs after each one, and the caller
// for the workers to finish, before sleeping on a condition variable: a
// futex wake-up costs about as much as a small layer's work.
// Destruction joins the workers.
#ifndef STRONGROOM_WORKER_ONNX_THREAD_POOL_H_
#define STRONGROOM_WORKER_ONNX_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
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

  // Inside fn: which of this pool's threads runs it, 0 (the caller of
  // ParallelFor) to num_threads() - 1, distinct among chunks that run at
  // the same time (per-thread scratch for dynamically scheduled work). 0 on
  // any thread that is not one of this pool's workers.
  int ThreadIndex() const;

 private:
  struct Job;
  void WorkerLoop();
  static void RunChunks(Job& job);

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  Job* job_ = nullptr;       // guarded by mu_
  uint64_t generation_ = 0;  // guarded by mu_
  int users_ = 0;            // workers inside job_; guarded by mu_
  bool stop_ = false;        // guarded by mu_
  // Lock-free mirrors for polling before sleeping: generation_ (bumped on
  // stop too) and users_.
  std::atomic<uint64_t> published_{0};
  std::atomic<int> busy_{0};
};

}  // namespace strongroom::worker::onnx

#endif  // STRONGROOM_WORKER_ONNX_THREAD_POOL_H_
