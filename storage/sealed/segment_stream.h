// The payload layer of sealed objects on the owner's (and workload's) side:
// moving a Tink AES-GCM-HKDF stream (storage/streaming) through a transport
// that carries the stream header and one segment per message.
//
//  - SegmentSplitter: a ByteSink for StreamingAeadWriter that cuts the
//    writer's output into the stream header and segments, whatever the
//    chunking of its Append() calls, and hands each on as soon as it is
//    complete (the last one at Finish()).
//  - SegmentStreamReader: decrypts segments pulled in increasing order from
//    a callback (e.g. the messages of a gRPC stream), with the guarantees of
//    StreamingAeadRandomAccessReader: every byte handed out authenticated at
//    its position; a range that reaches the end authenticates the last
//    segment, so truncation, extension, reordering, dropping, duplication or
//    swapping of segments fail (DataLoss naming the segment).
//  - SegmentEncryptor: encrypts segment i of a stream whose stream header is
//    already fixed; for resumable re-encryption (rekey), where segments are
//    produced from a cursor rather than from the start, and for uploads that
//    encrypt each segment straight into the message that carries it. Encrypting segment i
//    again after a crash uses the same key and nonce on the same plaintext
//    (segment i of the same object), so it yields the same ciphertext and
//    reuses no nonce on different data.
//
// Memory: one segment of ciphertext and one of plaintext (SecretBytes).
// Thread-compatible; the callbacks run on the calling thread.
#ifndef STRONGROOM_STORAGE_SEALED_SEGMENT_STREAM_H_
#define STRONGROOM_STORAGE_SEALED_SEGMENT_STREAM_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "storage/sealed/segment_layout.h"
#include "storage/streaming/byte_stream.h"
#include "storage/streaming/segment_cipher.h"
#include "storage/streaming/streaming_aead_params.h"
#include "storage/streaming/streaming_aead_random_access_reader.h"

namespace strongroom::storage::sealed {

class SegmentSplitter final : public storage::ByteSink {
 public:
  using HeaderFn = std::function<absl::Status(std::span<const uint8_t> stream_header)>;
  using SegmentFn = std::function<absl::Status(uint64_t index, std::span<const uint8_t> segment)>;
  SegmentSplitter(const storage::StreamingAeadParams& params, HeaderFn on_header,
                  SegmentFn on_segment);

  absl::Status Append(std::span<const uint8_t> data) override;
  // Hands on the buffered last segment; call after the writer's Finish().
  absl::Status Finish();

  uint64_t segments() const { return segments_; }
  uint64_t stream_bytes() const { return stream_bytes_; }

 private:
  size_t CurrentSegmentSize() const;
  absl::Status Emit(std::span<const uint8_t> segment);

  const storage::StreamingAeadParams params_;
  HeaderFn on_header_;
  SegmentFn on_segment_;
  Bytes header_;
  Bytes buffer_;
  uint64_t segments_ = 0;
  uint64_t stream_bytes_ = 0;
};

class SegmentStreamReader {
 public:
  struct Segment {
    uint64_t index = 0;
    std::string data;
  };
  // Returns the next segment, or nullopt when the transport has no more.
  using NextFn = std::function<absl::StatusOr<std::optional<Segment>>()>;

  // `stream_header`: the Tink stream header; `stream_bytes`: its size plus
  // every segment's, as the store reports it (the segment layout follows
  // from it). Errors as StreamingAeadRandomAccessReader::Create.
  static absl::StatusOr<std::unique_ptr<SegmentStreamReader>> Create(
      const SecretBytes& key, const storage::StreamingAeadParams& params,
      std::span<const uint8_t> associated_data, std::span<const uint8_t> stream_header,
      uint64_t stream_bytes, NextFn next);
  ~SegmentStreamReader();

  uint64_t plaintext_size() const { return reader_->plaintext_size(); }
  uint64_t segment_count() const { return reader_->segment_count(); }
  uint64_t SegmentPlaintextOffset(uint64_t i) const { return reader_->SegmentPlaintextOffset(i); }

  // Plaintext of segment `i`, valid until the next call. Segments must be
  // asked for in increasing order; the transport must deliver them so
  // (DataLoss "segment i: ..." when it skips, repeats or reorders).
  absl::StatusOr<std::span<const uint8_t>> DecryptSegment(uint64_t i);

  // Appends plaintext [start, end) to `sink` (end clamped to the size), one
  // segment at a time; when the range reaches the end, the last segment is
  // authenticated first, so an OK return is a proven end. `progress` (may be
  // null) gets the plaintext bytes written so far. With `threads` > 1 and a
  // sink that lends its buffer (ByteSink::Lend), the range's whole segments
  // (two or more) are decrypted on that many threads into one loan
  // (parallel_decrypt.h; progress is then reported once for them; the loan
  // is asked for before any of them is authenticated, so the sink's limit
  // meets the object's declared size up front); on a failure the sink holds
  // exactly the segments before the failing one, as in the sequential case.
  // A sink that cannot lend that much, or threads that cannot start, leave
  // the segments to the one-at-a-time path, with its errors.
  absl::Status CopyRange(uint64_t start, uint64_t end, storage::ByteSink* sink,
                         const std::function<void(uint64_t)>& progress = nullptr,
                         int threads = 1);

 private:
  class Source;
  SegmentStreamReader(std::unique_ptr<Source> source,
                      std::unique_ptr<storage::StreamingAeadRandomAccessReader> reader,
                      SegmentLayout layout);

  std::unique_ptr<Source> source_;
  SegmentLayout layout_;
  std::unique_ptr<storage::StreamingAeadRandomAccessReader> reader_;
};

class SegmentEncryptor {
 public:
  // `stream_header` holds the salt and nonce prefix (parsed as Tink's).
  static absl::StatusOr<std::unique_ptr<SegmentEncryptor>> Create(
      const SecretBytes& key, const storage::StreamingAeadParams& params,
      std::span<const uint8_t> associated_data, std::span<const uint8_t> stream_header);

  // Ciphertext of segment `i` (plaintext.size() + 16 bytes).
  absl::StatusOr<Bytes> Encrypt(uint64_t i, bool last, std::span<const uint8_t> plaintext);
  // The same, written to `out` (exactly plaintext.size() + 16 bytes; e.g. a
  // transport message's own buffer, so that the ciphertext is not copied).
  absl::Status EncryptInto(uint64_t i, bool last, std::span<const uint8_t> plaintext,
                           std::span<uint8_t> out);

 private:
  explicit SegmentEncryptor(std::unique_ptr<storage::SegmentCipher> cipher)
      : cipher_(std::move(cipher)) {}
  std::unique_ptr<storage::SegmentCipher> cipher_;
};

// A fresh stream header (random salt and nonce prefix) for `params`.
absl::StatusOr<Bytes> NewStreamHeader(const storage::StreamingAeadParams& params);

}  // namespace strongroom::storage::sealed

#endif  // STRONGROOM_STORAGE_SEALED_SEGMENT_STREAM_H_
