// Operator semantics the node vectors do not reach: opset-dependent forms
// (Softmax before 13, Unsqueeze's axes attribute, Dropout's mask), grouped
// and dilated convolution against a direct loop, LRN, Sum of three, int64
// paths and run-time errors. Expected values come from the ONNX operator
// definitions, computed here by straightforward loops.
#include <algorithm>
#include <cmath>
#include <limits>
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

using ::strongroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using testing::Floats;
using testing::GraphBuilder;
using ::testing::HasSubstr;
using testing::Int64s;
using testing::RandomFloats;
using testing::SetAttr;

absl::StatusOr<std::vector<Tensor>> RunGraph(const GraphBuilder& g, const std::vector<Tensor>& in,
                                             int threads = 2) {
  return testing::RunOnce(g.Serialize(), in, threads);
}

void ExpectClose(const Tensor& actual, const Tensor& expected, double rtol = 1e-5,
                 double atol = 1e-6) {
  const Comparison c = CompareTensors(actual, expected, rtol, atol);
  EXPECT_TRUE(c.match) << c.detail;
}

// Softmax over `len` elements `inner` apart.
std::vector<float> RefSoftmax(const std::vector<float>& x, int64_t outer, int64_t len,
                              int64_t inner, bool log) {
  std::vector<float> y(x.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t r = 0; r < inner; ++r) {
      double mx = -INFINITY, sum = 0;
      for (int64_t i = 0; i < len; ++i) mx = std::max<double>(mx, x[(o * len + i) * inner + r]);
      for (int64_t i = 0; i < len; ++i) sum += std::exp(x[(o * len + i) * inner + r] - mx);
      for (int64_t i = 0; i < len; ++i) {
        const size_t k = static_cast<size_t>((o * len + i) * inner + r);
        y[k] = static_cast<float>(log ? x[k] - mx - std::log(sum) : std::exp(x[k] - mx) / sum);
      }
    }
  }
  return y;
}

TEST(OnnxOpsTest, SoftmaxBeforeOpset13FlattensAtAxis) {
  const Tensor x = RandomFloats({2, 3, 4}, 3);
  const std::vector<float> xv(x.data<float>().begin(), x.data<float>().end());
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    const bool log = std::string(op) == "LogSoftmax";
    for (int64_t opset : {11, 13}) {
      GraphBuilder g(opset);
      g.Input("x", DataType::kFloat, {2, 3, 4}).Output("y");
      SetAttr(g.Node(op, {"x"}, {"y"}), "axis", int64_t{1});
      ASSERT_OK_AND_ASSIGN(auto out, RunGraph(g, {x}));
      // Opset 11: one softmax over the 12 trailing elements of each batch
      // entry; opset 13: over the 3 elements of axis 1.
      const std::vector<float> want =
          opset == 11 ? RefSoftmax(xv, 2, 12, 1, log) : RefSoftmax(xv, 2, 3, 4, log);
      ExpectClose(out[0], Floats({2, 3, 4}, want));
    }
    // Default axes differ too: 1 before 13, -1 from 13.
    GraphBuilder g11(11), g13(13);
    for (GraphBuilder* g : {&g11, &g13}) {
      g->Input("x", DataType::kFloat, {2, 3, 4}).Output("y");
      g->Node(op, {"x"}, {"y"});
    }
    ASSERT_OK_AND_ASSIGN(auto o11, RunGraph(g11, {x}));
    ASSERT_OK_AND_ASSIGN(auto o13, RunGraph(g13, {x}));
    ExpectClose(o11[0], Floats({2, 3, 4}, RefSoftmax(xv, 2, 12, 1, log)));
    ExpectClose(o13[0], Floats({2, 3, 4}, RefSoftmax(xv, 6, 4, 1, log)));
  }
}

