// The packed-weight convolution path (worker/onnx/ops/packed_gemm.h):
// PackedGemm's two micro-kernels (by columns and by channels, each with
// AVX-512 or AVX2 tiles) against a
// double-precision reference, and Conv with constant weights (packed at
// Session::Create) against the same Conv with its weights fed as an input
// (im2col + OpenBLAS), over the geometries the kernel's panel filler
// handles; and the single-row Gemm kernel (ops/gemv.h), alone and as a
// Gemm node. What the CPU lacks (AVX2 + FMA, AVX-512F) is skipped.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "tests/worker/onnx_test_util.h"
#include "worker/onnx/compare.h"
#include "worker/onnx/ops/direct_conv.h"
#include "worker/onnx/ops/gemv.h"
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

// kByChannels lets ChooseChannelSplit pick; the last two force a split.
enum class Kernel { kChosen, kByColumns, kByChannels, kChannelsByBlocks, kChannelsByColumns };

TEST(OnnxPackedGemmTest, MatchesDoublePrecisionReference) {
  if (!ops::PackedGemmAvailable()) GTEST_SKIP() << "neither AVX-512F nor AVX2 + FMA";
  // Row and column tails (m % 8, m % 16, n % 48, n % 16, n % 8), K across
  // the 128- and 256-row passes, column blocks beyond one (n > 480), every
  // epilogue; the by-channels kernel on every shape with n < its limit.
  const std::vector<GemmCase> cases = {
      {1, 1, 1, false, false, false},     {8, 256, 48, true, false, false},
      {13, 300, 100, true, true, true},   {20, 513, 1000, false, true, false},
      {16, 9, 17, false, false, true},    {64, 144, 169, true, false, true},
      {3, 1000, 2, true, true, false},    {40, 27, 531, true, true, true},
      {50, 300, 49, true, true, true},    {100, 129, 196, true, false, true},
      {33, 600, 1, false, true, false},   {48, 128, 255, true, true, false},
      {200, 1152, 7, true, false, true},  {48, 384, 169, true, true, true},
      {16, 512, 130, true, true, true},   {1000, 512, 169, true, false, true},
  };
  ThreadPool pool(2);
  uint32_t seed = 1;
  for (const GemmCase& t : cases) {
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
    for (Kernel kernel : {Kernel::kChosen, Kernel::kByColumns, Kernel::kByChannels,
                          Kernel::kChannelsByBlocks, Kernel::kChannelsByColumns}) {
      if (kernel >= Kernel::kByChannels && t.n >= ops::kChannelKernelMaxN) continue;
      for (bool in_place : {false, true}) {
        for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
          std::vector<float> c(static_cast<size_t>(t.m * t.n), std::nanf(""));
          int64_t fills = 0;
          ops::PanelSource src;
          if (in_place) {
            src.matrix = pb;
            src.ld = t.n;
          } else {
            src.fill = [&](int64_t k0, int64_t k1, int64_t n0, int64_t n1, float* dst) {
              ++fills;
              for (int64_t k = k0; k < k1; ++k) {
                for (int64_t j = n0; j < n1; ++j) {
                  dst[(k - k0) * ops::kPackedPanel + (j - n0)] = pb[k * t.n + j];
                }
              }
            };
          }
          AlignedBuffer scratch(ops::PackedGemmScratchFloats(2, t.m) * sizeof(float));
          float* sp = reinterpret_cast<float*>(scratch.data());
          switch (kernel) {
            case Kernel::kChosen:
              ops::PackedGemm(p, packed, t.n, src, ep, c.data(), t.n, sp);
              break;
            case Kernel::kByColumns:
              ops::PackedGemmByColumns(p, packed, t.n, src, ep, c.data(), t.n, sp);
              break;
            case Kernel::kByChannels:
              ops::PackedGemmByChannels(p, packed, t.n, src, ep, c.data(), t.n, sp);
              break;
            case Kernel::kChannelsByBlocks:
              ops::PackedGemmByChannels(p, packed, t.n, src, ep, c.data(), t.n, sp,
                                        ops::ChannelSplit::kByBlocks);
              break;
            case Kernel::kChannelsByColumns:
              ops::PackedGemmByChannels(p, packed, t.n, src, ep, c.data(), t.n, sp,
                                        ops::ChannelSplit::kByColumns);
              break;
          }
          if (!in_place) {
            EXPECT_GT(fills, 0);
          }
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
                  << "), kernel " << static_cast<int>(kernel) << (in_place ? ", in place" : "")
                  << ", " << (p == nullptr ? 1 : 2) << " threads";
            }
          }
        }
      }
    }
  }
}

