// `strongroom-worker run`: the attested inference job (docs/worker.md).
//
// Parses the flags (run_flags.h), hardens the process (no core dumps, not
// ptrace-attachable by other processes of the same user), builds the
// attester, connects to the broker with mutual TLS and runs
// RunInferenceJob (inference_job.h) against the sealed store through
// client::WorkloadClient. On success it prints one line per stored output
// ("stored DATASET/NAME@V ...") on stdout; structured step logs go to
// stderr.
//
// Exit status: 0 every output stored; 1 refused or failed, with a message on
// stderr naming the step ("strongroom-worker run: attest datasets/models:
// refused: policy_denied (audit 12)"); 2 usage errors (flags, and inputs or
// --batch that do not fit the model).
#ifndef STRONGROOM_WORKER_RUN_H_
#define STRONGROOM_WORKER_RUN_H_

#include <string>
#include <vector>

namespace strongroom::worker {

// `args` are the words after "run".
int RunCommand(const std::vector<std::string>& args);

}  // namespace strongroom::worker

#endif  // STRONGROOM_WORKER_RUN_H_
