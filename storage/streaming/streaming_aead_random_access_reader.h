// StreamingAeadRandomAccessReader: decrypts any segment, or any byte range,
// of a Tink AES-GCM-HKDF stream (streaming_aead_params.h,
// docs/object-format.md) held in a RandomAccessSource, for range reads.
//
// The segment layout follows from the source's size, read once at Create():
// the ciphertext must not change while the reader is used. The segment that
// the size makes the last one is decrypted with the last-segment nonce, so a
// stream that was truncated at a segment boundary, or extended, fails when
// that segment is read (DataLoss "truncated: ..." / "trailing data: ..." or
// "segment N: ciphertext does not authenticate"). A range read authenticates
// the segments it touches, and a ReadAt() whose range reaches
// plaintext_size() (so may return a short count) also authenticates the last
// segment: an end reported by ReadAt() is a proven end. A read that stops
// short of the end does not prove the object's length.
//
// As in Tink, the source starts with params.ciphertext_offset bytes of the
// caller's own, then the header.
//
// Errors: as StreamingAeadReader (DataLoss for authentication failures and
// truncation, InvalidArgument naming the header field), plus OutOfRange for
// a segment number or offset past the end.
//
// Memory: one plaintext segment (SecretBytes, wiped on destruction) and,
// for a source that cannot lend its bytes (RandomAccessSource::ViewAt), one
// ciphertext segment to copy them into; a lent segment is decrypted where
// it lies. The most recently decrypted segment is kept for the next read. Ownership: `source` is not owned and must outlive the reader.
// Thread-compatible (calls mutate the segment cache).
#ifndef STRONGROOM_STORAGE_STREAMING_STREAMING_AEAD_RANDOM_ACCESS_READER_H_
#define STRONGROOM_STORAGE_STREAMING_STREAMING_AEAD_RANDOM_ACCESS_READER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "storage/streaming/byte_stream.h"
#include "storage/streaming/segment_cipher.h"
#include "storage/streaming/streaming_aead_params.h"

namespace strongroom::storage {

class StreamingAeadRandomAccessReader {
 public:
  // Reads the header at params.ciphertext_offset and the source size.
  // DataLoss when the size leaves no room for the header and one segment.
  static absl::StatusOr<std::unique_ptr<StreamingAeadRandomAccessReader>>
  Create(const SecretBytes& key, const StreamingAeadParams& params,
         std::span<const uint8_t> associated_data, RandomAccessSource* source);

  ~StreamingAeadRandomAccessReader() = default;
  StreamingAeadRandomAccessReader(const StreamingAeadRandomAccessReader&) =
      delete;
  StreamingAeadRandomAccessReader& operator=(
      const StreamingAeadRandomAccessReader&) = delete;

  // Plaintext length implied by the ciphertext size (proven only once the
  // last segment has been read).
  uint64_t plaintext_size() const { return plaintext_size_; }
  uint64_t segment_count() const { return segment_count_; }
  // Plaintext offset at which segment `segment` starts.
  uint64_t SegmentPlaintextOffset(uint64_t segment) const;

  // Plaintext of segment `segment` (0-based), valid until the next call on
  // this reader. OutOfRange when segment >= segment_count().
  absl::StatusOr<std::span<const uint8_t>> DecryptSegment(uint64_t segment);
  // Plaintext size of segment `segment` (0 past the last).
  uint64_t SegmentPlaintextSize(uint64_t segment) const;
  // The same plaintext written to `out` (exactly SegmentPlaintextSize()
  // bytes, else InvalidArgument; e.g. a sink's lent buffer) instead of the
  // reader's buffer; wiped when the segment does not authenticate.
  absl::Status DecryptSegmentInto(uint64_t segment, std::span<uint8_t> out);

  // For decrypting segments on several threads: a cipher per thread (the
  // object key's schedule copied), and the decryption of `segment` from its
  // stored bytes that the caller fetched itself (the first
  // SegmentCiphertextSize() of them; fewer is DataLoss, as a source that
  // shrank) with that cipher, into `out` as DecryptSegmentInto.
  // DecryptSegmentWith is safe to call concurrently with distinct ciphers.
  absl::StatusOr<std::unique_ptr<SegmentCipher>> NewCipher() const;
  absl::Status DecryptSegmentWith(SegmentCipher& cipher, uint64_t segment,
                                  std::span<const uint8_t> ciphertext,
                                  std::span<uint8_t> out) const;
  // Stored bytes of segment `segment` (< segment_count()), tag included.
  uint64_t SegmentCiphertextSize(uint64_t segment) const;

  // Copies plaintext bytes [offset, offset + out.size()) into `out`, stopping
  // at the end of the plaintext; returns the count copied. When the range
  // reaches the end, the last segment is authenticated too (see above).
  // OutOfRange when offset > plaintext_size().
  absl::StatusOr<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out);

 private:
  StreamingAeadRandomAccessReader(const StreamingAeadParams& params,
                                  std::unique_ptr<SegmentCipher> cipher,
                                  RandomAccessSource* source,
                                  uint64_t ciphertext_size,
                                  uint64_t segment_count);
  // Reads and decrypts `segment` into `out` (exactly its plaintext size);
  // returns that size.
  absl::StatusOr<size_t> Decrypt(uint64_t segment, std::span<uint8_t> out);
  // Where `segment` starts in the source (offset bytes included), and its
  // stored size when it is not a short last one.
  uint64_t SegmentStart(uint64_t segment) const;
  uint64_t FullSegmentSize(uint64_t segment) const;
  // Decrypts the stored bytes `ct` of `segment` with `cipher` into `out`.
  absl::StatusOr<size_t> DecryptWith(SegmentCipher& cipher, uint64_t segment,
                                     std::span<const uint8_t> ct,
                                     std::span<uint8_t> out) const;

  const StreamingAeadParams params_;
  std::unique_ptr<SegmentCipher> cipher_;
  RandomAccessSource* source_;
  const uint64_t ciphertext_size_;  // whole source, offset bytes included
  const uint64_t segment_count_;
  const uint64_t plaintext_size_;
  Bytes ciphertext_;
  SecretBytes plaintext_;
  size_t plaintext_length_ = 0;             // of the cached segment
  std::optional<uint64_t> cached_segment_;  // segment now in plaintext_
};

}  // namespace strongroom::storage

#endif  // STRONGROOM_STORAGE_STREAMING_STREAMING_AEAD_RANDOM_ACCESS_READER_H_
