#include "base/process.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace strongroom {
namespace {

TEST(ProcessTest, DisableCoreDumpsSetsBothLimits) {
  // Run in a child so the test process itself keeps its settings.
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (CoreDumpsDisabled()) _exit(3);  // must not already be the case
    if (!DisableCoreDumps().ok()) _exit(1);
    struct rlimit lim;
    getrlimit(RLIMIT_CORE, &lim);
    if (lim.rlim_cur != 0 || lim.rlim_max != 0) _exit(2);
    if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) _exit(4);
    _exit(CoreDumpsDisabled() ? 0 : 5);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace strongroom
