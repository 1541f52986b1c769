// strongroom-worker: the confidential inference worker.
//
//   strongroom-worker SUBCOMMAND [flags]    ('strongroom-worker help' lists them)
//
// Exit status: 0 success; 1 the work was refused or failed (attestation
// refused, a model failed to run, outputs differ); 2 usage errors and
// unreadable input. Errors go to stderr.
#include <cstdio>

#include "base/process.h"
#include "base/subcommands.h"
#include "worker/compare_command.h"
#include "worker/onnx/gemm.h"
#include "worker/run.h"
#include "worker/run_local.h"

#ifdef STRONGROOM_WORKER_CUDA
#include "worker/onnx/cuda/cuda_backend.h"
#endif

namespace {

// One entry per subcommand.
constexpr strongroom::Subcommand kSubcommands[] = {
    {"run", "attest, fetch a sealed model and inputs, infer, upload sealed outputs",
     strongroom::worker::RunCommand},
    {"run-local", "run an ONNX model on TensorProto files and check its outputs",
     strongroom::worker::RunLocalCommand},
    {"compare", "compare two TensorProto files with the ONNX runner's tolerance",
     strongroom::worker::CompareCommand},
};

constexpr strongroom::SubcommandTool kTool = {
    "strongroom-worker", kSubcommands,
    "'strongroom-worker SUBCOMMAND --help' shows its flags.\n"
    "exit status: 0 ok, 1 failed, 2 usage error or unreadable input",
    strongroom::worker::kExitUsage};

}  // namespace

int main(int argc, char** argv) {
  // OpenBLAS may have picked its slow generic kernels on this CPU; if so,
  // start over with the right ones (see gemm.h).
  strongroom::worker::onnx::ReexecWithBlasCoreType(argv);
  // Every subcommand holds plaintext (models, inputs, outputs, keys): no
  // core dumps, not dumpable (`run` also locks its memory).
  if (absl::Status s = strongroom::DisableCoreDumps(); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", kTool.program, std::string(s.message()).c_str());
    return 1;  // the environment's failure, not the caller's usage
  }
#ifdef STRONGROOM_WORKER_CUDA
  strongroom::worker::onnx::RegisterCudaBackend();
#endif
  if (strongroom::WantsSubcommandHelp(argc, argv)) {
    strongroom::PrintSubcommandUsage(kTool, stdout);
    return strongroom::worker::kExitOk;
  }
  return strongroom::RunSubcommand(kTool, argc, argv);
}
