// Internal: the kernel of a fused Concat on axis 1 whose inputs are all
// outputs of kernels that can write a channel slice (Op::WritesChannelSlices,
// Conv): each part writes straight into its channels of the concatenation,
// so the parts' outputs never exist apart and nothing is copied (fusion.h).
//
// Inputs are the parts' inputs one after the other (part i takes the next
// arity[i]); output 0 is the concatenation. Thread-compatible like any Op.
#ifndef STRONGROOM_WORKER_ONNX_CHANNEL_CONCAT_H_
#define STRONGROOM_WORKER_ONNX_CHANNEL_CONCAT_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "worker/onnx/op.h"

namespace strongroom::worker::onnx::internal {

struct ChannelConcatPart {
  const Op* op = nullptr;  // outlives the kernel (the plan's or the model's)
  size_t arity = 0;        // inputs it takes
  std::string label;       // for errors: "node 'conv3' (Conv)"
};

std::unique_ptr<Op> MakeChannelConcat(std::vector<ChannelConcatPart> parts);

}  // namespace strongroom::worker::onnx::internal

#endif  // STRONGROOM_WORKER_ONNX_CHANNEL_CONCAT_H_
