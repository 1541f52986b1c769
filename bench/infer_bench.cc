// strongroom-bench infer: inference latency and throughput of the worker's
// ONNX runtime (worker/onnx) against onnxruntime on the same models, inputs
// and thread counts in the same run, and the share of a job that goes to
// attestation, key release and model decryption.
//
//   strongroom-bench infer [--models mnist-8,squeezenet,resnet50] [--threads-list 1,2]
//                          [--rounds 5] [--seconds 1] [--batch 1] [--worker-runs 1]
//                          [--flows 20] [--cold-flows 5] [--decrypts 3]
//                          [--attester auto|tpm|dev]
//                          [--onnxruntime on|off] [--profile off|on] [--node node]
//                          [--onnxruntime-dir DIR] [--vectors-dir DIR]
//
// Models (infer_models.h): mnist-8 on its test_data_set_0 input, the onnx
// "light" squeezenet / resnet50 (/ vgg19) on the backend runner's input. CPU
// only. Each runtime's output for the input is checked against the model's
// reference output (rtol 1e-3, atol 1e-7, as the runtime tests do), and
// onnxruntime's against ours (rtol 1e-3, atol 1e-5); any mismatch ends the
// run with exit status 1, since timing a wrong answer means nothing.
//
// Runtimes: ours is a worker::onnx::Session per (model, threads), threads =
// the caller plus threads-1 pool workers, OpenBLAS kernels as
// strongroom-worker gets them (main() re-executes with OPENBLAS_CORETYPE
// where needed, worker/onnx/gemm.h). onnxruntime is the npm package
// onnxruntime-node (its CPU build, installed by deploy/bench-deps.sh) in a
// long-lived child process (infer_ort.h): one InferenceSession per (model,
// threads), intraOpNumThreads = threads, interOpNumThreads 1, CPU execution
// provider, graphOptimizationLevel "all", sequential execution, the rest
// onnxruntime's defaults (its pool threads spin briefly while idle).
//
// Measurement: after session creation (timed once, reported) and an untimed
// warm-up (ours: at least 3 runs and 0.3 s; onnxruntime: about 0.3 s worth of
// our runs), each (model, threads) gets a block size n = clamp(seconds /
// slower warm-up median, 3, 5000), the same for both runtimes. Then `rounds` rounds; in each, every
// (model, threads) runs one block of n back-to-back single-input runs in each runtime, the first
// runtime alternating between rounds and cells, with a 50 ms pause before each block so one
// runtime's idle threads do not spill into the other's block. Reported per runtime, over every
// timed run of every round:
//   median_ms, p90_ms, mean_ms, min_ms   per-run wall time (ours: around
//       Session::Run; onnxruntime: around `await session.run()` in the child,
//       which includes a setImmediate hop, see "await_overhead_us")
//   runs_per_s   runs / summed block wall time (one stream, back to back)
//   round_median_ms   each round's median, in time order
// and ratio = our median / onnxruntime's median (aim: <= 1.25). --batch B > 1
// is measured only where the model's input has a free batch dimension.
//
// Job costs, measured in the same rounds after the inference blocks
// (infer_job.h, infer_worker_run.h): `flows` attestation + key release flows
// on a kept connection and `cold-flows` on a new one; `decrypts`
// decryptions of each model's file, weight bytes and stored file (the
// light models' ConstantOfShape weights as initializers: light_resnet50 is
// ~102 MB like a real resnet50); and `worker-runs` whole
// `strongroom-worker run` jobs per model and thread count, timed per step,
// with the overhead of confidentiality in a run (attestation + the sealed
// model fetch's time over a raw one) as a share of the run (aim: under 5%
// for resnet50); beside it flow + decryption as a share of one inference.
// The flows and worker runs attest with a private swtpm (--attester tpm; auto,
// the default, takes it when swtpm is installed, else the dev attester; the
// report's "attester" says which).