// Every element's sum is formed in the same order whichever tile, thread or
// instruction set computes it: the AVX2 tiles give the same bits with one
// thread and two, equal weight rows give equal output rows (the ONNX light
// models' ConstantOfShape weights make every output channel alike, and
// their softmax outputs depend on it), and on an AVX-512 CPU the AVX2 and
// AVX-512 tiles agree to the bit. The same for the by-channels kernel's
// thread splits.
TEST(OnnxPackedGemmTest, PackedKernelsGiveTheSameBitsOnAnyTileOrThread) {
  if (ops::PackedGemmIsa() == ops::PackedIsa::kNone) GTEST_SKIP() << "no AVX2 + FMA";
  const std::vector<GemmCase> cases = {
      {13, 300, 100, true, true, true},
      {1000, 512, 169, true, false, true},
      {64, 27, 12321, true, false, true},
      {20, 513, 1000, false, true, false},
      {7, 9, 17, true, true, false},
      // 14x14: two threads split 196 columns 104 + 92, mid-panel.
      {64, 576, 196, true, false, true},
  };
  ThreadPool pool(2);
  uint32_t seed = 100;
  for (const GemmCase& t : cases) {
    // Rows in pairs of equal weights and bias: row 2i + 1 repeats row 2i.
    const Tensor wt = RandomFloats({t.m, t.k}, seed++);
    const Tensor bt = RandomFloats({t.m}, seed++);
    std::vector<float> w(wt.data<float>().begin(), wt.data<float>().end());
    std::vector<float> bias(bt.data<float>().begin(), bt.data<float>().end());
    for (int64_t i = 1; i < t.m; i += 2) {
      std::copy_n(w.begin() + (i - 1) * t.k, t.k, w.begin() + i * t.k);
      bias[static_cast<size_t>(i)] = bias[static_cast<size_t>(i - 1)];
    }
    const Tensor b = RandomFloats({t.k, t.n}, seed++);
    const Tensor res = RandomFloats({t.m, t.n}, seed++);
    const ops::PackedWeights packed(w.data(), t.m, t.k);
    ops::GemmEpilogue ep;
    ep.bias = t.bias ? bias.data() : nullptr;
    ep.residual = t.residual ? res.data<float>().data() : nullptr;
    ep.relu = t.relu;
    ops::PanelSource src;
    src.matrix = b.data<float>().data();
    src.ld = t.n;
    AlignedBuffer scratch(ops::PackedGemmScratchFloats(2, t.m) * sizeof(float));
    float* sp = reinterpret_cast<float*>(scratch.data());
    auto run = [&](ThreadPool* p, ops::PackedIsa isa) {
      std::vector<float> c(static_cast<size_t>(t.m * t.n), std::nanf(""));
      ops::PackedGemmByColumns(p, packed, t.n, src, ep, c.data(), t.n, sp, isa);
      return c;
    };
    const std::vector<float> one = run(nullptr, ops::PackedIsa::kAvx2);
    const std::vector<float> two = run(&pool, ops::PackedIsa::kAvx2);
    const std::string where = absl::StrCat("m=", t.m, " k=", t.k, " n=", t.n);
    EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0) << where;
    if (t.residual) continue;  // the residual differs between equal rows
    for (int64_t i = 1; i < t.m; i += 2) {
      ASSERT_EQ(std::memcmp(&two[static_cast<size_t>((i - 1) * t.n)],
                            &two[static_cast<size_t>(i * t.n)], t.n * sizeof(float)),
                0)
          << where << ", rows " << i - 1 << " and " << i;
    }
    if (ops::Avx512Available()) {
      const std::vector<float> wide = run(&pool, ops::PackedIsa::kAvx512);
      EXPECT_EQ(std::memcmp(wide.data(), two.data(), two.size() * sizeof(float)), 0) << where;
    }
    // The by-channels kernel (this CPU's tiles): one thread and both
    // two-thread splits give the same bits.
    if (t.n >= ops::kChannelKernelMaxN) continue;
    auto channels = [&](ThreadPool* p, ops::ChannelSplit split) {
      std::vector<float> c(static_cast<size_t>(t.m * t.n), std::nanf(""));
      ops::PackedGemmByChannels(p, packed, t.n, src, ep, c.data(), t.n, sp, split);
      return c;
    };
    const std::vector<float> ch1 = channels(nullptr, ops::ChannelSplit::kByBlocks);
    for (ops::ChannelSplit split : {ops::ChannelSplit::kByBlocks, ops::ChannelSplit::kByColumns}) {
      const std::vector<float> ch2 = channels(&pool, split);
      EXPECT_EQ(std::memcmp(ch1.data(), ch2.data(), ch1.size() * sizeof(float)), 0)
          << where << ", by channels, split " << static_cast<int>(split);
    }
    if (t.residual) continue;
    for (int64_t i = 1; i < t.m; i += 2) {
      ASSERT_EQ(std::memcmp(&ch1[static_cast<size_t>((i - 1) * t.n)],
                            &ch1[static_cast<size_t>(i * t.n)], t.n * sizeof(float)),
                0)
          << where << ", by channels, rows " << i - 1 << " and " << i;
    }
  }
}

