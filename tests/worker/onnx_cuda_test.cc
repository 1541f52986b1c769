// The CUDA backend (built only with nvcc present). Without a GPU, Create
// must fail with FailedPrecondition "no CUDA device"; with one, every node
// vector, mnist-8 and the light squeezenet, resnet50 and vgg19 must match
// their references and the CPU backend's outputs with the GEMM-heavy nodes
// on the GPU.
#include <cstdio>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/bytes.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/onnx_test_util.h"
#include "worker/onnx/compare.h"
#include "worker/onnx/cuda/cuda_backend.h"

namespace strongroom::worker::onnx {
namespace {

using ::strongroom::testing::StatusIs;
using testing::GraphBuilder;
using ::testing::HasSubstr;
using testing::ListDir;
using testing::ReadFile;
using testing::ReadTensorFile;
using testing::VectorPath;

class OnnxCudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterCudaBackend();
    ASSERT_TRUE(CudaBackendBuilt());
    auto probe = CreateCudaBackend();
    if (!probe.ok()) {
      EXPECT_THAT(probe,
                  StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no CUDA device")));
      GTEST_SKIP() << "no GPU here: " << probe.status();
    }
  }

  // Runs `model` on the GPU and compares with `expected` (the reference
  // outputs) and with the CPU backend's outputs, within the ONNX runner's
  // tolerances.
  void Check(const std::string& label, const std::string& model_bytes,
             const std::vector<Tensor>& inputs, const std::vector<Tensor>& expected) {
    auto model = Model::Load(AsBytes(model_bytes));
    ASSERT_TRUE(model.ok()) << label << ": " << model.status();
    SessionOptions options;
    options.threads = 2;
    auto cpu_session = Session::Create(*model, options);
    ASSERT_TRUE(cpu_session.ok()) << label << ": " << cpu_session.status();
    auto cpu = (*cpu_session)->Run(inputs);
    ASSERT_TRUE(cpu.ok()) << label << " on the CPU: " << cpu.status();
    options.device = Device::kCuda;
    auto session = Session::Create(*model, options);
    ASSERT_TRUE(session.ok()) << label << ": " << session.status();
    for (int run = 0; run < 2; ++run) {  // the second run uses cached weights
      RunProfile profile;
      auto outputs = (*session)->Run(inputs, run == 1 ? &profile : nullptr);
      ASSERT_TRUE(outputs.ok()) << label << ": " << outputs.status();
      ASSERT_EQ(outputs->size(), expected.size()) << label;
      ASSERT_EQ(outputs->size(), cpu->size()) << label;
      for (size_t i = 0; i < expected.size(); ++i) {
        Comparison c = CompareTensors((*outputs)[i], expected[i], kDefaultRtol, kDefaultAtol);
        EXPECT_TRUE(c.match) << label << " run " << run << " output " << i << ": " << c.detail;
        c = CompareTensors((*outputs)[i], (*cpu)[i], kDefaultRtol, kDefaultAtol);
        EXPECT_TRUE(c.match) << label << " run " << run << " output " << i
                             << " against the CPU: " << c.detail;
      }
      for (const NodeTiming& t : profile.nodes) {
        (t.on_device ? device_ops_ : cpu_ops_).insert(t.op_type);
      }
    }
    ++checked_;
  }
  int checked_ = 0;
  std::set<std::string> device_ops_, cpu_ops_;  // op types seen, by where they ran
};

// Inputs the node vectors do not reach: NaN and -0 through Relu, empty
// reductions (K = 0) in MatMul and Gemm, an int64 shape made on the device
// and read by the CPU's Reshape, Sum of three broadcast inputs, Concat of
// int64 on axis 0, GlobalAveragePool. Each must match the CPU backend.
TEST_F(OnnxCudaTest, EdgeCasesMatchTheCpu) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {4})
      .Input("a", DataType::kFloat, {2, 0})
      .Input("b", DataType::kFloat, {0, 3})
      .Input("s", DataType::kInt64, {2})
      .Input("img", DataType::kFloat, {2, 3, 5, 5});
  g.Initializer("c", testing::Floats({3}, {1, 2, 3}));
  g.Initializer("one", testing::Floats({1}, {1}));
  g.Initializer("more", testing::Int64s({1}, {7}));
  g.Node("Relu", {"x"}, {"relu"});
  g.Node("MatMul", {"a", "b"}, {"mm"});
  testing::SetAttr(g.Node("Gemm", {"a", "b", "c"}, {"gemm"}), "beta", 0.5f);
  g.Node("Identity", {"s"}, {"s_dev"});
  testing::SetAttr(g.Node("Concat", {"s_dev", "more"}, {"s3"}), "axis", int64_t{0});
  g.Node("Sum", {"mm", "c", "one"}, {"sum"});
  g.Node("Reshape", {"mm", "s_dev"}, {"reshaped"});
  g.Node("GlobalAveragePool", {"img"}, {"gap"});
  for (const char* out : {"relu", "mm", "gemm", "s3", "sum", "reshaped", "gap"}) g.Output(out);
  const std::vector<Tensor> inputs = {testing::Floats({4}, {nan, -0.0f, -1.0f, 2.0f}),
                                      testing::Floats({2, 0}, {}), testing::Floats({0, 3}, {}),
                                      testing::Int64s({2}, {3, 2}),
                                      testing::RandomFloats({2, 3, 5, 5}, 7)};
  auto model = g.Load();
  ASSERT_TRUE(model.ok()) << model.status();
  SessionOptions options;
  options.threads = 2;
  ASSERT_OK_AND_ASSIGN(auto cpu, Session::Create(*model, options));
  ASSERT_OK_AND_ASSIGN(auto want, cpu->Run(inputs));
  options.device = Device::kCuda;
  ASSERT_OK_AND_ASSIGN(auto gpu, Session::Create(*model, options));
  for (int run = 0; run < 2; ++run) {
    RunProfile profile;
    ASSERT_OK_AND_ASSIGN(auto got, gpu->Run(inputs, &profile));
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].shape(), want[i].shape()) << "output " << i;
      const Comparison c = CompareTensors(got[i], want[i], kDefaultRtol, kDefaultAtol);
      EXPECT_TRUE(c.match) << "run " << run << " output " << i << ": " << c.detail;
    }
    for (const NodeTiming& t : profile.nodes) {
      EXPECT_EQ(t.on_device, t.op_type != "Reshape") << t.name;
    }
  }
}

