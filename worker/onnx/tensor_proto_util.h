// Internal: protobuf-side helpers of the ONNX loader (not for callers).
#ifndef STRONGROOM_WORKER_ONNX_TENSOR_PROTO_UTIL_H_
#define STRONGROOM_WORKER_ONNX_TENSOR_PROTO_UTIL_H_

namespace onnx {
class TensorProto;
class ModelProto;
}  // namespace onnx

namespace strongroom::worker::onnx {

// Overwrites the payload (raw_data and the typed value fields) of `t` with
// zeros in place, so weights do not linger in freed heap memory. Best
// effort: copies protobuf made while parsing are out of reach.
void WipeTensorPayload(::onnx::TensorProto* t);

// The same for every tensor in a model: initializers and tensor-valued
// attributes (Constant, ConstantOfShape).
void WipeModelPayloads(::onnx::ModelProto* model);

}  // namespace strongroom::worker::onnx

#endif  // STRONGROOM_WORKER_ONNX_TENSOR_PROTO_UTIL_H_
