// ByteSink / ByteSource over SecretBytes: how decrypted model weights and
// inputs arrive in the worker, and how serialized outputs leave it, without
// passing through std::string or std::vector.
//
// SecretBytesSink grows its buffer by allocating a larger SecretBytes,
// copying and letting the old one wipe itself, so every byte it ever held
// lives in locked (where RLIMIT_MEMLOCK allows), MADV_DONTDUMP memory and is
// wiped on release. Reserve() with the expected size (the object's size from
// the progress callback) avoids the copies. Append fails with
// ResourceExhausted past `max_bytes`, the machine's memory or the memory
// available now (MemAvailable, or the process's cgroup memory headroom where
// less: memory_headroom.h), before allocating.
//
// SecretBytesSource reads a span (typically a SecretBytes' Reveal()) that it
// does not own and that must outlive it.
//
// Thread-compatible.
#ifndef STRONGROOM_WORKER_SECRET_STREAM_H_
#define STRONGROOM_WORKER_SECRET_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/secret_bytes.h"
#include "storage/streaming/byte_stream.h"

namespace strongroom::worker {

class SecretBytesSink final : public storage::ByteSink {
 public:
  // `what` names the object in errors ("--model ds/m").
  explicit SecretBytesSink(std::string what, uint64_t max_bytes = uint64_t{1} << 36)
      : what_(std::move(what)), max_bytes_(max_bytes) {}

  absl::Status Append(std::span<const uint8_t> data) override;
  // Lends the locked buffer's next n bytes (growing it as Append would).
  absl::StatusOr<std::span<uint8_t>> Lend(size_t n) override;
  absl::Status Commit(size_t n) override;
  // Makes room for `total` bytes in all (no-op when there already is). A
  // total over the sink's limit, over the machine's memory or over the
  // memory available now is refused, and so is every later Append or Lend:
  // the stream it was declared for stops at its next segment.
  absl::Status Reserve(uint64_t total);

  size_t size() const { return size_; }
  // Whether every buffer so far was locked in RAM.
  bool locked() const { return locked_; }
  // The bytes received, trimmed to size(); the sink is empty afterwards.
  SecretBytes Take();

 private:
  // `available`: the memory available now, as the caller read it (`cgroup`:
  // the cgroup limit set it), one reading for its checks and this one.
  absl::Status Grow(uint64_t needed, uint64_t available, bool cgroup);
  // Room for n more bytes past size_; ends any loan.
  absl::Status MakeRoom(size_t n);

  std::string what_;
  uint64_t max_bytes_;
  SecretBytes buffer_;
  size_t size_ = 0;
  size_t lent_ = 0;  // bytes past size_ handed out by the last Lend()
  bool locked_ = true;
  absl::Status refused_;  // a Reserve past max_bytes_: every later call fails with it
};

class SecretBytesSource final : public storage::ByteSource {
 public:
  explicit SecretBytesSource(std::span<const uint8_t> data) : data_(data) {}
  absl::StatusOr<size_t> Read(std::span<uint8_t> out) override;

 private:
  std::span<const uint8_t> data_;
  size_t position_ = 0;
};

}  // namespace strongroom::worker

#endif  // STRONGROOM_WORKER_SECRET_STREAM_H_
