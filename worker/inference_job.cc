#include "worker/inference_job.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstring>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/log.h"
#include "base/secret_bytes.h"
#include "onnx/onnx_pb.h"
#include "storage/sealed/object_names.h"
#include "worker/onnx/model.h"
#include "worker/secret_stream.h"

namespace strongroom::worker {
namespace {

using onnx::Tensor;
using SteadyClock = std::chrono::steady_clock;

double MsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

// A store call that failed this way may have taken effect before its
// answer was lost (a connection gone, a deadline passed) or came back wrong.
bool OutcomeUnknown(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

// Records the failing step and prefixes the message with it.
absl::Status StepFailed(JobError* error, std::string step, const absl::Status& s,
                        bool usage = false) {
  JobError e{std::move(step), s, usage};
  absl::Status out(s.code(), e.Message());
  LogError("worker.failed", {{"step", e.step},
                             {"code", absl::StatusCodeToString(s.code())},
                             {"reason", std::string(s.message())}});
  if (error != nullptr) *error = std::move(e);
  return out;
}

// A model or an input is parsed whole by protobuf, which takes at most
// INT_MAX bytes (Model::Load, Tensor::FromTensorProto): a larger object is
// refused on its size as soon as the store reports it (with the first
// segment), and its stream stops there; no buffer for it is made.
constexpr uint64_t kMaxFetchedBytes = std::numeric_limits<int>::max();

// Fetches one object into locked memory.
absl::StatusOr<SecretBytes> Fetch(JobObjectStore& store, const ObjectRef& ref,
                                  absl::string_view role, strongroom::v1::ObjectInfo* info) {
  const auto start = SteadyClock::now();
  SecretBytesSink sink(absl::StrCat(role, " ", FormatObjectRef(ref)), kMaxFetchedBytes);
  absl::Status reserve;
  auto got = store.Get(ref, sink, [&](uint64_t size) {
    if (reserve.ok()) reserve = sink.Reserve(size);
  });
  if (!got.ok()) return got.status();
  if (!reserve.ok()) return reserve;
  *info = *got;
  const bool locked = sink.locked();
  SecretBytes bytes = sink.Take();
  LogInfo("worker.get", {{"role", std::string(role)},
                         {"object", FormatObjectRef(ref)},
                         {"version", static_cast<unsigned long long>(got->version())},
                         {"bytes", static_cast<unsigned long long>(bytes.size())},
                         {"locked", locked},
                         {"ms", MsSince(start)}});
  return bytes;
}

// The serialized TensorProto of `t`, built in locked memory; the protobuf's
// own copy of the payload is wiped before returning.
absl::StatusOr<SecretBytes> SerializeOutput(const Tensor& t, absl::string_view name) {
  // The payload alone past what protobuf writes: refused before the copy
  // into the TensorProto (as much locked memory again, up to the 16 GiB a
  // runtime tensor may hold).
  if (t.byte_size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::ResourceExhaustedError(absl::StrCat(
        t.byte_size(), " bytes of output is too large for a serialized TensorProto (2 GiB)"));
  }
  ::onnx::TensorProto proto;
  t.ToTensorProto(name, &proto);
  const size_t size = proto.ByteSizeLong();
  std::string* raw = proto.mutable_raw_data();
  // Refused before the locked buffer is made: a size protobuf cannot write
  // must not first cost that much locked memory (or abort when there is not
  // that much to lock).
  if (size > static_cast<size_t>(std::numeric_limits<int>::max())) {
    OPENSSL_cleanse(raw->data(), raw->size());
    return absl::ResourceExhaustedError(
        absl::StrCat(size, " bytes is too large for a serialized TensorProto (2 GiB)"));
  }
  SecretBytes out(size);
  const bool ok = proto.SerializeToArray(out.RevealMutable().data(), static_cast<int>(size));
  OPENSSL_cleanse(raw->data(), raw->size());
  if (!ok) return absl::InternalError(absl::StrCat("serializing output '", name, "' failed"));
  return out;
}

}  // namespace

std::string JobError::Message() const { return absl::StrCat(step, ": ", status.message()); }

ObjectRef OutputObject(const ObjectRef& output, size_t index, size_t count) {
  ObjectRef out = output;
  out.version = 0;
  if (count != 1) absl::StrAppend(&out.name, "/output_", index);
  return out;
}

absl::StatusOr<Tensor> RepeatAlongBatch(const Tensor& input, const onnx::ValueInfo& model_input,
                                        int batch, int64_t max_tensor_bytes) {
  if (batch == 1) return input;
  if (input.rank() == 0 ||
      (model_input.has_shape && (model_input.shape.empty() || model_input.shape[0] >= 0))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--batch ", batch, ": model input '", model_input.name, "' has a fixed batch dimension ",
        onnx::ShapeToString(model_input.has_shape ? model_input.shape : input.shape())));
  }
  onnx::Shape shape = input.shape();
  if (shape[0] > std::numeric_limits<int64_t>::max() / batch) {
    return absl::InvalidArgumentError(absl::StrCat("--batch ", batch, ": model input '",
                                                   model_input.name, "' of dimension ", shape[0],
                                                   " would overflow its batch dimension"));
  }
  // Before allocating: the session would refuse a larger input only after
  // it was made, and an allocation that fails under mlockall aborts.
  if (static_cast<int64_t>(input.byte_size()) > max_tensor_bytes / batch) {
    return absl::InvalidArgumentError(
        absl::StrCat("--batch ", batch, ": model input '", model_input.name, "' would take ",
                     static_cast<double>(input.byte_size()) * batch, " bytes, more than the ",
                     max_tensor_bytes, " a tensor may take"));
  }
  shape[0] *= batch;
  auto t = Tensor::Create(input.dtype(), shape);
  if (!t.ok()) return t.status();
  const std::span<const uint8_t> one = input.bytes();
  std::span<uint8_t> all = t->mutable_bytes();
  for (int b = 0; b < batch; ++b) {
    std::memcpy(all.data() + static_cast<size_t>(b) * one.size(), one.data(), one.size());
  }
  return t;
}

