#include "worker/onnx/compare.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace strongroom::worker::onnx {
namespace {

double ElementAt(const Tensor& t, int64_t i) {
  const size_t k = static_cast<size_t>(i);
  switch (t.dtype()) {
    case DataType::kFloat:
      return t.data<float>()[k];
    case DataType::kInt64:
      return static_cast<double>(t.data<int64_t>()[k]);
    case DataType::kInt32:
      return t.data<int32_t>()[k];
    case DataType::kUint8:
      return t.data<uint8_t>()[k];
    case DataType::kInt8:
      return t.data<int8_t>()[k];
    case DataType::kBool:
      return t.data<bool>()[k] ? 1 : 0;
    case DataType::kUndefined:
      break;
  }
  return 0;
}

}  // namespace

Comparison CompareTensors(const Tensor& actual, const Tensor& expected, double rtol, double atol) {
  Comparison c;
  if (actual.dtype() != expected.dtype() || actual.shape() != expected.shape()) {
    c.detail = absl::StrCat("got ", DataTypeName(actual.dtype()), " ",
                            ShapeToString(actual.shape()), ", expected ",
                            DataTypeName(expected.dtype()), " ", ShapeToString(expected.shape()));
    return c;
  }
  double worst_excess = -1;
  for (int64_t i = 0; i < actual.num_elements(); ++i) {
    const double a = ElementAt(actual, i), e = ElementAt(expected, i);
    double diff;
    bool ok;
    if (std::isnan(a) || std::isnan(e)) {
      ok = std::isnan(a) && std::isnan(e);
      diff = ok ? 0 : INFINITY;
    } else if (std::isinf(a) || std::isinf(e)) {
      ok = a == e;
      diff = ok ? 0 : INFINITY;
    } else {
      diff = std::fabs(a - e);
      ok = diff <= atol + rtol * std::fabs(e);
    }
    if (diff > c.max_abs_diff || c.worst_index < 0) c.max_abs_diff = std::max(c.max_abs_diff, diff);
    const double excess = diff - (atol + rtol * std::fabs(e));
    if (!ok) ++c.mismatches;
    if (c.worst_index < 0 || excess > worst_excess) {
      worst_excess = excess;
      c.worst_index = i;
    }
  }
  c.match = c.mismatches == 0;
  c.detail = absl::StrFormat("max |diff| %.3g, %d of %d elements outside rtol %g atol %g",
                             c.max_abs_diff, c.mismatches, actual.num_elements(), rtol, atol);
  if (!c.match)
    absl::StrAppend(&c.detail, absl::StrFormat(" (worst at flat index %d)", c.worst_index));
  return c;
}

}  // namespace strongroom::worker::onnx