// The direct 3x3 convolution (ops/direct_conv.h) gives the by-columns
// kernel's bits on its im2col matrix: widths at the kernel's minimum and
// around whole 16-lane vectors and 48-lane tiles, output channels off 8 and
// 16, every epilogue, one thread and two, and an output written as a slice
// of wider planes (ldc larger than the positions, as Concat's are not:
// their planes are contiguous, so this also checks nothing outside each
// channel's positions is touched).
TEST(OnnxDirectConvTest, MatchesTheByColumnsKernelToTheBit) {
  if (!ops::Avx512Available()) GTEST_SKIP() << "no AVX-512F";
  struct Case {
    int64_t c, h, w, m;
    bool bias, residual, relu;
  };
  const std::vector<Case> cases = {
      {1, 7, 7, 1, false, false, false},   {3, 7, 9, 13, true, true, true},
      {16, 13, 13, 20, true, false, true}, {5, 14, 14, 8, false, true, false},
      {16, 55, 55, 64, true, false, true}, {64, 14, 14, 40, true, true, true},
      {32, 28, 28, 33, true, true, false}, {7, 9, 30, 17, false, false, true},
      {130, 8, 16, 24, true, true, true},  {2, 3, 46, 9, true, false, false},
  };
  ThreadPool pool(2);
  uint32_t seed = 300;
  for (const Case& t : cases) {
    const ops::ConvGeometry g{t.h, t.w, 3, 3, 1, 1, 1, 1, 1, 1, t.h, t.w};
    const int64_t n = t.h * t.w, k = t.c * 9, ldc = n + 5;
    const Tensor x = RandomFloats({t.c, t.h, t.w}, seed++);
    const Tensor wt = RandomFloats({t.m, k}, seed++);
    const Tensor bias = RandomFloats({t.m}, seed++);
    const Tensor res = RandomFloats({t.m, ldc}, seed++);
    const ops::PackedWeights packed(wt.data<float>().data(), t.m, k);
    const std::string where = absl::StrCat("c=", t.c, " ", t.h, "x", t.w, " m=", t.m);
    ASSERT_TRUE(ops::DirectConv3x3Fits(g, t.c, packed)) << where;
    ops::GemmEpilogue ep;
    ep.bias = t.bias ? bias.data<float>().data() : nullptr;
    ep.residual = t.residual ? res.data<float>().data() : nullptr;
    ep.relu = t.relu;
    ops::PanelSource src;
    src.image = x.data<float>().data();
    src.geometry = &g;
    AlignedBuffer gemm_scratch(ops::PackedGemmScratchFloats(2, t.m) * sizeof(float));
    std::vector<float> want(static_cast<size_t>(t.m * ldc), -7.0f);
    ops::PackedGemmByColumns(nullptr, packed, n, src, ep, want.data(), ldc,
                             reinterpret_cast<float*>(gemm_scratch.data()));
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      std::vector<float> scratch(ops::DirectConv3x3ScratchFloats(g, t.c), std::nanf(""));
      std::vector<float> got(static_cast<size_t>(t.m * ldc), -7.0f);
      ops::DirectConv3x3(p, packed, x.data<float>().data(), t.c, g, ep, got.data(), ldc,
                         scratch.data());
      for (int64_t r = 0; r < t.m; ++r) {
        ASSERT_EQ(
            std::memcmp(&got[static_cast<size_t>(r * ldc)], &want[static_cast<size_t>(r * ldc)],
                        static_cast<size_t>(ldc) * sizeof(float)),
            0)
            << where << (p != nullptr ? ", two threads" : ", one thread") << ", row " << r;
      }
    }
  }
}

