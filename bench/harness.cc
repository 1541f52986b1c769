#include "bench/harness.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace strongroom::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "needed in a signal handler");

extern "C" void OnInterrupt(int) { g_interrupted.store(true, std::memory_order_relaxed); }

struct WorkerResult {
  uint64_t ops = 0;
  Clock::time_point end;
  absl::Status status;
};

}  // namespace

absl::StatusOr<TimedResult> RunTimed(int threads, double seconds, const OpFactory& factory) {
  std::vector<Op> ops;
  ops.reserve(threads);
  for (int i = 0; i < threads; ++i) {
    absl::StatusOr<Op> op = factory(i);
    if (!op.ok()) {
      return absl::Status(op.status().code(),
                          absl::StrCat("setting up thread ", i, ": ", op.status().message()));
    }
    ops.push_back(*std::move(op));
  }

  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::vector<WorkerResult> results(threads);
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] {
      WorkerResult& r = results[i];
      const Op& op = ops[i];
      ready.fetch_add(1, std::memory_order_release);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      while (!stop.load(std::memory_order_relaxed)) {
        r.status = op();
        if (!r.status.ok()) {
          stop.store(true, std::memory_order_relaxed);
          break;
        }
        ++r.ops;
      }
      r.end = Clock::now();
    });
  }
  while (ready.load(std::memory_order_acquire) < threads) std::this_thread::yield();
  const Clock::time_point start = Clock::now();
  go.store(true, std::memory_order_release);

  // Sleep in short slices so that an interrupt or a failing op ends the run
  // promptly; the workers only ever look at `stop`.
  const Clock::time_point deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (!stop.load(std::memory_order_relaxed) && !Interrupted()) {
    const Clock::time_point now = Clock::now();
    if (now >= deadline) break;
    std::this_thread::sleep_for(
        std::min<Clock::duration>(deadline - now, std::chrono::milliseconds(20)));
  }
  stop.store(true, std::memory_order_relaxed);
  for (std::thread& t : workers) t.join();
  ops.clear();  // per-thread state (sessions) goes before we return

  TimedResult total;
  Clock::time_point end = start;
  for (int i = 0; i < threads; ++i) {
    if (!results[i].status.ok()) {
      return absl::Status(results[i].status.code(),
                          absl::StrCat("thread ", i, " after ", results[i].ops,
                                       " ops: ", results[i].status.message()));
    }
    total.ops += results[i].ops;
    end = std::max(end, results[i].end);
  }
  if (Interrupted()) return absl::CancelledError("interrupted by a signal");
  total.seconds = std::chrono::duration<double>(end - start).count();
  return total;
}

absl::StatusOr<AbResult> RunInterleaved(int threads, double seconds, int slices, const OpFactory& a,
                                        const OpFactory& b) {
  AbResult total;
  const double slice = seconds / slices;
  for (int i = 0; i < slices; ++i) {
    for (int j = 0; j < 2; ++j) {
      const bool run_a = (j == 0) == (i % 2 == 0);
      absl::StatusOr<TimedResult> r = RunTimed(threads, slice, run_a ? a : b);
      if (!r.ok()) {
        return absl::Status(r.status().code(),
                            absl::StrCat(run_a ? "A: " : "B: ", r.status().message()));
      }
      TimedResult& sum = run_a ? total.a : total.b;
      sum.ops += r->ops;
      sum.seconds += r->seconds;
    }
  }
  return total;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(std::ceil(q * values.size()));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

nlohmann::json LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double one = 0, five = 0, fifteen = 0;
  if (!(in >> one >> five >> fifteen)) return nullptr;
  return nlohmann::json::array({one, five, fifteen});
}

double Round(double value, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(value * scale) / scale;
}

void InstallInterruptHandler() {
  struct sigaction sa = {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool Interrupted() { return g_interrupted.load(std::memory_order_relaxed); }

nlohmann::json MachineInfo() {
  nlohmann::json machine;
  machine["cpus"] = static_cast<int64_t>(sysconf(_SC_NPROCESSORS_ONLN));
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (absl::StartsWith(line, "model name")) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        machine["cpu_model"] =
            std::string(absl::StripAsciiWhitespace(absl::string_view(line).substr(colon + 1)));
      }
      break;
    }
  }
  return machine;
}

