#include "worker/run.h"

#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "client/connection.h"
#include "client/workload.h"
#include "worker/attester_flags.h"
#include "worker/inference_job.h"
#include "worker/run_flags.h"
#include "worker/run_local.h"
#include "worker/workload_object_store.h"

namespace strongroom::worker {
namespace {

int Usage(absl::string_view message) {
  std::fprintf(stderr, "strongroom-worker run: %s\n%s", std::string(message).c_str(), kRunUsage);
  return kExitUsage;
}

int Failed(absl::string_view step, const absl::Status& s) {
  LogError("worker.failed", {{"step", std::string(step)},
                             {"code", absl::StatusCodeToString(s.code())},
                             {"reason", std::string(s.message())}});
  std::fprintf(stderr, "strongroom-worker run: %s: %s\n", std::string(step).c_str(),
               std::string(s.message()).c_str());
  return kExitFailed;
}

// Plaintext weights and inputs are held in this process: no core file may
// carry them away, other processes of the same user may not attach to it,
// and none of its memory (runtime tensors included, not only SecretBytes)
// can be swapped out: mlockall() of current and future pages. The limit is
// raised first (to unlimited with CAP_SYS_RESOURCE, else to the hard limit);
// with a finite limit nothing is locked process-wide (a large model would
// otherwise fail its allocations part-way) and false is returned: the caller
// refuses to run unless told to allow it. A process with CAP_IPC_LOCK locks
// regardless of the limit.
// Whether the effective capability set holds CAP_IPC_LOCK (root has it):
// then mlockall ignores RLIMIT_MEMLOCK.
bool HasIpcLock() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    uint64_t caps = 0;
    if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line.substr(7)), &caps)) return false;
    return (caps >> CAP_IPC_LOCK) & 1;
  }
  return false;
}

bool HardenProcess(struct rlimit* memlock_out) {
  struct rlimit none = {0, 0};
  const bool core_off = setrlimit(RLIMIT_CORE, &none) == 0;
  const bool undumpable = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0;
  struct rlimit memlock = {};
  getrlimit(RLIMIT_MEMLOCK, &memlock);
  if (memlock.rlim_cur != RLIM_INFINITY) {
    // Unlimited where the process may raise its hard limit
    // (CAP_SYS_RESOURCE), else as far as the hard limit goes.
    const struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
    if (setrlimit(RLIMIT_MEMLOCK, &unlimited) != 0 && memlock.rlim_cur != memlock.rlim_max) {
      memlock.rlim_cur = memlock.rlim_max;
      setrlimit(RLIMIT_MEMLOCK, &memlock);
    }
    getrlimit(RLIMIT_MEMLOCK, &memlock);
  }
  const bool all_locked = (memlock.rlim_cur == RLIM_INFINITY || HasIpcLock()) &&
                          mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
  LogInfo("worker.start",
          {{"core_dumps_off", core_off},
           {"undumpable", undumpable},
           {"memory_locked", all_locked},
           {"memlock_limit",
            memlock.rlim_cur == RLIM_INFINITY ? -1LL : static_cast<long long>(memlock.rlim_cur)}});
  *memlock_out = memlock;
  return all_locked;
}

}  // namespace

int RunCommand(const std::vector<std::string>& args) {
  auto flags = ParseRunFlags(args);
  if (!flags.ok()) return Usage(flags.status().message());
  if (flags->help) {
    std::printf("%s", kRunUsage);
    return kExitOk;
  }
  SetMinLogLevel(flags->log_level);
  struct rlimit memlock = {};
  if (!HardenProcess(&memlock) && !flags->allow_unlocked_memory) {
    return Failed(
        "start",
        absl::FailedPreconditionError(absl::StrCat(
            "cannot lock the process's memory (RLIMIT_MEMLOCK ",
            memlock.rlim_cur == RLIM_INFINITY ? std::string("unlimited")
                                              : absl::StrCat(memlock.rlim_cur, " bytes"),
            "): decrypted models and data could reach swap; run with CAP_IPC_LOCK or an "
            "unlimited memlock limit (ulimit -l unlimited), or pass --allow-unlocked-memory "
            "for development")));
  }

  auto attester = MakeAttester(flags->attester);
  if (!attester.ok()) {
    return Failed(absl::StrCat("attester ", AttesterKindName(flags->attester.kind)),
                  attester.status());
  }
  auto conn = client::Connection::Open(flags->connection);
  if (!conn.ok()) return Failed(absl::StrCat("connect ", flags->connection.address), conn.status());
  client::WorkloadOptions wl_options;
  wl_options.kem = flags->kem;
  auto wl = client::WorkloadClient::Create(conn->get(), *std::move(attester), wl_options);
  if (!wl.ok()) return Failed("workload client", wl.status());
  LogInfo("worker.job", {{"broker", flags->connection.address},
                         {"attester", std::string(AttesterKindName(flags->attester.kind))},
                         {"model", FormatObjectRef(flags->model)},
                         {"inputs", static_cast<unsigned long>(flags->inputs.size())},
                         {"output", FormatObjectRef(flags->output)}});

  WorkloadObjectStore store(wl->get());
  JobSpec spec;
  spec.model = flags->model;
  spec.inputs = flags->inputs;
  spec.output = flags->output;
  spec.session.device = flags->device;
  spec.session.threads = flags->threads;
  spec.batch = flags->batch;
  JobError error;
  auto result = RunInferenceJob(spec, store, &error);
  if (!result.ok()) {
    // The job has logged worker.failed already.
    std::fprintf(stderr, "strongroom-worker run: %s\n", error.Message().c_str());
    return error.usage ? kExitUsage : kExitFailed;
  }
  for (const JobOutput& out : result->outputs) {
    std::printf("stored %s (%llu bytes)\n", FormatObjectRef(out.object).c_str(),
                static_cast<unsigned long long>(out.bytes));
  }
  return kExitOk;
}

}  // namespace strongroom::worker