TEST_F(OnnxCudaTest, NodeVectorsMatchOnTheGpu) {
  const std::string root = VectorPath("onnx-node");
  for (const std::string& folder : ListDir(root, "test_")) {
    const std::string data = root + "/" + folder + "/test_data_set_0";
    ASSERT_OK_AND_ASSIGN(std::string model, ReadFile(root + "/" + folder + "/model.onnx"));
    std::vector<Tensor> in, out;
    for (size_t i = 0; i < ListDir(data, "input_").size(); ++i) {
      ASSERT_OK_AND_ASSIGN(Tensor t, ReadTensorFile(absl::StrCat(data, "/input_", i, ".pb")));
      in.push_back(std::move(t));
    }
    for (size_t i = 0; i < ListDir(data, "output_").size(); ++i) {
      ASSERT_OK_AND_ASSIGN(Tensor t, ReadTensorFile(absl::StrCat(data, "/output_", i, ".pb")));
      out.push_back(std::move(t));
    }
    Check(folder, model, in, out);
  }
  EXPECT_GT(checked_, 100);  // the vectors were found
}

TEST_F(OnnxCudaTest, WholeModelsMatchOnTheGpu) {
  ASSERT_OK_AND_ASSIGN(std::string mnist, ReadFile(VectorPath("onnx-models/mnist-8/model.onnx")));
  for (int set = 0; set < 3; ++set) {
    const std::string dir = absl::StrCat(VectorPath("onnx-models/mnist-8/test_data_set_"), set);
    ASSERT_OK_AND_ASSIGN(Tensor in, ReadTensorFile(dir + "/input_0.pb"));
    ASSERT_OK_AND_ASSIGN(Tensor out, ReadTensorFile(dir + "/output_0.pb"));
    Check(absl::StrCat("mnist set ", set), mnist, {in}, {out});
  }
  // The light models' input, as ONNX's runner makes it: arange(n) / n.
  const int64_t n = 3 * 224 * 224;
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(static_cast<double>(i) / n);
  for (const char* name : {"light_squeezenet", "light_resnet50", "light_vgg19"}) {
    const std::string base = VectorPath(absl::StrCat("onnx-models/onnx-light/", name));
    ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFile(base + ".onnx"));
    ASSERT_OK_AND_ASSIGN(Tensor expected, ReadTensorFile(base + "_output_0.pb"));
    Check(name, bytes, {testing::Floats({1, 3, 224, 224}, x)}, {expected});
  }
  EXPECT_EQ(checked_, 6);
  // Only the light heads (Softmax) and mnist's shape ops stay on the CPU.
  for (const std::string& op : cpu_ops_) {
    EXPECT_THAT(op, ::testing::AnyOf("Softmax", "Reshape", "Flatten")) << "ran on the CPU";
  }
  for (const char* op : {"Conv", "Relu", "MaxPool", "Concat", "BatchNormalization", "Sum", "Gemm",
                         "GlobalAveragePool", "AveragePool", "Add", "MatMul", "Dropout"}) {
    EXPECT_TRUE(device_ops_.count(op)) << op << " did not run on the device";
  }
  std::printf("on the device: %s\non the CPU: %s\n", absl::StrJoin(device_ops_, " ").c_str(),
              absl::StrJoin(cpu_ops_, " ").c_str());
}

}  // namespace
}  // namespace strongroom::worker::onnx
