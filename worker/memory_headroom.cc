#include "worker/memory_headroom.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace strongroom::worker {
namespace {

// v1's "no limit" is PAGE_COUNTER_MAX pages (9223372036854771712 with 4 KiB
// pages); anything this large is none.
constexpr uint64_t kV1Unlimited = uint64_t{1} << 62;

std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

std::optional<uint64_t> ReadNumber(const std::string& path) {
  std::optional<std::string> text = ReadSmallFile(path);
  uint64_t value = 0;
  if (!text || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &value)) return std::nullopt;
  return value;
}

// `key`'s value in a memory.stat ("key value" lines); 0 when absent.
uint64_t StatValue(const std::string& path, absl::string_view key) {
  std::optional<std::string> text = ReadSmallFile(path);
  if (!text) return 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    absl::string_view rest = line;
    uint64_t value = 0;
    if (absl::ConsumePrefix(&rest, key) && absl::ConsumePrefix(&rest, " ") &&
        absl::SimpleAtoi(rest, &value)) {
      return value;
    }
  }
  return 0;
}

// mountinfo's octal escapes (\040 for a space, \011, \012, \134).
std::string Unescape(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct Mount {
  std::string root;   // the part of the hierarchy mounted there
  std::string point;  // where
};

// Mounts of cgroup2 (`v1_memory` false) or of a v1 hierarchy with the
// memory controller.
std::vector<Mount> CgroupMounts(absl::string_view mountinfo, bool v1_memory) {
  std::vector<Mount> out;
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n')) {
    const std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 5 || dash == f.end() || f.end() - dash < 4) continue;
    const absl::string_view fstype = dash[1], options = dash[3];
    if (v1_memory) {
      if (fstype != "cgroup") continue;
      const std::vector<absl::string_view> opts = absl::StrSplit(options, ',');
      if (std::find(opts.begin(), opts.end(), "memory") == opts.end()) continue;
    } else if (fstype != "cgroup2") {
      continue;
    }
    out.push_back({Unescape(f[3]), Unescape(f[4])});
  }
  return out;
}

// The smallest headroom of `dir` (under mount point `point`) and its
// ancestors up to `point`, into `best`.
void WalkUp(const std::string& point, const std::string& relative, bool v1,
            std::optional<uint64_t>* best) {
  std::string rel = relative;
  while (true) {
    const std::string dir = point + rel;
    std::optional<uint64_t> limit =
        v1 ? ReadNumber(dir + "/memory.limit_in_bytes") : ReadNumber(dir + "/memory.max");
    if (!v1) {
      // Past memory.high the kernel throttles the cgroup to reclaim, which
      // locked memory cannot give: as good as a limit.
      if (const std::optional<uint64_t> high = ReadNumber(dir + "/memory.high"); high) {
        limit = limit ? std::min(*limit, *high) : *high;
      }
    }
    // v2's "max" does not parse as a number: no limit, as does v1's huge one.
    if (limit && (!v1 || *limit < kV1Unlimited)) {
      const std::optional<uint64_t> usage =
          ReadNumber(dir + (v1 ? "/memory.usage_in_bytes" : "/memory.current"));
      if (usage) {
        const uint64_t reclaimable = std::min(
            *usage, StatValue(dir + "/memory.stat", v1 ? "total_inactive_file" : "inactive_file"));
        // The usage counts the page cache too: once that is dropped it is
        // usage - reclaimable, which may still be over the limit (lowered,
        // or reclaim running behind).
        const uint64_t after_reclaim = *usage - reclaimable;
        const uint64_t room = *limit > after_reclaim ? *limit - after_reclaim : 0;
        *best = best->has_value() ? std::min(**best, room) : room;
      }
    }
    if (rel.empty()) return;
    const size_t slash = rel.rfind('/');
    rel.resize(slash == std::string::npos ? 0 : slash);
  }
}

}  // namespace

std::optional<uint64_t> CgroupMemoryHeadroom(absl::string_view proc_self_cgroup,
                                             absl::string_view proc_self_mountinfo) {
  std::optional<uint64_t> best;
  for (absl::string_view line : absl::StrSplit(proc_self_cgroup, '\n')) {
    // "hierarchy-id:controllers:path"; the path may itself hold colons.
    const std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3 || !absl::StartsWith(f[2], "/")) continue;
    bool v1 = false;
    if (f[0] == "0" && f[1].empty()) {
      v1 = false;
    } else {
      const std::vector<absl::string_view> controllers = absl::StrSplit(f[1], ',');
      if (std::find(controllers.begin(), controllers.end(), "memory") == controllers.end()) {
        continue;
      }
      v1 = true;
    }
    for (const Mount& m : CgroupMounts(proc_self_mountinfo, v1)) {
      // The path relative to the mount's root ("/" unless the mount shows
      // only part of the hierarchy, as in a container without a cgroup
      // namespace).
      absl::string_view path = f[2];
      const absl::string_view root = m.root == "/" ? "" : absl::string_view(m.root);
      if (!absl::ConsumePrefix(&path, root) || (!path.empty() && path[0] != '/')) continue;
      if (path == "/") path = "";
      // A cgroup outside this namespace's root shows as "/../..": not
      // under the mount, so not found there.
      const std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
      if (std::find(parts.begin(), parts.end(), "..") != parts.end() ||
          std::find(parts.begin(), parts.end(), ".") != parts.end()) {
        break;
      }
      WalkUp(m.point, std::string(path), v1, &best);
      break;
    }
  }
  return best;
}

std::optional<uint64_t> CgroupMemoryHeadroom() {
  const std::optional<std::string> cgroup = ReadSmallFile("/proc/self/cgroup");
  const std::optional<std::string> mountinfo = ReadSmallFile("/proc/self/mountinfo");
  if (!cgroup || !mountinfo) return std::nullopt;
  return CgroupMemoryHeadroom(*cgroup, *mountinfo);
}

}  // namespace strongroom::worker