void FlagParser::AddString(absl::string_view name, std::string* out, absl::string_view help) {
  order_.emplace_back(name);
  flags_[std::string(name)] = {std::string(help), [out](absl::string_view v) {
                                 *out = std::string(v);
                                 return absl::OkStatus();
                               }};
}

void FlagParser::AddDouble(absl::string_view name, double* out, absl::string_view help) {
  order_.emplace_back(name);
  std::string n(name);
  flags_[n] = {std::string(help), [out, n](absl::string_view v) {
                 double d = 0;
                 if (!absl::SimpleAtod(v, &d) || !(d > 0) || !std::isfinite(d)) {
                   return absl::InvalidArgumentError(
                       absl::StrCat("--", n, ": '", v, "' is not a positive number"));
                 }
                 *out = d;
                 return absl::OkStatus();
               }};
}

void FlagParser::AddInt(absl::string_view name, int* out, absl::string_view help) {
  order_.emplace_back(name);
  std::string n(name);
  flags_[n] = {std::string(help), [out, n](absl::string_view v) {
                 int i = 0;
                 if (!absl::SimpleAtoi(v, &i) || i < 1) {
                   return absl::InvalidArgumentError(
                       absl::StrCat("--", n, ": '", v, "' is not a positive integer"));
                 }
                 *out = i;
                 return absl::OkStatus();
               }};
}

void FlagParser::AddIntList(absl::string_view name, std::vector<int>* out, absl::string_view help) {
  order_.emplace_back(name);
  std::string n(name);
  flags_[n] = {std::string(help), [out, n](absl::string_view v) {
                 std::vector<int> list;
                 for (absl::string_view part : absl::StrSplit(v, ',')) {
                   int i = 0;
                   if (!absl::SimpleAtoi(part, &i) || i < 1 || i > 1024) {
                     return absl::InvalidArgumentError(absl::StrCat(
                         "--", n, ": '", part, "' in '", v, "' is not an integer in [1, 1024]"));
                   }
                   list.push_back(i);
                 }
                 *out = std::move(list);
                 return absl::OkStatus();
               }};
}

absl::Status FlagParser::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") return absl::NotFoundError("help");
    if (!absl::ConsumePrefix(&arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
    }
    std::string name;
    std::string value;
    if (const size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = std::string(arg.substr(0, eq));
      value = std::string(arg.substr(eq + 1));
    } else {
      name = std::string(arg);
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
      value = args[++i];
    }
    auto it = flags_.find(name);
    if (it == flags_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (absl::Status s = it->second.set(value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string FlagParser::Usage() const {
  std::string out;
  for (const std::string& name : order_) {
    absl::StrAppend(&out, "  --", name, "  ", flags_.at(name).help, "\n");
  }
  return out;
}

int FlagParseExit(absl::string_view name, const absl::Status& parsed, const FlagParser& flags) {
  const bool help = absl::IsNotFound(parsed);
  const std::string n(name);
  if (!help) {
    std::fprintf(stderr, "strongroom-bench %s: %s\n", n.c_str(),
                 std::string(parsed.message()).c_str());
  }
  std::fprintf(help ? stdout : stderr, "usage: strongroom-bench %s [flags]\n%s", n.c_str(),
               flags.Usage().c_str());
  return help ? 0 : 2;
}

int FinishBench(absl::string_view name, const absl::Status& parsed, const FlagParser& flags,
                const std::function<absl::StatusOr<nlohmann::json>()>& run) {
  if (!parsed.ok()) return FlagParseExit(name, parsed, flags);
  absl::StatusOr<nlohmann::json> report = run();
  if (!report.ok()) {
    std::fprintf(stderr, "strongroom-bench %s: error: %s\n", std::string(name).c_str(),
                 std::string(report.status().ToString()).c_str());
    return 1;
  }
  std::printf("%s\n", report->dump().c_str());
  return 0;
}

}  // namespace strongroom::bench
