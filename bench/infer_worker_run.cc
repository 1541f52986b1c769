#include "bench/infer_worker_run.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "bench/harness.h"
#include "client/attester.h"
#include "client/connection.h"
#include "client/sealed_object.h"
#include "client/workload.h"
#include "onnx/onnx_pb.h"
#include "storage/streaming/byte_stream.h"
#include "worker/inference_job.h"
#include "worker/onnx/compare.h"
#include "worker/secret_stream.h"
#include "worker/workload_object_store.h"

namespace strongroom::bench {
namespace {

namespace v1 = ::strongroom::v1;
using Clock = std::chrono::steady_clock;

constexpr char kDataset[] = "infer-run";

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::optional<std::vector<int64_t>> Int64Values(const ::onnx::TensorProto& t) {
  if (t.data_type() != ::onnx::TensorProto::INT64) return std::nullopt;
  if (!t.raw_data().empty()) {
    if (t.raw_data().size() % sizeof(int64_t) != 0) return std::nullopt;
    std::vector<int64_t> v(t.raw_data().size() / sizeof(int64_t));
    std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
    return v;
  }
  return std::vector<int64_t>(t.int64_data().begin(), t.int64_data().end());
}

std::optional<float> FloatScalar(const ::onnx::TensorProto& t) {
  if (t.data_type() != ::onnx::TensorProto::FLOAT) return std::nullopt;
  float v = 0;
  if (t.raw_data().size() == sizeof(float)) {
    std::memcpy(&v, t.raw_data().data(), sizeof(float));
    return v;
  }
  if (t.raw_data().empty() && t.float_data_size() == 1) return t.float_data(0);
  return std::nullopt;
}

// The initializer ConstantOfShape node `n` computes, when its shape is a
// known constant and its value a float.
std::optional<::onnx::TensorProto> Materialize(
    const ::onnx::NodeProto& n, const std::map<std::string, std::vector<int64_t>>& shapes) {
  if (n.op_type() != "ConstantOfShape" || n.input_size() != 1 || n.output_size() != 1) {
    return std::nullopt;
  }
  auto shape = shapes.find(n.input(0));
  if (shape == shapes.end()) return std::nullopt;
  float value = 0;  // the operator's default
  for (const ::onnx::AttributeProto& a : n.attribute()) {
    if (a.name() != "value") continue;
    std::optional<float> v = FloatScalar(a.t());
    if (!v.has_value()) return std::nullopt;
    value = *v;
  }
  int64_t count = 1;
  for (int64_t d : shape->second) {
    if (d < 0 || (d > 0 && count > (int64_t{1} << 30) / d)) return std::nullopt;
    count *= d;
  }
  ::onnx::TensorProto t;
  t.set_name(n.output(0));
  t.set_data_type(::onnx::TensorProto::FLOAT);
  for (int64_t d : shape->second) t.add_dims(d);
  std::string raw(static_cast<size_t>(count) * sizeof(float), '\0');
  for (int64_t i = 0; i < count; ++i) std::memcpy(&raw[i * sizeof(float)], &value, sizeof(float));
  t.set_raw_data(std::move(raw));
  return t;
}

// A per-call timing decorator of the worker's store.
class TimedStore final : public worker::JobObjectStore {
 public:
  TimedStore(worker::JobObjectStore& inner, const std::string& model_name,
             WorkerRunSample& sample)
      : inner_(inner), model_name_(model_name), sample_(sample) {}

  absl::Status Attest(absl::string_view dataset) override {
    const auto start = Clock::now();
    absl::Status s = inner_.Attest(dataset);
    sample_.attest_ms += MsSince(start);
    return s;
  }
  absl::StatusOr<v1::ObjectInfo> Get(const worker::ObjectRef& ref, storage::ByteSink& out,
                                     const std::function<void(uint64_t)>& on_size) override {
    const auto start = Clock::now();
    auto got = inner_.Get(ref, out, on_size);
    (ref.name == model_name_ ? sample_.model_fetch_ms : sample_.input_fetch_ms) += MsSince(start);
    return got;
  }
  absl::StatusOr<v1::ObjectInfo> Put(const worker::ObjectRef& ref,
                                     const std::map<std::string, std::string>& labels,
                                     uint64_t size, storage::ByteSource& in) override {
    const auto start = Clock::now();
    auto put = inner_.Put(ref, labels, size, in);
    sample_.output_put_ms += MsSince(start);
    return put;
  }
  absl::StatusOr<Staged> Stage(const worker::ObjectRef& ref,
                               const std::map<std::string, std::string>& labels, uint64_t size,
                               storage::ByteSource& in) override {
    const auto start = Clock::now();
    auto staged = inner_.Stage(ref, labels, size, in);
    sample_.output_put_ms += MsSince(start);
    return staged;
  }
  absl::Status DiscardStaged(absl::string_view dataset,
                             const std::vector<Staged>& staged) override {
    return inner_.DiscardStaged(dataset, staged);
  }
  absl::StatusOr<std::vector<v1::ObjectInfo>> CommitStaged(
      absl::string_view dataset, const std::vector<Staged>& staged) override {
    const auto start = Clock::now();
    auto committed = inner_.CommitStaged(dataset, staged);
    sample_.output_put_ms += MsSince(start);
    return committed;
  }

