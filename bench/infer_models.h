// The models strongroom-bench infer runs, with the input each is fed and the
// reference output it must produce, read from shared/vectors/onnx-models.
//
//   mnist-8      mnist-8/model.onnx; input and reference output from
//                test_data_set_0 (input_0.pb, output_0.pb)
//   squeezenet,  onnx-light/light_<name>.onnx with the input ONNX's backend
//   resnet50,    runner builds for them (float32 arange(n).reshape(shape) / n,
//   vgg19        see the folder's SOURCES.md) and light_<name>_output_0.pb
//
// Errors: NotFound/Unavailable from reading a file (naming it),
// InvalidArgument for a model the runtime refuses or a name not listed
// above. Value types; thread-compatible.
#ifndef STRONGROOM_BENCH_INFER_MODELS_H_
#define STRONGROOM_BENCH_INFER_MODELS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/onnx/model.h"
#include "worker/onnx/tensor.h"

namespace strongroom::bench {

// The names above, in that order.
const std::vector<std::string>& InferModelNames();

struct InferModel {
  std::string name;
  std::string path;
  std::string bytes;  // the model file
  std::optional<worker::onnx::Model> model;
  double load_ms = 0;  // Model::Load of `bytes`
  std::string input_name;
  worker::onnx::Tensor input;      // batch 1
  worker::onnx::Tensor reference;  // the expected output 0 for `input`
  // Bytes of the constants the runtime nodes read: initializers, and the
  // outputs of constant subgraphs (the light models' ConstantOfShape
  // weights), i.e. what a file carrying the weights would hold.
  int64_t weight_bytes = 0;
};

// Reads and loads model `name` from `vectors_dir`.
absl::StatusOr<InferModel> LoadInferModel(const std::string& vectors_dir, const std::string& name);

// `input` repeated `batch` times along dim 0, when the model's input allows
// that batch; otherwise the reason it does not (e.g. "input 'x' has a fixed
// batch dimension: [1,3,224,224]").
absl::StatusOr<worker::onnx::Tensor> BatchedInput(const InferModel& m, int batch);

}  // namespace strongroom::bench

#endif  // STRONGROOM_BENCH_INFER_MODELS_H_
