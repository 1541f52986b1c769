// Internal: sliding-window geometry shared by Conv and the pools: kernel,
// strides, dilations, pads and auto_pad as ONNX defines them, resolved to
// per-axis padding and output sizes for a given input.
#ifndef STRONGROOM_WORKER_ONNX_OPS_WINDOW_H_
#define STRONGROOM_WORKER_ONNX_OPS_WINDOW_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/onnx/attributes.h"
#include "worker/onnx/tensor.h"

namespace strongroom::worker::onnx::ops {

enum class AutoPad { kNotSet, kValid, kSameUpper, kSameLower };

// The window attributes as written in the node; empty vectors mean
// "default" (kernel_shape from the weights, strides and dilations 1, pads
// 0).
struct WindowAttrs {
  AutoPad auto_pad = AutoPad::kNotSet;
  std::vector<int64_t> kernel, strides, dilations, pads;
  bool ceil_mode = false;
};

// Reads auto_pad, kernel_shape, strides, pads and (when `with_dilations`)
// dilations, and (when `with_ceil_mode`) ceil_mode; validates values that
// do not depend on the input.
absl::StatusOr<WindowAttrs> ReadWindowAttrs(AttributeReader& attrs, bool with_dilations,
                                            bool with_ceil_mode, bool kernel_required);

struct AxisWindow {
  int64_t in, kernel, stride, dilation, pad_begin, pad_end, out;
};

// Resolves the window over the spatial dims `spatial` (input dims after N
// and C); `kernel` overrides attrs.kernel when that is empty.
absl::StatusOr<std::vector<AxisWindow>> ResolveWindow(const WindowAttrs& attrs,
                                                      const Shape& spatial,
                                                      const std::vector<int64_t>& kernel);

}  // namespace strongroom::worker::onnx::ops

#endif  // STRONGROOM_WORKER_ONNX_OPS_WINDOW_H_
