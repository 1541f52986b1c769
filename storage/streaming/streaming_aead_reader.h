// StreamingAeadReader: decrypts a Tink AES-GCM-HKDF stream
// (streaming_aead_params.h, docs/object-format.md) in order, one segment at
// a time, from a ByteSource.
//
//   ASSIGN_OR_RETURN(auto reader, StreamingAeadReader::Create(
//       key, params, AsBytes(object_name), &source));
//   RETURN_IF_ERROR(reader->ReadAll(&sink));   // or Read() / NextSegment()
//
// Every byte handed out has been authenticated as part of its segment at its
// position. The stream as a whole is only known to be complete when Read()
// returns 0 (or NextSegment() an empty span with done(), or ReadAll() OK):
// callers must not commit to data before that. The reader reads one byte
// past each full segment to learn whether it is the last, so it refuses:
//  - truncation (a stream missing its last segment, or cut inside one),
//  - reordered, duplicated, dropped or modified segments,
//  - bytes after the last segment, and a missing or altered header.
//
// Errors:
//  - DataLoss "segment N: ciphertext does not authenticate" when segment N
//    (0-based) fails its tag (also wrong key or wrong associated data);
//  - DataLoss beginning "truncated:" when the stream ends early, and
//    "trailing data:" when bytes follow the last segment;
//  - InvalidArgument naming the field for a header that does not match the
//    parameters ("header length byte: ...");
//  - the source's own error when reading fails.
// Errors are sticky: every later call returns the same status.
//
// Memory: one ciphertext segment (+1 byte) and one plaintext segment; the
// plaintext buffer is SecretBytes, wiped when the reader is destroyed.
// If params.ciphertext_offset is not 0 the caller has already consumed those
// leading bytes from `source` (as with Tink's decrypting streams).
//
// Ownership: `source` is not owned and must outlive the reader.
// Thread-compatible.
#ifndef STRONGROOM_STORAGE_STREAMING_STREAMING_AEAD_READER_H_
#define STRONGROOM_STORAGE_STREAMING_STREAMING_AEAD_READER_H_

#include <cstdint>
#include <memory>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "storage/streaming/byte_stream.h"
#include "storage/streaming/segment_cipher.h"
#include "storage/streaming/streaming_aead_params.h"

namespace strongroom::storage {

class StreamingAeadReader {
 public:
  // Reads and checks the header and derives the object key. InvalidArgument
  // for bad parameters or key length, DataLoss when the source ends inside
  // the header.
  static absl::StatusOr<std::unique_ptr<StreamingAeadReader>> Create(
      const SecretBytes& key, const StreamingAeadParams& params,
      std::span<const uint8_t> associated_data, ByteSource* source);

  ~StreamingAeadReader() = default;
  StreamingAeadReader(const StreamingAeadReader&) = delete;
  StreamingAeadReader& operator=(const StreamingAeadReader&) = delete;

  // Copies up to out.size() bytes of plaintext into `out`, decrypting further
  // segments as needed. Returns 0 (for a non-empty `out`) only once the last
  // segment has been authenticated and the source has ended.
  absl::StatusOr<size_t> Read(std::span<uint8_t> out);

  // Decrypts the next segment and returns its plaintext, valid until the next
  // call on this reader. Discards what Read() left of the current segment.
  // An empty span with done() true marks the verified end (the last segment
  // of an empty stream is also empty, and also sets done()).
  absl::StatusOr<std::span<const uint8_t>> NextSegment();

  // Appends the rest of the plaintext to `sink`; OK only at a verified end.
  absl::Status ReadAll(ByteSink* sink);

  // True once the last segment has been authenticated.
  bool done() const { return done_; }
  // Segments authenticated so far.
  uint64_t segments_read() const { return segment_; }

 private:
  StreamingAeadReader(const StreamingAeadParams& params,
                      std::unique_ptr<SegmentCipher> cipher,
                      ByteSource* source);
  // Reads and decrypts the next segment: into `direct` when its whole
  // plaintext fits there (returns its size, nothing buffered), else into
  // plaintext_ (returns 0).
  absl::StatusOr<size_t> DecryptNext(std::span<uint8_t> direct);

  const StreamingAeadParams params_;
  std::unique_ptr<SegmentCipher> cipher_;
  ByteSource* source_;
  Bytes ciphertext_;       // one segment plus one byte of look-ahead
  size_t carried_ = 0;     // look-ahead bytes already at ciphertext_[0]
  SecretBytes plaintext_;  // current segment's plaintext
  size_t plaintext_size_ = 0;
  size_t plaintext_pos_ = 0;
  uint64_t segment_ = 0;  // number of the next segment to decrypt
  bool done_ = false;
  absl::Status error_;
};

}  // namespace strongroom::storage

#endif  // STRONGROOM_STORAGE_STREAMING_STREAMING_AEAD_READER_H_