 private:
  worker::JobObjectStore& inner_;
  std::string model_name_;
  WorkerRunSample& sample_;
};

std::string ModelObject(const std::string& model) { return absl::StrCat(model, "/model.onnx"); }
std::string InputObject(const std::string& model) { return absl::StrCat(model, "/input_0.pb"); }
std::string OutputObject(const std::string& model) { return absl::StrCat(model, "/output"); }

}  // namespace

absl::StatusOr<std::string> MaterializeConstantOfShape(const std::string& model_bytes) {
  ::onnx::ModelProto model;
  if (!model.ParseFromString(model_bytes)) {
    return absl::InvalidArgumentError("model: not a serialized ONNX ModelProto");
  }
  ::onnx::GraphProto* graph = model.mutable_graph();
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const ::onnx::TensorProto& t : graph->initializer()) {
    if (auto v = Int64Values(t)) shapes[t.name()] = *std::move(v);
  }
  for (const ::onnx::NodeProto& n : graph->node()) {
    if (n.op_type() != "Constant" || n.output_size() != 1) continue;
    for (const ::onnx::AttributeProto& a : n.attribute()) {
      if (a.name() != "value" || !a.has_t()) continue;
      if (auto v = Int64Values(a.t())) shapes[n.output(0)] = *std::move(v);
    }
  }
  google::protobuf::RepeatedPtrField<::onnx::NodeProto> kept;
  std::vector<::onnx::TensorProto> made;
  for (::onnx::NodeProto& n : *graph->mutable_node()) {
    if (std::optional<::onnx::TensorProto> t = Materialize(n, shapes)) {
      made.push_back(*std::move(t));
    } else {
      *kept.Add() = std::move(n);
    }
  }
  graph->mutable_node()->Swap(&kept);
  for (::onnx::TensorProto& t : made) *graph->add_initializer() = std::move(t);
  // From IR version 4 on, an initializer need not also be a graph input.
  model.set_ir_version(std::max<int64_t>(model.ir_version(), 4));
  std::string out;
  if (!model.SerializeToString(&out)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "model: the materialized ModelProto (", model.ByteSizeLong(), " bytes) does not serialize"));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<WorkerRunBench>> WorkerRunBench::Start(JobKeyRelease& job,
                                                                      const InferModel& model,
                                                                      int threads) {
  std::unique_ptr<WorkerRunBench> b(new WorkerRunBench(job, model, threads));
  ASSIGN_OR_RETURN(b->model_file_, MaterializeConstantOfShape(model.bytes));
  RETURN_IF_ERROR(b->Upload());
  return b;
}

absl::Status WorkerRunBench::Upload() {
  ASSIGN_OR_RETURN(owner_, client::Connection::Open(job_->server().ClientOptions(kJobOwner)));
  client::Connection* owner = owner_.get();
  v1::GetDatasetRequest get;
  get.set_name(kDataset);
  if (!owner->GetDataset(get).ok()) {
    v1::CreateDatasetRequest ds;
    ds.set_dataset_id(kDataset);
    ds.set_key(kJobName);
    ds.set_release_policy(kJobName);
    ds.set_description("strongroom-bench infer: whole worker runs");
    RETURN_IF_ERROR(owner->CreateDataset(ds).status());
  }
  ::onnx::TensorProto input;
  model_->input.ToTensorProto(model_->input_name, &input);
  for (const auto& [name, bytes] :
       {std::pair<std::string, std::string>{ModelObject(model_->name), model_file_},
        {InputObject(model_->name), input.SerializeAsString()}}) {
    client::PutObjectOptions put;
    put.dataset = kDataset;
    put.name = name;
    storage::StringSource source(bytes);
    RETURN_IF_ERROR(client::PutSealedObject(*owner, put, source).status());
  }
  return absl::OkStatus();
}