TEST(OnnxOpsTest, UnsqueezeAxesByOpset) {
  const Tensor x = RandomFloats({3, 4}, 5);
  GraphBuilder g11(11);
  g11.Input("x", DataType::kFloat, {3, 4}).Output("y");
  SetAttr(g11.Node("Unsqueeze", {"x"}, {"y"}), "axes", std::vector<int64_t>{0, -1});
  ASSERT_OK_AND_ASSIGN(auto a, RunGraph(g11, {x}));
  EXPECT_EQ(a[0].shape(), (Shape{1, 3, 4, 1}));
  GraphBuilder g13(13);
  g13.Input("x", DataType::kFloat, {3, 4}).Initializer("axes", Int64s({2}, {1, 3})).Output("y");
  g13.Node("Unsqueeze", {"x", "axes"}, {"y"});
  ASSERT_OK_AND_ASSIGN(auto b, RunGraph(g13, {x}));
  EXPECT_EQ(b[0].shape(), (Shape{3, 1, 4, 1}));
  ExpectClose(b[0], Floats({3, 1, 4, 1}, {x.data<float>().begin(), x.data<float>().end()}));
  // Opset 13 without the axes input, or with a repeated axis, is refused.
  GraphBuilder bad(13);
  bad.Input("x", DataType::kFloat, {3, 4}).Output("y");
  SetAttr(bad.Node("Unsqueeze", {"x"}, {"y"}, "u"), "axes", std::vector<int64_t>{0});
  EXPECT_THAT(bad.Load(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("node 'u' (Unsqueeze)")));
  GraphBuilder twice(13);
  twice.Input("x", DataType::kFloat, {3, 4}).Initializer("axes", Int64s({2}, {0, -4})).Output("y");
  twice.Node("Unsqueeze", {"x", "axes"}, {"y"}, "u2");
  EXPECT_THAT(twice.Load(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("appears twice")));
}

TEST(OnnxOpsTest, ReshapeZeroCopiesUnlessAllowZero) {
  const Tensor x = RandomFloats({2, 3, 4}, 9);
  GraphBuilder copy(14);
  copy.Input("x", DataType::kFloat, {2, 3, 4})
      .Initializer("s", Int64s({3}, {0, 4, -1}))
      .Output("y");
  copy.Node("Reshape", {"x", "s"}, {"y"});
  ASSERT_OK_AND_ASSIGN(auto a, RunGraph(copy, {x}));
  EXPECT_EQ(a[0].shape(), (Shape{2, 4, 3}));
  // allowzero=1: a 0 in the shape is a zero dim; only an empty input fits.
  GraphBuilder zero(14);
  zero.Input("x", DataType::kFloat, {0, 3}).Initializer("s", Int64s({2}, {3, 0})).Output("y");
  SetAttr(zero.Node("Reshape", {"x", "s"}, {"y"}), "allowzero", int64_t{1});
  ASSERT_OK_AND_ASSIGN(auto b, RunGraph(zero, {Floats({0, 3}, {})}));
  EXPECT_EQ(b[0].shape(), (Shape{3, 0}));
}

TEST(OnnxOpsTest, DropoutIsIdentityWithATrueMask) {
  const Tensor x = RandomFloats({2, 5}, 11);
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {2, 5}).Output("y").Output("mask");
  g.Node("Dropout", {"x"}, {"y", "mask"});
  ASSERT_OK_AND_ASSIGN(auto out, RunGraph(g, {x}));
  ExpectClose(out[0], x, 0, 0);
  ASSERT_EQ(out[1].dtype(), DataType::kBool);
  for (bool m : out[1].data<bool>()) EXPECT_TRUE(m);
  // Opset 9: ratio is an attribute and the mask has the data's type.
  GraphBuilder g9(9);
  g9.Input("x", DataType::kFloat, {2, 5}).Output("y").Output("mask");
  SetAttr(g9.Node("Dropout", {"x"}, {"y", "mask"}), "ratio", 0.5f);
  ASSERT_OK_AND_ASSIGN(auto out9, RunGraph(g9, {x}));
  ExpectClose(out9[0], x, 0, 0);
  ASSERT_EQ(out9[1].dtype(), DataType::kFloat);
  for (float m : out9[1].data<float>()) EXPECT_EQ(m, 1.0f);
  // Training mode is refused at run time.
  GraphBuilder t(13);
  t.Input("x", DataType::kFloat, {2, 5})
      .Input("r", DataType::kFloat, {})
      .Input("train", DataType::kBool, {});
  t.Output("y");
  t.Node("Dropout", {"x", "r", "train"}, {"y"}, "drop");
  Tensor on = *Tensor::Create(DataType::kBool, {});
  on.mutable_data<bool>()[0] = true;
  EXPECT_THAT(RunGraph(t, {x, Floats({}, {0.5f}), on}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("node 'drop' (Dropout): training_mode=true is not supported")));
}