TEST(OnnxDirectConvTest, FitsOnlyUnitStride3x3WithOnePixelPads) {
  if (!ops::Avx512Available()) GTEST_SKIP() << "no AVX-512F";
  const Tensor wt = RandomFloats({4, 8 * 9}, 1);
  const ops::PackedWeights packed(wt.data<float>().data(), 4, 8 * 9);
  const ops::ConvGeometry ok{20, 20, 3, 3, 1, 1, 1, 1, 1, 1, 20, 20};
  EXPECT_TRUE(ops::DirectConv3x3Fits(ok, 8, packed));
  EXPECT_FALSE(ops::DirectConv3x3Fits(ok, 4, packed));  // K is not 9 x channels
  auto with = [&](auto change) {
    ops::ConvGeometry g = ok;
    change(g);
    return ops::DirectConv3x3Fits(g, 8, packed);
  };
  EXPECT_FALSE(with([](ops::ConvGeometry& g) { g.kh = 2; }));
  EXPECT_FALSE(with([](ops::ConvGeometry& g) { g.kw = 5; }));
  EXPECT_FALSE(with([](ops::ConvGeometry& g) { g.sh = 2; }));
  EXPECT_FALSE(with([](ops::ConvGeometry& g) { g.sw = 2; }));
  EXPECT_FALSE(with([](ops::ConvGeometry& g) { g.dh = 2; }));
  EXPECT_FALSE(with([](ops::ConvGeometry& g) { g.dw = 2; }));
  EXPECT_FALSE(with([](ops::ConvGeometry& g) { g.ph = 0; }));
  EXPECT_FALSE(with([](ops::ConvGeometry& g) { g.pw = 2; }));
  EXPECT_FALSE(with([](ops::ConvGeometry& g) { g.oh = 19; }));  // no end pad
  EXPECT_FALSE(with([](ops::ConvGeometry& g) { g.ow = 19; }));
  EXPECT_FALSE(with([](ops::ConvGeometry& g) { g.w = g.ow = ops::kDirectConvMinWidth - 1; }));
  // Conv takes it only from kDirectConvMinPositions output positions.
  ops::ConvGeometry wide = ok;
  wide.h = wide.oh = 16;
  wide.w = wide.ow = 16;
  EXPECT_TRUE(ops::UseDirectConv3x3(wide, 8, packed));
  wide.h = wide.oh = 15;
  EXPECT_FALSE(ops::UseDirectConv3x3(wide, 8, packed));
  EXPECT_TRUE(ops::DirectConv3x3Fits(wide, 8, packed));
}

