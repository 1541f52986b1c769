// Every ONNX backend node test in shared/vectors/onnx-node: one test per
// folder and data set, named after them, run within the ONNX backend test
// runner's tolerances (rtol 1e-3, atol 1e-7).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/onnx_test_util.h"
#include "worker/onnx/compare.h"

namespace strongroom::worker::onnx {
namespace {

using testing::ListDir;
using testing::ReadFile;
using testing::ReadTensorFile;
using testing::VectorPath;

struct NodeCase {
  std::string folder;
  std::string data_set;
};

std::vector<NodeCase> AllCases() {
  std::vector<NodeCase> cases;
  const std::string root = VectorPath("onnx-node");
  for (const std::string& folder : ListDir(root, "test_")) {
    for (const std::string& set : ListDir(root + "/" + folder, "test_data_set_")) {
      cases.push_back({folder, set});
    }
  }
  return cases;
}

void PrintTo(const NodeCase& c, std::ostream* os) { *os << c.folder << "/" << c.data_set; }

class OnnxNodeTest : public ::testing::TestWithParam<NodeCase> {};

TEST_P(OnnxNodeTest, MatchesReference) {
  const std::string dir = VectorPath("onnx-node/" + GetParam().folder);
  const std::string data = dir + "/" + GetParam().data_set;
  ASSERT_OK_AND_ASSIGN(const std::string model, ReadFile(dir + "/model.onnx"));
  std::vector<Tensor> inputs, expected;
  for (size_t i = 0; i < ListDir(data, "input_").size(); ++i) {
    ASSERT_OK_AND_ASSIGN(Tensor t, ReadTensorFile(absl::StrCat(data, "/input_", i, ".pb")));
    inputs.push_back(std::move(t));
  }
  for (size_t i = 0; i < ListDir(data, "output_").size(); ++i) {
    ASSERT_OK_AND_ASSIGN(Tensor t, ReadTensorFile(absl::StrCat(data, "/output_", i, ".pb")));
    expected.push_back(std::move(t));
  }
  ASSERT_FALSE(expected.empty());
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> outputs, testing::RunOnce(model, inputs));
  ASSERT_EQ(outputs.size(), expected.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Comparison c = CompareTensors(outputs[i], expected[i], kDefaultRtol, kDefaultAtol);
    EXPECT_TRUE(c.match) << "output " << i << ": " << c.detail;
  }
}

INSTANTIATE_TEST_SUITE_P(Vectors, OnnxNodeTest, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<NodeCase>& info) {
                           return info.param.folder + "_" +
                                  info.param.data_set.substr(sizeof("test_data_") - 1);
                         });

// The table above is built from the directory; an empty or moved vectors
// folder must fail rather than run nothing.
TEST(OnnxNodeVectorsTest, AllFoldersAreThere) { EXPECT_GE(AllCases().size(), 136u); }

}  // namespace
}  // namespace strongroom::worker::onnx
