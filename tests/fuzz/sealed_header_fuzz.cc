// Fuzzes the sealed object header (storage/sealed/sealed_header.h) and the
// segment layout checks (storage/sealed/segment_layout.h).
//
// Input: a sealed object's leading bytes, framed as a reader frames a file:
// PeekSealedHeaderSize on the first 8 bytes, ParseSealedHeader on that many,
// and the bytes after the header drive the layout: a big-endian u64 stream
// size, then u64 start and end offsets of a plaintext range, then u32
// segment sizes for SegmentSequenceChecker. The parsed header's stream
// parameters are used when it parses, else the defaults. The whole input is
// also handed to ParseSealedHeader as it is.
//
// Besides not crashing, what must hold (a violation aborts, so replaying the
// seeds checks the code, not only its robustness):
//   - a header that parses re-encodes to exactly its bytes, validates, and
//     names a wrapped key whose reference parses and matches it;
//   - a layout that ForStreamSize accepts has segments that add up to the
//     stream, plaintext offsets that map back to their segment, ranges inside
//     [0, segment_count], and a SegmentSequenceChecker that accepts exactly
//     its segments (for layouts of up to 4096 segments).
// Seeds: tests/fuzz/seeds/sealed_header (see the README there).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

#include "storage/sealed/sealed_header.h"
#include "storage/sealed/segment_layout.h"
#include "storage/streaming/streaming_aead_params.h"

namespace {

using namespace strongroom::storage::sealed;
using strongroom::storage::StreamingAeadParams;

void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "sealed_header_fuzz: violated: %s\n", what);
    std::abort();
  }
}

class Input {
 public:
  explicit Input(std::span<const uint8_t> in) : in_(in) {}
  bool Uint(size_t n, uint64_t* out) {
    if (in_.size() < n) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | in_[i];
    in_ = in_.subspan(n);
    *out = v;
    return true;
  }

 private:
  std::span<const uint8_t> in_;
};

void CheckHeader(std::span<const uint8_t> bytes) {
  auto h = ParseSealedHeader(bytes);
  if (!h.ok()) return;
  Require(h->Validate().ok(), "a parsed header validates");
  Require(h->EncodedSize() == bytes.size(), "EncodedSize() is the parsed size");
  const strongroom::Bytes encoded = h->Encode();
  Require(encoded.size() == bytes.size() &&
              std::equal(encoded.begin(), encoded.end(), bytes.begin()),
          "a parsed header re-encodes to its bytes");
  auto ref = ParseWrappedKeyReference(h->wrapped_key, "wrapped_key");
  Require(ref.ok() && ref->version == h->key_version &&
              "keys/" + ref->key_id == h->key_name,
          "the wrapped key's reference parses and matches the header");
  (void)AssociatedData(*h);
  (void)DataKeyContext(h->dataset, h->name, h->version);
}

void CheckLayout(const StreamingAeadParams& params, Input& in) {
  uint64_t stream_bytes = 0, start = 0, end = 0;
  if (!in.Uint(8, &stream_bytes)) return;
  auto layout = SegmentLayout::ForStreamSize(params, stream_bytes);
  if (layout.ok()) {
    const uint64_t count = layout->segment_count();
    Require(count >= 1, "a layout has a segment");
    Require(layout->stream_bytes() == stream_bytes, "stream_bytes() is the input");
    Require(layout->SegmentSize(count - 1) >= 16 &&
                layout->SegmentSize(count - 1) <= layout->FullSegmentSize(count - 1),
            "the last segment holds a tag and fits");
    if (count <= 4096) {
      uint64_t total = params.header_size();
      SegmentSequenceChecker checker(params);
      for (uint64_t i = 0; i < count; ++i) {
        total += layout->SegmentSize(i);
        Require(layout->SegmentForPlaintextOffset(layout->SegmentPlaintextOffset(i)) == i,
                "a segment's plaintext offset maps back to it");
        Require(checker.Accept(layout->SegmentSize(i)).ok(),
                "the sequence checker accepts the layout's segments");
      }
      Require(total == stream_bytes, "the segments add up to the stream");
      Require(checker.Finish(count, stream_bytes).ok(),
              "the sequence checker finishes the layout's stream");
    }
    if (in.Uint(8, &start) && in.Uint(8, &end)) {
      auto span = layout->SegmentsForRange(start, end);
      if (span.ok()) {
        Require(span->first < span->end && span->end <= count,
                "a range maps to a non-empty run of segments");
      }
    }
  }
  SegmentSequenceChecker checker(params);
  uint64_t size = 0;
  uint64_t accepted = 0;
  while (in.Uint(4, &size)) {
    if (!checker.Accept(size).ok()) break;
    ++accepted;
  }
  if (accepted > 0) {
    // What was accepted is a well-formed stream: its layout agrees.
    auto l = SegmentLayout::ForStreamSize(params, checker.stream_bytes());
    Require(l.ok() && l->segment_count() == accepted,
            "an accepted segment sequence has the layout of its size");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> all(data, size);
  CheckHeader(all);
  StreamingAeadParams params;
  std::span<const uint8_t> rest = all;
  if (auto n = PeekSealedHeaderSize(all); n.ok() && *n <= size) {
    std::span<const uint8_t> header = all.first(*n);
    CheckHeader(header);
    if (auto h = ParseSealedHeader(header); h.ok()) params = h->params;
    rest = all.subspan(*n);
  }
  Input in(rest);
  CheckLayout(params, in);
  return 0;
}
