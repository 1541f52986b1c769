// Operator fusion at Session::Create (worker/onnx/fusion.h): which chains
// fuse, which must not, and that fused and unfused sessions agree.
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

using ::testing::Contains;
using testing::GraphBuilder;
using testing::RandomFloats;
using testing::SetAttr;

struct Runs {
  size_t fused_nodes = 0;
  std::vector<std::string> op_types;  // the fused session's profile
  std::vector<Tensor> fused, unfused;
};

// Runs `m` on `inputs` with and without fusion.
absl::StatusOr<Runs> RunBoth(const Model& m, const std::vector<Tensor>& inputs, int threads = 1) {
  Runs r;
  for (bool fuse : {true, false}) {
    SessionOptions options;
    options.threads = threads;
    options.fuse_operators = fuse;
    auto session = Session::Create(m, options);
    if (!session.ok()) return session.status();
    RunProfile profile;
    auto out = (*session)->Run(inputs, &profile);
    if (!out.ok()) return out.status();
    if (fuse) {
      r.fused_nodes = (*session)->fused_nodes();
      for (const NodeTiming& t : profile.nodes) r.op_types.push_back(t.op_type);
      r.fused = *std::move(out);
    } else {
      EXPECT_EQ((*session)->fused_nodes(), 0u);
      r.unfused = *std::move(out);
    }
  }
  return r;
}

// Per-channel parameters a BatchNormalization would have after training:
// positive variances, scales around 1.
Tensor Variances(int64_t m, uint32_t seed) {
  Tensor t = RandomFloats({m}, seed);
  for (float& v : t.mutable_data<float>()) v = 0.5f + v * v;
  return t;
}

// x[1,3,9,9] -> Conv(3x3, pad 1, bias) -> BatchNormalization -> Relu -> y,
// and a second branch Conv(1x1, no bias) -> Add([M,1,1]) ->
// BatchNormalization -> Relu -> z.
GraphBuilder ConvChains(int64_t opset) {
  constexpr int64_t kM = 4;
  GraphBuilder g(opset);
  g.Input("x", DataType::kFloat, {1, 3, 9, 9}).Output("y").Output("z");
  g.Initializer("w", RandomFloats({kM, 3, 3, 3}, 1)).Initializer("b", RandomFloats({kM}, 2));
  g.Initializer("w1", RandomFloats({kM, 3, 1, 1}, 3));
  g.Initializer("c", RandomFloats({kM, 1, 1}, 4));
  g.Initializer("scale", RandomFloats({kM}, 5)).Initializer("shift", RandomFloats({kM}, 6));
  g.Initializer("mean", RandomFloats({kM}, 7)).Initializer("var", Variances(kM, 8));
  SetAttr(g.Node("Conv", {"x", "w", "b"}, {"c1"}, "conv"), "pads",
          std::vector<int64_t>{1, 1, 1, 1});
  SetAttr(g.Node("BatchNormalization", {"c1", "scale", "shift", "mean", "var"}, {"n1"}), "epsilon",
          1e-3f);
  g.Node("Relu", {"n1"}, {"y"});
  g.Node("Conv", {"x", "w1"}, {"c2"}, "conv1x1");
  g.Node("Add", {"c", "c2"}, {"a2"});  // the constant on the left
  g.Node("BatchNormalization", {"a2", "scale", "shift", "mean", "var"}, {"n2"});
  g.Node("Relu", {"n2"}, {"z"});
  return g;
}

TEST(OnnxFusionTest, ConvBatchNormAddReluFoldIntoTheConvolution) {
  ASSERT_OK_AND_ASSIGN(Model m, ConvChains(13).Load());
  const Tensor x = RandomFloats({1, 3, 9, 9}, 9);
  for (int threads : {1, 2}) {
    ASSERT_OK_AND_ASSIGN(Runs r, RunBoth(m, {x}, threads));
    EXPECT_EQ(r.fused_nodes, 5u);  // BN + Relu, Add + BN + Relu
    EXPECT_THAT(r.op_types, ::testing::UnorderedElementsAre("Conv+BatchNormalization+Relu",
                                                            "Conv+Add+BatchNormalization+Relu"));
    for (size_t i = 0; i < 2; ++i) {
      const Comparison c = CompareTensors(r.fused[i], r.unfused[i], 1e-5, 1e-6);
      EXPECT_TRUE(c.match) << "output " << i << ", " << threads << " threads: " << c.detail;
    }
    // Relu ran: nothing negative, and (random data) something clipped.
    int zeros = 0;
    for (float v : r.fused[0].data<float>()) {
      EXPECT_GE(v, 0.0f);
      zeros += v == 0.0f;
    }
    EXPECT_GT(zeros, 0);
  }
}

