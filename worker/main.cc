// strongroom-worker: the confidential inference worker.
//
//   strongroom-worker SUBCOMMAND [flags]    ('strongroom-worker help' lists them)
//
// Exit status: 0 success; 1 the work was refused or failed (attestation
// refused, a model failed to run, outputs differ); 2 usage errors and
// unreadable input. Errors go to stderr.
#include <cstdio>
#include <string>
#include <vector>

#include "worker/onnx/gemm.h"
#include "worker/compare_command.h"
#include "worker/run.h"
#include "worker/run_local.h"

#ifdef STRONGROOM_WORKER_CUDA
#include "worker/onnx/cuda/cuda_backend.h"
#endif

namespace {

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

// One entry per subcommand.
constexpr Subcommand kSubcommands[] = {
    {"run", "attest, fetch a sealed model and inputs, infer, upload sealed outputs",
     strongroom::worker::RunCommand},
    {"run-local", "run an ONNX model on TensorProto files and check its outputs",
     strongroom::worker::RunLocalCommand},
    {"compare", "compare two TensorProto files with the ONNX runner's tolerance",
     strongroom::worker::CompareCommand},
};

void PrintUsage(std::FILE* out) {
  std::fprintf(out, "usage: strongroom-worker SUBCOMMAND [flags]\n\nsubcommands:\n");
  for (const Subcommand& s : kSubcommands) std::fprintf(out, "  %-10s %s\n", s.name, s.summary);
  std::fprintf(out,
               "\n'strongroom-worker SUBCOMMAND --help' shows its flags.\n"
               "exit status: 0 ok, 1 failed, 2 usage error or unreadable input\n");
}

}  // namespace

int main(int argc, char** argv) {
  // OpenBLAS may have picked its slow generic kernels on this CPU; if so,
  // start over with the right ones (see gemm.h).
  strongroom::worker::onnx::ReexecWithBlasCoreType(argv);
#ifdef STRONGROOM_WORKER_CUDA
  strongroom::worker::onnx::RegisterCudaBackend();
#endif
  if (argc < 2) {
    PrintUsage(stderr);
    return strongroom::worker::kExitUsage;
  }
  const std::string name = argv[1];
  if (name == "help" || name == "--help" || name == "-h") {
    PrintUsage(stdout);
    return strongroom::worker::kExitOk;
  }
  for (const Subcommand& s : kSubcommands) {
    if (name == s.name) return s.run(std::vector<std::string>(argv + 2, argv + argc));
  }
  std::fprintf(stderr, "strongroom-worker: unknown subcommand '%s'\n\n", name.c_str());
  PrintUsage(stderr);
  return strongroom::worker::kExitUsage;
}
