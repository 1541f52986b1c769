// strongroom-bench infer: one (model, threads) cell in both runtimes
// (infer_cells.h).
#include "bench/infer_cells.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "bench/harness.h"
#include "worker/onnx/compare.h"

namespace strongroom::bench {
namespace {

using worker::onnx::Tensor;
using Clock = std::chrono::steady_clock;

constexpr double kCrossRtol = 1e-3, kCrossAtol = 1e-5;

double Ms(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

absl::Status CheckOutput(const Tensor& actual, const Tensor& expected, double rtol, double atol,
                         const std::string& what, nlohmann::json* into) {
  const worker::onnx::Comparison c = worker::onnx::CompareTensors(actual, expected, rtol, atol);
  (*into)[what] = {{"match", c.match}, {"max_abs_diff", c.max_abs_diff}};
  if (!c.match) return absl::DataLossError(absl::StrCat(what, ": ", c.detail));
  return absl::OkStatus();
}

// Ours: `runs` profiled runs; mean time per op type, largest first.
absl::StatusOr<nlohmann::json> ProfileOurs(Cell& c, int runs) {
  std::map<std::string, double> by_op;
  for (int i = 0; i < runs; ++i) {
    worker::onnx::RunProfile profile;
    RETURN_IF_ERROR(c.session->Run({c.input}, &profile).status());
    for (const auto& [op, time] : profile.ByOpType()) {
      by_op[op] += absl::ToDoubleMilliseconds(time) / runs;
    }
  }
  std::vector<std::pair<double, std::string>> sorted;
  for (const auto& [op, ms] : by_op) sorted.emplace_back(ms, op);
  std::sort(sorted.rbegin(), sorted.rend());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [ms, op] : sorted) out.push_back({{"op", op}, {"ms", Round(ms, 3)}});
  return out;
}

}  // namespace

void Progress(const std::string& line) { std::fprintf(stderr, "[infer] %s\n", line.c_str()); }

absl::Status RunOurs(Cell& c, int n, std::vector<double>* run_ms, double* block_ms) {
  const std::vector<Tensor> inputs = {c.input};
  run_ms->clear();
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < n; ++i) {
    const Clock::time_point t0 = Clock::now();
    absl::StatusOr<std::vector<Tensor>> out = c.session->Run(inputs);
    const Clock::time_point t1 = Clock::now();
    if (!out.ok()) return out.status();
    run_ms->push_back(Ms(t0, t1));
  }
  *block_ms = Ms(start, Clock::now());
  return absl::OkStatus();
}

absl::Status RunOrt(OrtProcess& ort, Cell& c, int n, std::vector<double>* run_ms,
                    double* block_ms) {
  ASSIGN_OR_RETURN(OrtRunBlock block, ort.Run(c.ort_id, n));
  run_ms->clear();
  for (double us : block.run_us) run_ms->push_back(us / 1e3);
  *block_ms = block.block_us / 1e3;
  return absl::OkStatus();
}

absl::Status PrepareCell(Cell& c, OrtProcess* ort, double seconds, bool profile) {
  const InferModel& m = *c.model;
  const std::string label = absl::StrCat(m.name, " threads ", c.threads);
  worker::onnx::SessionOptions so;
  so.threads = c.threads;
  const Clock::time_point t0 = Clock::now();
  ASSIGN_OR_RETURN(c.session, worker::onnx::Session::Create(*m.model, so));
  c.session_ms = Ms(t0, Clock::now());
  ASSIGN_OR_RETURN(std::vector<Tensor> ours, c.session->Run({c.input}));
  if (c.input.shape() == m.input.shape()) {
    RETURN_IF_ERROR(CheckOutput(ours[0], m.reference, worker::onnx::kDefaultRtol,
                                worker::onnx::kDefaultAtol, "strongroom_vs_reference", &c.checks));
  }
  std::vector<double> warm_ours, warm_ort;
  double block = 0;
  const Clock::time_point w0 = Clock::now();
  while (warm_ours.size() < size_t{kMinRuns} || Ms(w0, Clock::now()) < 300) {
    std::vector<double> one;
    RETURN_IF_ERROR(RunOurs(c, 1, &one, &block));
    warm_ours.push_back(one[0]);
  }
  double slowest = Median(warm_ours);
  if (profile) {
    ASSIGN_OR_RETURN(c.profile,
                     ProfileOurs(c, std::max(kMinRuns, static_cast<int>(300 / slowest))));
    Progress(absl::StrCat(label, ": profile (mean ms per op type) ", c.profile.dump()));
  }
  if (ort != nullptr) {
    c.ort_id = absl::StrCat(m.name, "@", c.threads);
    ASSIGN_OR_RETURN(c.ort_session_ms,
                     ort->Load(c.ort_id, m.path, c.threads, m.input_name, c.input));
    ASSIGN_OR_RETURN(std::vector<Tensor> theirs, ort->Outputs(c.ort_id));
    if (theirs.empty()) return absl::DataLossError("onnxruntime returned no output");
    RETURN_IF_ERROR(CheckOutput(theirs[0], ours[0], kCrossRtol, kCrossAtol,
                                "onnxruntime_vs_strongroom", &c.checks));
    const int n = std::max(kMinRuns, static_cast<int>(0.3 / std::max(1e-6, slowest / 1e3)));
    RETURN_IF_ERROR(RunOrt(*ort, c, std::min(n, kMaxRuns), &warm_ort, &block));
    slowest = std::max(slowest, Median(warm_ort));
  }
  c.runs =
      std::clamp(static_cast<int>(seconds * 1e3 / std::max(1e-6, slowest)), kMinRuns, kMaxRuns);
  Progress(absl::StrFormat(
      "%s: session %.1f ms (onnxruntime %.1f ms), warm-up median %.3f ms (onnxruntime %.3f ms), "
      "%d runs per block; outputs %s",
      label, c.session_ms, c.ort_session_ms, Median(warm_ours), Median(warm_ort), c.runs,
      c.checks.dump()));
  return absl::OkStatus();
}

}  // namespace strongroom::bench
