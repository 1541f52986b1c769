#include "storage/streaming/streaming_aead_reader.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace strongroom::storage {

absl::StatusOr<std::unique_ptr<StreamingAeadReader>>
StreamingAeadReader::Create(const SecretBytes& key,
                            const StreamingAeadParams& params,
                            std::span<const uint8_t> associated_data,
                            ByteSource* source) {
  if (source == nullptr) return absl::InvalidArgumentError("source: null");
  if (absl::Status s = params.ValidateWithKeySize(key.size()); !s.ok()) {
    return s;
  }
  Bytes header(params.header_size());
  absl::StatusOr<size_t> got = ReadFully(*source, std::span<uint8_t>(header));
  if (!got.ok()) return got.status();
  if (*got < header.size()) {
    return absl::DataLossError(absl::StrCat(
        "truncated: header is ", *got, " bytes, expected ", header.size()));
  }
  absl::StatusOr<StreamHeader> parsed = ParseStreamHeader(params, header);
  if (!parsed.ok()) return parsed.status();
  absl::StatusOr<std::unique_ptr<SegmentCipher>> cipher = SegmentCipher::Create(
      SegmentCipher::Direction::kDecrypt, params, key, parsed->salt,
      parsed->nonce_prefix, associated_data);
  if (!cipher.ok()) return cipher.status();
  return std::unique_ptr<StreamingAeadReader>(
      new StreamingAeadReader(params, *std::move(cipher), source));
}

StreamingAeadReader::StreamingAeadReader(const StreamingAeadParams& params,
                                         std::unique_ptr<SegmentCipher> cipher,
                                         ByteSource* source)
    : params_(params),
      cipher_(std::move(cipher)),
      source_(source),
      ciphertext_(params.ciphertext_segment_size + 1),
      plaintext_(params.plaintext_segment_size()) {}

absl::StatusOr<size_t> StreamingAeadReader::DecryptNext(std::span<uint8_t> direct) {
  const size_t expected = segment_ == 0
                              ? params_.first_ciphertext_segment_size()
                              : params_.ciphertext_segment_size;
  // Read one byte past the segment: the source ending before it is what
  // marks this segment as the last.
  std::span<uint8_t> want = std::span<uint8_t>(ciphertext_)
                                .subspan(carried_, expected + 1 - carried_);
  absl::StatusOr<size_t> got = ReadFully(*source_, want);
  if (!got.ok()) return got.status();
  const size_t available = carried_ + *got;
  const bool last = available <= expected;
  const size_t length = last ? available : expected;
  if (length < kStreamingAeadTagSize) {
    if (segment_ == 0 && length == 0) {
      return absl::DataLossError(
          "truncated: the stream ends after its header, with no segment");
    }
    return absl::DataLossError(
        absl::StrCat("truncated: segment ", segment_, " is ", length,
                     " bytes, shorter than its 16-byte tag"));
  }
  const size_t plain = length - kStreamingAeadTagSize;
  // Into the caller's buffer when the whole segment fits (no copy), else
  // into ours.
  const bool into_direct = plain > 0 && direct.size() >= plain;
  if (absl::Status s = cipher_->DecryptAndDiagnose(
          segment_, last, length == expected,
          std::span<const uint8_t>(ciphertext_).first(length),
          into_direct ? direct.first(plain) : plaintext_.RevealMutable().first(plain));
      !s.ok()) {
    return s;
  }
  plaintext_size_ = into_direct ? 0 : plain;
  plaintext_pos_ = 0;
  if (!last) {
    ciphertext_[0] = ciphertext_[expected];
    carried_ = 1;
  }
  ++segment_;
  done_ = last;
  return into_direct ? plain : 0;
}

absl::StatusOr<std::span<const uint8_t>> StreamingAeadReader::NextSegment() {
  if (!error_.ok()) return error_;
  if (done_) {
    plaintext_pos_ = plaintext_size_;
    return std::span<const uint8_t>();
  }
  if (absl::Status s = DecryptNext({}).status(); !s.ok()) {
    error_ = s;
    return s;
  }
  plaintext_pos_ = plaintext_size_;
  return plaintext_.Reveal().first(plaintext_size_);
}

absl::StatusOr<size_t> StreamingAeadReader::Read(std::span<uint8_t> out) {
  if (!error_.ok()) return error_;
  size_t total = 0;
  while (total < out.size()) {
    if (plaintext_pos_ == plaintext_size_) {
      if (done_) break;
      absl::StatusOr<size_t> direct = DecryptNext(out.subspan(total));
      if (!direct.ok()) {
        error_ = direct.status();
        return error_;
      }
      total += *direct;
      continue;
    }
    const size_t n =
        std::min(out.size() - total, plaintext_size_ - plaintext_pos_);
    std::memcpy(out.data() + total, plaintext_.Reveal().data() + plaintext_pos_,
                n);
    plaintext_pos_ += n;
    total += n;
  }
  return total;
}

absl::Status StreamingAeadReader::ReadAll(ByteSink* sink) {
  if (sink == nullptr) return absl::InvalidArgumentError("sink: null");
  if (!error_.ok()) return error_;
  if (plaintext_pos_ < plaintext_size_) {
    if (absl::Status s = sink->Append(plaintext_.Reveal().subspan(
            plaintext_pos_, plaintext_size_ - plaintext_pos_));
        !s.ok()) {
      return s;
    }
    plaintext_pos_ = plaintext_size_;
  }
  while (!done_) {
    absl::StatusOr<std::span<const uint8_t>> segment = NextSegment();
    if (!segment.ok()) return segment.status();
    if (!segment->empty()) {
      if (absl::Status s = sink->Append(*segment); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace strongroom::storage