// Direct convolution from the operator definition (NCHW, explicit pads).
std::vector<float> RefConv(const Tensor& x, const Tensor& w, const std::vector<float>& bias,
                           int64_t group, std::vector<int64_t> stride, std::vector<int64_t> dil,
                           std::vector<int64_t> pads, Shape* out_shape) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3);
  const int64_t m = w.dim(0), cg = w.dim(1), kh = w.dim(2), kw = w.dim(3);
  const int64_t oh = (h + pads[0] + pads[2] - ((kh - 1) * dil[0] + 1)) / stride[0] + 1;
  const int64_t ow = (wd + pads[1] + pads[3] - ((kw - 1) * dil[1] + 1)) / stride[1] + 1;
  *out_shape = {n, m, oh, ow};
  std::vector<float> y(static_cast<size_t>(n * m * oh * ow));
  auto xv = x.data<float>();
  auto wv = w.data<float>();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t o = 0; o < m; ++o) {
      const int64_t g = o / (m / group);
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = bias.empty() ? 0 : bias[static_cast<size_t>(o)];
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t a = 0; a < kh; ++a)
              for (int64_t e = 0; e < kw; ++e) {
                const int64_t yy = i * stride[0] - pads[0] + a * dil[0];
                const int64_t xx = j * stride[1] - pads[1] + e * dil[1];
                if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
                acc += xv[static_cast<size_t>(((b * c + g * cg + ci) * h + yy) * wd + xx)] *
                       wv[static_cast<size_t>(((o * cg + ci) * kh + a) * kw + e)];
              }
          y[static_cast<size_t>(((b * m + o) * oh + i) * ow + j)] = static_cast<float>(acc);
        }
    }
  return y;
}

TEST(OnnxOpsTest, GroupedDilatedStridedConvMatchesDirectLoop) {
  const Tensor x = RandomFloats({2, 6, 11, 9}, 21);
  const Tensor w = RandomFloats({4, 3, 3, 2}, 22);
  const Tensor b = RandomFloats({4}, 23);
  for (int threads : {1, 3}) {
    GraphBuilder g(13);
    g.Input("x", DataType::kFloat, {2, 6, 11, 9})
        .Initializer("w", w)
        .Initializer("b", b)
        .Output("y");
    auto* conv = g.Node("Conv", {"x", "w", "b"}, {"y"});
    SetAttr(conv, "group", int64_t{2});
    SetAttr(conv, "strides", std::vector<int64_t>{2, 1});
    SetAttr(conv, "dilations", std::vector<int64_t>{1, 2});
    SetAttr(conv, "pads", std::vector<int64_t>{1, 0, 2, 1});
    ASSERT_OK_AND_ASSIGN(auto out, RunGraph(g, {x}, threads));
    Shape shape;
    const std::vector<float> want = RefConv(x, w, {b.data<float>().begin(), b.data<float>().end()},
                                            2, {2, 1}, {1, 2}, {1, 0, 2, 1}, &shape);
    ExpectClose(out[0], Floats(shape, want), 1e-4, 1e-5);
  }
  // Depthwise (group == channels) 1x1 and a 1-D convolution.
  const Tensor dw = RandomFloats({6, 1, 1, 1}, 24);
  GraphBuilder d(13);
  d.Input("x", DataType::kFloat, {2, 6, 11, 9}).Initializer("w", dw).Output("y");
  SetAttr(d.Node("Conv", {"x", "w"}, {"y"}), "group", int64_t{6});
  ASSERT_OK_AND_ASSIGN(auto dout, RunGraph(d, {x}));
  Shape dshape;
  ExpectClose(dout[0],
              Floats(dshape, RefConv(x, dw, {}, 6, {1, 1}, {1, 1}, {0, 0, 0, 0}, &dshape)));
  const Tensor x1 = RandomFloats({1, 2, 10}, 25);
  const Tensor w1 = RandomFloats({3, 2, 3}, 26);
  GraphBuilder one(13);
  one.Input("x", DataType::kFloat, {1, 2, 10}).Initializer("w", w1).Output("y");
  SetAttr(one.Node("Conv", {"x", "w"}, {"y"}), "pads", std::vector<int64_t>{1, 1});
  ASSERT_OK_AND_ASSIGN(auto o1, RunGraph(one, {x1}));
  Shape s1;
  const std::vector<float> want1 =
      RefConv(Floats({1, 2, 1, 10}, {x1.data<float>().begin(), x1.data<float>().end()}),
              Floats({3, 2, 1, 3}, {w1.data<float>().begin(), w1.data<float>().end()}), {}, 1,
              {1, 1}, {1, 1}, {0, 1, 0, 1}, &s1);
  EXPECT_EQ(o1[0].shape(), (Shape{1, 3, 10}));
  ExpectClose(o1[0], Floats({1, 3, 10}, want1));
}

