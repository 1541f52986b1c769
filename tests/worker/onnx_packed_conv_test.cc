// The AVX-512 packed-weight convolution path (worker/onnx/ops/packed_gemm.h):
// PackedGemm against a double-precision reference, and Conv with constant
// weights (packed at Session::Create) against the same Conv with its weights
// fed as an input (im2col + OpenBLAS), over the geometries the kernel's
// panel filler handles. Skipped on CPUs without AVX-512F.
#include <cmath>
#include <string>
#include <vector>

#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "tests/worker/onnx_test_util.h"
#include "worker/onnx/compare.h"
#include "worker/onnx/ops/packed_gemm.h"
#include "worker/onnx/session.h"
#include "worker/onnx/thread_pool.h"

namespace strongroom::worker::onnx {
namespace {

using testing::GraphBuilder;
using testing::RandomFloats;
using testing::SetAttr;

struct GemmCase {
  int64_t m, k, n;
  bool bias, residual, relu;
};

TEST(OnnxPackedGemmTest, MatchesDoublePrecisionReference) {
  if (!ops::PackedGemmAvailable()) GTEST_SKIP() << "no AVX-512F";
  // Row and column tails (m % 8, n % 48, n % 16), K across the 256-row passes,
  // column blocks beyond one (n > 480), every epilogue.
  const std::vector<GemmCase> cases = {
      {1, 1, 1, false, false, false},    {8, 256, 48, true, false, false},
      {13, 300, 100, true, true, true},  {20, 513, 1000, false, true, false},
      {16, 9, 17, false, false, true},   {64, 144, 169, true, false, true},
      {3, 1000, 2, true, true, false},   {40, 27, 531, true, true, true},
  };
  ThreadPool pool(2);
  uint32_t seed = 1;
  for (const GemmCase& t : cases) {
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      const Tensor w = RandomFloats({t.m, t.k}, seed++);
      const Tensor b = RandomFloats({t.k, t.n}, seed++);
      const Tensor bias = RandomFloats({t.m}, seed++);
      const Tensor res = RandomFloats({t.m, t.n}, seed++);
      const float* pw = w.data<float>().data();
      const float* pb = b.data<float>().data();
      const ops::PackedWeights packed(pw, t.m, t.k);
      ops::GemmEpilogue ep;
      ep.bias = t.bias ? bias.data<float>().data() : nullptr;
      ep.residual = t.residual ? res.data<float>().data() : nullptr;
      ep.relu = t.relu;
      std::vector<float> c(static_cast<size_t>(t.m * t.n), std::nanf(""));
      int64_t fills = 0;
      ops::PanelSource src;
      src.fill = [&](int64_t k0, int64_t k1, int64_t n0, int64_t n1, float* dst) {
        ++fills;
        for (int64_t k = k0; k < k1; ++k) {
          for (int64_t j = n0; j < n1; ++j) {
            dst[(k - k0) * ops::kPackedPanel + (j - n0)] = pb[k * t.n + j];
          }
        }
      };
      AlignedBuffer scratch(ops::PackedGemmScratchFloats(2) * sizeof(float));
      ops::PackedGemm(p, packed, t.n, src, ep, c.data(), t.n,
                      reinterpret_cast<float*>(scratch.data()));
      EXPECT_GT(fills, 0);
      for (int64_t i = 0; i < t.m; ++i) {
        for (int64_t j = 0; j < t.n; ++j) {
          double want = t.bias ? ep.bias[i] : 0.0;
          if (t.residual) want += ep.residual[i * t.n + j];
          double mag = std::fabs(want);
          for (int64_t k = 0; k < t.k; ++k) {
            const double term = double{pw[i * t.k + k]} * double{pb[k * t.n + j]};
            want += term;
            mag += std::fabs(term);
          }
          if (t.relu && want < 0) want = 0;
          const float got = c[static_cast<size_t>(i * t.n + j)];
          ASSERT_NEAR(got, want, 1e-5 * mag + 1e-6)
              << "m=" << t.m << " k=" << t.k << " n=" << t.n << " at (" << i << ", " << j
              << "), " << (p == nullptr ? 1 : 2) << " threads";
        }
      }
    }
  }
}

struct ConvCase {
  std::string name;
  int64_t c, h, w, m, kh, kw;  // kh 0: a 1-D convolution of width w, kernel kw
  std::vector<int64_t> strides, pads, dilations;
  int64_t group;
  bool bias, relu, residual;
};

// Conv(x, W[, B]) [+ r] [-> Relu] with W (and B) as initializers (packed) or,
// with `weights_as_input`, as graph inputs (the im2col + OpenBLAS path).
absl::StatusOr<std::vector<Tensor>> RunConv(const ConvCase& t, bool weights_as_input,
                                            int threads) {
  const bool one_d = t.kh == 0;
  const Shape x_shape = one_d ? Shape{1, t.c, t.w} : Shape{1, t.c, t.h, t.w};
  const Shape w_shape =
      one_d ? Shape{t.m, t.c / t.group, t.kw} : Shape{t.m, t.c / t.group, t.kh, t.kw};
  const Tensor x = RandomFloats(x_shape, 11);
  const Tensor w = RandomFloats(w_shape, 12);
  const Tensor b = RandomFloats({t.m}, 13);
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, x_shape).Output("y");
  std::vector<Tensor> inputs = {x};
  if (weights_as_input) {
    g.Input("w", DataType::kFloat, w_shape);
    inputs.push_back(w);
    if (t.bias) {
      g.Input("b", DataType::kFloat, {t.m});
      inputs.push_back(b);
    }
  } else {
    g.Initializer("w", w);
    if (t.bias) g.Initializer("b", b);
  }
  std::vector<std::string> conv_in = {"x", "w"};
  if (t.bias) conv_in.push_back("b");
  auto* conv = g.Node("Conv", conv_in, {"c"});
  SetAttr(conv, "strides", t.strides);
  SetAttr(conv, "pads", t.pads);
  SetAttr(conv, "dilations", t.dilations);
  SetAttr(conv, "group", t.group);
  std::string last = "c";
  if (t.residual) {
    // The residual: a second convolution's output of the same shape, so that
    // fusion accumulates onto it.
    auto* source = g.Node("Conv", conv_in, {"r"}, "residual_source");
    SetAttr(source, "strides", t.strides);
    SetAttr(source, "pads", t.pads);
    SetAttr(source, "dilations", t.dilations);
    SetAttr(source, "group", t.group);
    g.Node("Add", {"r", last}, {"s"});
    last = "s";
  }
  if (t.relu) {
    g.Node("Relu", {last}, {"y"});
  } else {
    g.Node("Identity", {last}, {"y"});
  }
  auto model = g.Load();
  if (!model.ok()) return model.status();
  SessionOptions options;
  options.threads = threads;
  auto session = Session::Create(*model, options);
  if (!session.ok()) return session.status();
  return (*session)->Run(inputs);
}

