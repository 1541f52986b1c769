// Internal: the operator factories, one per op type, defined in ops/*.cc and
// listed in op.cc's registry.
#ifndef STRONGROOM_WORKER_ONNX_OPS_FACTORIES_H_
#define STRONGROOM_WORKER_ONNX_OPS_FACTORIES_H_

#include "worker/onnx/op.h"

namespace strongroom::worker::onnx::ops {

#define ONNX_DECLARE_OP(name) \
  absl::StatusOr<std::unique_ptr<Op>> Create##name(const OpConfig& config, AttributeReader& attrs)

// elementwise.cc
ONNX_DECLARE_OP(Add);
ONNX_DECLARE_OP(Sub);
ONNX_DECLARE_OP(Mul);
ONNX_DECLARE_OP(Div);
ONNX_DECLARE_OP(Sum);
ONNX_DECLARE_OP(Relu);
ONNX_DECLARE_OP(Sigmoid);
ONNX_DECLARE_OP(Tanh);
ONNX_DECLARE_OP(Gelu);
ONNX_DECLARE_OP(Identity);
ONNX_DECLARE_OP(Dropout);
// matmul.cc
ONNX_DECLARE_OP(MatMul);
ONNX_DECLARE_OP(Gemm);
// conv.cc
ONNX_DECLARE_OP(Conv);
// pool.cc
ONNX_DECLARE_OP(MaxPool);
ONNX_DECLARE_OP(AveragePool);
ONNX_DECLARE_OP(GlobalAveragePool);
// normalization.cc
ONNX_DECLARE_OP(BatchNormalization);
ONNX_DECLARE_OP(LayerNormalization);
ONNX_DECLARE_OP(LRN);
// softmax.cc
ONNX_DECLARE_OP(Softmax);
ONNX_DECLARE_OP(LogSoftmax);
ONNX_DECLARE_OP(ArgMax);
// shape_ops.cc
ONNX_DECLARE_OP(Flatten);
ONNX_DECLARE_OP(Reshape);
ONNX_DECLARE_OP(Transpose);
ONNX_DECLARE_OP(Concat);
ONNX_DECLARE_OP(Unsqueeze);
ONNX_DECLARE_OP(Constant);
ONNX_DECLARE_OP(ConstantOfShape);

#undef ONNX_DECLARE_OP

}  // namespace strongroom::worker::onnx::ops

#endif  // STRONGROOM_WORKER_ONNX_OPS_FACTORIES_H_
