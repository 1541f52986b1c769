// Whole models: mnist-8 with its three reference input/output sets, and the
// ONNX "light" models (squeezenet, resnet50, vgg19 with ConstantOfShape
// weights) on the input ONNX's runner builds for them (arange(n) / n, see
// shared/vectors/onnx-models/SOURCES.md). resnet50 and vgg19 are in the
// "Slow" instantiation (ctest onnx_models_slow_test, label slow).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/onnx_test_util.h"
#include "worker/onnx/compare.h"

namespace strongroom::worker::onnx {
namespace {

using testing::ReadFile;
using testing::ReadTensorFile;
using testing::VectorPath;

int64_t ArgMax(const Tensor& t) {
  auto v = t.data<float>();
  return std::max_element(v.begin(), v.end()) - v.begin();
}

class Mnist8Test : public ::testing::TestWithParam<int> {};

TEST_P(Mnist8Test, MatchesReferenceOutput) {
  const std::string dir =
      absl::StrCat(VectorPath("onnx-models/mnist-8"), "/test_data_set_", GetParam());
  ASSERT_OK_AND_ASSIGN(const std::string model,
                       ReadFile(VectorPath("onnx-models/mnist-8/model.onnx")));
  ASSERT_OK_AND_ASSIGN(Tensor input, ReadTensorFile(dir + "/input_0.pb"));
  ASSERT_OK_AND_ASSIGN(Tensor expected, ReadTensorFile(dir + "/output_0.pb"));
  ASSERT_OK_AND_ASSIGN(auto outputs, testing::RunOnce(model, {input}));
  ASSERT_EQ(outputs.size(), 1u);
  const Comparison c = CompareTensors(outputs[0], expected, kDefaultRtol, kDefaultAtol);
  EXPECT_TRUE(c.match) << c.detail;
  EXPECT_EQ(ArgMax(outputs[0]), ArgMax(expected));
}

INSTANTIATE_TEST_SUITE_P(Sets, Mnist8Test, ::testing::Values(0, 1, 2));

// The runner's dummy input for a float graph input of `shape`.
Tensor RunnerInput(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    v[static_cast<size_t>(i)] = static_cast<float>(static_cast<double>(i) / static_cast<double>(n));
  }
  return testing::Floats(shape, v);
}

class LightModelTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LightModelTest, MatchesReferenceOutput) {
  const std::string base = VectorPath("onnx-models/onnx-light/light_" + GetParam());
  ASSERT_OK_AND_ASSIGN(const std::string bytes, ReadFile(base + ".onnx"));
  ASSERT_OK_AND_ASSIGN(Tensor expected, ReadTensorFile(base + "_output_0.pb"));
  ASSERT_OK_AND_ASSIGN(Model model, Model::Load(AsBytes(bytes)));
  ASSERT_EQ(model.inputs().size(), 1u);
  Shape shape = model.inputs()[0].shape;
  for (int64_t& d : shape) d = d < 0 ? 1 : d;  // the runner's rule for unknown dims
  ASSERT_EQ(shape, (Shape{1, 3, 224, 224}));
  SessionOptions options;
  options.threads = 2;
  ASSERT_OK_AND_ASSIGN(auto session, Session::Create(model, options));
  EXPECT_GT(session->folded_nodes(), 0u);  // the ConstantOfShape weights
  ASSERT_OK_AND_ASSIGN(auto outputs, session->Run({RunnerInput(shape)}));
  ASSERT_EQ(outputs.size(), 1u);
  const Comparison c = CompareTensors(outputs[0], expected, kDefaultRtol, kDefaultAtol);
  EXPECT_TRUE(c.match) << c.detail;
}

std::string ModelName(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

INSTANTIATE_TEST_SUITE_P(Fast, LightModelTest, ::testing::Values("squeezenet"), ModelName);
INSTANTIATE_TEST_SUITE_P(Slow, LightModelTest, ::testing::Values("resnet50", "vgg19"), ModelName);

}  // namespace
}  // namespace strongroom::worker::onnx
