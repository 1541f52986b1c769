// Model::Load: what it accepts from the real vectors, and each refusal,
// with the field or node it must name.
#include <string>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/onnx_test_util.h"
#include "worker/onnx/tensor_proto_util.h"

namespace strongroom::worker::onnx {
namespace {

using ::strongroom::testing::StatusIs;
using testing::Floats;
using testing::GraphBuilder;
using ::testing::HasSubstr;
using testing::Int64s;
using testing::SetAttr;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

std::string Mnist() {
  auto bytes = testing::ReadFile(testing::VectorPath("onnx-models/mnist-8/model.onnx"));
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : "";
}

// x[2,3] -> Relu -> y
GraphBuilder ReluGraph(int64_t opset = 13) {
  GraphBuilder g(opset);
  g.Input("x", DataType::kFloat, {2, 3}).Output("y");
  g.Node("Relu", {"x"}, {"y"}, "relu1");
  return g;
}

TEST(OnnxLoaderTest, Mnist8Metadata) {
  const std::string bytes = Mnist();
  ASSERT_OK_AND_ASSIGN(Model m, Model::Load(AsBytes(bytes)));
  EXPECT_EQ(m.ir_version(), 3);
  EXPECT_EQ(m.opset(), 8);
  ASSERT_EQ(m.inputs().size(), 1u);
  EXPECT_EQ(m.inputs()[0].name, "Input3");
  EXPECT_EQ(m.inputs()[0].dtype, DataType::kFloat);
  EXPECT_EQ(m.inputs()[0].shape, (Shape{1, 1, 28, 28}));
  ASSERT_EQ(m.outputs().size(), 1u);
  EXPECT_EQ(m.outputs()[0].shape, (Shape{1, 10}));
  EXPECT_EQ(m.nodes().size(), 12u);
}

TEST(OnnxLoaderTest, InitializerBackedInputsAreNotRuntimeInputs) {
  ASSERT_OK_AND_ASSIGN(
      std::string bytes,
      testing::ReadFile(testing::VectorPath("onnx-models/onnx-light/light_squeezenet.onnx")));
  ASSERT_OK_AND_ASSIGN(Model m, Model::Load(AsBytes(bytes)));
  ASSERT_EQ(m.inputs().size(), 1u);  // 53 graph inputs, 52 of them initializers
  EXPECT_EQ(m.inputs()[0].shape, (Shape{1, 3, 224, 224}));
}

TEST(OnnxLoaderTest, UnsupportedOperatorNamesTheNode) {
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {2}).Output("y");
  g.Node("FooBar", {"x"}, {"y"}, "mystery");
  EXPECT_THAT(
      g.Load(),
      StatusIs(kInvalid, HasSubstr("node 'mystery' (FooBar): operator 'FooBar' is not supported")));
  GraphBuilder unnamed(13);
  unnamed.Input("x", DataType::kFloat, {2}).Output("y");
  unnamed.Node("Relu", {"x"}, {"t"});
  unnamed.Node("Erf", {"t"}, {"y"});
  EXPECT_THAT(unnamed.Load(), StatusIs(kInvalid, HasSubstr("node #1 (Erf)")));
}

TEST(OnnxLoaderTest, UnsupportedAttributeValueNamesTheNode) {
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {1, 1, 5, 5})
      .Initializer("w", testing::RandomFloats({1, 1, 3, 3}, 1));
  g.Output("y");
  SetAttr(g.Node("Conv", {"x", "w"}, {"y"}, "conv1"), "auto_pad", std::string("SAME_MIDDLE"));
  EXPECT_THAT(g.Load(), StatusIs(kInvalid, HasSubstr("node 'conv1' (Conv): attribute "
                                                     "'auto_pad'='SAME_MIDDLE' is not supported")));
}

TEST(OnnxLoaderTest, UnknownAttributeIsRefused) {
  GraphBuilder g = ReluGraph();
  SetAttr(g.proto().mutable_graph()->mutable_node(0), "alpha", 0.1f);
  EXPECT_THAT(
      g.Load(),
      StatusIs(kInvalid, HasSubstr("node 'relu1' (Relu): attribute 'alpha' is not supported")));
}

