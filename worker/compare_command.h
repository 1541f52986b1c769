// `strongroom-worker compare`: compares two ONNX TensorProto files with the
// ONNX backend runner's tolerance (worker/onnx/compare.h), as run-local's
// --expect does for a model's outputs. For checking outputs that were
// produced elsewhere, e.g. downloaded from the sealed store after
// `strongroom-worker run`.
//
//   compare ACTUAL.pb EXPECTED.pb [--rtol R] [--atol A]
//
// Prints one line: "matches, max |diff| ..." or "DIFFERS, ..." (never the
// values). Exit status: 0 match; 1 differ (type, shape or values);
// 2 usage errors and files that cannot be read or parsed.
#ifndef STRONGROOM_WORKER_COMPARE_COMMAND_H_
#define STRONGROOM_WORKER_COMPARE_COMMAND_H_

#include <string>
#include <vector>

namespace strongroom::worker {

// `args` are the words after "compare".
int CompareCommand(const std::vector<std::string>& args);

}  // namespace strongroom::worker

#endif  // STRONGROOM_WORKER_COMPARE_COMMAND_H_
