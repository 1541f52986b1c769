#include "storage/sealed/parallel_decrypt.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"

namespace strongroom::storage::sealed {
namespace {

struct Job {
  uint64_t index = 0;
  std::string ciphertext;
};

class Run {
 public:
  Run(const storage::StreamingAeadRandomAccessReader& reader, uint64_t first,
      std::span<uint8_t> out, size_t max_queued)
      : reader_(reader),
        base_(reader.SegmentPlaintextOffset(first)),
        out_(out),
        max_queued_(max_queued) {}

  // Blocks while the queue is full; false once a failure makes more work
  // pointless.
  bool Push(Job job) {
    std::unique_lock<std::mutex> lock(mu_);
    room_.wait(lock, [&] { return queue_.size() < max_queued_ || failed_ != kNone; });
    if (failed_ != kNone) return false;
    queue_.push_back(std::move(job));
    work_.notify_one();
    return true;
  }

  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    work_.notify_all();
  }

  void Fail(uint64_t index, absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (index < failed_) {
      failed_ = index;
      error_ = std::move(status);
    }
    room_.notify_all();
  }

  // A worker: decrypts queued segments with its own cipher until the queue
  // is closed and empty.
  void Work(storage::SegmentCipher* cipher) {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_.wait(lock, [&] { return !queue_.empty() || closed_; });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
        room_.notify_one();
        // Segments past a failure are not needed (they will be wiped).
        if (job.index > failed_) continue;
      }
      // Inside `out_`: its size was checked against [first, end) up front.
      const uint64_t offset = reader_.SegmentPlaintextOffset(job.index) - base_;
      absl::Status s = reader_.DecryptSegmentWith(
          *cipher, job.index, AsBytes(job.ciphertext),
          out_.subspan(offset, reader_.SegmentPlaintextSize(job.index)));
      if (!s.ok()) Fail(job.index, std::move(s));
    }
  }

  ParallelDecryptResult Finish() {
    ParallelDecryptResult r;
    if (failed_ == kNone) {
      r.good_bytes = out_.size();
      return r;
    }
    r.good_bytes = reader_.SegmentPlaintextOffset(failed_) - base_;
    r.status = error_;
    OPENSSL_cleanse(out_.data() + r.good_bytes, out_.size() - r.good_bytes);
    return r;
  }

  bool failed() {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_ != kNone;
  }

 private:
  static constexpr uint64_t kNone = UINT64_MAX;
  const storage::StreamingAeadRandomAccessReader& reader_;
  const uint64_t base_;  // plaintext offset of the run's first segment
  const std::span<uint8_t> out_;
  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable work_, room_;
  std::deque<Job> queue_;
  bool closed_ = false;
  uint64_t failed_ = kNone;  // lowest failing segment index
  absl::Status error_;
};

}  // namespace

ParallelDecryptResult DecryptSegmentsInParallel(
    const storage::StreamingAeadRandomAccessReader& reader, uint64_t first, uint64_t end,
    std::span<uint8_t> out, int threads,
    const std::function<absl::StatusOr<std::string>(uint64_t)>& take) {
  ParallelDecryptResult result;
  if (first >= end) return result;
  const uint64_t want = reader.SegmentPlaintextOffset(end - 1) +
                        reader.SegmentPlaintextSize(end - 1) -
                        reader.SegmentPlaintextOffset(first);
  if (end > reader.segment_count() || out.size() != want) {
    result.status = absl::InternalError(absl::StrCat(
        "parallel decrypt: segments [", first, ", ", end, ") into ", out.size(), " bytes"));
    return result;
  }
  threads = static_cast<int>(std::clamp<uint64_t>(end - first, 1, std::max(1, threads)));
  // Ciphers and threads first: without them nothing is taken or written
  // and the caller can go on one segment at a time (OpenSSL releases before
  // 3.0.12 / 3.1.4 cannot copy an AES-GCM context).
  std::vector<std::unique_ptr<storage::SegmentCipher>> ciphers;
  for (int t = 0; t < threads; ++t) {
    absl::StatusOr<std::unique_ptr<storage::SegmentCipher>> c = reader.NewCipher();
    if (!c.ok()) break;
    ciphers.push_back(*std::move(c));
  }
  Run run(reader, first, out, std::max<size_t>(1, ciphers.size()));
  std::vector<std::thread> workers;
  for (const std::unique_ptr<storage::SegmentCipher>& cipher : ciphers) {
    try {
      workers.emplace_back([&run, c = cipher.get()] { run.Work(c); });
    } catch (const std::system_error&) {
      break;  // fewer threads
    }
  }
  if (workers.empty()) {
    result.started = false;
    return result;
  }
  for (uint64_t i = first; i < end && !run.failed(); ++i) {
    absl::StatusOr<std::string> ct = take(i);
    if (!ct.ok()) {
      run.Fail(i, ct.status());
      break;
    }
    if (!run.Push({i, *std::move(ct)})) break;
  }
  run.Close();
  for (std::thread& w : workers) w.join();
  return run.Finish();
}

}  // namespace strongroom::storage::sealed