// --profile on adds our runtime's mean time per op type (RunProfile, after
// the warm-up; it adds a clock read and a label per node) to the report.
//
// The load averages before, after and per round go into the report: figures
// from a loaded machine are not comparable. JSON to stdout, progress and a
// summary table to stderr.
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "attest/tpm/testing/swtpm_fixture.h"
#include "base/status_macros.h"
#include "bench/harness.h"
#include "bench/infer_cells.h"
#include "bench/infer_job.h"
#include "bench/infer_models.h"
#include "bench/infer_ort.h"
#include "bench/infer_worker_run.h"
#include "bench/subcommands.h"
#include "worker/onnx/compare.h"
#include "worker/onnx/gemm.h"
#include "worker/onnx/session.h"
#include "worker/workload_object_store.h"

namespace strongroom::bench {
namespace {

using worker::onnx::Tensor;
using Clock = std::chrono::steady_clock;

constexpr double kAimLatencyRatio = 1.25;
constexpr double kAimOverheadPercent = 5;
constexpr auto kPauseBeforeBlock = std::chrono::milliseconds(50);

struct InferOptions {
  std::vector<std::string> models = {"mnist-8", "squeezenet", "resnet50"};
  std::vector<int> threads = {1, 2};
  int rounds = 5;
  double seconds = 1.0;
  int batch = 1;
  int worker_runs = 1;
  int flows = 20;
  int cold_flows = 5;
  int decrypts = 3;
  std::string attester = "auto";
  bool onnxruntime = true;
  bool profile = false;
  std::string node = "node";
  std::string onnxruntime_dir = STRONGROOM_BENCH_ONNXRUNTIME_DIR;
  std::string vectors_dir = STRONGROOM_VECTORS_DIR;
};

struct Decrypt {
  std::string model, what;  // "file" | "weights" | "stored" | "stored_all_threads"
  ModelDecryption sealed;
  int threads = 1;  // decryption threads
  std::vector<double> ms;
};

struct Measured {
  std::vector<Cell> cells;
  std::vector<FlowSample> flows, cold_flows;
  std::vector<Decrypt> decrypts;
  std::vector<std::unique_ptr<WorkerRunBench>> runners;
  std::vector<std::vector<WorkerRunSample>> run_samples;  // per runner
  nlohmann::json round_load = nlohmann::json::array();
};

absl::Status RunRounds(const InferOptions& o, OrtProcess* ort, JobKeyRelease& job, Measured& m) {
  std::vector<double> runs;
  double block = 0;
  for (int r = 0; r < o.rounds; ++r) {
    for (size_t k = 0; k < m.cells.size(); ++k) {
      Cell& c = m.cells[k];
      const bool ours_first = ort == nullptr || (r + k) % 2 == 0;
      for (int turn = 0; turn < (ort == nullptr ? 1 : 2); ++turn) {
        if (Interrupted()) return absl::CancelledError("interrupted by a signal");
        std::this_thread::sleep_for(kPauseBeforeBlock);
        if ((turn == 0) == ours_first) {
          RETURN_IF_ERROR(RunOurs(c, c.runs, &runs, &block));
          c.ours.Add(runs, block);
        } else {
          RETURN_IF_ERROR(RunOrt(*ort, c, c.runs, &runs, &block));
          c.ort.Add(runs, block);
        }
      }
    }
    for (int i = 0; i < o.flows + o.cold_flows; ++i) {
      const bool cold = i >= o.flows;
      ASSIGN_OR_RETURN(FlowSample s, job.Flow(cold));
      (cold ? m.cold_flows : m.flows).push_back(s);
    }
    for (Decrypt& d : m.decrypts) {
      for (int i = 0; i < o.decrypts; ++i) {
        ASSIGN_OR_RETURN(int64_t ns, d.sealed.Open(job.material(), d.threads));
        d.ms.push_back(ns / 1e6);
      }
    }
    for (size_t k = 0; k < m.runners.size(); ++k) {
      for (int i = 0; i < o.worker_runs; ++i) {
        if (Interrupted()) return absl::CancelledError("interrupted by a signal");
        ASSIGN_OR_RETURN(WorkerRunSample run, m.runners[k]->Run());
        m.run_samples[k].push_back(run);
      }
    }
    m.round_load.push_back(LoadAverage());
    std::string line = absl::StrCat("round ", r + 1, "/", o.rounds, ":");
    for (const Cell& c : m.cells) {
      absl::StrAppend(&line, absl::StrFormat(" %s@%d %.3f", c.model->name, c.threads,
                                             c.ours.round_median_ms.back()));
      if (ort != nullptr)
        absl::StrAppend(&line, absl::StrFormat("/%.3f", c.ort.round_median_ms.back()));
    }
    Progress(absl::StrCat(line, " ms; load ", m.round_load.back().dump()));
  }
  return absl::OkStatus();
}

absl::StatusOr<nlohmann::json> Run(const InferOptions& o) {
  const nlohmann::json load_before = LoadAverage();
  Progress(absl::StrCat("OpenBLAS kernels: ", worker::onnx::BlasCoreName(), "; load ",
                        load_before.dump()));
  std::vector<InferModel> models;
  for (const std::string& name : o.models) {
    ASSIGN_OR_RETURN(InferModel m, LoadInferModel(o.vectors_dir, name));
    models.push_back(std::move(m));
  }
  std::unique_ptr<OrtProcess> ort;
  if (o.onnxruntime) {
    ASSIGN_OR_RETURN(ort,
                     OrtProcess::Start(o.node, absl::StrCat(o.onnxruntime_dir, "/ort_child.js")));
    Progress(absl::StrCat("onnxruntime child: ", ort->hello().dump()));
  }

  Measured m;
  nlohmann::json model_json = nlohmann::json::array();
  for (const InferModel& model : models) {
    absl::StatusOr<Tensor> input = BatchedInput(model, o.batch);
    model_json.push_back({{"model", model.name},
                          {"file_bytes", model.bytes.size()},
                          {"weight_bytes", model.weight_bytes},
                          {"load_ms", Round(model.load_ms, 3)},
                          {"input", model.input_name},
                          {"input_shape", model.input.shape()},
                          {"batch", o.batch},
                          {"batch_supported", input.ok()},
                          {"batch_note", input.ok() ? "" : std::string(input.status().message())}});
    if (!input.ok()) {
      Progress(absl::StrCat(model.name, ": --batch ", o.batch,
                            " not measured: ", input.status().message()));
      continue;
    }
    for (int threads : o.threads) {
      Cell c{.model = &model, .threads = threads, .input = *input};
      RETURN_IF_ERROR(PrepareCell(c, ort.get(), o.seconds, o.profile));
      m.cells.push_back(std::move(c));
    }
  }
  if (m.cells.empty()) return absl::FailedPreconditionError("no model left to measure");

  const JobAttester attester =
      o.attester == "dev" || (o.attester == "auto" && !attest::testing::Swtpm::Installed())
          ? JobAttester::kDev
          : JobAttester::kTpm;
  Progress(absl::StrCat("starting the key broker (in-process server, ", JobAttesterName(attester),
                        " attester)"));
  ASSIGN_OR_RETURN(std::unique_ptr<JobKeyRelease> job, JobKeyRelease::Start(attester));
  for (const InferModel& model : models) {
    Bytes weights(static_cast<size_t>(model.weight_bytes));
    if (!weights.empty() && RAND_bytes(weights.data(), static_cast<int>(weights.size())) != 1) {
      return absl::InternalError("RAND_bytes failed");
    }
    for (const auto& [what, bytes] :
         {std::pair<std::string, std::span<const uint8_t>>{"file", AsBytes(model.bytes)},
          {"weights", weights}}) {
      ASSIGN_OR_RETURN(ModelDecryption sealed,
                       ModelDecryption::Seal(job->material(), bytes,
                                             absl::StrCat("models/", model.name, "/", what)));
      // Warm-up and plaintext check.
      RETURN_IF_ERROR(sealed.Open(job->material(), worker::kFetchDecryptThreads).status());
      m.decrypts.push_back(
          {model.name, what, std::move(sealed), worker::kFetchDecryptThreads, {}});
    }
    for (int threads : o.threads) {
      ASSIGN_OR_RETURN(std::unique_ptr<WorkerRunBench> runner,
                       WorkerRunBench::Start(*job, model, threads));
      RETURN_IF_ERROR(runner->Run().status());  // warm-up and output check
      if (threads == o.threads.front()) {
        // As the worker decrypts (one thread), and on every CPU (up to 8)
        // for comparison.
        const int all = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 8u));
        std::vector<int> decrypt_threads = {worker::kFetchDecryptThreads};
        if (all != worker::kFetchDecryptThreads) decrypt_threads.push_back(all);
        for (int t : decrypt_threads) {
          ASSIGN_OR_RETURN(ModelDecryption sealed,
                           ModelDecryption::Seal(job->material(), AsBytes(runner->model_file()),
                                                 absl::StrCat("models/", model.name, "/stored")));
          RETURN_IF_ERROR(sealed.Open(job->material(), t).status());
          const bool worker_threads = t == decrypt_threads.front();
          m.decrypts.push_back({model.name, worker_threads ? "stored" : "stored_all_threads",
                                std::move(sealed), t, {}});
        }
      }
      m.runners.push_back(std::move(runner));
      m.run_samples.emplace_back();
    }
  }
  for (int i = 0; i < 3; ++i) RETURN_IF_ERROR(job->Flow(false).status());
  Progress(absl::StrCat("measuring: ", o.rounds, " rounds, ", m.cells.size(), " cells"));
  RETURN_IF_ERROR(RunRounds(o, ort.get(), *job, m));
  job.reset();

