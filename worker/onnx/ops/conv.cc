// Conv (1-D and 2-D, groups, dilations, pads, strides, auto_pad). With
// constant weights on an AVX-512 CPU (WithConstants, at Session::Create) the
// weights are packed once and the convolution runs as PackedGemm over panels
// of an implicit im2col (packed_gemm.h), bias, residual and Relu in its
// epilogue; a 3x3 stride-1 convolution with one pixel of padding and at
// least 256 output positions runs as a direct convolution on the same
// packed weights (direct_conv.h). Otherwise: im2col plus OpenBLAS GEMM, tiled over output
// positions so the column buffer stays bounded; 1x1 stride-1 unpadded
// convolutions skip im2col entirely. A Session may fuse a following Relu
// (WithActivation) or residual Add (WithResidual) into the kernel.
#include <algorithm>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "absl/strings/str_cat.h"
#include "worker/onnx/gemm.h"
#include "worker/onnx/ops/direct_conv.h"
#include "worker/onnx/ops/factories.h"
#include "worker/onnx/ops/kernel_util.h"
#include "worker/onnx/ops/packed_gemm.h"
#include "worker/onnx/ops/window.h"

namespace strongroom::worker::onnx::ops {
namespace {

// One output channel's filter (channels per group x kernel) is a column of
// the im2col buffer, which holds at least 256 of them: bounded so that buffer
// stays within 16 GiB (real filters are a few thousand).
constexpr int64_t kMaxFilterValues = int64_t{1} << 24;
// Floats in one im2col tile (16 MiB).
constexpr int64_t kColumnBudget = int64_t{4} << 20;
// Im2Col copies runs this long or longer with memcpy / memset.
constexpr int64_t kShortRun = 32;
// Elements per parallel im2col chunk: copying 64K floats takes about as
// long as waking a pool thread, so smaller convolutions (mnist-8's) run
// inline.
constexpr int64_t kIm2ColGrain = int64_t{1} << 16;

// 2-D view of the geometry (1-D convolutions have a height of 1).
using Geometry2D = ConvGeometry;

Geometry2D To2D(const std::vector<AxisWindow>& win) {
  if (win.size() == 1) {
    const AxisWindow& x = win[0];
    return {1, x.in, 1, x.kernel, 1, x.stride, 1, x.dilation, 0, x.pad_begin, 1, x.out};
  }
  const AxisWindow& y = win[0];
  const AxisWindow& x = win[1];
  return {y.in,       x.in,       y.kernel,    x.kernel,    y.stride, x.stride,
          y.dilation, x.dilation, y.pad_begin, x.pad_begin, y.out,    x.out};
}

// A piece of one output row inside an im2col tile: output row oy, columns
// [ox0, ox1), at offset `at` in the tile. The same for every column row.
struct Segment {
  int64_t oy, ox0, ox1, at;
};

// One column row: channel c's plane at kernel tap (i, j), over `segments`.
void Im2ColRow(const float* plane, const Geometry2D& g, int64_t i, int64_t j,
               const std::vector<Segment>& segments, float* dst) {
  const int64_t off = j * g.dw - g.pw;
  for (const Segment& seg : segments) {
    const int64_t ox0 = seg.ox0, ox1 = seg.ox1;
    const int64_t iy = seg.oy * g.sh - g.ph + i * g.dh;
    // Segments are short (an output row: 7..112 floats in the usual models):
    // below kShortRun floats plain loops beat the calls to memcpy / memset
    // (whose AVX-512 code wins on longer runs).
    float* out = dst + seg.at;  // out[ox - ox0]
    if (iy < 0 || iy >= g.h) {
      if (ox1 - ox0 >= kShortRun) {
        std::memset(out, 0, sizeof(float) * static_cast<size_t>(ox1 - ox0));
      } else {
        for (int64_t ox = ox0; ox < ox1; ++ox) out[ox - ox0] = 0.0f;
      }
      continue;
    }
    const float* src = plane + iy * g.w;
    if (g.sw != 1) {
      for (int64_t ox = ox0; ox < ox1; ++ox) {
        const int64_t ix = ox * g.sw + off;
        out[ox - ox0] = ix >= 0 && ix < g.w ? src[ix] : 0.0f;
      }
      continue;
    }
    // ix = ox + off: a contiguous run clipped at both ends.
    const int64_t lo = std::clamp<int64_t>(-off, ox0, ox1);
    const int64_t hi = std::clamp<int64_t>(g.w - off, lo, ox1);
    for (int64_t ox = ox0; ox < lo; ++ox) out[ox - ox0] = 0.0f;
    if (hi - lo >= kShortRun) {
      std::memcpy(out + (lo - ox0), src + lo + off, sizeof(float) * static_cast<size_t>(hi - lo));
    } else {
      for (int64_t ox = lo; ox < hi; ++ox) out[ox - ox0] = src[ox + off];
    }
    for (int64_t ox = hi; ox < ox1; ++ox) out[ox - ox0] = 0.0f;
  }
}

// col[row][p - p0] for p in [p0, p1), row = (c * kh + i) * kw + j, from the
// `channels` planes at x.
void Im2Col(ThreadPool* pool, const float* x, int64_t channels, const Geometry2D& g, int64_t p0,
            int64_t p1, float* col) {
  const int64_t rows = channels * g.kh * g.kw;
  const int64_t width = p1 - p0;
  // Computed once per tile, which keeps divisions out of the row loops.
  std::vector<Segment> segments;
  for (int64_t p = p0; p < p1;) {
    const int64_t ox0 = p % g.ow;
    const int64_t ox1 = std::min(g.ow, ox0 + (p1 - p));
    segments.push_back({p / g.ow, ox0, ox1, p - p0});
    p += ox1 - ox0;
  }
  const int64_t grain = std::max<int64_t>(1, kIm2ColGrain / std::max<int64_t>(1, width));
  pool->ParallelFor(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t row = r0; row < r1; ++row) {
      const int64_t j = row % g.kw;
      const int64_t i = (row / g.kw) % g.kh;
      const int64_t c = row / (g.kw * g.kh);
      Im2ColRow(x + c * g.h * g.w, g, i, j, segments, col + row * width);
    }
  });
}

