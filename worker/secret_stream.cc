#include "worker/secret_stream.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/status_macros.h"
#include "worker/memory_headroom.h"

namespace strongroom::worker {
namespace {

// The machine's memory: a size the store declares before any of its bytes
// authenticate must not reach a locked mapping that cannot exist (mmap or
// mlockall's MCL_FUTURE would fail, and SecretBytes aborts on that).
// Read once.
uint64_t PhysicalMemory() {
  static const uint64_t memory = [] {
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page)
                                 : std::numeric_limits<uint64_t>::max();
  }();
  return memory;
}

// The memory the kernel could hand out now without swapping
// (/proc/meminfo's MemAvailable) or, where less, what this process's
// cgroups still allow (memory_headroom.h: in a container MemAvailable is the
// host's), read at each growth: the worker locks all of its memory, so a
// locked mapping past it would not fail cleanly but bring the OOM killer (or
// abort in SecretBytes). Unknown: no bound.
struct Available {
  uint64_t bytes = std::numeric_limits<uint64_t>::max();
  bool cgroup = false;  // the cgroup limit is the tighter bound
};
Available AvailableMemory() {
  Available out;
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    uint64_t kib = 0;
    absl::string_view rest = absl::StripAsciiWhitespace(absl::string_view(line).substr(13));
    if (absl::ConsumeSuffix(&rest, " kB") && absl::SimpleAtoi(rest, &kib) &&
        kib <= std::numeric_limits<uint64_t>::max() / 1024) {
      out.bytes = kib * 1024;
    }
    break;
  }
  if (const std::optional<uint64_t> room = CgroupMemoryHeadroom(); room && *room < out.bytes) {
    out = {*room, true};
  }
  return out;
}

}  // namespace

absl::Status SecretBytesSink::Grow(uint64_t needed, uint64_t available, bool cgroup) {
  if (needed > max_bytes_) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what_, ": more than ", max_bytes_, " bytes (", needed, " needed)"));
  }
  const uint64_t memory = PhysicalMemory();
  if (needed > memory) {
    return absl::ResourceExhaustedError(absl::StrCat(
        what_, ": ", needed, " bytes is more than this machine's ", memory, " bytes of memory"));
  }
  if (needed <= buffer_.size()) return absl::OkStatus();
  // The old buffer is freed only after the copy: both are held at once.
  if (needed > available) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what_, ": ", needed, " bytes is more than the ", available,
                     " bytes of memory available now",
                     cgroup ? " under this process's cgroup memory limit" : ""));
  }
  SecretBytes bigger(static_cast<size_t>(needed));
  if (size_ > 0) std::memcpy(bigger.RevealMutable().data(), buffer_.Reveal().data(), size_);
  locked_ = locked_ && bigger.locked();
  buffer_ = std::move(bigger);  // the old buffer wipes itself
  return absl::OkStatus();
}

absl::Status SecretBytesSink::Reserve(uint64_t total) {
  if (total > max_bytes_) {
    refused_ = absl::ResourceExhaustedError(
        absl::StrCat(what_, ": more than ", max_bytes_, " bytes (", total, " declared)"));
    return refused_;
  }
  if (total <= buffer_.size()) return absl::OkStatus();  // a loan stays valid
  // On failure the buffer, and a loan, are unchanged, but the stream stops
  // at its next segment: room it cannot have now is not found by doubling.
  const Available now = AvailableMemory();
  if (absl::Status s = Grow(total, now.bytes, now.cgroup); !s.ok()) {
    refused_ = absl::Status(s.code(), absl::StrCat(s.message(), " (the size declared for it)"));
    return refused_;
  }
  lent_ = 0;
  return absl::OkStatus();
}

absl::Status SecretBytesSink::MakeRoom(size_t n) {
  lent_ = 0;
  const uint64_t needed = uint64_t{size_} + n;
  if (needed <= buffer_.size()) return absl::OkStatus();
  // Doubling keeps the copies (each into locked memory) amortized O(n).
  const uint64_t doubled = std::max<uint64_t>(uint64_t{buffer_.size()} * 2, 4096);
  // Doubling stops at the limits, so a stream that fits them is not refused
  // for the room it might have needed; and beyond what is needed it takes at
  // most half of the memory available now (one reading, also the one Grow
  // checks against), leaving the rest to the process.
  const Available now = AvailableMemory();
  const uint64_t spare = now.bytes > needed ? (now.bytes - needed) / 2 : 0;
  const uint64_t cap = std::max(needed, std::min({max_bytes_, PhysicalMemory(), needed + spare}));
  return Grow(std::min(std::max(needed, doubled), cap), now.bytes, now.cgroup);
}

absl::Status SecretBytesSink::Append(std::span<const uint8_t> data) {
  RETURN_IF_ERROR(refused_);
  if (data.empty()) return absl::OkStatus();
  if (absl::Status s = MakeRoom(data.size()); !s.ok()) return s;
  std::memcpy(buffer_.RevealMutable().data() + size_, data.data(), data.size());
  size_ += data.size();
  return absl::OkStatus();
}

absl::StatusOr<std::span<uint8_t>> SecretBytesSink::Lend(size_t n) {
  RETURN_IF_ERROR(refused_);
  if (absl::Status s = MakeRoom(n); !s.ok()) return s;
  lent_ = n;
  return buffer_.RevealMutable().subspan(size_, n);
}

absl::Status SecretBytesSink::Commit(size_t n) {
  if (n > lent_) {
    return absl::FailedPreconditionError(
        absl::StrCat(what_, ": Commit of ", n, " bytes, ", lent_, " lent"));
  }
  size_ += n;
  lent_ = 0;
  return absl::OkStatus();
}

SecretBytes SecretBytesSink::Take() {
  lent_ = 0;
  SecretBytes out = std::move(buffer_);
  out.Shrink(size_);
  buffer_ = SecretBytes();
  size_ = 0;
  return out;
}

absl::StatusOr<size_t> SecretBytesSource::Read(std::span<uint8_t> out) {
  const size_t n = std::min(out.size(), data_.size() - position_);
  if (n > 0) std::memcpy(out.data(), data_.data() + position_, n);
  position_ += n;
  return n;
}

}  // namespace strongroom::worker