  // Summaries.
  const nlohmann::json warm = FlowSummaryJson(m.flows), cold = FlowSummaryJson(m.cold_flows);
  const double flow_ms = warm["median_ms"].get<double>();
  std::map<std::pair<std::string, std::string>, double> decrypt_ms;
  nlohmann::json decrypt_json = nlohmann::json::array();
  for (const Decrypt& d : m.decrypts) {
    const double med = Median(d.ms);
    decrypt_ms[{d.model, d.what}] = med;
    decrypt_json.push_back(
        {{"model", d.model},
         {"what", d.what},
         {"threads", d.threads},
         {"bytes", d.sealed.plaintext_size()},
         {"ciphertext_bytes", d.sealed.ciphertext_size()},
         {"median_ms", Round(med, 3)},
         {"p90_ms", Round(Quantile(d.ms, 0.9), 3)},
         {"mb_per_s", Round(med > 0 ? d.sealed.plaintext_size() / 1e6 / (med / 1e3) : 0, 1)}});
  }
  nlohmann::json results = nlohmann::json::array(), shares = nlohmann::json::array();
  double worst_ratio = 0, worst_overhead = 0;
  bool overhead_measured = false;
  for (const Cell& c : m.cells) {
    nlohmann::json r = {{"model", c.model->name},     {"threads", c.threads},
                        {"batch", o.batch},           {"runs_per_block", c.runs},
                        {"checks", c.checks},         {"profile", c.profile},
                        {"strongroom", c.ours.Json()}};
    r["strongroom"]["session_ms"] = Round(c.session_ms, 2);
    const double run_ms = Median(c.ours.run_ms);
    if (ort != nullptr) {
      r["onnxruntime"] = c.ort.Json();
      r["onnxruntime"]["session_ms"] = Round(c.ort_session_ms, 2);
      const double ratio = run_ms / std::max(1e-9, Median(c.ort.run_ms));
      std::vector<double> round_ratios;
      for (size_t i = 0; i < c.ours.round_median_ms.size(); ++i) {
        round_ratios.push_back(c.ours.round_median_ms[i] / c.ort.round_median_ms[i]);
      }
      r["ratio_median"] = Round(ratio, 3);
      r["ratio_p90"] = Round(Quantile(c.ours.run_ms, 0.9) / Quantile(c.ort.run_ms, 0.9), 3);
      r["round_ratios"] = nlohmann::json::array();
      for (double x : round_ratios) r["round_ratios"].push_back(Round(x, 3));
      r["latency_aim_met"] = ratio <= kAimLatencyRatio;
      worst_ratio = std::max(worst_ratio, ratio);
    }
    results.push_back(std::move(r));

    const double file_ms = flow_ms + decrypt_ms[{c.model->name, "file"}];
    const double weights_ms = flow_ms + decrypt_ms[{c.model->name, "weights"}];
    nlohmann::json s = {{"model", c.model->name},
                        {"threads", c.threads},
                        {"run_median_ms", Round(run_ms, 3)},
                        {"load_ms", Round(c.model->load_ms, 3)},
                        {"session_ms", Round(c.session_ms, 2)},
                        {"overhead_file_ms", Round(file_ms, 3)},
                        {"overhead_weights_ms", Round(weights_ms, 3)},
                        {"pct_of_one_run_file", Round(100 * file_ms / run_ms, 3)},
                        {"pct_of_one_run_weights", Round(100 * weights_ms / run_ms, 3)}};
    for (size_t k = 0; k < m.runners.size(); ++k) {
      if (m.runners[k]->model_name() != c.model->name || m.runners[k]->threads() != c.threads) {
        continue;
      }
      s["worker_run"] =
          WorkerRunJson(*m.runners[k], m.run_samples[k], decrypt_ms[{c.model->name, "stored"}]);
      if (c.model->name == "resnet50") {
        overhead_measured = true;
        worst_overhead = std::max(worst_overhead, s["worker_run"]["share_pct"].get<double>());
      }
    }
    shares.push_back(std::move(s));
  }

