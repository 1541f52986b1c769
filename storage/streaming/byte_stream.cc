#include "storage/streaming/byte_stream.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"

namespace strongroom::storage {

absl::StatusOr<size_t> ReadFully(ByteSource& source, std::span<uint8_t> out) {
  size_t got = 0;
  while (got < out.size()) {
    absl::StatusOr<size_t> n = source.Read(out.subspan(got));
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    if (*n > out.size() - got) {
      return absl::InternalError(absl::StrCat("byte source returned ", *n,
                                              " bytes for a ", out.size() - got,
                                              "-byte read"));
    }
    got += *n;
  }
  return got;
}

absl::Status StringSink::Append(std::span<const uint8_t> data) {
  data_.append(reinterpret_cast<const char*>(data.data()), data.size());
  return absl::OkStatus();
}

absl::StatusOr<size_t> StringSource::Read(std::span<uint8_t> out) {
  size_t n = std::min(out.size(), data_.size() - position_);
  if (n > 0) std::memcpy(out.data(), data_.data() + position_, n);
  position_ += n;
  return n;
}

absl::StatusOr<size_t> StringSource::ReadAt(uint64_t offset,
                                            std::span<uint8_t> out) {
  if (offset >= data_.size()) return 0;
  size_t n = std::min<uint64_t>(out.size(), data_.size() - offset);
  if (n > 0) std::memcpy(out.data(), data_.data() + offset, n);
  return n;
}

absl::Status FdSink::Append(std::span<const uint8_t> data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("write(fd ", fd_, ")"));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> FdSource::Read(std::span<uint8_t> out) {
  while (true) {
    ssize_t n = ::read(fd_, out.data(), out.size());
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) {
      return absl::ErrnoToStatus(errno, absl::StrCat("read(fd ", fd_, ")"));
    }
  }
}

absl::StatusOr<uint64_t> FdSource::Size() {
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("fstat(fd ", fd_, ")"));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("fd ", fd_, ": not a regular file, size unknown"));
  }
  return static_cast<uint64_t>(st.st_size);
}

absl::StatusOr<size_t> FdSource::ReadAt(uint64_t offset,
                                        std::span<uint8_t> out) {
  if (offset > static_cast<uint64_t>(std::numeric_limits<off_t>::max())) {
    return absl::OutOfRangeError(
        absl::StrCat("pread(fd ", fd_, "): offset ", offset, " too large"));
  }
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::pread(fd_, out.data() + got, out.size() - got,
                        static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(
          errno,
          absl::StrCat("pread(fd ", fd_, ", offset ", offset + got, ")"));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

}  // namespace strongroom::storage
