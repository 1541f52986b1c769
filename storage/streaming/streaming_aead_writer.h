// StreamingAeadWriter: encrypts a stream of unknown length into the Tink
// AES-GCM-HKDF streaming format (streaming_aead_params.h,
// docs/object-format.md), one segment at a time.
//
//   ASSIGN_OR_RETURN(auto writer, StreamingAeadWriter::Create(
//       key, params, AsBytes(object_name), &sink));
//   RETURN_IF_ERROR(writer->Write(chunk));   // any number of times
//   RETURN_IF_ERROR(writer->Finish());       // emits the last segment
//
// Memory: one plaintext segment (in SecretBytes, wiped when the writer goes)
// and one ciphertext segment, whatever the stream length. Segments reach the
// sink as soon as the writer knows they are not the last one, i.e. when the
// byte after them arrives; the last one (even a full or, for an empty stream,
// an empty one) only at Finish(). A writer destroyed before Finish() leaves a
// stream that every reader refuses as truncated.
//
// Errors: Create() returns InvalidArgument for bad parameters or key length
// and the sink's error if writing the header fails. After any error, or
// after Finish(), every call returns FailedPrecondition (the first error is
// repeated in the message). OutOfRange past 2^32 segments.
//
// Ownership: `sink` is not owned and must outlive the writer.
// Thread-compatible.
#ifndef STRONGROOM_STORAGE_STREAMING_STREAMING_AEAD_WRITER_H_
#define STRONGROOM_STORAGE_STREAMING_STREAMING_AEAD_WRITER_H_

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

class StreamingAeadWriter {
 public:
  // Draws a fresh random salt and nonce prefix, derives the object key from
  // `key` (the input key material) and `associated_data`, and writes the
  // header to `sink`. The associated data is authenticated, not stored: the
  // reader must be given the same bytes.
  static absl::StatusOr<std::unique_ptr<StreamingAeadWriter>> Create(
      const SecretBytes& key, const StreamingAeadParams& params,
      std::span<const uint8_t> associated_data, ByteSink* sink);

  // Deterministic variant for known-answer tests only: the caller supplies
  // the salt and nonce prefix that Create() would draw at random. Reusing a
  // (key, salt, nonce prefix) triple for two streams breaks AES-GCM; never
  // call this outside tests.
  static absl::StatusOr<std::unique_ptr<StreamingAeadWriter>>
  CreateWithSaltAndNoncePrefixForTesting(
      const SecretBytes& key, const StreamingAeadParams& params,
      std::span<const uint8_t> associated_data, std::span<const uint8_t> salt,
      std::span<const uint8_t> nonce_prefix, ByteSink* sink);

  ~StreamingAeadWriter() = default;
  StreamingAeadWriter(const StreamingAeadWriter&) = delete;
  StreamingAeadWriter& operator=(const StreamingAeadWriter&) = delete;

  absl::Status Write(std::span<const uint8_t> plaintext);
  // Encrypts the buffered bytes as the last segment. The sink is not closed
  // or synced; that is the caller's.
  absl::Status Finish();

  uint64_t plaintext_bytes() const { return plaintext_bytes_; }
  // Header and segments handed to the sink so far.
  uint64_t ciphertext_bytes() const { return ciphertext_bytes_; }

 private:
  StreamingAeadWriter(const StreamingAeadParams& params,
                      std::unique_ptr<SegmentCipher> cipher, ByteSink* sink);
  absl::Status EmitSegment(bool last);
  absl::Status Fail(absl::Status status);
  absl::Status CheckUsable() const;

  const StreamingAeadParams params_;
  std::unique_ptr<SegmentCipher> cipher_;
  ByteSink* sink_;
  SecretBytes plaintext_;  // current segment's plaintext, wiped on release
  size_t filled_ = 0;      // bytes of plaintext_ in use
  size_t capacity_;        // plaintext bytes the current segment takes
  Bytes ciphertext_;
  uint64_t segment_ = 0;
  uint64_t plaintext_bytes_ = 0;
  uint64_t ciphertext_bytes_ = 0;
  bool finished_ = false;
  absl::Status error_;
};

}  // namespace strongroom::storage

#endif  // STRONGROOM_STORAGE_STREAMING_STREAMING_AEAD_WRITER_H_