  nlohmann::json report;
  report["bench"] = "infer";
  report["machine"] = MachineInfo();
  report["blas"] = worker::onnx::BlasCoreName();
  report["onnxruntime"] = ort != nullptr ? ort->hello() : nlohmann::json(nullptr);
  report["rounds"] = o.rounds;
  report["seconds_per_block"] = o.seconds;
  report["load_average_before"] = load_before;
  report["round_load_average"] = m.round_load;
  report["load_average_after"] = LoadAverage();
  report["models"] = model_json;
  report["results"] = results;
  report["job"] = {{"attester", JobAttesterName(attester)},
                   {"flow_kept_connection", warm},
                   {"flow_new_connection", cold},
                   {"decrypt", decrypt_json},
                   {"shares", shares}};
  nlohmann::json aims;
  if (ort != nullptr) {
    aims["latency"] = {{"aim_ratio", kAimLatencyRatio},
                       {"worst_ratio", Round(worst_ratio, 3)},
                       {"met", worst_ratio <= kAimLatencyRatio}};
  }
  if (overhead_measured) {
    aims["resnet50_overhead"] = {{"aim_pct_of_a_worker_run", kAimOverheadPercent},
                                 {"worst_pct", Round(worst_overhead, 3)},
                                 {"met", worst_overhead < kAimOverheadPercent}};
  }
  report["aims"] = aims;

