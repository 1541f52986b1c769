// Shared pieces of strongroom-bench's subcommands: a timed multi-threaded
// loop, the median of rounds, a small --flag parser and machine facts for the
// JSON report.
//
// Measurement model: RunTimed() builds one Op per thread on the calling
// thread (an Op owns its per-thread state, e.g. a PKCS#11 session), releases
// all threads at once, lets them call their Op back to back for the given
// wall time and reports completed ops divided by the time from release until
// the last thread finished its last op. Nothing is logged per op.
//
// Failure: the first Op that returns non-OK stops every thread; RunTimed
// returns that status, prefixed with the thread index. SIGINT/SIGTERM (once
// InstallInterruptHandler() ran) stop the run with Cancelled, so callers can
// unwind and clean up (temporary tokens) instead of dying.
//
// Thread-safety: RunTimed may be called from one thread at a time; each Op is
// only ever called from the one thread it was built for.
#ifndef STRONGROOM_BENCH_HARNESS_H_
#define STRONGROOM_BENCH_HARNESS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace strongroom::bench {

// One operation; called repeatedly by one thread.
using Op = std::function<absl::Status()>;
// Builds the Op for thread `thread_index` (0-based). Runs on the caller's
// thread before the timed part starts, so its cost is not measured.
using OpFactory = std::function<absl::StatusOr<Op>(int thread_index)>;

struct TimedResult {
  uint64_t ops = 0;
  double seconds = 0;  // release of the threads to the end of the last op
  double OpsPerSecond() const { return seconds > 0 ? ops / seconds : 0; }
};

// REQUIRES: threads >= 1, seconds > 0.
absl::StatusOr<TimedResult> RunTimed(int threads, double seconds, const OpFactory& factory);

// A/B comparison on a noisy machine: splits `seconds` into `slices` equal
// slices and runs `a` and `b` alternately, one slice each (the order flips
// every slice), so that slow drifts in background load hit both alike.
// Returns the ops and time summed per side: {a, b}. Each slice builds its Ops
// anew (per-thread state such as sessions is recreated, untimed).
// REQUIRES: slices >= 1.
struct AbResult {
  TimedResult a;
  TimedResult b;
};
absl::StatusOr<AbResult> RunInterleaved(int threads, double seconds, int slices, const OpFactory& a,
                                        const OpFactory& b);

// Median of `values` (mean of the middle two for an even count); 0 when empty.
double Median(std::vector<double> values);
// The q-quantile of `values` by nearest rank (0 < q <= 1); 0 when empty.
double Quantile(std::vector<double> values, double q);

// The 1, 5 and 15 minute load averages as a JSON array; null when unknown.
nlohmann::json LoadAverage();

// `value` rounded to `digits` decimals, for readable JSON.
double Round(double value, int digits);

// Makes SIGINT and SIGTERM stop a running RunTimed (which then returns
// Cancelled) instead of killing the process. Call once, from main().
void InstallInterruptHandler();
bool Interrupted();

// {"cpus": online CPUs, "cpu_model": from /proc/cpuinfo when readable}.
nlohmann::json MachineInfo();

// A tiny parser for "--name value" and "--name=value" flags. Every flag takes
// a value; unknown flags and stray arguments are InvalidArgument.
class FlagParser {
 public:
  void AddString(absl::string_view name, std::string* out, absl::string_view help);
  void AddDouble(absl::string_view name, double* out, absl::string_view help);
  void AddInt(absl::string_view name, int* out, absl::string_view help);
  // Comma-separated positive integers, e.g. "1,2,4".
  void AddIntList(absl::string_view name, std::vector<int>* out, absl::string_view help);

  // InvalidArgument naming the flag and the value at fault. `--help` or `-h`
  // yields NotFound("help") so the caller can print Usage() and exit 0.
  absl::Status Parse(const std::vector<std::string>& args);
  // One line per flag: "  --name  help".
  std::string Usage() const;

 private:
  struct Flag {
    std::string help;
    std::function<absl::Status(absl::string_view value)> set;
  };
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_;
};

// How a subcommand ends. After a failed flag parse: help (NotFound from
// Parse) printed to stdout, exit status 0; else the error and the usage to
// stderr, 2. FinishBench: that for a failed `parsed`, else `run`'s JSON
// report to stdout (0) or its error to stderr (1). `name` is the
// subcommand ("infer").
int FlagParseExit(absl::string_view name, const absl::Status& parsed, const FlagParser& flags);
int FinishBench(absl::string_view name, const absl::Status& parsed, const FlagParser& flags,
                const std::function<absl::StatusOr<nlohmann::json>()>& run);

}  // namespace strongroom::bench

#endif  // STRONGROOM_BENCH_HARNESS_H_