TEST(OnnxFusionTest, TrainingModeBatchNormIsNotFolded) {
  GraphBuilder g = ConvChains(15);
  SetAttr(g.proto().mutable_graph()->mutable_node(1), "training_mode", int64_t{1});
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  ASSERT_OK_AND_ASSIGN(Runs r, RunBoth(m, {RandomFloats({1, 3, 9, 9}, 9)}));
  // Only the second branch fuses; the first keeps its batch statistics
  // (and its Relu, which reads the BatchNormalization, not the Conv).
  EXPECT_EQ(r.fused_nodes, 3u);
  EXPECT_THAT(r.op_types, Contains("BatchNormalization"));
  EXPECT_THAT(r.op_types, Contains("Relu"));
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(CompareTensors(r.fused[i], r.unfused[i], 1e-5, 1e-6).match) << i;
  }
}

TEST(OnnxFusionTest, SharedOrOutputIntermediatesAreNotFused) {
  // c1 is also a graph output; c2 has two readers; the BN's mean is a
  // runtime input, so it cannot fold.
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {1, 2, 5, 5}).Input("mean", DataType::kFloat, {2});
  g.Output("c1").Output("y1").Output("y2").Output("y3").Output("y4");
  g.Initializer("w", RandomFloats({2, 2, 1, 1}, 1));
  g.Initializer("one", testing::Floats({2}, {1, 1}))
      .Initializer("zero", testing::Floats({2}, {0, 0}));
  g.Node("Conv", {"x", "w"}, {"c1"});
  g.Node("Relu", {"c1"}, {"y1"});
  g.Node("Conv", {"x", "w"}, {"c2"});
  g.Node("Relu", {"c2"}, {"y2"});
  g.Node("Sigmoid", {"c2"}, {"y3"});
  g.Node("Conv", {"x", "w"}, {"c3"});
  g.Node("BatchNormalization", {"c3", "one", "zero", "mean", "one"}, {"y4"});
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  const Tensor mean = testing::Floats({2}, {0.25f, -0.5f});
  ASSERT_OK_AND_ASSIGN(Runs r, RunBoth(m, {RandomFloats({1, 2, 5, 5}, 2), mean}));
  EXPECT_EQ(r.fused_nodes, 0u);
  for (size_t i = 0; i < r.fused.size(); ++i) {
    EXPECT_TRUE(CompareTensors(r.fused[i], r.unfused[i], 0, 0).match) << i;
  }
}

TEST(OnnxFusionTest, ResidualAddsFuseIntoTheLaterConvolution) {
  // a = Conv3x3(x), b = Conv1x1(x): Relu(a + b) fuses into b's step, whose
  // residual a is computed by then (a's own step cannot take b, which runs
  // later). Relu(Sum(Conv(x), x)) fuses with x as the residual. An Add
  // that broadcasts a non-constant [1,1,6,6] is no residual.
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {1, 4, 6, 6}).Input("row", DataType::kFloat, {1, 1, 6, 6});
  g.Output("y").Output("z").Output("u");
  g.Initializer("wa", RandomFloats({4, 4, 3, 3}, 1))
      .Initializer("wb", RandomFloats({4, 4, 1, 1}, 2));
  g.Initializer("bb", RandomFloats({4}, 3));
  SetAttr(g.Node("Conv", {"x", "wa"}, {"a"}), "pads", std::vector<int64_t>{1, 1, 1, 1});
  g.Node("Conv", {"x", "wb", "bb"}, {"b"});
  g.Node("Add", {"a", "b"}, {"s"});
  g.Node("Relu", {"s"}, {"y"});
  g.Node("Conv", {"x", "wb"}, {"c"});
  g.Node("Sum", {"c", "x"}, {"t"});
  g.Node("Relu", {"t"}, {"z"});
  g.Node("Conv", {"x", "wb"}, {"d"});
  g.Node("Add", {"d", "row"}, {"u"});
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  const std::vector<Tensor> in = {RandomFloats({1, 4, 6, 6}, 4), RandomFloats({1, 1, 6, 6}, 5)};
  for (int threads : {1, 2}) {
    ASSERT_OK_AND_ASSIGN(Runs r, RunBoth(m, in, threads));
    EXPECT_EQ(r.fused_nodes, 4u);
    EXPECT_THAT(r.op_types, ::testing::UnorderedElementsAre("Conv", "Conv+Add+Relu",
                                                            "Conv+Sum+Relu", "Conv", "Add"));
    for (size_t i = 0; i < 3; ++i) {
      const Comparison c = CompareTensors(r.fused[i], r.unfused[i], 1e-5, 1e-6);
      EXPECT_TRUE(c.match) << "output " << i << ", " << threads << " threads: " << c.detail;
    }
  }
}