absl::StatusOr<WorkerRunSample> WorkerRunBench::Run() {
  WorkerRunSample sample;
  const auto start = Clock::now();
  // What a worker process starts with: a connection, its attester (the
  // job's swtpm or dev key), a WorkloadClient (its HPKE key pair).
  ASSIGN_OR_RETURN(auto conn, client::Connection::Open(job_->server().ClientOptions(kJobWorker)));
  RETURN_IF_ERROR(conn->GetStatus().status());
  sample.connect_ms = MsSince(start);
  ASSIGN_OR_RETURN(std::unique_ptr<client::Attester> attester, job_->NewAttester());
  ASSIGN_OR_RETURN(std::unique_ptr<client::WorkloadClient> wl,
                   client::WorkloadClient::Create(conn.get(), std::move(attester)));
  worker::WorkloadObjectStore store(wl.get());
  TimedStore timed(store, ModelObject(model_->name), sample);
  worker::JobSpec spec;
  spec.model = {kDataset, ModelObject(model_->name), 0};
  spec.inputs = {{kDataset, InputObject(model_->name), 0}};
  spec.output = {kDataset, OutputObject(model_->name), 0};
  spec.session.threads = threads_;
  worker::JobError error;
  absl::StatusOr<worker::JobResult> result = worker::RunInferenceJob(spec, timed, &error);
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat("worker run of ", model_->name, ": ", error.Message()));
  }
  sample.total_ms = MsSince(start);
  wl.reset();
  conn.reset();
  for (int pair = 0; pair < kFetchPairs; ++pair) {
    const bool raw_first = runs_++ % 2 == 0;
    for (int k = 0; k < 2; ++k) {
      if ((k == 0) == raw_first) {
        ASSIGN_OR_RETURN(double ms, RawModelFetchMs());
        sample.raw_model_fetch_ms.push_back(ms);
      } else {
        ASSIGN_OR_RETURN(double ms, SealedModelFetchMs());
        sample.sealed_model_fetch_ms.push_back(ms);
      }
    }
  }
  if (!checked_) {
    RETURN_IF_ERROR(CheckOutput());
    checked_ = true;
  }
  return sample;
}

absl::StatusOr<double> WorkerRunBench::RawModelFetchMs() {
  client::GetObjectOptions get;
  get.dataset = kDataset;
  get.name = ModelObject(model_->name);
  get.raw = true;
  // Into the same kind of memory as the sealed fetch (locked, reserved
  // up front), so that the difference is key release and decryption.
  worker::SecretBytesSink sink("raw model");
  const auto start = Clock::now();
  RETURN_IF_ERROR(sink.Reserve(model_file_.size() + (1 << 20)));
  ASSIGN_OR_RETURN(v1::ObjectInfo info, client::GetSealedObject(*owner_, get, sink));
  const double ms = MsSince(start);
  if (sink.size() != info.stored_bytes()) {
    return absl::DataLossError(absl::StrCat("raw GetObject of ", get.name, ": ", sink.size(),
                                            " of ", info.stored_bytes(), " bytes"));
  }
  return ms;
}

absl::StatusOr<double> WorkerRunBench::SealedModelFetchMs() {
  if (worker_ == nullptr) {
    ASSIGN_OR_RETURN(worker_conn_,
                     client::Connection::Open(job_->server().ClientOptions(kJobWorker)));
    ASSIGN_OR_RETURN(std::unique_ptr<client::Attester> attester, job_->NewAttester());
    ASSIGN_OR_RETURN(worker_,
                     client::WorkloadClient::Create(worker_conn_.get(), std::move(attester)));
    RETURN_IF_ERROR(worker_->Attest(absl::StrCat("datasets/", kDataset)).status());
  }
  worker::WorkloadObjectStore store(worker_.get());
  worker::SecretBytesSink sink("model");
  absl::Status reserve;
  const auto start = Clock::now();
  ASSIGN_OR_RETURN(v1::ObjectInfo info,
                   store.Get({kDataset, ModelObject(model_->name), 0}, sink,
                             [&](uint64_t size) { reserve = sink.Reserve(size); }));
  const double ms = MsSince(start);
  RETURN_IF_ERROR(reserve);
  if (sink.size() != model_file_.size()) {
    return absl::DataLossError(absl::StrCat("worker GetObject of the model: ", sink.size(),
                                            " of ", model_file_.size(), " bytes"));
  }
  return ms;
}