// A pooling output's size along one axis of `in` (pads `pad` on both
// sides): ceil_mode rounds up, but the last window must start in the input
// or its leading pad.
int64_t RefPoolOutSize(int64_t in, int64_t k, int64_t s, int64_t pad, bool ceil_mode) {
  const int64_t span = in + 2 * pad - k;
  int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (o - 1) * s >= in + pad) --o;  // the last window starts in the input
  return o;
}

// MaxPool by the definition: output (oy, ox) is the max of the input inside
// its window, pads excluded; ceil_mode rounds the output size up.
std::vector<float> RefMaxPool(const Tensor& x, int64_t k, int64_t s, int64_t pad, bool ceil_mode,
                              Shape* shape) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  const int64_t oh = RefPoolOutSize(h, k, s, pad, ceil_mode);
  const int64_t ow = RefPoolOutSize(w, k, s, pad, ceil_mode);
  *shape = {n, c, oh, ow};
  std::vector<float> y;
  const float* px = x.data<float>().data();
  for (int64_t p = 0; p < n * c; ++p) {
    for (int64_t oy = 0; oy < oh; ++oy) {
      for (int64_t ox = 0; ox < ow; ++ox) {
        float best = -std::numeric_limits<float>::infinity();
        for (int64_t i = 0; i < k; ++i) {
          for (int64_t j = 0; j < k; ++j) {
            const int64_t iy = oy * s - pad + i, ix = ox * s - pad + j;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
              best = std::max(best, px[(p * h + iy) * w + ix]);
            }
          }
        }
        y.push_back(best);
      }
    }
  }
  return y;
}

TEST(OnnxOpsTest, StridedMaxPoolMatchesDefinition) {
  // Widths around the 16-lane vectors (one to four per output row, tails),
  // 2x2 and 3x3 windows, stride 2 (the register kernel) and 3, with and
  // without padding and ceil_mode.
  uint32_t seed = 40;
  for (int64_t width : {5, 9, 27, 33, 34, 55, 70}) {
    for (int64_t k : {2, 3}) {
      for (int64_t stride : {2, 3}) {
        for (int64_t pad : {0, 1}) {
          for (bool ceil_mode : {false, true}) {
            if (pad >= k) continue;
            SCOPED_TRACE(absl::StrCat("width ", width, " k ", k, " stride ", stride, " pad ",
                                      pad, " ceil ", ceil_mode));
            const Shape in_shape = {1, 3, width / 2 + 4, width};
            const Tensor x = RandomFloats(in_shape, ++seed);
            GraphBuilder g(13);
            g.Input("x", DataType::kFloat, in_shape).Output("y");
            auto* pool = g.Node("MaxPool", {"x"}, {"y"});
            SetAttr(pool, "kernel_shape", std::vector<int64_t>{k, k});
            SetAttr(pool, "strides", std::vector<int64_t>{stride, stride});
            SetAttr(pool, "pads", std::vector<int64_t>{pad, pad, pad, pad});
            SetAttr(pool, "ceil_mode", int64_t{ceil_mode ? 1 : 0});
            Shape shape;
            const std::vector<float> want = RefMaxPool(x, k, stride, pad, ceil_mode, &shape);
            for (int threads : {1, 2}) {
              ASSERT_OK_AND_ASSIGN(auto out, RunGraph(g, {x}, threads));
              ASSERT_EQ(out[0].shape(), shape);
              ExpectClose(out[0], Floats(shape, want), 0, 0);
            }
          }
        }
      }
    }
  }
}