TEST(OnnxFusionTest, GemmReluAndAddReluAreBitIdentical) {
  GraphBuilder g(13);
  g.Input("a", DataType::kFloat, {3, 5}).Input("x", DataType::kFloat, {2, 3, 4});
  g.Input("bias", DataType::kFloat, {4}).Output("y").Output("z").Output("s");
  g.Initializer("w", RandomFloats({4, 5}, 1)).Initializer("c", RandomFloats({4}, 2));
  SetAttr(g.Node("Gemm", {"a", "w", "c"}, {"g"}), "transB", int64_t{1});
  g.Node("Relu", {"g"}, {"y"});
  g.Node("Add", {"x", "bias"}, {"s0"});  // broadcast [2,3,4] + [4]
  g.Node("Relu", {"s0"}, {"z"});
  g.Node("Sub", {"x", "bias"}, {"d"});  // Sub has no Relu epilogue
  g.Node("Relu", {"d"}, {"s"});
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  ASSERT_OK_AND_ASSIGN(Runs r, RunBoth(m, {RandomFloats({3, 5}, 3), RandomFloats({2, 3, 4}, 4),
                                           RandomFloats({4}, 5)}));
  EXPECT_EQ(r.fused_nodes, 2u);
  EXPECT_THAT(r.op_types, Contains("Gemm+Relu"));
  EXPECT_THAT(r.op_types, Contains("Add+Relu"));
  EXPECT_THAT(r.op_types, Contains("Sub"));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(CompareTensors(r.fused[i], r.unfused[i], 0, 0).match) << i;
  }
}

// A fire module (SqueezeNet): squeeze = Relu(Conv1x1(x)), then
// Concat(Relu(Conv1x1(squeeze)), Relu(Conv3x3(squeeze)), `axis`) -> y,
// for `batch` images of side x side (from 16 x 16 the 3x3 Conv is a direct
// one on AVX-512, ops/direct_conv.h).
GraphBuilder FireModule(int64_t batch, int64_t axis, int64_t side = 7) {
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {batch, 8, side, side}).Output("y");
  g.Initializer("ws", RandomFloats({4, 8, 1, 1}, 1)).Initializer("bs", RandomFloats({4}, 2));
  g.Initializer("w1", RandomFloats({6, 4, 1, 1}, 3)).Initializer("b1", RandomFloats({6}, 4));
  g.Initializer("w3", RandomFloats({5, 4, 3, 3}, 5)).Initializer("b3", RandomFloats({5}, 6));
  g.Node("Conv", {"x", "ws", "bs"}, {"s0"});
  g.Node("Relu", {"s0"}, {"s"});
  g.Node("Conv", {"s", "w1", "b1"}, {"e1"});
  g.Node("Relu", {"e1"}, {"r1"});
  SetAttr(g.Node("Conv", {"s", "w3", "b3"}, {"e3"}), "pads", std::vector<int64_t>{1, 1, 1, 1});
  g.Node("Relu", {"e3"}, {"r3"});
  SetAttr(g.Node("Concat", {"r1", "r3"}, {"y"}), "axis", axis);
  return g;
}