absl::Status WorkerRunBench::CheckOutput() {
  client::Connection* owner = owner_.get();
  client::GetObjectOptions get;
  get.dataset = kDataset;
  get.name = OutputObject(model_->name);
  storage::StringSink sink;
  RETURN_IF_ERROR(client::GetSealedObject(*owner, get, sink).status());
  ASSIGN_OR_RETURN(worker::onnx::Tensor out,
                   worker::onnx::Tensor::FromTensorProto(AsBytes(sink.data()), "run output"));
  const worker::onnx::Comparison c = worker::onnx::CompareTensors(
      out, model_->reference, worker::onnx::kDefaultRtol, 1e-5);
  if (!c.match) {
    return absl::DataLossError(absl::StrCat("worker run of ", model_->name,
                                            ": the output differs from the reference: ", c.detail));
  }
  return absl::OkStatus();
}

nlohmann::json WorkerRunJson(const WorkerRunBench& bench,
                             const std::vector<WorkerRunSample>& samples, double decrypt_ms) {
  std::vector<double> total, connect, attest, model, sealed, raw, input, output, compute;
  for (const WorkerRunSample& r : samples) {
    total.push_back(r.total_ms);
    connect.push_back(r.connect_ms);
    attest.push_back(r.attest_ms);
    model.push_back(r.model_fetch_ms);
    sealed.insert(sealed.end(), r.sealed_model_fetch_ms.begin(), r.sealed_model_fetch_ms.end());
    raw.insert(raw.end(), r.raw_model_fetch_ms.begin(), r.raw_model_fetch_ms.end());
    input.push_back(r.input_fetch_ms);
    output.push_back(r.output_put_ms);
    compute.push_back(r.compute_ms());
  }
  const double total_ms = Median(total), attest_ms = Median(attest);
  // Each pair's two fetches ran back to back (in alternating order), so the
  // VM's slow and fast phases mostly hit both: the median of the pairs'
  // differences cancels them, where the difference of the two medians does
  // not (reported beside it).
  std::vector<double> extra;
  for (size_t i = 0; i < std::min(sealed.size(), raw.size()); ++i) {
    extra.push_back(sealed[i] - raw[i]);
  }
  const double fetch_extra_ms = std::max(0.0, Median(extra));
  const double medians_extra_ms = std::max(0.0, Median(sealed) - Median(raw));
  const double overhead_ms = attest_ms + fetch_extra_ms;
  return {{"runs", samples.size()},
          {"stored_model_bytes", bench.model_file().size()},
          {"median_ms",
           {{"total", Round(total_ms, 3)},
            {"connect", Round(Median(connect), 3)},
            {"attest", Round(attest_ms, 3)},
            {"model_fetch", Round(Median(model), 3)},
            {"input_fetch", Round(Median(input), 3)},
            {"output_put", Round(Median(output), 3)},
            {"load_session_infer", Round(Median(compute), 3)},
            {"after_run_sealed_model_fetch", Round(Median(sealed), 3)},
            {"after_run_raw_model_fetch", Round(Median(raw), 3)}}},
          {"max_total_ms",
           Round(total.empty() ? 0 : *std::max_element(total.begin(), total.end()), 3)},
          {"overhead_ms",
           {{"attest", Round(attest_ms, 3)},
            {"fetch_sealed_over_raw", Round(fetch_extra_ms, 3)},
            {"fetch_sealed_over_raw_by_medians", Round(medians_extra_ms, 3)},
            {"total", Round(overhead_ms, 3)}}},
          {"fetch_pairs", sealed.size()},
          {"decrypt_alone_ms", Round(decrypt_ms, 3)},
          {"share_pct", Round(total_ms > 0 ? 100 * overhead_ms / total_ms : 0, 3)},
          {"share_pct_with_decryption_alone",
           Round(total_ms > 0 ? 100 * (attest_ms + decrypt_ms) / total_ms : 0, 3)}};
}

}  // namespace strongroom::bench
