// A ByteSink over a std::string that lends its buffer (ByteSink::Lend /
// Commit), as the worker's locked SecretBytesSink does, for tests and fuzz
// targets of the readers that decrypt straight into a sink. Loans show up
// untouched bytes as '?' until written; what was lent and not committed
// stays readable (uncommitted()) so that tests can check it was wiped.
#ifndef STRONGROOM_TESTS_STORAGE_STREAMING_LENDING_SINK_H_
#define STRONGROOM_TESTS_STORAGE_STREAMING_LENDING_SINK_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/streaming/byte_stream.h"

namespace strongroom::storage::testing {

class LendingSink final : public ByteSink {
 public:
  // Contents plus a loan may not exceed `max_bytes` (ResourceExhausted).
  explicit LendingSink(size_t max_bytes = SIZE_MAX) : max_(max_bytes) {}

  absl::Status Append(std::span<const uint8_t> data) override {
    if (data.size() > max_ - size_) return absl::ResourceExhaustedError("sink full");
    buf_.resize(size_);
    buf_.append(reinterpret_cast<const char*>(data.data()), data.size());
    size_ += data.size();
    lent_ = 0;
    return absl::OkStatus();
  }
  absl::StatusOr<std::span<uint8_t>> Lend(size_t n) override {
    if (n > max_ - size_) return absl::ResourceExhaustedError("sink full");
    buf_.resize(size_ + n, '?');
    lent_ = n;
    ++lends_;
    return std::span<uint8_t>(reinterpret_cast<uint8_t*>(buf_.data()) + size_, n);
  }
  absl::Status Commit(size_t n) override {
    if (n > lent_) return absl::FailedPreconditionError("Commit of more than was lent");
    size_ += n;
    lent_ = 0;
    return absl::OkStatus();
  }

  std::string committed() const { return buf_.substr(0, size_); }
  // What the last loan left uncommitted.
  std::string uncommitted() const { return buf_.substr(size_); }
  int lends() const { return lends_; }

 private:
  size_t max_;
  std::string buf_;
  size_t size_ = 0, lent_ = 0;
  int lends_ = 0;
};

}  // namespace strongroom::storage::testing

#endif  // STRONGROOM_TESTS_STORAGE_STREAMING_LENDING_SINK_H_