TEST(OnnxLoaderTest, AttributeOfTheWrongTypeIsRefused) {
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {2, 3}).Output("y");
  SetAttr(g.Node("Softmax", {"x"}, {"y"}, "sm"), "axis", 1.5f);
  EXPECT_THAT(g.Load(),
              StatusIs(kInvalid, HasSubstr("attribute 'axis' has type FLOAT, expected INT")));
}

TEST(OnnxLoaderTest, UnsupportedTypesAreRefused) {
  GraphBuilder g(13);
  g.Input("x", DataType::kInt64, {2, 3}).Output("y");
  g.Node("Relu", {"x"}, {"y"}, "r");
  EXPECT_THAT(
      g.Load(),
      StatusIs(kInvalid, HasSubstr("node 'r' (Relu): input 0 has type INT64; expected FLOAT")));
  GraphBuilder d = ReluGraph();
  d.proto().mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
      11);
  EXPECT_THAT(
      d.Load(),
      StatusIs(
          kInvalid,
          HasSubstr("graph.input[0] 'x'.elem_type: element type DOUBLE (11) is not supported")));
}

TEST(OnnxLoaderTest, TruncatedAndGarbageModelsAreRefused) {
  const std::string bytes = Mnist();
  ASSERT_GT(bytes.size(), 1000u);
  for (size_t len = 0; len < bytes.size(); len += bytes.size() / 97 + 1) {
    auto m = Model::Load(AsBytes(absl::string_view(bytes).substr(0, len)));
    EXPECT_THAT(m, StatusIs(kInvalid)) << "length " << len;
  }
  EXPECT_THAT(Model::Load(AsBytes("\xff\xff\xff\xff not a model")),
              StatusIs(kInvalid, HasSubstr("not a valid ONNX ModelProto")));
}

TEST(OnnxLoaderTest, InitializerSizeMismatchNamesTheField) {
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {4}).Initializer("w", Floats({4}, {1, 2, 3, 4})).Output("y");
  g.Node("Add", {"x", "w"}, {"y"}, "add");
  g.proto().mutable_graph()->mutable_initializer(0)->mutable_raw_data()->resize(12);
  EXPECT_THAT(g.Load(), StatusIs(kInvalid, HasSubstr("graph.initializer[0] 'w'.raw_data: 12 bytes, "
                                                     "but dims [4] of FLOAT need 16")));
  // The same through the typed field.
  auto* w = g.proto().mutable_graph()->mutable_initializer(0);
  w->clear_raw_data();
  for (float f : {1.0f, 2.0f, 3.0f}) w->add_float_data(f);
  EXPECT_THAT(g.Load(),
              StatusIs(kInvalid, HasSubstr("'w'.float_data: 3 values, but dims [4] need 4")));
  w->add_float_data(4);
  EXPECT_OK(g.Load());
  w->set_raw_data(std::string(16, '\0'));
  EXPECT_THAT(g.Load(), StatusIs(kInvalid, HasSubstr("both raw_data and float_data are set")));
}

TEST(OnnxLoaderTest, AbsurdDimsAreRefused) {
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {4}).Initializer("w", Floats({4}, {1, 2, 3, 4})).Output("y");
  g.Node("Add", {"x", "w"}, {"y"}, "add");
  auto* w = g.proto().mutable_graph()->mutable_initializer(0);
  w->clear_dims();
  w->add_dims(int64_t{1} << 40);
  w->add_dims(int64_t{1} << 40);
  EXPECT_THAT(g.Load(), StatusIs(kInvalid, HasSubstr("'w'.dims: dims [1099511627776,1099511627776] "
                                                     "exceed")));
  w->clear_dims();
  w->add_dims(-4);
  EXPECT_THAT(g.Load(), StatusIs(kInvalid, HasSubstr("'w'.dims[0]=-4 is negative")));
  GraphBuilder in(13);
  in.Input("x", DataType::kFloat, {int64_t{1} << 62, 8}).Output("y");
  in.Node("Relu", {"x"}, {"y"});
  EXPECT_THAT(in.Load(), StatusIs(kInvalid, HasSubstr("graph.input[0] 'x'.shape")));
}

