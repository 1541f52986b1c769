// SegmentLayout: where the segments of a sealed object's stream begin and
// end, computed from public values only (stream parameters and sizes), so
// the server can check structure and map plaintext ranges to segments
// without any key. SegmentSequenceChecker: the structure check of a stream
// arriving one segment at a time.
//
// The stream is the Tink stream: stream header (in the sealed header) then
// segment 0 (S - header_size bytes when full), segments 1.. (S bytes), the
// last one 16..full bytes (docs/object-format.md).
//
// Errors: InvalidArgument naming the segment and the sizes at fault.
// Value types; thread-compatible.
#ifndef STRONGROOM_STORAGE_SEALED_SEGMENT_LAYOUT_H_
#define STRONGROOM_STORAGE_SEALED_SEGMENT_LAYOUT_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "storage/streaming/streaming_aead_params.h"

namespace strongroom::storage::sealed {

class SegmentLayout {
 public:
  // The layout of a stream of `stream_bytes` (stream header included).
  // InvalidArgument when no valid stream has that size.
  static absl::StatusOr<SegmentLayout> ForStreamSize(const storage::StreamingAeadParams& params,
                                                     uint64_t stream_bytes);

  uint64_t segment_count() const { return segment_count_; }
  uint64_t stream_bytes() const { return stream_bytes_; }
  uint64_t plaintext_size() const;
  // Ciphertext bytes of segment `i` (REQUIRES: i < segment_count()).
  uint64_t SegmentSize(uint64_t i) const;
  // Full-size ciphertext bytes of segment `i` (what a non-last segment has).
  uint64_t FullSegmentSize(uint64_t i) const;
  uint64_t SegmentPlaintextOffset(uint64_t i) const;
  // The segment holding plaintext byte `offset` (the last one for the end).
  uint64_t SegmentForPlaintextOffset(uint64_t offset) const;

  // Segments [first, end) to send for plaintext [start, end_offset): those
  // that hold the range and, when the range reaches the end, the last one
  // (a reader proves the end by authenticating it). OutOfRange when start >
  // end_offset or start > plaintext_size(); end_offset is clamped.
  struct Span {
    uint64_t first = 0;
    uint64_t end = 0;
  };
  absl::StatusOr<Span> SegmentsForRange(uint64_t start, uint64_t end_offset) const;

 private:
  SegmentLayout(const storage::StreamingAeadParams& params, uint64_t stream_bytes, uint64_t count,
                uint64_t last_size)
      : params_(params),
        stream_bytes_(stream_bytes),
        segment_count_(count),
        last_size_(last_size) {}

  storage::StreamingAeadParams params_;
  uint64_t stream_bytes_;
  uint64_t segment_count_;
  uint64_t last_size_;
};

// Accepts segments one at a time and refuses the first that cannot belong to
// a well-formed stream: larger than its full size, shorter than a tag, or
// following a short (hence last) segment; past 2^32 segments.
class SegmentSequenceChecker {
 public:
  explicit SegmentSequenceChecker(const storage::StreamingAeadParams& params) : params_(params) {}

  absl::Status Accept(uint64_t segment_bytes);
  // The sender's count and stream size must match what arrived.
  absl::Status Finish(uint64_t segment_count, uint64_t stream_bytes) const;

  uint64_t segments() const { return segments_; }
  // Stream header plus the segments so far.
  uint64_t stream_bytes() const { return params_.header_size() + segment_bytes_; }

 private:
  storage::StreamingAeadParams params_;
  uint64_t segments_ = 0;
  uint64_t segment_bytes_ = 0;
  bool saw_short_ = false;
};

}  // namespace strongroom::storage::sealed

#endif  // STRONGROOM_STORAGE_SEALED_SEGMENT_LAYOUT_H_
