#include "worker/onnx/ops/window.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace strongroom::worker::onnx::ops {
namespace {

// Window parameters are small; this bound keeps every product far from
// overflow.
constexpr int64_t kMaxWindowParam = int64_t{1} << 24;

absl::Status CheckRange(const std::vector<int64_t>& v, absl::string_view name, int64_t min) {
  for (int64_t x : v) {
    if (x < min || x > kMaxWindowParam) {
      return absl::InvalidArgumentError(absl::StrCat(
          "attribute '", name, "'=[", absl::StrJoin(v, ","), "] has a value out of range"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<WindowAttrs> ReadWindowAttrs(AttributeReader& attrs, bool with_dilations,
                                            bool with_ceil_mode, bool kernel_required) {
  WindowAttrs w;
  auto auto_pad = attrs.String("auto_pad", "NOTSET");
  if (!auto_pad.ok()) return auto_pad.status();
  if (*auto_pad == "NOTSET") {
    w.auto_pad = AutoPad::kNotSet;
  } else if (*auto_pad == "VALID") {
    w.auto_pad = AutoPad::kValid;
  } else if (*auto_pad == "SAME_UPPER") {
    w.auto_pad = AutoPad::kSameUpper;
  } else if (*auto_pad == "SAME_LOWER") {
    w.auto_pad = AutoPad::kSameLower;
  } else {
    return UnsupportedAttribute("auto_pad", *auto_pad);
  }
  auto kernel = attrs.Ints("kernel_shape");
  if (!kernel.ok()) return kernel.status();
  w.kernel = *kernel;
  if (kernel_required && w.kernel.empty()) {
    return absl::InvalidArgumentError("attribute 'kernel_shape' is required");
  }
  auto strides = attrs.Ints("strides");
  if (!strides.ok()) return strides.status();
  w.strides = *strides;
  auto pads = attrs.Ints("pads");
  if (!pads.ok()) return pads.status();
  w.pads = *pads;
  if (with_dilations) {
    auto dilations = attrs.Ints("dilations");
    if (!dilations.ok()) return dilations.status();
    w.dilations = *dilations;
  }
  if (with_ceil_mode) {
    auto ceil_mode = attrs.Int("ceil_mode", 0);
    if (!ceil_mode.ok()) return ceil_mode.status();
    if (*ceil_mode != 0 && *ceil_mode != 1) return UnsupportedAttribute("ceil_mode", *ceil_mode);
    w.ceil_mode = *ceil_mode == 1;
  }
  for (const absl::Status& s :
       {CheckRange(w.kernel, "kernel_shape", 1), CheckRange(w.strides, "strides", 1),
        CheckRange(w.dilations, "dilations", 1), CheckRange(w.pads, "pads", 0)}) {
    if (!s.ok()) return s;
  }
  if (!w.pads.empty() && w.auto_pad != AutoPad::kNotSet) {
    bool any = false;
    for (int64_t p : w.pads) any |= p != 0;
    if (any) {
      return absl::InvalidArgumentError(
          "attributes 'pads' and 'auto_pad' other than NOTSET cannot both be set");
    }
  }
  return w;
}

absl::StatusOr<std::vector<AxisWindow>> ResolveWindow(const WindowAttrs& attrs,
                                                      const Shape& spatial,
                                                      const std::vector<int64_t>& kernel_in) {
  const std::vector<int64_t>& kernel = attrs.kernel.empty() ? kernel_in : attrs.kernel;
  const size_t r = spatial.size();
  auto count_error = [&](absl::string_view name, size_t have, size_t want) {
    return absl::InvalidArgumentError(absl::StrCat("attribute '", name, "' has ", have,
                                                   " values; the input has ", r,
                                                   " spatial dims, so ", want, " are needed"));
  };
  if (kernel.size() != r) return count_error("kernel_shape", kernel.size(), r);
  if (!attrs.strides.empty() && attrs.strides.size() != r) {
    return count_error("strides", attrs.strides.size(), r);
  }
  if (!attrs.dilations.empty() && attrs.dilations.size() != r) {
    return count_error("dilations", attrs.dilations.size(), r);
  }
  if (!attrs.pads.empty() && attrs.pads.size() != 2 * r) {
    return count_error("pads", attrs.pads.size(), 2 * r);
  }
  std::vector<AxisWindow> out(r);
  for (size_t i = 0; i < r; ++i) {
    AxisWindow& w = out[i];
    w.in = spatial[i];
    w.kernel = kernel[i];
    if (w.kernel < 1 || w.kernel > kMaxWindowParam) {
      return absl::InvalidArgumentError(absl::StrCat("kernel dim ", w.kernel, " is out of range"));
    }
    w.stride = attrs.strides.empty() ? 1 : attrs.strides[i];
    w.dilation = attrs.dilations.empty() ? 1 : attrs.dilations[i];
    const int64_t eff = (w.kernel - 1) * w.dilation + 1;
    switch (attrs.auto_pad) {
      case AutoPad::kNotSet:
      case AutoPad::kValid: {
        w.pad_begin = attrs.pads.empty() || attrs.auto_pad == AutoPad::kValid ? 0 : attrs.pads[i];
        w.pad_end = attrs.pads.empty() || attrs.auto_pad == AutoPad::kValid ? 0 : attrs.pads[i + r];
        const int64_t span = w.in + w.pad_begin + w.pad_end - eff;
        if (span < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("window of ", eff, " does not fit spatial dim ", i, " (", w.in,
                           " plus padding ", w.pad_begin, "+", w.pad_end, ")"));
        }
        if (attrs.ceil_mode) {
          w.out = (span + w.stride - 1) / w.stride + 1;
          // The last window must start inside the input or its left padding.
          if ((w.out - 1) * w.stride >= w.in + w.pad_begin) --w.out;
        } else {
          w.out = span / w.stride + 1;
        }
        break;
      }
      case AutoPad::kSameUpper:
      case AutoPad::kSameLower: {
        w.out = (w.in + w.stride - 1) / w.stride;
        const int64_t total = std::max<int64_t>(0, (w.out - 1) * w.stride + eff - w.in);
        w.pad_begin = attrs.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
        w.pad_end = total - w.pad_begin;
        break;
      }
    }
  }
  return out;
}

}  // namespace strongroom::worker::onnx::ops