TEST(OnnxLoaderTest, ExternalDataIsRefused) {
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {4}).Initializer("w", Floats({4}, {1, 2, 3, 4})).Output("y");
  g.Node("Add", {"x", "w"}, {"y"}, "add");
  auto* w = g.proto().mutable_graph()->mutable_initializer(0);
  w->clear_raw_data();
  w->set_data_location(::onnx::TensorProto::EXTERNAL);
  auto* loc = w->add_external_data();
  loc->set_key("location");
  loc->set_value("/etc/passwd");
  EXPECT_THAT(g.Load(), StatusIs(kInvalid, HasSubstr("external data is not supported")));
}

TEST(OnnxLoaderTest, CycleNamesANode) {
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {2}).Output("y");
  g.Node("Add", {"x", "b"}, {"a"}, "first");
  g.Node("Relu", {"a"}, {"b"}, "second");
  g.Node("Relu", {"a"}, {"y"}, "third");
  EXPECT_THAT(g.Load(), StatusIs(kInvalid, HasSubstr("node 'first' (Add): is part of a cycle")));
}

TEST(OnnxLoaderTest, MissingInputNamesTheNodeAndInput) {
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {2}).Output("y");
  g.Node("Add", {"x", "nope"}, {"y"}, "add");
  EXPECT_THAT(g.Load(),
              StatusIs(kInvalid, HasSubstr("node 'add' (Add): input 'nope' is not produced "
                                           "by any node, initializer or graph input")));
}

TEST(OnnxLoaderTest, NodesOutOfOrderAreSorted) {
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {2}).Output("y");
  g.Node("Relu", {"t"}, {"y"}, "second");
  g.Node("Sigmoid", {"x"}, {"t"}, "first");
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  ASSERT_EQ(m.nodes().size(), 2u);
  EXPECT_EQ(m.nodes()[0].name, "first");
}

TEST(OnnxLoaderTest, ValueDefinedTwiceIsRefused) {
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {2}).Output("y");
  g.Node("Relu", {"x"}, {"y"}, "a");
  g.Node("Sigmoid", {"x"}, {"y"}, "b");
  EXPECT_THAT(g.Load(), StatusIs(kInvalid, HasSubstr("value 'y' is defined twice")));
}

TEST(OnnxLoaderTest, VersionsAndDomainsAreChecked) {
  EXPECT_THAT(ReluGraph(6).Load(), StatusIs(kInvalid, HasSubstr("opset 6 is not supported")));
  EXPECT_THAT(ReluGraph(26).Load(), StatusIs(kInvalid, HasSubstr("opset 26 is not supported")));
  GraphBuilder old = ReluGraph();
  old.proto().set_ir_version(2);
  EXPECT_THAT(old.Load(), StatusIs(kInvalid, HasSubstr("model.ir_version: 2 is not supported")));
  GraphBuilder no_opset = ReluGraph();
  no_opset.proto().clear_opset_import();
  EXPECT_THAT(no_opset.Load(), StatusIs(kInvalid, HasSubstr("no ai.onnx opset")));
  GraphBuilder two = ReluGraph();  // opset 13 under ""
  auto* again = two.proto().add_opset_import();
  again->set_domain("ai.onnx");
  again->set_version(17);
  EXPECT_THAT(two.Load(),
              StatusIs(kInvalid, HasSubstr("ai.onnx opset is given twice (13 and 17)")));
  again->set_version(13);  // the same version twice says the same thing
  EXPECT_OK(two.Load().status());
  GraphBuilder ms = ReluGraph();
  ms.proto().mutable_graph()->mutable_node(0)->set_domain("com.microsoft");
  EXPECT_THAT(ms.Load(),
              StatusIs(kInvalid,
                       HasSubstr("node 'relu1' (Relu): domain 'com.microsoft' is not supported")));
}