// AveragePool as ONNX's reference implementation defines it: a window
// starting at o * s - pad_begin ends at most at in + pad_end (what ceil_mode
// adds beyond the padded input is not counted), the sum over its part inside
// the input, divided by that part's size, or with count_include_pad by its
// part inside the padded input.
std::vector<float> RefAveragePool(const Tensor& x, int64_t k, int64_t s, int64_t pad,
                                  bool ceil_mode, bool include_pad, Shape* shape) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  const int64_t oh = RefPoolOutSize(h, k, s, pad, ceil_mode);
  const int64_t ow = RefPoolOutSize(w, k, s, pad, ceil_mode);
  *shape = {n, c, oh, ow};
  std::vector<float> y;
  const float* px = x.data<float>().data();
  for (int64_t p = 0; p < n * c; ++p) {
    for (int64_t oy = 0; oy < oh; ++oy) {
      for (int64_t ox = 0; ox < ow; ++ox) {
        const int64_t y0 = oy * s - pad, x0 = ox * s - pad;
        const int64_t y1 = std::min(y0 + k, h + pad), x1 = std::min(x0 + k, w + pad);
        double sum = 0;
        int64_t inside = 0;
        for (int64_t iy = std::max<int64_t>(y0, 0); iy < std::min(y1, h); ++iy) {
          for (int64_t ix = std::max<int64_t>(x0, 0); ix < std::min(x1, w); ++ix) {
            sum += px[(p * h + iy) * w + ix];
            ++inside;
          }
        }
        const int64_t count = include_pad ? (y1 - y0) * (x1 - x0) : inside;
        y.push_back(static_cast<float>(sum / static_cast<double>(count)));
      }
    }
  }
  return y;
}

TEST(OnnxOpsTest, AveragePoolWithCeilModeMatchesDefinition) {
  // ONNX's own example (averagepool_2d_ceil): 4x4, 3x3 window, stride 2.
  {
    std::vector<float> v(16);
    for (int i = 0; i < 16; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i + 1);
    GraphBuilder g(13);
    g.Input("x", DataType::kFloat, {1, 1, 4, 4}).Output("y");
    auto* pool = g.Node("AveragePool", {"x"}, {"y"});
    SetAttr(pool, "kernel_shape", std::vector<int64_t>{3, 3});
    SetAttr(pool, "strides", std::vector<int64_t>{2, 2});
    SetAttr(pool, "ceil_mode", int64_t{1});
    ASSERT_OK_AND_ASSIGN(auto out, RunGraph(g, {Floats({1, 1, 4, 4}, v)}));
    ExpectClose(out[0], Floats({1, 1, 2, 2}, {6.0f, 7.5f, 12.0f, 13.5f}), 0, 0);
  }
  uint32_t seed = 70;
  for (int64_t width : {4, 7, 10, 13}) {
    for (int64_t k : {2, 3}) {
      for (int64_t stride : {2, 3}) {
        for (int64_t pad : {0, 1}) {
          for (bool include_pad : {false, true}) {
            if (pad >= k) continue;
            SCOPED_TRACE(absl::StrCat("width ", width, " k ", k, " stride ", stride, " pad ", pad,
                                      " count_include_pad ", include_pad));
            const Shape in_shape = {1, 2, width + 1, width};
            const Tensor x = RandomFloats(in_shape, ++seed);
            GraphBuilder g(13);
            g.Input("x", DataType::kFloat, in_shape).Output("y");
            auto* pool = g.Node("AveragePool", {"x"}, {"y"});
            SetAttr(pool, "kernel_shape", std::vector<int64_t>{k, k});
            SetAttr(pool, "strides", std::vector<int64_t>{stride, stride});
            SetAttr(pool, "pads", std::vector<int64_t>{pad, pad, pad, pad});
            SetAttr(pool, "ceil_mode", int64_t{1});
            SetAttr(pool, "count_include_pad", int64_t{include_pad ? 1 : 0});
            Shape shape;
            const std::vector<float> want =
                RefAveragePool(x, k, stride, pad, /*ceil_mode=*/true, include_pad, &shape);
            ASSERT_OK_AND_ASSIGN(auto out, RunGraph(g, {x}));
            ASSERT_EQ(out[0].shape(), shape);
            ExpectClose(out[0], Floats(shape, want), 1e-6, 1e-6);
          }
        }
      }
    }
  }
}

