// strongroom-bench: throughput benchmarks of Strongroom's layers.
//
//   strongroom-bench SUBCOMMAND [flags]     (strongroom-bench SUBCOMMAND --help)
//
// JSON results go to stdout, progress and errors to stderr.
#include <cstdio>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/subcommands.h"
#include "bench/harness.h"
#include "bench/subcommands.h"
#include "worker/onnx/gemm.h"

namespace {

constexpr strongroom::Subcommand kSubcommands[] = {
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

constexpr strongroom::SubcommandTool kTool = {
    "strongroom-bench", kSubcommands, "'strongroom-bench SUBCOMMAND --help' lists its flags.",
    /*usage_exit=*/2};

}  // namespace

int main(int argc, char** argv) {
  // OpenBLAS may have picked its slow generic kernels on this CPU; if so,
  // start over with the right ones (worker/onnx/gemm.h), before any thread.
  strongroom::worker::onnx::ReexecWithBlasCoreType(argv);
  if (strongroom::WantsSubcommandHelp(argc, argv)) {
    strongroom::PrintSubcommandUsage(kTool, stdout);
    return 0;
  }
  // Per-op logging would be measured along with the ops.
  strongroom::SetMinLogLevel(strongroom::LogLevel::kWarning);
  strongroom::bench::InstallInterruptHandler();
  return strongroom::RunSubcommand(kTool, argc, argv);
}
