// InferenceJob: the attested inference flow of `strongroom-worker run`,
// over an abstract sealed store so that tests can run it without a broker.
//
//   1. attest   once per distinct dataset (model, inputs, output): a token
//               for "datasets/{id}" under that dataset's release policy.
//               Nothing is read or written until every dataset accepted the
//               evidence, so a refused worker receives and uploads nothing.
//   2. model    GetObject of the model into a SecretBytesSink (the data key
//               comes from the broker sealed to this worker; decryption
//               happens segment by segment as the object streams in);
//   3. load     Model::Load from that memory; the plaintext buffer is wiped
//               right after (the compiled weights live in the runtime's
//               tensors, wiped when freed);
//   4. inputs   GetObject of each input into a SecretBytesSink, parsed as a
//               TensorProto, then wiped; --batch N repeats it N times along
//               dim 0 (the model's dim 0 must be symbolic);
//   5. infer    Session::Create and one Run on --device with --threads;
//   6. outputs  each output serialized as a TensorProto into SecretBytes and
//               PutObject into the output dataset (encrypted under a fresh
//               data key wrapped by the dataset's key: only its owner reads
//               it); one output goes to DATASET/NAME, several to
//               DATASET/NAME/output_<i>.
// Each step logs one structured line "worker.<step>" with its duration in
// ms and sizes, object names and versions; never contents, keys or tokens.
//
// Errors: a JobError naming the step ("attest datasets/models", "model
// ds/m", "load", "input 1 ds/x", "infer", "output ds/y"), the status, and
// whether it is a usage error (inputs or --batch that do not fit the model:
// exit status 2) rather than a refusal or failure (exit 1).
//
// Thread-compatible: one job at a time per store.
#ifndef STRONGROOM_WORKER_INFERENCE_JOB_H_
#define STRONGROOM_WORKER_INFERENCE_JOB_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/streaming/byte_stream.h"
#include "strongroom/v1/sealed_store.pb.h"
#include "worker/onnx/session.h"
#include "worker/onnx/tensor.h"
#include "worker/run_flags.h"

namespace strongroom::worker {

// The sealed store as a job sees it: WorkloadObjectStore (workload_object_store.h) forwards
// to client::WorkloadClient; tests use an in-memory fake.
class JobObjectStore {
 public:
  virtual ~JobObjectStore() = default;
  // Obtains (or refreshes) the token for `dataset`; PermissionDenied when
  // the broker refuses the evidence.
  virtual absl::Status Attest(absl::string_view dataset) = 0;
  // Streams the object's plaintext into `out`. `on_size` is called with the
  // object's plaintext size as soon as it is known (may be never).
  virtual absl::StatusOr<strongroom::v1::ObjectInfo> Get(
      const ObjectRef& ref, storage::ByteSink& out,
      const std::function<void(uint64_t)>& on_size) = 0;
  // Uploads a new version of `ref` (version ignored) from `in`.
  virtual absl::StatusOr<strongroom::v1::ObjectInfo> Put(
      const ObjectRef& ref, const std::map<std::string, std::string>& labels, uint64_t size,
      storage::ByteSource& in) = 0;
  // Several objects as one (the outputs of a multi-output model): Stage
  // uploads each without making it visible; CommitStaged makes all of them
  // visible together, or none (one dataset). Staged uploads never committed
  // are discarded by the store.
  struct Staged {
    std::string upload_id;
    strongroom::v1::ObjectInfo info;  // as it will be committed
  };
  virtual absl::StatusOr<Staged> Stage(const ObjectRef& ref,
                                       const std::map<std::string, std::string>& labels,
                                       uint64_t size, storage::ByteSource& in) = 0;
  virtual absl::StatusOr<std::vector<strongroom::v1::ObjectInfo>> CommitStaged(
      absl::string_view dataset, const std::vector<Staged>& staged) = 0;
  // Drops staged uploads of a set that will not be committed.
  virtual absl::Status DiscardStaged(absl::string_view dataset,
                                     const std::vector<Staged>& staged) = 0;
};

struct JobSpec {
  ObjectRef model;
  std::vector<ObjectRef> inputs;
  ObjectRef output;
  onnx::SessionOptions session;
  int batch = 1;
};

struct JobError {
  std::string step;
  absl::Status status;
  bool usage = false;
  std::string Message() const;  // "step: status message"
};

struct JobOutput {
  ObjectRef object;  // with the version the server gave it
  std::string graph_output;
  uint64_t bytes = 0;
};

struct JobResult {
  std::vector<JobOutput> outputs;
};

// Runs the whole flow. On failure the status keeps the step's code and its
// message is JobError::Message(); `error`, when given, gets the parts.
absl::StatusOr<JobResult> RunInferenceJob(const JobSpec& spec, JobObjectStore& store,
                                          JobError* error = nullptr);

// Where output `index` of `count` goes: `output` itself when count is 1,
// else output.name + "/output_<index>".
ObjectRef OutputObject(const ObjectRef& output, size_t index, size_t count);

// `input` repeated `batch` times along dim 0. FailedPrecondition naming the
// model input when its dim 0 is static (or it is a scalar) and batch > 1;
// InvalidArgument when the result would take more than `max_tensor_bytes`
// (checked before allocating).
absl::StatusOr<onnx::Tensor> RepeatAlongBatch(const onnx::Tensor& input,
                                              const onnx::ValueInfo& model_input, int batch,
                                              int64_t max_tensor_bytes);

}  // namespace strongroom::worker

#endif  // STRONGROOM_WORKER_INFERENCE_JOB_H_
