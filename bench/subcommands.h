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

}  // namespace strongroom::bench

#endif  // STRONGROOM_BENCH_SUBCOMMANDS_H_