TEST(OnnxPackedGemmTest, ChannelSplitFollowsTheShape) {
  // m 48 (three blocks: 2 + 1) and m 80 (3 + 2) go by columns; blocks that
  // divide evenly or nearly (63 blocks: 32 + 31) by blocks, unless the
  // weights are smaller than what B is read from; one thread by blocks.
  using ops::ChannelSplit;
  // Weights larger than B's source (1x1: k * n floats), so by blocks
  // unless they divide unevenly.
  EXPECT_EQ(ops::ChooseChannelSplit(2, 48, 512, 169, 512 * 40), ChannelSplit::kByColumns);
  EXPECT_EQ(ops::ChooseChannelSplit(2, 80, 512, 49, 512 * 49), ChannelSplit::kByColumns);
  EXPECT_EQ(ops::ChooseChannelSplit(2, 1000, 512, 169, 512 * 169), ChannelSplit::kByBlocks);
  EXPECT_EQ(ops::ChooseChannelSplit(2, 256, 2304, 196, 256 * 196), ChannelSplit::kByBlocks);
  EXPECT_EQ(ops::ChooseChannelSplit(3, 64, 512, 40, 512 * 40), ChannelSplit::kByColumns);
  // Weights smaller than B's source: by columns, each thread reading the
  // columns it wrote (squeezenet's 13x13 squeeze, 512 -> 64).
  EXPECT_EQ(ops::ChooseChannelSplit(2, 64, 512, 169, 512 * 169), ChannelSplit::kByColumns);
  EXPECT_EQ(ops::ChooseChannelSplit(2, 64, 512, 40, 512 * 40), ChannelSplit::kByBlocks);
  // One thread: by blocks.
  EXPECT_EQ(ops::ChooseChannelSplit(1, 48, 512, 169, 512 * 169), ChannelSplit::kByBlocks);
}

TEST(OnnxPackedGemmTest, KernelChoiceFollowsTheShape) {
  // The 7x7 and 14x14 stages of resnet50 go by channels, the larger ones
  // by columns (the test above checks both give the same results).
  EXPECT_EQ(ops::ChooseGemmKernel(512, 4608, 49), ops::GemmKernel::kByChannels);
  EXPECT_EQ(ops::ChooseGemmKernel(1024, 256, 196), ops::GemmKernel::kByChannels);
  EXPECT_EQ(ops::ChooseGemmKernel(64, 576, 3136), ops::GemmKernel::kByColumns);
  EXPECT_EQ(ops::ChooseGemmKernel(64, 64, 49), ops::GemmKernel::kByColumns);   // short K
  EXPECT_EQ(ops::ChooseGemmKernel(16, 4608, 49), ops::GemmKernel::kByColumns);  // few rows
}

struct GemvCase {
  bool trans_b;
  int64_t n, k;
  float alpha, beta;
};

