// `strongroom-worker run-local`: runs an ONNX model on TensorProto files,
// outside any attested flow (for development and conformance checks).
//
//   run-local --model FILE.onnx --input input_0.pb [--input input_1.pb]...
//             [--expect output_0.pb]... [--rtol R] [--atol A]
//             [--output-dir DIR] [--device cpu|cuda] [--threads N] [--profile]
//
// Inputs bind to the model's runtime inputs in order. Outputs are written as
// DIR/output_<i>.pb (TensorProto named after the graph output) when
// --output-dir is given. Each --expect file is compared with the output of
// the same index: |actual - expected| <= atol + rtol * |expected| (defaults
// rtol 1e-3, atol 1e-7, ONNX's backend-test values); the largest difference
// is printed per output. --profile prints the run's time per operator type.
//
// Exit status: 0 ran (and every --expect matched); 1 the model failed to run
// or an output differs; 2 usage errors and files that cannot be read, parsed
// or loaded (including models the runtime refuses).
#ifndef STRONGROOM_WORKER_RUN_LOCAL_H_
#define STRONGROOM_WORKER_RUN_LOCAL_H_

#include <string>
#include <vector>

namespace strongroom::worker {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// `args` are the words after "run-local".
int RunLocalCommand(const std::vector<std::string>& args);

extern const char kRunLocalUsage[];

}  // namespace strongroom::worker

#endif  // STRONGROOM_WORKER_RUN_LOCAL_H_