TEST(OnnxLoaderTest, ArityAndOutputsAreChecked) {
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {2}).Output("y");
  g.Node("Add", {"x", "x", "x"}, {"y"}, "add3");
  EXPECT_THAT(g.Load(), StatusIs(kInvalid, HasSubstr("node 'add3' (Add): has 3 inputs")));
  GraphBuilder dangling = ReluGraph();
  dangling.Output("z");
  EXPECT_THAT(
      dangling.Load(),
      StatusIs(kInvalid, HasSubstr("graph.output[1] 'z' is not produced by any node or input")));
  GraphBuilder declared = ReluGraph();
  declared.proto()
      .mutable_graph()
      ->mutable_output(0)
      ->mutable_type()
      ->mutable_tensor_type()
      ->set_elem_type(7);
  EXPECT_THAT(declared.Load(),
              StatusIs(kInvalid, HasSubstr("declared INT64 but computed as FLOAT")));
}

TEST(OnnxLoaderTest, ShapeErrorsSurfaceAtLoadWhenShapesAreStatic) {
  GraphBuilder g(13);
  g.Input("a", DataType::kFloat, {2, 3}).Input("b", DataType::kFloat, {4, 5}).Output("y");
  g.Node("MatMul", {"a", "b"}, {"y"}, "mm");
  EXPECT_THAT(g.Load(), StatusIs(kInvalid, HasSubstr("node 'mm' (MatMul): shapes [2,3] and [4,5] "
                                                     "do not multiply")));
  GraphBuilder r(13);
  r.Input("x", DataType::kFloat, {2, 3}).Initializer("s", Int64s({2}, {4, -1})).Output("y");
  r.Node("Reshape", {"x", "s"}, {"y"}, "reshape");
  EXPECT_THAT(r.Load(),
              StatusIs(kInvalid, HasSubstr("node 'reshape' (Reshape): cannot reshape [2,3]")));
}

TEST(OnnxLoaderTest, GraphAttributesAndSparseInitializersAreRefused) {
  GraphBuilder g = ReluGraph();
  auto* a = g.proto().mutable_graph()->mutable_node(0)->add_attribute();
  a->set_name("then_branch");
  a->set_type(::onnx::AttributeProto::GRAPH);
  EXPECT_THAT(
      g.Load(),
      StatusIs(kInvalid, HasSubstr("attribute 'then_branch' of type GRAPH is not supported")));
  GraphBuilder s = ReluGraph();
  s.proto().mutable_graph()->add_sparse_initializer();
  EXPECT_THAT(s.Load(), StatusIs(kInvalid, HasSubstr("sparse initializers are not supported")));
}

// Every value a parsed model carries is zeroed, wherever it sits: the main
// graph's initializers and sparse initializers, tensor, sparse-tensor and
// plain-list attributes, subgraphs, training_info graphs and functions.
TEST(OnnxLoaderTest, WipeModelPayloadsZeroesEveryValueItHolds) {
  ::onnx::ModelProto m;
  auto fill = [](::onnx::TensorProto* t) {
    t->set_raw_data(std::string(64, '\x5a'));
    t->add_float_data(1.5f);
    t->add_int64_data(7);
    t->add_string_data("secret-label");
  };
  auto fill_graph = [&](::onnx::GraphProto* g) {
    fill(g->add_initializer());
    ::onnx::SparseTensorProto* s = g->add_sparse_initializer();
    fill(s->mutable_values());
    fill(s->mutable_indices());
    ::onnx::AttributeProto* a = g->add_node()->add_attribute();
    fill(a->mutable_t());
    fill(a->add_tensors());
    fill(a->mutable_sparse_tensor()->mutable_values());
    a->add_floats(2.5f);
    a->add_ints(9);
    a->set_s("value");
    a->add_strings("values");
    return a;
  };
  ::onnx::AttributeProto* top = fill_graph(m.mutable_graph());
  fill_graph(top->mutable_g());
  fill_graph(top->add_graphs());
  fill_graph(m.add_training_info()->mutable_initialization());
  fill(m.add_functions()->add_node()->add_attribute()->mutable_t());

  WipeModelPayloads(&m);

  // Each value field left non-zero anywhere in the message shows up as a
  // non-zero byte of a known payload; scan them all.
  auto zero_tensor = [](const ::onnx::TensorProto& t) {
    bool zero = t.float_data(0) == 0.0f && t.int64_data(0) == 0;
    for (char c : t.raw_data()) zero = zero && c == 0;
    for (char c : t.string_data(0)) zero = zero && c == 0;
    return zero;
  };
  auto zero_graph = [&](const ::onnx::GraphProto& g) {
    const ::onnx::AttributeProto& a = g.node(0).attribute(0);
    bool zero = zero_tensor(g.initializer(0)) && zero_tensor(g.sparse_initializer(0).values()) &&
                zero_tensor(g.sparse_initializer(0).indices()) && zero_tensor(a.t()) &&
                zero_tensor(a.tensors(0)) && zero_tensor(a.sparse_tensor().values()) &&
                a.floats(0) == 0.0f && a.ints(0) == 0;
    for (char c : a.s()) zero = zero && c == 0;
    for (char c : a.strings(0)) zero = zero && c == 0;
    return zero;
  };
  EXPECT_TRUE(zero_graph(m.graph()));
  EXPECT_TRUE(zero_graph(m.graph().node(0).attribute(0).g()));
  EXPECT_TRUE(zero_graph(m.graph().node(0).attribute(0).graphs(0)));
  EXPECT_TRUE(zero_graph(m.training_info(0).initialization()));
  EXPECT_TRUE(zero_tensor(m.functions(0).node(0).attribute(0).t()));
}