TEST(OnnxGemvTest, MatchesDoublePrecisionReference) {
  if (!ops::PackedGemmAvailable()) GTEST_SKIP() << "neither AVX-512F nor AVX2 + FMA";
  // Column tails of the 64-wide register blocks, K tails of the 64- and
  // 16-float steps, beta on and off, sizes above the threading threshold.
  const std::vector<GemvCase> cases = {
      {true, 1000, 2048, 1.0f, 0.0f}, {false, 1000, 2048, 1.0f, 1.0f},
      {true, 7, 13, 0.5f, 2.0f},      {false, 65, 3, -1.0f, 0.0f},
      {true, 1, 1, 1.0f, 1.0f},       {false, 300, 1100, 2.0f, 0.5f},
  };
  ThreadPool pool(2);
  uint32_t seed = 100;
  for (const GemvCase& t : cases) {
    const Tensor x = RandomFloats({t.k}, seed++);
    const Tensor b = t.trans_b ? RandomFloats({t.n, t.k}, seed++) : RandomFloats({t.k, t.n}, seed++);
    const Tensor y0 = RandomFloats({t.n}, seed++);
    const float* px = x.data<float>().data();
    const float* pb = b.data<float>().data();
    const int64_t ldb = t.trans_b ? t.k : t.n;
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      std::vector<float> y(y0.data<float>().begin(), y0.data<float>().end());
      if (t.beta == 0.0f) std::fill(y.begin(), y.end(), std::nanf(""));  // must not be read
      ops::Gemv(p, t.trans_b, t.n, t.k, t.alpha, px, pb, ldb, t.beta, y.data());
      for (int64_t j = 0; j < t.n; ++j) {
        double dot = 0.0, mag = 0.0;
        for (int64_t i = 0; i < t.k; ++i) {
          const double term = double{px[i]} * (t.trans_b ? pb[j * ldb + i] : pb[i * ldb + j]);
          dot += term;
          mag += std::fabs(term);
        }
        const double want = t.alpha * dot + (t.beta == 0.0f ? 0.0 : t.beta * y0.data<float>()[j]);
        ASSERT_NEAR(y[static_cast<size_t>(j)], want,
                    1e-5 * (std::fabs(t.alpha) * mag + std::fabs(want)) + 1e-6)
            << "n=" << t.n << " k=" << t.k << " transB=" << t.trans_b << " at " << j << ", "
            << (p == nullptr ? 1 : 2) << " threads";
      }
    }
  }
}

