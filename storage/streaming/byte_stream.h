// Byte sinks and sources: the small I/O seams of the streaming AEAD.
//
// The streaming writer and readers never open files or sockets themselves;
// they push ciphertext into a ByteSink and pull it from a ByteSource (in
// order) or a RandomAccessSource (by offset). The sealed store, gRPC
// streaming handlers and tests plug in by implementing one virtual call.
// This file also holds string-backed (in memory) and file-descriptor-backed
// implementations.
//
// Contracts:
//  - ByteSink::Append writes all of `data` or returns an error; a failed
//    sink may have taken part of the data.
//  - ByteSource::Read fills at most out.size() bytes and may return fewer;
//    it returns 0 only at the end of the data (or when `out` is empty).
//  - RandomAccessSource::ReadAt returns fewer than out.size() bytes only when
//    the data ends first; Size() is the total length, which must not change
//    while a reader uses the source.
//  - Errors: the fd classes return the errno-derived code naming the call and
//    fd; the string classes never fail.
//
// Thread-compatible: one object is used by one thread at a time. None of the
// classes owns what it reads from or writes to beyond what is stated
// (StringSink/StringSource own their string; Fd* never close the fd).
#ifndef STRONGROOM_STORAGE_STREAMING_BYTE_STREAM_H_
#define STRONGROOM_STORAGE_STREAMING_BYTE_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace strongroom::storage {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual absl::Status Append(std::span<const uint8_t> data) = 0;

  // Optionally, room to write the next `n` bytes in place (a decryption
  // straight into the sink's buffer instead of a copy): exactly n bytes at
  // the end of the sink, which become its contents only with Commit(n).
  // Valid until the next call on the sink; what is written there and not
  // committed is overwritten or wiped as the sink's own memory. An empty
  // span when the sink does not lend (the default): the caller Appends.
  // Errors are Append's (e.g. a size limit).
  virtual absl::StatusOr<std::span<uint8_t>> Lend(size_t n) {
    (void)n;
    return std::span<uint8_t>();
  }
  // Makes the first `n` bytes of the last Lend() part of the contents.
  // FailedPrecondition when nothing (or less) was lent.
  virtual absl::Status Commit(size_t n) {
    (void)n;
    return absl::FailedPreconditionError("sink: Commit without Lend");
  }
};

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual absl::StatusOr<size_t> Read(std::span<uint8_t> out) = 0;
};

class RandomAccessSource {
 public:
  virtual ~RandomAccessSource() = default;
  virtual absl::StatusOr<uint64_t> Size() = 0;
  virtual absl::StatusOr<size_t> ReadAt(uint64_t offset,
                                        std::span<uint8_t> out) = 0;
  // Optionally the bytes ReadAt() would give for `length` bytes at `offset`,
  // without a copy: a view valid until the next call on the source (it may
  // be shorter at the end of the data). nullopt when the source cannot; the
  // caller then uses ReadAt(). Errors are ReadAt()'s.
  virtual absl::StatusOr<std::optional<std::span<const uint8_t>>> ViewAt(
      uint64_t offset, size_t length) {
    (void)offset;
    (void)length;
    return std::optional<std::span<const uint8_t>>();
  }
};

// Reads from `source` until `out` is full or the source ends; returns the
// number of bytes read (less than out.size() only at the end of the data).
absl::StatusOr<size_t> ReadFully(ByteSource& source, std::span<uint8_t> out);

// Appends to an in-memory string.
class StringSink final : public ByteSink {
 public:
  absl::Status Append(std::span<const uint8_t> data) override;
  const std::string& data() const { return data_; }
  std::string Release() { return std::move(data_); }

 private:
  std::string data_;
};

// Counts the bytes it is given and drops them (benchmarks, size checks).
class CountingSink final : public ByteSink {
 public:
  absl::Status Append(std::span<const uint8_t> data) override {
    bytes_ += data.size();
    return absl::OkStatus();
  }
  uint64_t bytes() const { return bytes_; }

 private:
  uint64_t bytes_ = 0;
};

// Serves an in-memory string, both in order and by offset.
class StringSource final : public ByteSource, public RandomAccessSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  absl::StatusOr<size_t> Read(std::span<uint8_t> out) override;
  absl::StatusOr<uint64_t> Size() override { return data_.size(); }
  absl::StatusOr<size_t> ReadAt(uint64_t offset,
                                std::span<uint8_t> out) override;

 private:
  std::string data_;
  size_t position_ = 0;
};

// Writes to an open file descriptor with write(2), retrying short writes and
// EINTR. Does not fsync and does not close the fd.
class FdSink final : public ByteSink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  absl::Status Append(std::span<const uint8_t> data) override;

 private:
  int fd_;
};

// Reads an open file descriptor: Read() with read(2) from the current file
// position, ReadAt() with pread(2), Size() with fstat(2). Does not close
// the fd.
class FdSource final : public ByteSource, public RandomAccessSource {
 public:
  explicit FdSource(int fd) : fd_(fd) {}
  absl::StatusOr<size_t> Read(std::span<uint8_t> out) override;
  absl::StatusOr<uint64_t> Size() override;
  absl::StatusOr<size_t> ReadAt(uint64_t offset,
                                std::span<uint8_t> out) override;

 private:
  int fd_;
};

}  // namespace strongroom::storage

#endif  // STRONGROOM_STORAGE_STREAMING_BYTE_STREAM_H_
