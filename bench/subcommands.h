// The subcommands of strongroom-bench. Each lives in its own .cc file, takes
// the arguments after its name, prints its JSON report to stdout and progress
// to stderr, and returns the process exit status: 0 on success, 1 when the
// benchmark failed (the reason is on stderr), 2 for a usage error.
//
// To add one: declare its entry point here, implement it in bench/<name>_bench.cc,
// list it in kSubcommands (main.cc) and in bench/CMakeLists.txt.
#ifndef STRONGROOM_BENCH_SUBCOMMANDS_H_
#define STRONGROOM_BENCH_SUBCOMMANDS_H_

#include <string>
#include <vector>

namespace strongroom::bench {

// strongroom-bench hsm: the PKCS#11 layer (kms/pkcs11 Hsm) against bare
// PKCS#11 calls on the same module and token. See hsm_bench.cc.
int RunHsmBench(const std::vector<std::string>& args);

// strongroom-bench kms: KeyManagement RPC throughput and latency per op and
// client concurrency, against a whole server in this process. See
// kms_bench.cc.
int RunKmsBench(const std::vector<std::string>& args);

// strongroom-bench store: sealed-store put/get MB/s through gRPC next to raw
// RocksDB and in-process AES-256-GCM on the same bytes. See store_bench.cc.
int RunStoreBench(const std::vector<std::string>& args);

// strongroom-bench attest: evidence verifications per second per evidence
// type, against the bare signature checks that evidence needs, measured in
// the same run. See attest_bench.cc.
int RunAttestBench(const std::vector<std::string>& args);

// strongroom-bench release: key broker full flows (challenge, dev evidence,
// attest, release, open) and token-reuse releases per second with p50/p99,
// per concurrency, against a whole server in this process. See
// release_bench.cc.
int RunReleaseBench(const std::vector<std::string>& args);

// strongroom-bench hpke: kms/hpke Seal, Open and GenerateKeyPair per second
// for P-256 and X25519, next to bare OpenSSL keygen and ECDH in the same run.
// See hpke_bench.cc.
int RunHpkeBench(const std::vector<std::string>& args);

// strongroom-bench infer: ONNX inference latency and throughput of the
// worker's runtime against onnxruntime (onnxruntime-node, CPU) on the same
// models in the same run, and the share of a job spent on attestation, key
// release and model decryption. See infer_bench.cc.
int RunInferBench(const std::vector<std::string>& args);

}  // namespace strongroom::bench

#endif  // STRONGROOM_BENCH_SUBCOMMANDS_H_