absl::StatusOr<JobResult> RunInferenceJob(const JobSpec& spec, JobObjectStore& store,
                                          JobError* error) {
  const auto job_start = SteadyClock::now();

  // 1. Attest for every dataset before any data moves.
  std::vector<std::string> datasets;
  std::set<std::string> seen;
  auto add = [&](const ObjectRef& r) {
    if (seen.insert(r.dataset).second) datasets.push_back(r.dataset);
  };
  add(spec.model);
  for (const ObjectRef& r : spec.inputs) add(r);
  add(spec.output);
  for (const std::string& ds : datasets) {
    const auto start = SteadyClock::now();
    absl::Status s = store.Attest(ds);
    if (!s.ok()) return StepFailed(error, absl::StrCat("attest datasets/", ds), s);
    LogInfo("worker.attest", {{"dataset", ds}, {"ms", MsSince(start)}});
  }

  // 2-3. The model: fetched into locked memory, compiled, then wiped.
  strongroom::v1::ObjectInfo model_info;
  const std::string model_step = absl::StrCat("model ", FormatObjectRef(spec.model));
  auto model_bytes = Fetch(store, spec.model, "model", &model_info);
  if (!model_bytes.ok()) return StepFailed(error, model_step, model_bytes.status());
  auto load_start = SteadyClock::now();
  auto model = onnx::Model::Load(model_bytes->Reveal());
  *model_bytes = SecretBytes();  // wiped now; the runtime has its own copy
  if (!model.ok())
    return StepFailed(error, absl::StrCat("load ", FormatObjectRef(spec.model)), model.status());
  LogInfo("worker.load", {{"object", FormatObjectRef(spec.model)},
                          {"nodes", static_cast<unsigned long>(model->nodes().size())},
                          {"inputs", static_cast<unsigned long>(model->inputs().size())},
                          {"outputs", static_cast<unsigned long>(model->outputs().size())},
                          {"ms", MsSince(load_start)}});
  if (spec.inputs.size() != model->inputs().size()) {
    return StepFailed(
        error, "load",
        absl::InvalidArgumentError(absl::StrCat("the model takes ", model->inputs().size(),
                                                " inputs; ", spec.inputs.size(), " --input given")),
        /*usage=*/true);
  }
  // --batch repeats the inputs: a model without any would run once and be
  // logged as a batch, so the flag is refused rather than ignored.
  if (spec.batch > 1 && model->inputs().empty()) {
    return StepFailed(error, "load",
                      absl::InvalidArgumentError(absl::StrCat(
                          "--batch ", spec.batch, ": the model takes no inputs to repeat")),
                      /*usage=*/true);
  }

  // The names the outputs will take (NAME/output_<i> when several) must be
  // valid before any work, and several must fit one commit: the store would
  // refuse them only at their upload.
  if (model->outputs().size() > static_cast<size_t>(storage::sealed::kMaxCommitUploads)) {
    return StepFailed(error, "load",
                      absl::FailedPreconditionError(absl::StrCat(
                          "the model has ", model->outputs().size(), " outputs; at most ",
                          storage::sealed::kMaxCommitUploads, " are stored together")),
                      /*usage=*/true);
  }
  for (size_t i = 0; i < model->outputs().size(); ++i) {
    const ObjectRef out = OutputObject(spec.output, i, model->outputs().size());
    if (absl::Status s = storage::sealed::ValidateObjectName(out.name, "--output"); !s.ok()) {
      return StepFailed(error, "load", s, /*usage=*/true);
    }
  }

  // 4. The inputs: fetched, parsed, wiped; repeated for --batch.
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    const ObjectRef& ref = spec.inputs[i];
    const std::string step = absl::StrCat("input ", i, " ", FormatObjectRef(ref));
    strongroom::v1::ObjectInfo info;
    auto bytes = Fetch(store, ref, "input", &info);
    if (!bytes.ok()) return StepFailed(error, step, bytes.status());
    const auto parse_start = SteadyClock::now();
    auto tensor =
        Tensor::FromTensorProto(bytes->Reveal(), absl::StrCat("--input ", FormatObjectRef(ref)));
    *bytes = SecretBytes();
    if (!tensor.ok()) return StepFailed(error, step, tensor.status());
    // An input that does not fit the model is the caller's mistake (exit 2),
    // found before the session (a weight upload with cuda) is paid for.
    if (absl::Status fits = onnx::CheckInputFits(model->inputs()[i], *tensor, i); !fits.ok()) {
      return StepFailed(error, step, fits, /*usage=*/true);
    }
    auto batched =
        RepeatAlongBatch(*tensor, model->inputs()[i], spec.batch, spec.session.max_tensor_bytes);
    if (!batched.ok()) return StepFailed(error, step, batched.status(), /*usage=*/true);
    inputs.push_back(*std::move(batched));
    LogInfo("worker.parse", {{"input", static_cast<unsigned long>(i)},
                             {"bytes", static_cast<unsigned long long>(inputs.back().byte_size())},
                             {"ms", MsSince(parse_start)}});
  }

  // 5. Inference.
  const auto session_start = SteadyClock::now();
  auto session = onnx::Session::Create(*model, spec.session);
  if (!session.ok()) return StepFailed(error, "infer", session.status());
  const double session_ms = MsSince(session_start);
  const auto run_start = SteadyClock::now();
  auto outputs = (*session)->Run(inputs);
  for (Tensor& t : inputs) t = Tensor();  // the inputs' storage is wiped as it is freed
  if (!outputs.ok()) return StepFailed(error, "infer", outputs.status());
  LogInfo("worker.infer", {{"device", std::string(onnx::DeviceName(spec.session.device))},
                           {"threads", (*session)->num_threads()},
                           {"batch", spec.batch},
                           {"session_ms", session_ms},
                           {"ms", MsSince(run_start)}});

  // 6. Outputs: encrypted under the output dataset's key as they upload.
  // All are serialized first, so that nothing is stored when one cannot be;
  // several are staged one by one and then committed together, so a run
  // stores all of its outputs or none.
  std::vector<SecretBytes> serialized_outputs;
  const auto serialize_start = SteadyClock::now();
  for (size_t i = 0; i < outputs->size(); ++i) {
    const ObjectRef dest = OutputObject(spec.output, i, outputs->size());
    auto serialized_or = SerializeOutput((*outputs)[i], model->outputs()[i].name);
    (*outputs)[i] = Tensor();
    if (!serialized_or.ok()) {
      return StepFailed(error, absl::StrCat("output ", FormatObjectRef(dest)),
                        serialized_or.status());
    }
    serialized_outputs.push_back(*std::move(serialized_or));
  }
  LogInfo("worker.serialize", {{"outputs", static_cast<unsigned long>(serialized_outputs.size())},
                               {"ms", MsSince(serialize_start)}});
  // One id for the outputs of this run: a run stores all of its outputs or
  // none, but versions are numbered when each upload begins, so two runs
  // writing the same outputs at once can leave the latest versions mixed;
  // the owner tells one run's set from a mix by this label.
  uint8_t job_id_bytes[12];
  if (RAND_bytes(job_id_bytes, sizeof(job_id_bytes)) != 1) {
    return StepFailed(error, "output", absl::InternalError("RAND_bytes failed for the job id"));
  }
  const std::string job_id = HexEncode(job_id_bytes);
  JobResult result;
  const bool together = outputs->size() > 1;
  std::vector<JobObjectStore::Staged> staged;
  for (size_t i = 0; i < outputs->size(); ++i) {
    const ObjectRef dest = OutputObject(spec.output, i, outputs->size());
    const std::string step = absl::StrCat("output ", FormatObjectRef(dest));
    const auto start = SteadyClock::now();
    SecretBytes serialized = std::move(serialized_outputs[i]);
    SecretBytesSource source(serialized.Reveal());
    std::map<std::string, std::string> labels = {
        {"strongroom.worker.model",
         FormatObjectRef(ObjectRef{spec.model.dataset, spec.model.name, model_info.version()})},
        {"strongroom.worker.output", absl::StrCat(i)},
        {"strongroom.worker.outputs", absl::StrCat(outputs->size())},
        {"strongroom.worker.job", job_id}};
    uint64_t version = 0;
    if (together) {
      auto stage = store.Stage(dest, labels, serialized.size(), source);
      if (!stage.ok()) {
        // Best effort: the store's idle sweep discards them otherwise.
        if (!staged.empty()) store.DiscardStaged(spec.output.dataset, staged).IgnoreError();
        return StepFailed(
            error, step,
            absl::Status(stage.status().code(), absl::StrCat(stage.status().message(),
                                                             " (no output was stored: the outputs "
                                                             "commit together or not at all)")));
      }
      version = stage->info.version();
      staged.push_back(*std::move(stage));
    } else {
      auto put = store.Put(dest, labels, serialized.size(), source);
      if (!put.ok() && OutcomeUnknown(put.status())) {
        return StepFailed(
            error, step,
            absl::Status(put.status().code(),
                         absl::StrCat(put.status().message(),
                                      " (whether the output was stored is not known: look for "
                                      "a version labelled strongroom.worker.job=",
                                      job_id, ")")));
      }
      if (!put.ok()) return StepFailed(error, step, put.status());
      version = put->version();
    }
    JobOutput out{dest, model->outputs()[i].name, serialized.size()};
    out.object.version = version;
    LogInfo(together ? "worker.stage" : "worker.put",
            {{"object", FormatObjectRef(out.object)},
             {"version", static_cast<unsigned long long>(version)},
             {"bytes", static_cast<unsigned long long>(out.bytes)},
             {"ms", MsSince(start)}});
    result.outputs.push_back(std::move(out));
  }
  if (together) {
    const auto start = SteadyClock::now();
    auto committed = store.CommitStaged(spec.output.dataset, staged);
    if (!committed.ok()) {
      // Best effort, and harmless if the commit did happen (a discard skips
      // uploads that are gone); otherwise the store's idle sweep does it.
      store.DiscardStaged(spec.output.dataset, staged).IgnoreError();
      return StepFailed(
          error, "outputs",
          absl::Status(
              committed.status().code(),
              absl::StrCat(committed.status().message(),
                           OutcomeUnknown(committed.status())
                               ? absl::StrCat(" (the outputs commit together: all of them or none; "
                                              "which is not known: look for versions labelled "
                                              "strongroom.worker.job=",
                                              job_id, ")")
                               : " (the outputs commit together: none was stored)")));
    }
    if (committed->size() != result.outputs.size()) {
      return StepFailed(
          error, "outputs",
          absl::DataLossError(absl::StrCat("the store committed ", committed->size(), " of ",
                                           result.outputs.size(), " outputs")));
    }
    for (size_t i = 0; i < committed->size(); ++i) {
      result.outputs[i].object.version = (*committed)[i].version();
    }
    LogInfo("worker.commit",
            {{"outputs", static_cast<unsigned long>(committed->size())}, {"ms", MsSince(start)}});
  }
  LogInfo("worker.done", {{"outputs", static_cast<unsigned long>(result.outputs.size())},
                          {"ms", MsSince(job_start)}});
  return result;
}

}  // namespace strongroom::worker
