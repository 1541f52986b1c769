// strongroom-bench infer: one model at one thread count ("cell") in our
// runtime and in onnxruntime, and how its blocks of runs are timed
// (infer_bench.cc runs the rounds).
//
// PrepareCell creates both sessions, checks each runtime's output (ours
// against the model's reference, onnxruntime's against ours) and sizes the
// blocks: n = `seconds` / the slower warm-up median, clamped to
// [kMinRuns, kMaxRuns]. Errors: the sessions' and onnxruntime's, DataLoss
// for an output that does not match.
#ifndef STRONGROOM_BENCH_INFER_CELLS_H_
#define STRONGROOM_BENCH_INFER_CELLS_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/harness.h"
#include "bench/infer_models.h"
#include "bench/infer_ort.h"
#include "worker/onnx/session.h"
#include "worker/onnx/tensor.h"

namespace strongroom::bench {

inline constexpr int kMinRuns = 3, kMaxRuns = 5000;

// "[infer] line" on stderr.
void Progress(const std::string& line);

// Per-run times of one runtime on one (model, threads), all rounds.
struct Timings {
  std::vector<double> run_ms;
  double block_ms = 0;
  std::vector<double> round_median_ms;
  void Add(const std::vector<double>& runs, double block) {
    run_ms.insert(run_ms.end(), runs.begin(), runs.end());
    block_ms += block;
    round_median_ms.push_back(Median(runs));
  }
  nlohmann::json Json() const {
    double sum = 0;
    for (double v : run_ms) sum += v;
    nlohmann::json rounds = nlohmann::json::array();
    for (double v : round_median_ms) rounds.push_back(Round(v, 3));
    return {
        {"runs", run_ms.size()},
        {"median_ms", Round(Median(run_ms), 3)},
        {"p90_ms", Round(Quantile(run_ms, 0.9), 3)},
        {"mean_ms", Round(run_ms.empty() ? 0 : sum / run_ms.size(), 3)},
        {"min_ms", Round(run_ms.empty() ? 0 : *std::min_element(run_ms.begin(), run_ms.end()), 3)},
        {"runs_per_s", Round(block_ms > 0 ? run_ms.size() / (block_ms / 1e3) : 0, 2)},
        {"round_median_ms", rounds}};
  }
};

// One model at one thread count, in both runtimes.
struct Cell {
  const InferModel* model;
  int threads;
  worker::onnx::Tensor input;
  std::unique_ptr<worker::onnx::Session> session;
  std::string ort_id;
  double session_ms = 0, ort_session_ms = 0;
  int runs = 0;  // per block
  Timings ours, ort;
  nlohmann::json checks;
  nlohmann::json profile;  // ours: mean ms per op type, with --profile
};

// Ours: n timed runs of the cell's input (per-run and whole-block ms).
absl::Status RunOurs(Cell& c, int n, std::vector<double>* run_ms, double* block_ms);
// onnxruntime's: n timed runs in the child.
absl::Status RunOrt(OrtProcess& ort, Cell& c, int n, std::vector<double>* run_ms, double* block_ms);
// See the file comment; `ort` may be null (--onnxruntime off); with
// `profile`, c.profile gets our mean ms per op type.
absl::Status PrepareCell(Cell& c, OrtProcess* ort, double seconds, bool profile);

}  // namespace strongroom::bench

#endif  // STRONGROOM_BENCH_INFER_CELLS_H_