// Weights packed for PackedGemm, one PackedWeights per group, and the
// tensor they came from.
struct PackedConvWeights {
  const Tensor* source = nullptr;
  std::vector<PackedWeights> groups;
};

class ConvOp final : public Op {
 public:
  ConvOp(WindowAttrs window, int64_t group, Activation activation = Activation::kNone,
         bool residual = false, std::shared_ptr<const PackedConvWeights> packed = nullptr)
      : window_(std::move(window)),
        group_(group),
        activation_(activation),
        residual_(residual),
        packed_(std::move(packed)) {}

  std::unique_ptr<Op> WithActivation(Activation activation) const override {
    return std::make_unique<ConvOp>(window_, group_, activation, residual_, packed_);
  }
  std::unique_ptr<Op> WithResidual(Activation activation) const override {
    return std::make_unique<ConvOp>(window_, group_, activation, true, packed_);
  }
  std::unique_ptr<Op> WithConstants(std::span<const Tensor* const> constants) const override {
    if (!PackedGemmAvailable() || constants.size() < 2 || constants[1] == nullptr) return nullptr;
    const Tensor& w = *constants[1];
    if (w.dtype() != DataType::kFloat || (w.shape().size() != 3 && w.shape().size() != 4) ||
        w.dim(0) % group_ != 0) {
      return nullptr;  // Infer reports it
    }
    const int64_t mg = w.dim(0) / group_;
    const int64_t kg = Product(w.shape(), 1, w.shape().size());
    if (mg == 0 || kg == 0 || kg > kMaxFilterValues) return nullptr;  // Infer reports it
    // Packing pads each group's output channels to whole blocks of
    // kWeightBlock: with one channel per group (depthwise) that is 16 times
    // the weights. Packed only while it stays within twice the weights plus
    // 2^22 values (16 MiB: the largest depthwise layers, ConvNeXt-XL's 7x7
    // over 2048 channels at 1.6 M packed values, EfficientNet-B7's 5x5 over
    // 3840 at 1.5 M); beyond, the unpacked kernel runs, so a small model whose
    // constant W folds to many groups cannot make Session::Create allocate
    // without bound.
    const int64_t rows = (mg + kWeightBlock - 1) / kWeightBlock * kWeightBlock;
    const int64_t limit = 2 * static_cast<int64_t>(w.num_elements()) + (int64_t{1} << 22);
    if (rows > limit / kg || group_ > limit / (rows * kg)) return nullptr;
    auto packed = std::make_shared<PackedConvWeights>();
    packed->source = &w;
    packed->groups.reserve(static_cast<size_t>(group_));
    const float* pw = w.data<float>().data();
    for (int64_t grp = 0; grp < group_; ++grp) {
      packed->groups.emplace_back(pw + grp * mg * kg, mg, kg);
    }
    return std::make_unique<ConvOp>(window_, group_, activation_, residual_, std::move(packed));
  }

  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] == nullptr) continue;
      auto s = CheckType(in[i], i, {DataType::kFloat});
      if (!s.ok()) return s;
    }
    const Shape& x = in[0]->shape;
    const Shape& w = in[1]->shape;
    if (x.size() != 3 && x.size() != 4) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input X ", ShapeToString(x), ": only 1-D and 2-D convolutions are supported"));
    }
    if (w.size() != x.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("weights W ", ShapeToString(w), " do not match input X ", ShapeToString(x)));
    }
    if (w[0] % group_ != 0 || x[1] != w[1] * group_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "X ", ShapeToString(x), " and W ", ShapeToString(w), " do not fit group=", group_));
    }
    if (in.size() > 2 && in[2] != nullptr && in[2]->shape != Shape{w[0]}) {
      return absl::InvalidArgumentError(
          absl::StrCat("bias B ", ShapeToString(in[2]->shape), " should be [", w[0], "]"));
    }
    const Shape spatial(x.begin() + 2, x.end());
    const std::vector<int64_t> kernel(w.begin() + 2, w.end());
    if (Product(w, 1, w.size()) > kMaxFilterValues) {
      return absl::InvalidArgumentError(
          absl::StrCat("weights W ", ShapeToString(w), ": ", Product(w, 1, w.size()),
                       " values per filter, over ", kMaxFilterValues));
    }
    if (!window_.kernel.empty() && window_.kernel != kernel) {
      return absl::InvalidArgumentError(
          absl::StrCat("attribute 'kernel_shape' disagrees with W ", ShapeToString(w)));
    }
    auto win = ResolveWindow(window_, spatial, kernel);
    if (!win.ok()) return win.status();
    out[0].dtype = DataType::kFloat;
    out[0].shape = {x[0], w[0]};
    for (const AxisWindow& a : *win) out[0].shape.push_back(a.out);
    if (residual_ && (in.size() < 4 || in[3] == nullptr || in[3]->shape != out[0].shape)) {
      return absl::InvalidArgumentError(
          absl::StrCat("fused residual ",
                       in.size() < 4 || in[3] == nullptr ? "missing" : ShapeToString(in[3]->shape),
                       " does not match the output ", ShapeToString(out[0].shape)));
    }
    return absl::OkStatus();
  }

  absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    return RunInto(ctx, in, out[0], 0);
  }

  bool WritesChannelSlices() const override { return !residual_; }
  absl::Status RunIntoChannels(const ExecContext& ctx, std::span<const Tensor* const> in,
                               Tensor* out, int64_t channel_offset,
                               int64_t* channels) const override {
    if (residual_) return Op::RunIntoChannels(ctx, in, out, channel_offset, channels);
    const int64_t m = in[1]->dim(0);
    if (out->rank() != in[0]->rank() || out->dim(0) != in[0]->dim(0) || channel_offset < 0 ||
        out->dim(1) < channel_offset + m) {
      return absl::InternalError(absl::StrCat("output ", ShapeToString(out->shape()),
                                              " has no room for ", m, " channels at ",
                                              channel_offset));
    }
    *channels = m;
    return RunInto(ctx, in, out, channel_offset);
  }

 private:
  // Output 0 into channels [channel_offset, channel_offset + M) of each
  // image of y (y's own channel count apart, the shape Infer gives).
  absl::Status RunInto(const ExecContext& ctx, std::span<const Tensor* const> in, Tensor* y,
                       int64_t channel_offset) const {
    const Tensor& x = *in[0];
    const Tensor& w = *in[1];
    const Tensor* b = in.size() > 2 ? in[2] : nullptr;
    const Tensor* r = residual_ ? in[3] : nullptr;
    const Shape spatial(x.shape().begin() + 2, x.shape().end());
    auto win = ResolveWindow(window_, spatial,
                             std::vector<int64_t>(w.shape().begin() + 2, w.shape().end()));
    if (!win.ok()) return win.status();
    const Geometry2D g = To2D(*win);
    const int64_t n = x.dim(0), c = x.dim(1), m = w.dim(0);
    const int64_t ym = y->dim(1);  // m, or more when writing a channel slice
    const int64_t cg = c / group_, mg = m / group_;
    const int64_t kg = cg * g.kh * g.kw;
    const int64_t positions = g.oh * g.ow;
    if (y->num_elements() != n * ym * positions) {  // a slice's tensor must fit it
      return absl::InternalError(absl::StrCat("output ", ShapeToString(y->shape()), " is not ",
                                              n, " x ", ym, " x ", positions, " values"));
    }
    const bool direct = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 &&
                        g.pw == 0 && (*win).back().pad_end == 0 &&
                        ((*win).size() == 1 || (*win)[0].pad_end == 0);
    const int64_t tile =
        direct
            ? positions
            : std::min(positions, std::max<int64_t>(256, kColumnBudget / std::max<int64_t>(1, kg)));
    const bool packed = packed_ != nullptr && &w == packed_->source;
    float* col = direct || packed ? nullptr : ctx.ScratchFloats(static_cast<size_t>(kg * tile));
    const float* px = x.data<float>().data();
    const float* pw = w.data<float>().data();
    const float* pb = b != nullptr ? b->data<float>().data() : nullptr;
    float* py = y->mutable_data<float>().data();
    // With a bias, C starts as the bias and the GEMM adds to it (beta 1),
    // which saves OpenBLAS's zeroing pass over C (beta 0) and a second pass
    // to add the bias. The bias joins the sum before OpenBLAS's K blocks
    // rather than after them: last-bit differences for long reductions.
    auto fill_bias = [&](float* yg, const float* bg, int64_t p0, int64_t p1) {
      ctx.pool()->ParallelFor(
          mg, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, p1 - p0)),
          [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
              std::fill(yg + r * positions + p0, yg + r * positions + p1, bg[r]);
            }
          });
    };
    // A fused residual (Conv + Add(R)): C starts as R (+ the bias).
    const float* pr = r != nullptr ? r->data<float>().data() : nullptr;
    auto fill_residual = [&](float* yg, const float* rg, const float* bg, int64_t p0, int64_t p1) {
      ctx.pool()->ParallelFor(
          mg, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, p1 - p0)),
          [&](int64_t r0, int64_t r1) {
            for (int64_t row = r0; row < r1; ++row) {
              const float add = bg != nullptr ? bg[row] : 0.0f;
              const float* src = rg + row * positions;
              float* dst = yg + row * positions;
              for (int64_t p = p0; p < p1; ++p) dst[p] = src[p] + add;
            }
          });
    };
    if (packed && group_ == 1 && UseDirectConv3x3(g, cg, packed_->groups[0])) {
      float* scratch = ctx.ScratchFloats(DirectConv3x3ScratchFloats(g, cg));
      for (int64_t img = 0; img < n; ++img) {
        float* yi = py + (img * ym + channel_offset) * positions;
        GemmEpilogue ep;
        ep.bias = pb;
        ep.residual = pr != nullptr ? pr + (yi - py) : nullptr;
        ep.relu = activation_ == Activation::kRelu;
        DirectConv3x3(ctx.pool(), packed_->groups[0], px + img * c * g.h * g.w, cg, g, ep, yi,
                      positions, scratch);
      }
      return absl::OkStatus();
    }
    if (packed) {
      float* scratch = ctx.ScratchFloats(PackedGemmScratchFloats(ctx.pool()->num_threads(), mg));
      for (int64_t img = 0; img < n; ++img) {
        for (int64_t grp = 0; grp < group_; ++grp) {
          const float* xg = px + (img * c + grp * cg) * g.h * g.w;
          float* yg = py + (img * ym + channel_offset + grp * mg) * positions;
          GemmEpilogue ep;
          ep.bias = pb != nullptr ? pb + grp * mg : nullptr;
          ep.residual = pr != nullptr ? pr + (yg - py) : nullptr;
          ep.relu = activation_ == Activation::kRelu;
          PanelSource src;
          if (direct) {
            src.matrix = xg;
            src.ld = positions;
          } else {
            src.image = xg;
            src.geometry = &g;
          }
          PackedGemm(ctx.pool(), packed_->groups[static_cast<size_t>(grp)], positions, src,
                     ep, yg, positions, scratch);
        }
      }
      return absl::OkStatus();
    }
    const float beta = pb != nullptr || pr != nullptr ? 1.0f : 0.0f;
    for (int64_t img = 0; img < n; ++img) {
      for (int64_t grp = 0; grp < group_; ++grp) {
        const float* xg = px + (img * c + grp * cg) * g.h * g.w;
        const float* wg = pw + grp * mg * kg;
        float* yg = py + (img * ym + channel_offset + grp * mg) * positions;
        for (int64_t p0 = 0; p0 < positions; p0 += tile) {
          const int64_t p1 = std::min(positions, p0 + tile);
          if (pr != nullptr) {
            fill_residual(yg, pr + (yg - py), pb != nullptr ? pb + grp * mg : nullptr, p0, p1);
          } else if (pb != nullptr) {
            fill_bias(yg, pb + grp * mg, p0, p1);
          }
          if (direct) {
            Sgemm(ctx.pool(), false, false, mg, positions, kg, 1.0f, wg, kg, xg, positions, beta,
                  yg, positions);
          } else {
            Im2Col(ctx.pool(), xg, cg, g, p0, p1, col);
            Sgemm(ctx.pool(), false, false, mg, p1 - p0, kg, 1.0f, wg, kg, col, p1 - p0, beta,
                  yg + p0, positions);
          }
          // The fused activation, while the tile is still in cache.
          if (activation_ == Activation::kRelu)
            ReluRows(ctx.pool(), yg + p0, mg, p1 - p0, positions);
        }
      }
    }
    return absl::OkStatus();
  }

  const WindowAttrs window_;
  const int64_t group_;
  const Activation activation_;
  const bool residual_;  // input 3: added to the output (same shape) before the activation
  // Set by WithConstants: the weights packed for PackedGemm, used when
  // input 1 is that tensor.
  const std::shared_ptr<const PackedConvWeights> packed_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Op>> CreateConv(const OpConfig&, AttributeReader& attrs) {
  auto window = ReadWindowAttrs(attrs, /*with_dilations=*/true, /*with_ceil_mode=*/false,
                                /*kernel_required=*/false);
  if (!window.ok()) return window.status();
  auto group = attrs.Int("group", 1);
  if (!group.ok()) return group.status();
  if (*group < 1 || *group > (int64_t{1} << 24)) return UnsupportedAttribute("group", *group);
  if (window->kernel.size() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("attribute 'kernel_shape' has ", window->kernel.size(),
                     " dims; only 1-D and 2-D convolutions are supported"));
  }
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(new ConvOp(*std::move(window), *group));
}

}  // namespace strongroom::worker::onnx::ops
