// OrtProcess: onnxruntime (the npm package onnxruntime-node, CPU build) as a
// long-lived child process of strongroom-bench infer, so the bench can time
// the same models in onnxruntime in the same run as its own runtime.
//
// The child is `node bench/onnxruntime/ort_child.js` (its header documents
// the protocol: one JSON request per line on its stdin, one JSON answer per
// line on its stdout). Sessions live in the child between requests, so the
// per-run timings it reports contain neither process start nor session
// creation. deploy/bench-deps.sh installs onnxruntime-node into
// bench/onnxruntime/node_modules.
//
//   ASSIGN_OR_RETURN(auto ort, OrtProcess::Start("node", script));
//   RETURN_IF_ERROR(ort->Load("resnet50@1", path, 1, "gpu_0/data_0", input).status());
//   ASSIGN_OR_RETURN(OrtRunBlock block, ort->Run("resnet50@1", 20));
//
// Failure: Start() is FailedPrecondition when the script or its
// node_modules/onnxruntime-node is missing (naming the path and the install
// script), and Internal when the child cannot be started or does not answer
// "hello". Every call returns Internal naming the request's cmd and id when
// the child answers {"ok": false} (with its message), answers something that
// is not JSON, exits, or does not answer within the timeout; the process is
// unusable after that (every later call repeats the first error).
//
// Ownership: the destructor closes the child's stdin (it then exits by
// itself), waits for it up to 5 s and then kills it (SIGKILL, by pid).
// Start() makes the process ignore SIGPIPE, so that a child that died is
// reported as an error instead of killing the bench.
//
// Thread-compatible: one thread at a time.
#ifndef STRONGROOM_BENCH_INFER_ORT_H_
#define STRONGROOM_BENCH_INFER_ORT_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/onnx/tensor.h"

namespace strongroom::bench {

// What one "run" request measured in the child.
struct OrtRunBlock {
  std::vector<double> run_us;  // per run: hrtime around `await session.run()`
  double block_us = 0;         // the whole loop
};

class OrtProcess {
 public:
  // Starts `node` (a path, or a name looked up in PATH) on `script` and
  // says hello. `timeout_s` bounds each answer.
  static absl::StatusOr<std::unique_ptr<OrtProcess>> Start(const std::string& node,
                                                           const std::string& script,
                                                           double timeout_s = 600);
  ~OrtProcess();
  OrtProcess(const OrtProcess&) = delete;
  OrtProcess& operator=(const OrtProcess&) = delete;

  // The "hello" answer: onnxruntime and node versions, await overhead.
  const nlohmann::json& hello() const { return hello_; }

  // Creates session `id` on the model file at `model_path` with `threads`
  // intra-op threads, feeding `input` (FLOAT) as input `input_name` on every
  // run. Returns the child's session creation time in milliseconds.
  absl::StatusOr<double> Load(const std::string& id, const std::string& model_path, int threads,
                              const std::string& input_name, const worker::onnx::Tensor& input);
  // `n` timed runs of session `id`, back to back.
  absl::StatusOr<OrtRunBlock> Run(const std::string& id, int n);
  // The outputs of one run of session `id` (FLOAT outputs only).
  absl::StatusOr<std::vector<worker::onnx::Tensor>> Outputs(const std::string& id);

  // Sends `request` and returns the answer, which had "ok": true.
  absl::StatusOr<nlohmann::json> Call(const nlohmann::json& request);

 private:
  OrtProcess(pid_t pid, int to_child, int from_child, double timeout_s)
      : pid_(pid), to_child_(to_child), from_child_(from_child), timeout_s_(timeout_s) {}
  absl::Status WriteLine(const std::string& line);
  absl::StatusOr<std::string> ReadLine();

  pid_t pid_;
  int to_child_;    // the child's stdin
  int from_child_;  // the child's stdout
  double timeout_s_;
  std::string buffered_;  // bytes read past the last line
  nlohmann::json hello_;
  absl::Status error_;  // sticky
};

}  // namespace strongroom::bench

#endif  // STRONGROOM_BENCH_INFER_ORT_H_
