// Whole `strongroom-worker run` jobs, timed, for strongroom-bench infer: the
// share of a run that attestation, key release and decryption take.
//
// WorkerRunBench::Start (untimed): on the JobKeyRelease's in-process server
// the owner creates dataset "infer-run" under the bench key with the
// bench's release policy (tee dev, the dev measurement, debug false) and
// uploads, sealed, the model and its input (a TensorProto). The model is
// the file as a user would store it: for the light models, whose weights
// are ConstantOfShape nodes, MaterializeConstantOfShape turns each into an
// initializer holding the weights (light_resnet50: ~102 MB), so the run
// transfers, decrypts and parses a real resnet50's bytes; the model still
// computes the same output.
//
// Run(): what one `strongroom-worker run` process does, on a new
// connection (made first, with GetStatus: its TCP and TLS handshakes are
// timed as `connect`, which a run without attestation pays too):
// a new client::WorkloadClient with a dev attester signing the trusted
// claims, worker::RunInferenceJob over worker::WorkloadObjectStore with
// --threads N: attest for the dataset, model fetched (key released sealed
// to the worker, segments decrypted as they stream in) into locked memory,
// Model::Load, input fetched, Session::Create, one inference, the output
// sealed and uploaded. Each store call is timed. After the run (not part
// of its time) the model is fetched kFetchPairs x 2 more times, alternating: as
// the worker (a kept WorkloadClient holding its token: key release,
// decryption into locked memory) and raw by the owner (GetObject --raw:
// the same stored bytes over the same transport, not decrypted, into the
// same kind of locked memory). The
// median over all pairs of the sealed fetch's time minus the raw one's is
// what key release and decryption add to a fetch. The first Run() also reads the output back as
// the owner and compares it with the model's reference output (DataLoss
// when it differs).
//
// Thread-compatible; the JobKeyRelease must outlive the bench.
#ifndef STRONGROOM_BENCH_INFER_WORKER_RUN_H_
#define STRONGROOM_BENCH_INFER_WORKER_RUN_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/infer_job.h"
#include "client/connection.h"
#include "client/workload.h"
#include "bench/infer_models.h"

namespace strongroom::bench {

// `model_bytes` (a serialized ModelProto) with every ConstantOfShape node
// whose shape input is a constant (initializer or Constant node) and whose
// value is float replaced by an initializer of that shape filled with the
// value. InvalidArgument when the bytes are not a ModelProto.
absl::StatusOr<std::string> MaterializeConstantOfShape(const std::string& model_bytes);

inline constexpr int kFetchPairs = 3;

// Milliseconds of one run, by step as the worker's store saw them.
struct WorkerRunSample {
  double total_ms = 0;
  double connect_ms = 0;      // TCP + TLS handshakes (GetStatus)
  double attest_ms = 0;       // challenge, evidence, Attest
  double model_fetch_ms = 0;  // key release, transfer, decryption
  double input_fetch_ms = 0;
  double output_put_ms = 0;
  // After the run: the model fetched as the worker, and raw as the owner.
  std::vector<double> sealed_model_fetch_ms;
  std::vector<double> raw_model_fetch_ms;
  // total minus the steps above: Model::Load, Session::Create, the inference.
  double compute_ms() const {
    return total_ms - connect_ms - attest_ms - model_fetch_ms - input_fetch_ms - output_put_ms;
  }
};

class WorkerRunBench {
 public:
  static absl::StatusOr<std::unique_ptr<WorkerRunBench>> Start(JobKeyRelease& job,
                                                               const InferModel& model,
                                                               int threads);

  absl::StatusOr<WorkerRunSample> Run();

  const std::string& model_name() const { return model_->name; }
  int threads() const { return threads_; }
  // The stored model file's plaintext (after MaterializeConstantOfShape).
  const std::string& model_file() const { return model_file_; }

 private:
  WorkerRunBench(JobKeyRelease& job, const InferModel& model, int threads)
      : job_(&job), model_(&model), threads_(threads) {}
  absl::Status Upload();
  absl::StatusOr<double> RawModelFetchMs();
  absl::StatusOr<double> SealedModelFetchMs();
  absl::Status CheckOutput();

  JobKeyRelease* job_;
  const InferModel* model_;
  int threads_;
  std::string model_file_;
  std::unique_ptr<client::Connection> owner_;
  std::unique_ptr<client::Connection> worker_conn_;  // for SealedModelFetchMs
  std::unique_ptr<client::WorkloadClient> worker_;
  int runs_ = 0;
  bool checked_ = false;
};

// The report of `bench`'s runs: medians per step, and the overhead of
// confidentiality in a run: attestation (median over runs) + the median
// over all pairs of sealed fetch - raw fetch (key release, decryption, locked
// copy; 0 if negative); "share_pct" is that over the runs' median wall
// time. The difference of the two medians, which the VM's phases move more,
// is reported beside it ("fetch_sealed_over_raw_by_medians").
// `decrypt_ms` (the model_file() decrypted alone, in memory, one thread)
// is reported beside it: what decryption costs where nothing overlaps it.
nlohmann::json WorkerRunJson(const WorkerRunBench& bench,
                             const std::vector<WorkerRunSample>& samples, double decrypt_ms);

}  // namespace strongroom::bench

#endif  // STRONGROOM_BENCH_INFER_WORKER_RUN_H_