// A Gemm node with a single row (the Gemv path, weights constant) against
// the same node with the row repeated (OpenBLAS), row by row.
TEST(OnnxGemvTest, SingleRowGemmNodeMatchesTheBlasPath) {
  if (!ops::PackedGemmAvailable()) GTEST_SKIP() << "neither AVX-512F nor AVX2 + FMA";
  for (const bool trans_a : {false, true}) {
    for (const bool trans_b : {false, true}) {
      const int64_t k = 300, n = 130;
      const Tensor w = trans_b ? RandomFloats({n, k}, 7) : RandomFloats({k, n}, 7);
      const Tensor c = RandomFloats({n}, 8);
      auto run = [&](int64_t rows) -> absl::StatusOr<std::vector<Tensor>> {
        const Shape a_shape = trans_a ? Shape{k, rows} : Shape{rows, k};
        // Every row the same values, so each output row equals row 0's.
        Tensor a = RandomFloats(a_shape, 9);
        const Tensor one = RandomFloats({k}, 10);
        std::span<float> pa = a.mutable_data<float>();
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t i = 0; i < k; ++i) {
            pa[static_cast<size_t>(trans_a ? i * rows + r : r * k + i)] = one.data<float>()[i];
          }
        }
        GraphBuilder g(13);
        g.Input("a", DataType::kFloat, a_shape).Output("y");
        g.Initializer("w", w).Initializer("c", c);
        auto* gemm = g.Node("Gemm", {"a", "w", "c"}, {"y"});
        SetAttr(gemm, "transA", int64_t{trans_a ? 1 : 0});
        SetAttr(gemm, "transB", int64_t{trans_b ? 1 : 0});
        SetAttr(gemm, "alpha", 0.5f);
        SetAttr(gemm, "beta", 2.0f);
        auto model = g.Load();
        if (!model.ok()) return model.status();
        auto session = Session::Create(*model, SessionOptions{});
        if (!session.ok()) return session.status();
        return (*session)->Run({a});
      };
      ASSERT_OK_AND_ASSIGN(std::vector<Tensor> single, run(1));
      ASSERT_OK_AND_ASSIGN(std::vector<Tensor> multi, run(3));
      ASSERT_EQ(single[0].shape(), (Shape{1, n}));
      ASSERT_EQ(multi[0].shape(), (Shape{3, n}));
      for (int64_t r = 0; r < 3; ++r) {
        for (int64_t j = 0; j < n; ++j) {
          EXPECT_NEAR(single[0].data<float>()[j], multi[0].data<float>()[r * n + j], 2e-4)
              << "transA=" << trans_a << " transB=" << trans_b << " row " << r << " col " << j;
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
  int64_t batch = 1;
};

// Conv(x, W[, B]) [+ r] [-> Relu] with W (and B) as initializers (packed) or,
// with `weights_as_input`, as graph inputs (the im2col + OpenBLAS path).
absl::StatusOr<std::vector<Tensor>> RunConv(const ConvCase& t, bool weights_as_input,
                                            int threads) {
  const bool one_d = t.kh == 0;
  const Shape x_shape = one_d ? Shape{t.batch, t.c, t.w} : Shape{t.batch, t.c, t.h, t.w};
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
  return testing::RunOnce(g.Serialize(), inputs, threads);
}

// Resident memory of this process, in bytes.
int64_t ResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  long size = 0, resident = 0;
  if (f == nullptr || std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  if (f != nullptr) std::fclose(f);
  return resident < 0 ? -1 : resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

// A constant W of one output channel in each of 2^20 groups would pack to
// 16 times its 4 MiB (every group padded to a block of 16 channels): it is
// left unpacked, so Session::Create allocates nothing for it, and the Conv
// still runs.
TEST(OnnxPackedConvTest, WeightsThatWouldPackToManyTimesTheirSizeAreNotPacked) {
  if (!ops::PackedGemmAvailable()) GTEST_SKIP() << "neither AVX-512F nor AVX2 + FMA";
  constexpr int64_t kGroups = int64_t{1} << 20;
  GraphBuilder g(13);
  g.Input("x", DataType::kFloat, {1, kGroups, 1, 1}).Output("y");
  g.Initializer("w", RandomFloats({kGroups, 1, 1, 1}, 7));
  SetAttr(g.Node("Conv", {"x", "w"}, {"y"}, "many_groups"), "group", kGroups);
  ASSERT_OK_AND_ASSIGN(Model m, g.Load());
  const int64_t before = ResidentBytes();
  ASSERT_OK_AND_ASSIGN(auto session, Session::Create(m, SessionOptions{}));
  const int64_t grew = ResidentBytes() - before;
  ASSERT_GE(before, 0);
  EXPECT_LT(grew, int64_t{24} << 20) << "packed: 64 MiB of padded blocks";
  const Tensor x = RandomFloats({1, kGroups, 1, 1}, 8);
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> y, session->Run({x}));
  ASSERT_EQ(y.size(), 1u);
  const Tensor w = RandomFloats({kGroups, 1, 1, 1}, 7);
  for (int64_t c : {int64_t{0}, int64_t{12345}, kGroups - 1}) {
    EXPECT_FLOAT_EQ(
        y[0].data<float>()[static_cast<size_t>(c)],
        x.data<float>()[static_cast<size_t>(c)] * w.data<float>()[static_cast<size_t>(c)]);
  }
}

TEST(OnnxPackedConvTest, ConstantWeightsMatchTheIm2ColPath) {
  if (!ops::PackedGemmAvailable()) GTEST_SKIP() << "neither AVX-512F nor AVX2 + FMA";
  // clang-format off
  const std::vector<ConvCase> cases = {
      {"3x3 pad 1", 16, 13, 13, 64, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true, true, false},
      // From 256 positions on: ops/direct_conv.h (two images: their planes
      // apart in input and output).
      {"3x3 pad 1, direct", 24, 18, 23, 40, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true, true,
       true, 2},
      {"3x3 pad 1, direct, no bias", 5, 30, 9, 7, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, false,
       false, false, 3},
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
      // By channels (few positions, K >= 128, M >= 32).
      {"3x3 7x7 by channels", 64, 7, 7, 40, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true, true,
       true},
      {"1x1 14x14 by channels", 256, 14, 14, 48, 1, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, true,
       true, true},
      {"1x1 stride 2 by channels", 160, 13, 13, 35, 1, 1, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1, false,
       false, false},
  };
  // clang-format on
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