TEST(OnnxOpsTest, LrnMatchesDefinition) {
  const Tensor x = RandomFloats({1, 5, 2, 3}, 31);
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {1, 5, 2, 3}).Output("y");
  auto* lrn = g.Node("LRN", {"x"}, {"y"});
  SetAttr(lrn, "size", int64_t{3});
  SetAttr(lrn, "alpha", 0.5f);
  SetAttr(lrn, "beta", 0.75f);
  SetAttr(lrn, "bias", 2.0f);
  ASSERT_OK_AND_ASSIGN(auto out, RunGraph(g, {x}));
  auto xv = x.data<float>();
  std::vector<float> want(xv.size());
  for (int64_t c = 0; c < 5; ++c)
    for (int64_t i = 0; i < 6; ++i) {
      double sq = 0;
      for (int64_t k = std::max<int64_t>(0, c - 1); k <= std::min<int64_t>(4, c + 1); ++k) {
        sq += xv[static_cast<size_t>(k * 6 + i)] * xv[static_cast<size_t>(k * 6 + i)];
      }
      want[static_cast<size_t>(c * 6 + i)] = static_cast<float>(xv[static_cast<size_t>(c * 6 + i)] /
                                                                std::pow(2.0 + 0.5 / 3 * sq, 0.75));
    }
  ExpectClose(out[0], Floats({1, 5, 2, 3}, want));
}

TEST(OnnxOpsTest, SumBroadcastsThreeInputs) {
  const Tensor a = RandomFloats({2, 1, 4}, 41), b = RandomFloats({3, 1}, 42),
               c = RandomFloats({4}, 43);
  GraphBuilder g(13);
  g.Input("a", DataType::kFloat, {2, 1, 4}).Input("b", DataType::kFloat, {3, 1});
  g.Input("c", DataType::kFloat, {4}).Output("y");
  g.Node("Sum", {"a", "b", "c"}, {"y"});
  ASSERT_OK_AND_ASSIGN(auto out, RunGraph(g, {a, b, c}));
  std::vector<float> want;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) {
        want.push_back(a.data<float>()[i * 4 + k] + b.data<float>()[j] + c.data<float>()[k]);
      }
  ExpectClose(out[0], Floats({2, 3, 4}, want));
}

TEST(OnnxOpsTest, GlobalAveragePoolAndBatchedMatMul) {
  const Tensor x = RandomFloats({2, 3, 4, 5}, 51);
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {2, 3, 4, 5}).Output("y");
  g.Node("GlobalAveragePool", {"x"}, {"y"});
  ASSERT_OK_AND_ASSIGN(auto out, RunGraph(g, {x}));
  std::vector<float> want;
  for (int p = 0; p < 6; ++p) {
    double s = 0;
    for (int i = 0; i < 20; ++i) s += x.data<float>()[p * 20 + i];
    want.push_back(static_cast<float>(s / 20));
  }
  ExpectClose(out[0], Floats({2, 3, 1, 1}, want));

  // Planes in groups of four and a remainder, with and without a tail of
  // fewer than eight elements, and planes shorter than eight.
  for (const Shape& shape : {Shape{1, 7, 13, 13}, Shape{1, 9, 4, 4}, Shape{2, 5, 1, 3}}) {
    SCOPED_TRACE(ShapeToString(shape));
    const Tensor t = RandomFloats(shape, 54);
    GraphBuilder gp(13);
    gp.Input("x", DataType::kFloat, shape).Output("y");
    gp.Node("GlobalAveragePool", {"x"}, {"y"});
    const int64_t planes = shape[0] * shape[1], size = shape[2] * shape[3];
    std::vector<float> means;
    for (int64_t p = 0; p < planes; ++p) {
      double sum = 0;
      for (int64_t i = 0; i < size; ++i) sum += t.data<float>()[p * size + i];
      means.push_back(static_cast<float>(sum / static_cast<double>(size)));
    }
    for (int threads : {1, 2}) {
      ASSERT_OK_AND_ASSIGN(auto pooled, RunGraph(gp, {t}, threads));
      ExpectClose(pooled[0], Floats({shape[0], shape[1], 1, 1}, means), 1e-6, 1e-7);
    }
  }

  // [2,1,3,4] x [3,4,5] broadcasts to [2,3,3,5].
  const Tensor a = RandomFloats({2, 1, 3, 4}, 52), b = RandomFloats({3, 4, 5}, 53);
  GraphBuilder mm(13);
  mm.Input("a", DataType::kFloat, {2, 1, 3, 4}).Input("b", DataType::kFloat, {3, 4, 5}).Output("y");
  mm.Node("MatMul", {"a", "b"}, {"y"});
  ASSERT_OK_AND_ASSIGN(auto mo, RunGraph(mm, {a, b}));
  std::vector<float> mwant;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int r = 0; r < 3; ++r)
        for (int col = 0; col < 5; ++col) {
          double s = 0;
          for (int k = 0; k < 4; ++k)
            s += a.data<float>()[(i * 3 + r) * 4 + k] * b.data<float>()[(j * 4 + k) * 5 + col];
          mwant.push_back(static_cast<float>(s));
        }
  ExpectClose(mo[0], Floats({2, 3, 3, 5}, mwant));
}

