// Internal: protobuf-side helpers of the ONNX loader (not for callers).
#ifndef STRONGROOM_WORKER_ONNX_TENSOR_PROTO_UTIL_H_
#define STRONGROOM_WORKER_ONNX_TENSOR_PROTO_UTIL_H_

namespace onnx {
class TensorProto;
class ModelProto;
}  // namespace onnx

namespace strongroom::worker::onnx {

// Overwrites the payload (raw_data, the typed value fields and string_data)
// of `t` with zeros in place, so weights do not linger in freed heap memory.
// Best effort: copies protobuf made while parsing are out of reach.
void WipeTensorPayload(::onnx::TensorProto* t);

// The same for every value a model carries: initializers and sparse
// initializers, tensor, sparse-tensor and plain-list (floats, ints, strings)
// attributes, in the main graph, in subgraphs (If / Loop / Scan bodies, which
// the runtime refuses but the parse holds), in training_info graphs and in
// functions. Names and the graph's structure are not wiped.
void WipeModelPayloads(::onnx::ModelProto* model);

}  // namespace strongroom::worker::onnx

#endif  // STRONGROOM_WORKER_ONNX_TENSOR_PROTO_UTIL_H_