TEST(OnnxFusionTest, ConcatOfConvolutionsWritesInPlace) {
  for (int64_t batch : {1, 3}) {
    for (int64_t axis : {1, -3}) {
      for (int64_t side : {7, 17}) {
        SCOPED_TRACE(absl::StrCat("batch ", batch, ", axis ", axis, ", side ", side));
        ASSERT_OK_AND_ASSIGN(Model m, FireModule(batch, axis, side).Load());
        const Tensor x = RandomFloats({batch, 8, side, side}, 7);
        for (int threads : {1, 2}) {
          ASSERT_OK_AND_ASSIGN(Runs r, RunBoth(m, {x}, threads));
          // Three Relus into their Convs, then the two expand chains into the Concat.
          EXPECT_EQ(r.fused_nodes, 5u);
          EXPECT_THAT(r.op_types,
                      ::testing::ElementsAre("Conv+Relu", "Concat(Conv+Relu,Conv+Relu)"));
          ASSERT_EQ(r.fused[0].shape(), (Shape{batch, 11, side, side}));
          const Comparison c = CompareTensors(r.fused[0], r.unfused[0], 0, 0);
          EXPECT_TRUE(c.match) << threads << " threads: " << c.detail;
        }
      }
    }
  }
}

TEST(OnnxFusionTest, ConcatsThatCannotWriteInPlaceStayConcats) {
  // Axis 2; an input also read elsewhere; an input that is no Conv's; a
  // Conv whose residual Add fused; the same value twice.
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {1, 4, 5, 5}).Output("y1").Output("y2").Output("y3");
  g.Output("y4").Output("y5").Output("z");
  g.Initializer("w", RandomFloats({3, 4, 1, 1}, 1)).Initializer("w4", RandomFloats({4, 4, 1, 1}, 2));
  g.Node("Conv", {"x", "w"}, {"a"});
  g.Node("Conv", {"x", "w"}, {"b"});
  SetAttr(g.Node("Concat", {"a", "b"}, {"y1"}), "axis", int64_t{2});
  g.Node("Conv", {"x", "w"}, {"c"});
  g.Node("Conv", {"x", "w"}, {"d"});
  SetAttr(g.Node("Concat", {"c", "d"}, {"y2"}), "axis", int64_t{1});
  g.Node("Sigmoid", {"d"}, {"z"});
  g.Node("Conv", {"x", "w"}, {"e"});
  SetAttr(g.Node("Concat", {"e", "x"}, {"y3"}), "axis", int64_t{1});
  g.Node("Conv", {"x", "w4"}, {"f"});
  g.Node("Add", {"f", "x"}, {"fr"});
  g.Node("Conv", {"x", "w"}, {"h"});
  SetAttr(g.Node("Concat", {"fr", "h"}, {"y4"}), "axis", int64_t{1});
  g.Node("Conv", {"x", "w"}, {"k"});
  SetAttr(g.Node("Concat", {"k", "k"}, {"y5"}), "axis", int64_t{1});
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  ASSERT_OK_AND_ASSIGN(Runs r, RunBoth(m, {RandomFloats({1, 4, 5, 5}, 3)}, 2));
  EXPECT_EQ(r.fused_nodes, 1u);  // only the residual Add
  EXPECT_THAT(r.op_types, ::testing::Not(Contains(::testing::StartsWith("Concat("))));
  EXPECT_THAT(r.op_types, Contains("Conv+Add"));
  for (size_t i = 0; i < r.fused.size(); ++i) {
    // y4's residual rounds differently once fused (as in the test above).
    const double tol = i == 3 ? 1e-5 : 0;
    EXPECT_TRUE(CompareTensors(r.fused[i], r.unfused[i], tol, tol / 10).match) << i;
  }
}