TEST(OnnxOpsTest, ConstantsAndInt64Arithmetic) {
  GraphBuilder g(13);
  g.Input("x", DataType::kInt64, {3}).Output("y").Output("z");
  SetAttr(g.Node("Constant", {}, {"c"}), "value_ints", std::vector<int64_t>{10, 20, 30});
  g.Node("Mul", {"x", "c"}, {"y"});
  auto* cos = g.Node("ConstantOfShape", {"shape"}, {"z"});
  SetAttr(cos, "value", Int64s({1}, {7}));
  g.Initializer("shape", Int64s({2}, {2, 2}));
  ASSERT_OK_AND_ASSIGN(auto out, RunGraph(g, {Int64s({3}, {1, -2, 3})}));
  EXPECT_THAT(out[0].data<int64_t>(), ElementsAre(10, -40, 90));
  EXPECT_EQ(out[1].shape(), (Shape{2, 2}));
  EXPECT_THAT(out[1].data<int64_t>(), ElementsAre(7, 7, 7, 7));
}

TEST(OnnxOpsTest, RunTimeErrorsNameTheNode) {
  GraphBuilder div(13);
  div.Input("a", DataType::kInt64, {2}).Input("b", DataType::kInt64, {2}).Output("y");
  div.Node("Div", {"a", "b"}, {"y"}, "divide");
  EXPECT_THAT(RunGraph(div, {Int64s({2}, {4, 5}), Int64s({2}, {2, 0})}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("node 'divide' (Div): integer division by zero")));
  // With a symbolic dim, broadcasting is only checked when the shapes arrive.
  GraphBuilder add(13);
  add.Input("a", DataType::kFloat, {-1, 3}).Input("b", DataType::kFloat, {-1}).Output("y");
  add.Node("Add", {"a", "b"}, {"y"}, "plus");
  ASSERT_OK_AND_ASSIGN(auto ok, RunGraph(add, {RandomFloats({2, 3}, 1), RandomFloats({3}, 2)}));
  EXPECT_EQ(ok[0].shape(), (Shape{2, 3}));
  EXPECT_THAT(RunGraph(add, {RandomFloats({2, 3}, 1), RandomFloats({4}, 2)}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("node 'plus' (Add): shapes [2,3] and [4] do not broadcast")));
}

TEST(OnnxOpsTest, TransposeAndConcatMoveAnyType) {
  GraphBuilder g(13);
  g.Input("a", DataType::kInt64, {2, 3})
      .Input("b", DataType::kInt64, {2, 1})
      .Output("t")
      .Output("c");
  g.Node("Transpose", {"a"}, {"t"});
  SetAttr(g.Node("Concat", {"a", "b"}, {"c"}), "axis", int64_t{-1});
  ASSERT_OK_AND_ASSIGN(auto out,
                       RunGraph(g, {Int64s({2, 3}, {1, 2, 3, 4, 5, 6}), Int64s({2, 1}, {7, 8})}));
  EXPECT_EQ(out[0].shape(), (Shape{3, 2}));
  EXPECT_THAT(out[0].data<int64_t>(), ElementsAre(1, 4, 2, 5, 3, 6));
  EXPECT_THAT(out[1].data<int64_t>(), ElementsAreArray({1, 2, 3, 7, 4, 5, 6, 8}));
}

}  // namespace
}  // namespace strongroom::worker::onnx
