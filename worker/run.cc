#include "worker/run.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cstdio>
#include <memory>
#include <utility>

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
// and, where the memlock limit allows, none of its memory (runtime tensors
// included, not only SecretBytes) can be swapped out: mlockall() of current
// and future pages. The limit is raised first (to unlimited with
// CAP_SYS_RESOURCE, else to the hard limit); with a finite limit the process stays unlocked (a large model would otherwise
// fail its allocations part-way) and only SecretBytes are locked.
void HardenProcess() {
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
  const bool all_locked =
      memlock.rlim_cur == RLIM_INFINITY && mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
  LogInfo("worker.start",
          {{"core_dumps_off", core_off},
           {"undumpable", undumpable},
           {"memory_locked", all_locked},
           {"memlock_limit",
            memlock.rlim_cur == RLIM_INFINITY ? -1LL : static_cast<long long>(memlock.rlim_cur)}});
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
  HardenProcess();

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
