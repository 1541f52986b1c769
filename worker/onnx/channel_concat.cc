#include "worker/onnx/channel_concat.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace strongroom::worker::onnx::internal {
namespace {

absl::Status PartError(const ChannelConcatPart& part, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat("fused ", part.label, ": ", s.message()));
}

class ChannelConcatOp final : public Op {
 public:
  ChannelConcatOp(std::vector<ChannelConcatPart> parts, std::vector<std::unique_ptr<Op>> owned)
      : parts_(std::move(parts)), owned_(std::move(owned)) {}

  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    size_t next = 0;
    for (size_t i = 0; i < parts_.size(); ++i) {
      const ChannelConcatPart& part = parts_[i];
      TensorMeta meta;
      if (auto s = part.op->Infer(in.subspan(next, part.arity), std::span<TensorMeta>(&meta, 1));
          !s.ok()) {
        return PartError(part, s);
      }
      next += part.arity;
      if (meta.shape.size() < 2) {
        return PartError(part, absl::InvalidArgumentError("output has no channel dimension"));
      }
      if (i == 0) {
        out[0] = meta;
        continue;
      }
      bool fits = meta.dtype == out[0].dtype && meta.shape.size() == out[0].shape.size();
      for (size_t d = 0; fits && d < meta.shape.size(); ++d) {
        fits = d == 1 || meta.shape[d] == out[0].shape[d];
      }
      if (!fits) {
        return absl::InvalidArgumentError(
            absl::StrCat("Concat: input ", i, " ", ShapeToString(meta.shape), " does not fit ",
                         ShapeToString(out[0].shape), " on axis 1"));
      }
      out[0].shape[1] += meta.shape[1];
    }
    return absl::OkStatus();
  }

  absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    size_t next = 0;
    int64_t offset = 0;
    for (const ChannelConcatPart& part : parts_) {
      int64_t channels = 0;
      if (auto s = part.op->RunIntoChannels(ctx, in.subspan(next, part.arity), out[0], offset,
                                            &channels);
          !s.ok()) {
        return PartError(part, s);
      }
      next += part.arity;
      offset += channels;
    }
    if (offset != out[0]->dim(1)) {
      return absl::InternalError(
          absl::StrCat("Concat: the parts wrote ", offset, " of ", out[0]->dim(1), " channels"));
    }
    return absl::OkStatus();
  }

  // Each part prepares its own constants (Conv packs its weights).
  // Once: a kernel that owns prepared parts is not prepared again (the
  // copy would point at parts it does not own).
  std::unique_ptr<Op> WithConstants(std::span<const Tensor* const> constants) const override {
    if (!owned_.empty()) return nullptr;
    std::vector<ChannelConcatPart> parts = parts_;
    std::vector<std::unique_ptr<Op>> owned;
    bool changed = false;
    size_t next = 0;
    for (ChannelConcatPart& part : parts) {
      std::unique_ptr<Op> prepared = part.op->WithConstants(constants.subspan(next, part.arity));
      next += part.arity;
      if (prepared == nullptr) continue;
      part.op = prepared.get();
      owned.push_back(std::move(prepared));
      changed = true;
    }
    if (!changed) return nullptr;
    return std::make_unique<ChannelConcatOp>(std::move(parts), std::move(owned));
  }

 private:
  const std::vector<ChannelConcatPart> parts_;
  const std::vector<std::unique_ptr<Op>> owned_;  // parts prepared by WithConstants
};

}  // namespace

std::unique_ptr<Op> MakeChannelConcat(std::vector<ChannelConcatPart> parts) {
  return std::make_unique<ChannelConcatOp>(std::move(parts), std::vector<std::unique_ptr<Op>>());
}

}  // namespace strongroom::worker::onnx::internal
