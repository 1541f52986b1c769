// Fuzzes the ONNX runtime's untrusted-input surface: Model::Load (protobuf
// parsing, tensor and attribute decoding, graph validation, static shape
// inference), Session::Create (constant folding runs kernels on constants)
// and, for models whose inputs all have small static shapes, one Run on
// zero-filled inputs; plus Tensor::FromTensorProto. A 64 KiB tensor limit
// keeps every kernel's work small. Errors are expected; crashes, leaks,
// UB and hangs are not.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "worker/onnx/model.h"
#include "worker/onnx/session.h"
#include "worker/onnx/tensor.h"

namespace {

using namespace strongroom::worker::onnx;  // NOLINT

constexpr int64_t kMaxBytes = 64 << 10;

void RunModel(std::span<const uint8_t> in) {
  auto model = Model::Load(in);
  if (!model.ok()) return;
  SessionOptions options;
  options.threads = 1;
  options.max_tensor_bytes = kMaxBytes;
  auto session = Session::Create(*model, options);
  if (!session.ok()) return;
  std::vector<Tensor> inputs;
  for (const ValueInfo& info : model->inputs()) {
    if (!info.has_shape) return;
    for (int64_t d : info.shape) {
      if (d < 0) return;
    }
    auto n = CheckedNumElements(info.shape, ElementSize(info.dtype), "input");
    if (!n.ok() || *n * static_cast<int64_t>(ElementSize(info.dtype)) > kMaxBytes) return;
    auto t = Tensor::Create(info.dtype, info.shape);
    if (!t.ok()) return;
    inputs.push_back(*std::move(t));
  }
  (void)(*session)->Run(inputs);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  (void)Tensor::FromTensorProto(in, "fuzz");
  RunModel(in);
  return 0;
}
