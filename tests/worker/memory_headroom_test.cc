// CgroupMemoryHeadroom (worker/memory_headroom.h) over cgroup trees laid out
// in a temporary folder (v1 and v2, limits on the process's cgroup and on
// an ancestor, page cache, a mount of part of a hierarchy, escaped mount
// points), and, where this process may make a memory cgroup of its own, a
// child process under a real limit whose SecretBytesSink refuses a size the
// machine has but the limit does not.
#include "worker/memory_headroom.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "worker/secret_stream.h"

namespace strongroom::worker {
namespace {

namespace fs = std::filesystem;

class CgroupTree : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/strongroom-cgroup-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  // Writes `text` to root_/path, making its folders.
  void Put(const std::string& path, const std::string& text) {
    const fs::path p = fs::path(root_) / path;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  std::string V2Mount(const std::string& point) const {
    return absl::StrCat("30 25 0:26 / ", point, " rw,nosuid,nodev - cgroup2 cgroup2 rw\n");
  }
  std::string V1Mount(const std::string& point, const std::string& root = "/") const {
    return absl::StrCat("41 30 0:36 ", root, " ", point,
                        " rw,relatime shared:18 - cgroup cgroup rw,memory\n");
  }

  std::string root_;
};

TEST_F(CgroupTree, V2LimitLessUsagePlusInactiveFileAndTheTightestAncestor) {
  const std::string unified = root_ + "/unified";
  const std::string mounts = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" + V2Mount(unified);
  Put("unified/a/b/memory.max", "1000000\n");
  Put("unified/a/b/memory.current", "400000\n");
  Put("unified/a/b/memory.stat", "anon 350000\nfile 50000\ninactive_file 50000\n");
  Put("unified/a/memory.max", "max\n");
  Put("unified/a/memory.current", "900000\n");
  EXPECT_EQ(CgroupMemoryHeadroom("0::/a/b\n", mounts), 650000u);
  // An ancestor with less room bounds it.
  Put("unified/a/memory.max", "500000\n");
  Put("unified/a/memory.current", "450000\n");
  EXPECT_EQ(CgroupMemoryHeadroom("0::/a/b\n", mounts), 50000u);
  // Near or over the limit: what dropping the page cache would leave.
  Put("unified/a/memory.max", "max\n");
  Put("unified/a/b/memory.current", "1020000\n");
  EXPECT_EQ(CgroupMemoryHeadroom("0::/a/b\n", mounts), 30000u);
  Put("unified/a/b/memory.current", "1200000\n");
  EXPECT_EQ(CgroupMemoryHeadroom("0::/a/b\n", mounts), 0u);
  // memory.high, where lower, is the limit (past it the cgroup is throttled).
  Put("unified/a/b/memory.current", "400000\n");
  Put("unified/a/b/memory.high", "600000\n");
  EXPECT_EQ(CgroupMemoryHeadroom("0::/a/b\n", mounts), 250000u);
  Put("unified/a/b/memory.high", "max\n");
  EXPECT_EQ(CgroupMemoryHeadroom("0::/a/b\n", mounts), 650000u);
  // A cgroup outside the namespace's root is not looked for under the mount.
  EXPECT_EQ(CgroupMemoryHeadroom("0::/../a/b\n", mounts), std::nullopt);
  EXPECT_EQ(CgroupMemoryHeadroom("0::/a/../a/b\n", mounts), std::nullopt);
  // No limit anywhere on the way, or no such mount: none.
  Put("unified/a/b/memory.max", "max\n");
  EXPECT_EQ(CgroupMemoryHeadroom("0::/a/b\n", mounts), std::nullopt);
  EXPECT_EQ(CgroupMemoryHeadroom("0::/a/b\n", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"),
            std::nullopt);
  // A limit on the root of the mount counts as well.
  Put("unified/memory.max", "3000\n");
  Put("unified/memory.current", "1000\n");
  EXPECT_EQ(CgroupMemoryHeadroom("0::/a/b\n", mounts), 2000u);
  EXPECT_EQ(CgroupMemoryHeadroom("0::/\n", mounts), 2000u);
}

TEST_F(CgroupTree, V1MemoryControllerAndBothHierarchiesAtOnce) {
  const std::string memory = root_ + "/memory", unified = root_ + "/unified";
  const std::string mounts = V1Mount(memory) + V2Mount(unified);
  const std::string cgroup = "9:name=systemd:/\n4:memory:/process_api/x\n0::/\n";
  // The kernel's "unlimited" (PAGE_COUNTER_MAX pages): none.
  Put("memory/process_api/x/memory.limit_in_bytes", "9223372036854771712\n");
  Put("memory/process_api/x/memory.usage_in_bytes", "776245248\n");
  EXPECT_EQ(CgroupMemoryHeadroom(cgroup, mounts), std::nullopt);
  Put("memory/process_api/x/memory.limit_in_bytes", "2000000\n");
  Put("memory/process_api/x/memory.usage_in_bytes", "1500000\n");
  Put("memory/process_api/x/memory.stat",
      "cache 200000\ninactive_file 1\ntotal_inactive_file 100000\n");
  EXPECT_EQ(CgroupMemoryHeadroom(cgroup, mounts), 600000u);
  // The v2 tree's limit, where tighter, wins.
  Put("unified/memory.max", "300000\n");
  Put("unified/memory.current", "0\n");
  EXPECT_EQ(CgroupMemoryHeadroom(cgroup, mounts), 300000u);
  // A v1 hierarchy without the memory controller is not read.
  const std::string cpu_only = absl::StrReplaceAll(V1Mount(memory), {{"rw,memory", "rw,cpu"}});
  EXPECT_EQ(CgroupMemoryHeadroom("4:memory:/process_api/x\n", cpu_only), std::nullopt);
  // Unparsable files leave their cgroup out.
  Put("memory/process_api/x/memory.usage_in_bytes", "lots\n");
  EXPECT_EQ(CgroupMemoryHeadroom("4:memory:/process_api/x\n", V1Mount(memory)), std::nullopt);
}

TEST_F(CgroupTree, AMountOfPartOfTheHierarchyAndAnEscapedMountPoint) {
  // A container without a cgroup namespace: its own cgroup is mounted as the
  // root of the folder, and /proc/self/cgroup names it from the real root.
  const std::string point = root_ + "/my mem";
  Put("my mem/memory.limit_in_bytes", "5000\n");
  Put("my mem/memory.usage_in_bytes", "1000\n");
  const std::string escaped = absl::StrReplaceAll(point, {{" ", "\\040"}});
  const std::string mounts = V1Mount(escaped, "/docker/abc");
  EXPECT_EQ(CgroupMemoryHeadroom("4:memory:/docker/abc\n", mounts), 4000u);
  EXPECT_EQ(CgroupMemoryHeadroom("4:memory:/docker/abcd\n", mounts), std::nullopt);
  EXPECT_EQ(CgroupMemoryHeadroom("4:memory:/other\n", mounts), std::nullopt);
  // Lines that are not "id:controllers:/path" are skipped.
  EXPECT_EQ(CgroupMemoryHeadroom("garbage\n4:memory\n:memory:relative\n", mounts), std::nullopt);
}

// A memory cgroup under this process's own (v2: the unified tree; v1: the
// memory controller's), where it may make one (root, a writable hierarchy).
std::string MakeChildCgroup(bool* v1) {
  std::ifstream cg("/proc/self/cgroup");
  std::string line, v2_path, v1_path;
  while (std::getline(cg, line)) {
    if (line.rfind("0::", 0) == 0) v2_path = line.substr(3);
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a != std::string::npos && b != std::string::npos &&
        line.substr(a + 1, b - a - 1) == "memory") {
      v1_path = line.substr(b + 1);
    }
  }
  const std::string name = absl::StrCat("/strongroom-headroom-test-", getpid());
  for (const auto& [dir, is_v1] :
       {std::pair<std::string, bool>{"/sys/fs/cgroup/memory" + v1_path, true},
        std::pair<std::string, bool>{"/sys/fs/cgroup" + v2_path, false},
        std::pair<std::string, bool>{"/sys/fs/cgroup/unified" + v2_path, false}}) {
    if ((is_v1 && v1_path.empty()) || (!is_v1 && v2_path.empty())) continue;
    const std::string limit = dir + (is_v1 ? "/memory.limit_in_bytes" : "/memory.max");
    if (access(limit.c_str(), R_OK) != 0 && !is_v1) {
      // v2: the controller must be enabled for children.
      if (access((dir + "/cgroup.subtree_control").c_str(), W_OK) != 0) continue;
    }
    if (mkdir((dir + name).c_str(), 0755) != 0) continue;
    if (access((dir + name + (is_v1 ? "/memory.limit_in_bytes" : "/memory.max")).c_str(), W_OK) !=
        0) {
      rmdir((dir + name).c_str());
      continue;
    }
    *v1 = is_v1;
    return dir + name;
  }
  return "";
}

// Writes `text` to an existing file (a cgroup control file): false if it
// does not take it.
bool WriteControl(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  return out.good();
}

TEST(CgroupMemoryHeadroomTest, ARealLimitBoundsTheSink) {
  bool v1 = false;
  const std::string dir = MakeChildCgroup(&v1);
  if (dir.empty()) GTEST_SKIP() << "cannot make a memory cgroup here";
  // Removed however the test ends (empty again once the child has exited).
  struct Remove {
    std::string dir;
    ~Remove() { rmdir(dir.c_str()); }
  } remove{dir};
  constexpr uint64_t kLimit = uint64_t{64} << 20;
  if (!WriteControl(dir + (v1 ? "/memory.limit_in_bytes" : "/memory.max"),
                    std::to_string(kLimit))) {
    GTEST_SKIP() << "cannot set a limit on " << dir;
  }
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // In the child: join the cgroup, then check what the sink allows.
    if (!WriteControl(dir + "/cgroup.procs", std::to_string(getpid()))) _exit(7);
    const std::optional<uint64_t> room = CgroupMemoryHeadroom();
    if (!room) _exit(2);
    if (*room > kLimit) _exit(3);
    SecretBytesSink sink("--model ds/m", uint64_t{1} << 40);
    const absl::Status s = sink.Reserve(uint64_t{256} << 20);
    if (s.code() != absl::StatusCode::kResourceExhausted) _exit(4);
    if (s.message().find("under this process's cgroup memory limit") == absl::string_view::npos) {
      _exit(5);
    }
    SecretBytesSink small("--model ds/small", uint64_t{1} << 40);
    if (!small.Reserve(uint64_t{1} << 20).ok()) _exit(6);  // what fits is not refused
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "child died: " << status;
  if (WEXITSTATUS(status) == 7) GTEST_SKIP() << "cannot move a process into " << dir;
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "2: no headroom found, 3: headroom over the limit, 4/5: 256 MiB not refused as over "
         "the cgroup's limit, 6: 1 MiB refused";
}

}  // namespace
}  // namespace strongroom::worker
