// Prefetcher<T>: runs a blocking producer on a thread of its own, up to
// `depth` items ahead of the consumer, so that producing item i+1 (e.g.
// receiving a segment from a gRPC stream) overlaps consuming item i (e.g.
// decrypting it).
//
// The producer returns the next item, std::nullopt at the end, or an error;
// after the end or an error it is not called again, and Next() returns the
// items produced before it, then that end or error (again on every later
// call). Items are handed over in order, moved, never copied.
//
// Destruction stops the thread: it calls `cancel` (when given) so that a
// producer blocked in a call returns, then waits for the thread. Everything
// the producer touches is touched only by the producer thread until Next()
// has returned the end or an error, or the Prefetcher is destroyed.
//
// Thread-safety: one consumer thread calls Next().
#ifndef STRONGROOM_BASE_PREFETCHER_H_
#define STRONGROOM_BASE_PREFETCHER_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace strongroom {

template <typename T>
class Prefetcher {
 public:
  using Producer = std::function<absl::StatusOr<std::optional<T>>()>;

  // depth >= 1: how many produced items may wait for the consumer.
  Prefetcher(Producer produce, size_t depth, std::function<void()> cancel = nullptr)
      : produce_(std::move(produce)),
        cancel_(std::move(cancel)),
        depth_(depth == 0 ? 1 : depth),
        thread_([this] { Run(); }) {}

  ~Prefetcher() {
    bool running;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      running = !end_.has_value();
    }
    changed_.notify_all();
    if (running && cancel_) cancel_();
    thread_.join();
  }

  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  absl::StatusOr<std::optional<T>> Next() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return !items_.empty() || end_.has_value(); });
    if (!items_.empty()) {
      T item = std::move(items_.front());
      items_.pop_front();
      lock.unlock();
      changed_.notify_all();
      return std::optional<T>(std::move(item));
    }
    if (!end_->ok()) return *end_;
    return std::optional<T>();
  }

 private:
  void Run() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        changed_.wait(lock, [this] { return stop_ || items_.size() < depth_; });
        if (stop_) {
          end_ = absl::CancelledError("prefetch stopped");
          return;
        }
      }
      absl::StatusOr<std::optional<T>> next = produce_();
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!next.ok()) {
          end_ = next.status();
        } else if (!next->has_value()) {
          end_ = absl::OkStatus();
        } else {
          items_.push_back(std::move(**next));
        }
      }
      changed_.notify_all();
      if (!next.ok() || !next->has_value()) return;
    }
  }

  Producer produce_;
  std::function<void()> cancel_;
  const size_t depth_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<T> items_;
  std::optional<absl::Status> end_;  // set once the producer is done
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace strongroom

#endif  // STRONGROOM_BASE_PREFETCHER_H_
