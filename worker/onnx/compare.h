// Tolerance comparison of tensors as ONNX's backend test runner does it
// (numpy.testing.assert_allclose): |actual - expected| <= atol +
// rtol * |expected| element-wise, NaN equal to NaN, infinities equal to
// themselves, types and shapes equal. The report names the worst element by
// index and its difference, never the values.
#ifndef STRONGROOM_WORKER_ONNX_COMPARE_H_
#define STRONGROOM_WORKER_ONNX_COMPARE_H_

#include <cstdint>
#include <string>

#include "worker/onnx/tensor.h"

namespace strongroom::worker::onnx {

// ONNX's runner defaults.
inline constexpr double kDefaultRtol = 1e-3;
inline constexpr double kDefaultAtol = 1e-7;

struct Comparison {
  bool match = false;
  double max_abs_diff = 0;   // over all elements
  int64_t worst_index = -1;  // flat index of the element furthest past its bound
  int64_t mismatches = 0;
  std::string detail;  // one line for humans
};

Comparison CompareTensors(const Tensor& actual, const Tensor& expected, double rtol, double atol);

}  // namespace strongroom::worker::onnx

#endif  // STRONGROOM_WORKER_ONNX_COMPARE_H_
