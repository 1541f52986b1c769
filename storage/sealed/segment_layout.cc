#include "storage/sealed/segment_layout.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace strongroom::storage::sealed {

using storage::kStreamingAeadMaxSegments;
using storage::kStreamingAeadTagSize;

absl::StatusOr<SegmentLayout> SegmentLayout::ForStreamSize(
    const storage::StreamingAeadParams& params, uint64_t stream_bytes) {
  if (absl::Status s = params.Validate(); !s.ok()) return s;
  const uint64_t header = params.header_size();
  if (stream_bytes < header + kStreamingAeadTagSize) {
    return absl::InvalidArgumentError(absl::StrCat("stream_bytes: ", stream_bytes,
                                                   " cannot hold the ", header,
                                                   "-byte stream header and one segment"));
  }
  const uint64_t rest = stream_bytes - header;
  const uint64_t first = params.first_ciphertext_segment_size();
  const uint64_t full = params.ciphertext_segment_size;
  const uint64_t count = rest <= first ? 1 : 1 + (rest - first + full - 1) / full;
  if (count > kStreamingAeadMaxSegments) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream_bytes: ", stream_bytes, " make ", count, " segments; at most 2^32"));
  }
  const uint64_t last = count == 1 ? rest : rest - first - (count - 2) * full;
  if (last < kStreamingAeadTagSize) {
    return absl::InvalidArgumentError(absl::StrCat("stream_bytes: ", stream_bytes,
                                                   " leave the last segment ", last,
                                                   " bytes, shorter than its tag"));
  }
  return SegmentLayout(params, stream_bytes, count, last);
}

uint64_t SegmentLayout::plaintext_size() const {
  return stream_bytes_ - params_.header_size() - segment_count_ * kStreamingAeadTagSize;
}

uint64_t SegmentLayout::FullSegmentSize(uint64_t i) const {
  return i == 0 ? params_.first_ciphertext_segment_size() : params_.ciphertext_segment_size;
}

uint64_t SegmentLayout::SegmentSize(uint64_t i) const {
  return i + 1 == segment_count_ ? last_size_ : FullSegmentSize(i);
}

uint64_t SegmentLayout::SegmentPlaintextOffset(uint64_t i) const {
  if (i == 0) return 0;
  return params_.first_plaintext_segment_size() + (i - 1) * params_.plaintext_segment_size();
}

uint64_t SegmentLayout::SegmentForPlaintextOffset(uint64_t offset) const {
  const uint64_t first = params_.first_plaintext_segment_size();
  const uint64_t segment =
      offset < first ? 0 : 1 + (offset - first) / params_.plaintext_segment_size();
  return std::min(segment, segment_count_ - 1);
}

absl::StatusOr<SegmentLayout::Span> SegmentLayout::SegmentsForRange(uint64_t start,
                                                                    uint64_t end_offset) const {
  const uint64_t size = plaintext_size();
  end_offset = std::min(end_offset, size);
  if (start > size || start > end_offset) {
    return absl::OutOfRangeError(absl::StrCat("start ", start, " is past the end (", end_offset,
                                              ") of the ", size, "-byte object"));
  }
  Span span;
  if (end_offset == size) {
    span.first = start == size ? segment_count_ - 1 : SegmentForPlaintextOffset(start);
    span.end = segment_count_;
    return span;
  }
  span.first = SegmentForPlaintextOffset(start);
  // end_offset < size here, so the byte before it exists unless the range is
  // empty; an empty range inside the object still sends its segment.
  span.end = SegmentForPlaintextOffset(end_offset == start ? start : end_offset - 1) + 1;
  return span;
}

absl::Status SegmentSequenceChecker::Accept(uint64_t segment_bytes) {
  const uint64_t i = segments_;
  if (saw_short_) {
    return absl::InvalidArgumentError(
        absl::StrCat("segment ", i, ": follows segment ", i - 1,
                     ", which was shorter than a full segment and so must have been the last"));
  }
  if (i >= kStreamingAeadMaxSegments) {
    return absl::InvalidArgumentError(absl::StrCat("segment ", i, ": more than 2^32 segments"));
  }
  const uint64_t full =
      i == 0 ? params_.first_ciphertext_segment_size() : params_.ciphertext_segment_size;
  if (segment_bytes > full) {
    return absl::InvalidArgumentError(
        absl::StrCat("segment ", i, ": ", segment_bytes, " bytes, larger than its full size of ",
                     full, " (segment size ", params_.ciphertext_segment_size, ")"));
  }
  if (segment_bytes < kStreamingAeadTagSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("segment ", i, ": ", segment_bytes, " bytes, shorter than its 16-byte tag"));
  }
  saw_short_ = segment_bytes < full;
  ++segments_;
  segment_bytes_ += segment_bytes;
  return absl::OkStatus();
}

absl::Status SegmentSequenceChecker::Finish(uint64_t segment_count, uint64_t stream_bytes) const {
  if (segments_ == 0) {
    return absl::InvalidArgumentError(
        "finish: no segment was sent (an empty object is one "
        "16-byte segment)");
  }
  if (segment_count != segments_) {
    return absl::InvalidArgumentError(absl::StrCat("finish.segment_count: ", segment_count,
                                                   ", but ", segments_, " segments arrived"));
  }
  if (stream_bytes != this->stream_bytes()) {
    return absl::InvalidArgumentError(absl::StrCat("finish.stream_bytes: ", stream_bytes, ", but ",
                                                   this->stream_bytes(), " bytes arrived"));
  }
  return absl::OkStatus();
}

}  // namespace strongroom::storage::sealed