TEST(OnnxTensorTest, TensorProtoRoundTripAndStrictParsing) {
  const Tensor t = testing::RandomFloats({2, 3, 4}, 7);
  const std::string bytes = t.SerializeAsTensorProto("t");
  ASSERT_OK_AND_ASSIGN(Tensor back, Tensor::FromTensorProto(AsBytes(bytes), "t"));
  EXPECT_EQ(back.shape(), t.shape());
  EXPECT_TRUE(std::equal(back.bytes().begin(), back.bytes().end(), t.bytes().begin()));
  EXPECT_THAT(
      Tensor::FromTensorProto(AsBytes(absl::string_view(bytes).substr(0, bytes.size() - 3)), "cut"),
      StatusIs(kInvalid));
  ::onnx::TensorProto p;
  p.set_data_type(2);  // UINT8 through int32_data, range-checked
  p.add_dims(2);
  p.add_int32_data(7);
  p.add_int32_data(300);
  EXPECT_THAT(Tensor::FromTensorProto(p, "u8"),
              StatusIs(kInvalid, HasSubstr("u8: int32_data[1] is out of range for UINT8")));
  // Inputs are decrypted data: errors name the index, never the value.
  EXPECT_THAT(Tensor::FromTensorProto(p, "u8").status().message(),
              ::testing::Not(HasSubstr("300")));
  p.set_data_type(8);  // STRING
  EXPECT_THAT(Tensor::FromTensorProto(p, "s"),
              StatusIs(kInvalid, HasSubstr("element type STRING (8)")));
  p.set_data_type(7);
  EXPECT_THAT(Tensor::FromTensorProto(p, "i64"),
              StatusIs(kInvalid, HasSubstr("i64.int32_data is set for a INT64 tensor")));
}

// A few bytes of TensorProto may claim a tensor near the 1 TiB limit: the
// data is checked against the dims before anything that size is allocated
// (which would abort the worker, or lock that much memory, first).
TEST(OnnxTensorTest, DimsThatClaimHugeTensorsAreRefusedBeforeAllocating) {
  ::onnx::TensorProto p;
  p.set_data_type(1);            // FLOAT
  p.add_dims(int64_t{1} << 38);  // 1 TiB of floats
  EXPECT_THAT(Tensor::FromTensorProto(p, "huge"),
              StatusIs(kInvalid, HasSubstr("huge.float_data: 0 values")));
  p.set_raw_data(std::string(16, '\0'));
  EXPECT_THAT(Tensor::FromTensorProto(p, "huge"),
              StatusIs(kInvalid, HasSubstr("huge.raw_data: 16 bytes")));
}

}  // namespace
}  // namespace strongroom::worker::onnx
