#include "storage/streaming/streaming_aead_writer.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace strongroom::storage {

absl::StatusOr<std::unique_ptr<StreamingAeadWriter>>
StreamingAeadWriter::Create(const SecretBytes& key,
                            const StreamingAeadParams& params,
                            std::span<const uint8_t> associated_data,
                            ByteSink* sink) {
  if (absl::Status s = params.ValidateWithKeySize(key.size()); !s.ok()) {
    return s;
  }
  Bytes salt(params.derived_key_size);
  Bytes nonce_prefix(kStreamingAeadNoncePrefixSize);
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1 ||
      RAND_bytes(nonce_prefix.data(), static_cast<int>(nonce_prefix.size())) !=
          1) {
    return absl::InternalError("streaming writer: RAND_bytes failed");
  }
  return CreateWithSaltAndNoncePrefixForTesting(key, params, associated_data,
                                                salt, nonce_prefix, sink);
}

absl::StatusOr<std::unique_ptr<StreamingAeadWriter>>
StreamingAeadWriter::CreateWithSaltAndNoncePrefixForTesting(
    const SecretBytes& key, const StreamingAeadParams& params,
    std::span<const uint8_t> associated_data, std::span<const uint8_t> salt,
    std::span<const uint8_t> nonce_prefix, ByteSink* sink) {
  if (sink == nullptr) return absl::InvalidArgumentError("sink: null");
  if (absl::Status s = params.ValidateWithKeySize(key.size()); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<SegmentCipher>> cipher =
      SegmentCipher::Create(SegmentCipher::Direction::kEncrypt, params, key,
                            salt, nonce_prefix, associated_data);
  if (!cipher.ok()) return cipher.status();
  const Bytes header = EncodeStreamHeader(salt, nonce_prefix);
  if (absl::Status s = sink->Append(header); !s.ok()) return s;
  std::unique_ptr<StreamingAeadWriter> writer(
      new StreamingAeadWriter(params, *std::move(cipher), sink));
  writer->ciphertext_bytes_ = header.size();
  return writer;
}

StreamingAeadWriter::StreamingAeadWriter(const StreamingAeadParams& params,
                                         std::unique_ptr<SegmentCipher> cipher,
                                         ByteSink* sink)
    : params_(params),
      cipher_(std::move(cipher)),
      sink_(sink),
      plaintext_(params.plaintext_segment_size()),
      capacity_(params.first_plaintext_segment_size()),
      ciphertext_(params.ciphertext_segment_size) {}

absl::Status StreamingAeadWriter::CheckUsable() const {
  if (!error_.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("streaming writer failed earlier: ", error_.message()));
  }
  if (finished_) {
    return absl::FailedPreconditionError("streaming writer already finished");
  }
  return absl::OkStatus();
}

absl::Status StreamingAeadWriter::Fail(absl::Status status) {
  error_ = status;
  return status;
}

absl::Status StreamingAeadWriter::EmitSegment(bool last) {
  std::span<const uint8_t> pt = plaintext_.Reveal().first(filled_);
  std::span<uint8_t> ct =
      std::span<uint8_t>(ciphertext_).first(filled_ + kStreamingAeadTagSize);
  if (absl::Status s = cipher_->Encrypt(segment_, last, pt, ct); !s.ok()) {
    return Fail(s);
  }
  if (absl::Status s = sink_->Append(ct); !s.ok()) return Fail(s);
  ciphertext_bytes_ += ct.size();
  ++segment_;
  filled_ = 0;
  capacity_ = params_.plaintext_segment_size();
  return absl::OkStatus();
}

absl::Status StreamingAeadWriter::Write(std::span<const uint8_t> plaintext) {
  if (absl::Status s = CheckUsable(); !s.ok()) return s;
  while (!plaintext.empty()) {
    // A full segment is emitted only once more data shows it is not the last.
    if (filled_ == capacity_) {
      if (absl::Status s = EmitSegment(/*last=*/false); !s.ok()) return s;
    }
    const size_t take = std::min(plaintext.size(), capacity_ - filled_);
    std::memcpy(plaintext_.RevealMutable().data() + filled_, plaintext.data(),
                take);
    filled_ += take;
    plaintext_bytes_ += take;
    plaintext = plaintext.subspan(take);
  }
  return absl::OkStatus();
}

absl::Status StreamingAeadWriter::Finish() {
  if (absl::Status s = CheckUsable(); !s.ok()) return s;
  if (absl::Status s = EmitSegment(/*last=*/true); !s.ok()) return s;
  finished_ = true;
  // The plaintext is no longer needed; do not wait for destruction to wipe.
  plaintext_ = SecretBytes();
  return absl::OkStatus();
}

}  // namespace strongroom::storage