  // A table for humans.
  Progress("model       thr  ours med/p90 ms     onnxrt med/p90 ms   ratio  ours/s  ort/s");
  for (const nlohmann::json& r : report["results"]) {
    const nlohmann::json& a = r["strongroom"];
    const nlohmann::json b =
        r.contains("onnxruntime") ? r["onnxruntime"] : nlohmann::json::object();
    Progress(absl::StrFormat(
        "%-11s %3d  %8.3f / %8.3f  %8.3f / %8.3f  %5.2f  %6.1f  %6.1f",
        r["model"].get<std::string>(), r["threads"].get<int>(), a["median_ms"].get<double>(),
        a["p90_ms"].get<double>(), b.value("median_ms", 0.0), b.value("p90_ms", 0.0),
        r.value("ratio_median", 0.0), a["runs_per_s"].get<double>(), b.value("runs_per_s", 0.0)));
  }
  Progress(absl::StrCat("flow (kept connection) ", warm.dump(), "; new connection ", cold.dump()));
  for (const nlohmann::json& s : shares) Progress(s.dump());
  Progress(
      absl::StrCat("aims ", aims.dump(), "; load after ", report["load_average_after"].dump()));
  return report;
}

}  // namespace

int RunInferBench(const std::vector<std::string>& args) {
  InferOptions o;
  std::string models_flag;
  FlagParser flags;
  flags.AddString("models", &models_flag,
                  "comma-separated subset of mnist-8,squeezenet,resnet50,vgg19 "
                  "(default mnist-8,squeezenet,resnet50)");
  flags.AddIntList("threads-list", &o.threads, "kernel threads per session (default 1,2)");
  flags.AddInt("rounds", &o.rounds, "rounds of interleaved blocks (default 5)");
  flags.AddDouble("seconds", &o.seconds,
                  "target seconds per block, per runtime, model and thread count (default 1)");
  flags.AddInt("batch", &o.batch, "batch size (default 1; only models with a free batch dim)");
  flags.AddInt("worker-runs", &o.worker_runs,
               "whole worker runs per round, model and thread count (default 1)");
  flags.AddInt("flows", &o.flows, "attest + release flows per round, kept connection (default 20)");
  flags.AddInt("cold-flows", &o.cold_flows, "flows per round on a new connection (default 5)");
  flags.AddInt("decrypts", &o.decrypts, "model decryptions per round and size (default 3)");
  flags.AddString("attester", &o.attester,
                  "tpm: attest with a private swtpm; dev: the development attester; auto: tpm "
                  "when swtpm is installed (default)");
  std::string onnxruntime_flag = "on", profile_flag = "off";
  flags.AddString("onnxruntime", &onnxruntime_flag,
                  "on: compare with onnxruntime-node (default); off: our runtime only");
  flags.AddString("profile", &profile_flag,
                  "on: also profile our runtime per op type after the warm-up (default off)");
  flags.AddString("node", &o.node, "node.js executable (default node, from PATH)");
  flags.AddString("onnxruntime-dir", &o.onnxruntime_dir,
                  "folder of ort_child.js and its node_modules (default bench/onnxruntime)");
  flags.AddString("vectors-dir", &o.vectors_dir, "shared/vectors (default: the build's)");
  absl::Status s = flags.Parse(args);
  if (s.ok() && !models_flag.empty()) {
    o.models.clear();
    for (absl::string_view name : absl::StrSplit(models_flag, ',', absl::SkipEmpty())) {
      const auto& known = InferModelNames();
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        s = absl::InvalidArgumentError(absl::StrCat(
            "--models: unknown model '", name, "' (known: mnist-8,squeezenet,resnet50,vgg19)"));
        break;
      }
      o.models.emplace_back(name);
    }
  }
  if (s.ok() && (o.models.empty() || o.threads.empty())) {
    s = absl::InvalidArgumentError("--models and --threads-list must not be empty");
  }
  for (const auto& [name, value, out] : {std::tuple<const char*, const std::string*, bool*>{
                                             "onnxruntime", &onnxruntime_flag, &o.onnxruntime},
                                         {"profile", &profile_flag, &o.profile}}) {
    if (s.ok() && *value != "on" && *value != "off") {
      s = absl::InvalidArgumentError(absl::StrCat("--", name, ": '", *value, "', not on or off"));
    }
    *out = *value == "on";
  }
  if (s.ok() && o.seconds <= 0) s = absl::InvalidArgumentError("--seconds must be > 0");
  if (s.ok() && o.attester != "auto" && o.attester != "tpm" && o.attester != "dev") {
    s = absl::InvalidArgumentError(
        absl::StrCat("--attester: '", o.attester, "', not auto, tpm or dev"));
  }
  if (s.ok() && *std::max_element(o.threads.begin(), o.threads.end()) > 256) {
    s = absl::InvalidArgumentError("--threads-list: at most 256");
  }
  return FinishBench("infer", s, flags, [&] { return Run(o); });
}

}  // namespace strongroom::bench