TEST(OnnxFusionTest, IdentityAndInferenceDropoutTakeNoStep) {
  // x -> Identity -> Dropout(ratio, training_mode = false) -> Sigmoid -> y;
  // x -> Dropout with a mask nobody reads -> Relu -> r;
  // kept: a Dropout whose mask is a graph output, one whose mask a node
  // reads, an Identity that is a graph output, a Dropout whose
  // training_mode is an input.
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {2, 5}).Input("train", DataType::kBool, {});
  g.Output("y").Output("mask").Output("id").Output("t").Output("r").Output("s").Output("m2");
  g.Node("Dropout", {"x"}, {"e", "unread_mask"});
  g.Node("Relu", {"e"}, {"r"});
  g.Node("Dropout", {"x"}, {"f", "read_mask"});
  g.Node("Sigmoid", {"f"}, {"s"});
  g.Node("Identity", {"read_mask"}, {"m2"});
  ASSERT_OK_AND_ASSIGN(Tensor no, Tensor::Create(DataType::kBool, {}));
  g.Initializer("ratio", testing::Floats({}, {0.25f})).Initializer("no", no);
  g.Node("Identity", {"x"}, {"a"});
  g.Node("Dropout", {"a", "ratio", "no"}, {"b"});
  g.Node("Sigmoid", {"b"}, {"y"});
  g.Node("Dropout", {"x"}, {"d", "mask"});
  g.Node("Identity", {"d"}, {"id"});
  g.Node("Dropout", {"x", "ratio", "train"}, {"t"});
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  ASSERT_OK_AND_ASSIGN(Tensor train, Tensor::Create(DataType::kBool, {}));
  ASSERT_OK_AND_ASSIGN(Runs r, RunBoth(m, {RandomFloats({2, 5}, 1), train}, 2));
  EXPECT_THAT(r.op_types,
              ::testing::UnorderedElementsAre("Sigmoid", "Dropout", "Identity", "Dropout", "Relu",
                                              "Dropout", "Sigmoid", "Identity"));
  for (size_t i = 0; i < r.fused.size(); ++i) {
    EXPECT_TRUE(CompareTensors(r.fused[i], r.unfused[i], 0, 0).match) << i;
  }
}

TEST(OnnxFusionTest, SqueezenetFusesItsFireModulesAndMatchesItsReference) {
  ASSERT_OK_AND_ASSIGN(
      std::string bytes,
      testing::ReadFile(testing::VectorPath("onnx-models/onnx-light/light_squeezenet.onnx")));
  ASSERT_OK_AND_ASSIGN(Model m, Model::Load(AsBytes(bytes)));
  size_t concats = 0;
  for (const Node& node : m.nodes()) concats += node.op_type == "Concat";
  ASSERT_GT(concats, 0u);
  Shape shape = m.inputs()[0].shape;
  for (int64_t& d : shape) d = d < 0 ? 1 : d;
  ASSERT_OK_AND_ASSIGN(Runs r, RunBoth(m, {RandomFloats(shape, 11)}, 2));
  size_t fused_concats = 0;
  for (const std::string& t : r.op_types) fused_concats += t == "Concat(Conv+Relu,Conv+Relu)";
  EXPECT_EQ(fused_concats, concats);
  const Comparison c = CompareTensors(r.fused[0], r.unfused[0], 1e-5, 1e-6);
  EXPECT_TRUE(c.match) << c.detail;
}

TEST(OnnxFusionTest, MnistFusesAndStillMatchesItsReference) {
  ASSERT_OK_AND_ASSIGN(std::string bytes,
                       testing::ReadFile(testing::VectorPath("onnx-models/mnist-8/model.onnx")));
  ASSERT_OK_AND_ASSIGN(Model m, Model::Load(AsBytes(bytes)));
  // mnist-8's convolutions take their bias from a separate Add, then Relu.
  size_t chains = 0;
  for (size_t k = 0; k + 2 < m.nodes().size(); ++k) {
    chains += m.nodes()[k].op_type == "Conv" && m.nodes()[k + 1].op_type == "Add" &&
              m.nodes()[k + 2].op_type == "Relu";
  }
  ASSERT_GT(chains, 0u);
  const std::string dir = testing::VectorPath("onnx-models/mnist-8/test_data_set_0");
  ASSERT_OK_AND_ASSIGN(Tensor in, testing::ReadTensorFile(dir + "/input_0.pb"));
  ASSERT_OK_AND_ASSIGN(Tensor want, testing::ReadTensorFile(dir + "/output_0.pb"));
  ASSERT_OK_AND_ASSIGN(Runs r, RunBoth(m, {in}));
  EXPECT_GE(r.fused_nodes, 2 * chains);
  EXPECT_THAT(r.op_types, Contains("Conv+Add+Relu"));
  const Comparison c = CompareTensors(r.fused[0], want, kDefaultRtol, kDefaultAtol);
  EXPECT_TRUE(c.match) << c.detail;
}

}  // namespace
}  // namespace strongroom::worker::onnx