TEST(OnnxPackedConvTest, ConstantWeightsMatchTheIm2ColPath) {
  if (!ops::PackedGemmAvailable()) GTEST_SKIP() << "no AVX-512F";
  const std::vector<ConvCase> cases = {
      {"3x3 pad 1", 16, 13, 13, 64, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true, true, false},
      {"3x3 stride 2", 3, 31, 29, 24, 3, 3, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1, true, true, false},
      {"7x7 stride 2 pad 3", 3, 40, 40, 16, 7, 7, {2, 2}, {3, 3, 3, 3}, {1, 1}, 1, false, false,
       false},
      {"1x1", 96, 20, 20, 19, 1, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, true, true, true},
      {"1x1 stride 2", 64, 14, 14, 40, 1, 1, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1, true, false, true},
      {"1x1 long K", 600, 7, 7, 33, 1, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, true, true, true},
      {"3x3 long K", 64, 9, 9, 8, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, false, true, true},
      {"dilated, uneven pads", 5, 17, 23, 9, 3, 2, {1, 2}, {2, 0, 1, 3}, {2, 3}, 1, true, false,
       false},
      {"groups", 8, 10, 10, 12, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 4, true, true, false},
      {"stride 3 (scalar gather)", 4, 20, 22, 10, 3, 3, {3, 3}, {1, 1, 1, 1}, {1, 1}, 1, true,
       false, false},
      {"1-D", 6, 0, 50, 10, 0, 5, {2}, {2, 1}, {1}, 1, true, true, false},
  };
  for (const ConvCase& t : cases) {
    for (int threads : {1, 2}) {
      ASSERT_OK_AND_ASSIGN(std::vector<Tensor> packed, RunConv(t, false, threads));
      ASSERT_OK_AND_ASSIGN(std::vector<Tensor> blas, RunConv(t, true, threads));
      ASSERT_EQ(packed[0].shape(), blas[0].shape()) << t.name;
      const Comparison c = CompareTensors(packed[0], blas[0], 1e-4, 1e-5);
      EXPECT_TRUE(c.match) << t.name << ", " << threads << " threads: " << c.detail;
    }
  }
}

}  // namespace
}  // namespace strongroom::worker::onnx
