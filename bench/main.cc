// strongroom-bench: throughput benchmarks of Strongroom's layers.
//
//   strongroom-bench SUBCOMMAND [flags]     (strongroom-bench SUBCOMMAND --help)
//
// JSON results go to stdout, progress and errors to stderr.
#include <cstdio>
#include <string>
#include <vector>

#include "base/log.h"
#include "bench/harness.h"
#include "bench/subcommands.h"
#include "worker/onnx/gemm.h"

namespace {

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

constexpr Subcommand kSubcommands[] = {
    {"hsm", "PKCS#11 layer vs direct PKCS#11 calls (wrap, unwrap, AES-GCM, ECDSA)",
     strongroom::bench::RunHsmBench},
    {"kms", "KeyManagement RPCs on an in-process server over mutual TLS (ops/s, p50, p99)",
     strongroom::bench::RunKmsBench},
    {"store", "sealed store put/get MB/s via gRPC vs raw RocksDB and AES-256-GCM, 1 MiB..1 GiB",
     strongroom::bench::RunStoreBench},
    {"attest", "evidence verifications/s per type vs the bare signature checks (snp, tdx, tpm, ...)",
     strongroom::bench::RunAttestBench},
    {"release", "key broker full flows/s (challenge, attest, release) and token-reuse releases/s",
     strongroom::bench::RunReleaseBench},
    {"hpke", "HPKE seal/open/keygen per second (P-256, X25519) vs bare OpenSSL keygen and ECDH",
     strongroom::bench::RunHpkeBench},
    {"infer", "ONNX inference latency/throughput vs onnxruntime, and attestation + decryption share",
     strongroom::bench::RunInferBench},
};

void PrintUsage(FILE* out) {
  std::fprintf(out, "usage: strongroom-bench SUBCOMMAND [flags]\n\nsubcommands:\n");
  for (const Subcommand& s : kSubcommands) std::fprintf(out, "  %-8s %s\n", s.name, s.summary);
  std::fprintf(out, "\n'strongroom-bench SUBCOMMAND --help' lists its flags.\n");
}

}  // namespace

int main(int argc, char** argv) {
  // OpenBLAS may have picked its slow generic kernels on this CPU; if so,
  // start over with the right ones (worker/onnx/gemm.h), before any thread.
  strongroom::worker::onnx::ReexecWithBlasCoreType(argv);
  if (argc < 2) {
    PrintUsage(stderr);
    return 2;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    PrintUsage(stdout);
    return 0;
  }
  // Per-op logging would be measured along with the ops.
  strongroom::SetMinLogLevel(strongroom::LogLevel::kWarning);
  strongroom::bench::InstallInterruptHandler();
  for (const Subcommand& s : kSubcommands) {
    if (name == s.name) return s.run(std::vector<std::string>(argv + 2, argv + argc));
  }
  std::fprintf(stderr, "strongroom-bench: unknown subcommand '%s'\n\n", name.c_str());
  PrintUsage(stderr);
  return 2;
}
