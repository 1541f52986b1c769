#include "storage/streaming/streaming_aead_random_access_reader.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace strongroom::storage {

absl::StatusOr<std::unique_ptr<StreamingAeadRandomAccessReader>>
StreamingAeadRandomAccessReader::Create(
    const SecretBytes& key, const StreamingAeadParams& params,
    std::span<const uint8_t> associated_data, RandomAccessSource* source) {
  if (source == nullptr) return absl::InvalidArgumentError("source: null");
  if (absl::Status s = params.ValidateWithKeySize(key.size()); !s.ok()) {
    return s;
  }
  absl::StatusOr<uint64_t> size = source->Size();
  if (!size.ok()) return size.status();
  const uint64_t header_end =
      uint64_t{params.ciphertext_offset} + params.header_size();
  Bytes header(params.header_size());
  absl::StatusOr<size_t> got =
      source->ReadAt(params.ciphertext_offset, std::span<uint8_t>(header));
  if (!got.ok()) return got.status();
  if (*got < header.size()) {
    return absl::DataLossError(absl::StrCat(
        "truncated: header is ", *got, " bytes, expected ", header.size()));
  }
  absl::StatusOr<StreamHeader> parsed = ParseStreamHeader(params, header);
  if (!parsed.ok()) return parsed.status();

  if (*size < header_end) {  // the source changed size under us
    return absl::DataLossError(
        absl::StrCat("truncated: ", *size, " bytes cannot hold the ",
                     header_end, "-byte offset and header"));
  }
  // Segment 0 starts after the header; segment k > 0 at k * segment size.
  const uint64_t rest = *size - header_end;
  if (rest == 0) {
    return absl::DataLossError(
        "truncated: the stream ends after its header, with no segment");
  }
  const uint64_t first = params.first_ciphertext_segment_size();
  const uint64_t full = params.ciphertext_segment_size;
  const uint64_t count =
      rest <= first ? 1 : 1 + (rest - first + full - 1) / full;
  if (count > kStreamingAeadMaxSegments) {
    return absl::DataLossError(
        absl::StrCat("ciphertext size: ", *size, " bytes make ", count,
                     " segments; the format allows 2^32"));
  }
  const uint64_t last_length =
      count == 1 ? rest : rest - first - (count - 2) * full;
  if (last_length < kStreamingAeadTagSize) {
    return absl::DataLossError(
        absl::StrCat("truncated: segment ", count - 1, " is ", last_length,
                     " bytes, shorter than its 16-byte tag"));
  }
  absl::StatusOr<std::unique_ptr<SegmentCipher>> cipher = SegmentCipher::Create(
      SegmentCipher::Direction::kDecrypt, params, key, parsed->salt,
      parsed->nonce_prefix, associated_data);
  if (!cipher.ok()) return cipher.status();
  return std::unique_ptr<StreamingAeadRandomAccessReader>(
      new StreamingAeadRandomAccessReader(params, *std::move(cipher), source,
                                          *size, count));
}

StreamingAeadRandomAccessReader::StreamingAeadRandomAccessReader(
    const StreamingAeadParams& params, std::unique_ptr<SegmentCipher> cipher,
    RandomAccessSource* source, uint64_t ciphertext_size,
    uint64_t segment_count)
    : params_(params),
      cipher_(std::move(cipher)),
      source_(source),
      ciphertext_size_(ciphertext_size),
      segment_count_(segment_count),
      plaintext_size_(ciphertext_size - params.ciphertext_offset -
                      params.header_size() -
                      segment_count * kStreamingAeadTagSize),
      plaintext_(params.plaintext_segment_size()) {}

uint64_t StreamingAeadRandomAccessReader::SegmentPlaintextOffset(
    uint64_t segment) const {
  if (segment == 0) return 0;
  return params_.first_plaintext_segment_size() +
         (segment - 1) * params_.plaintext_segment_size();
}

uint64_t StreamingAeadRandomAccessReader::SegmentPlaintextSize(
    uint64_t segment) const {
  if (segment >= segment_count_) return 0;
  if (segment + 1 < segment_count_) {
    return segment == 0 ? params_.first_plaintext_segment_size()
                        : params_.plaintext_segment_size();
  }
  return plaintext_size_ - SegmentPlaintextOffset(segment);
}

absl::StatusOr<std::span<const uint8_t>>
StreamingAeadRandomAccessReader::DecryptSegment(uint64_t segment) {
  if (segment < segment_count_ && cached_segment_ == segment) {
    return plaintext_.Reveal().first(plaintext_length_);
  }
  cached_segment_.reset();
  absl::StatusOr<size_t> plain =
      Decrypt(segment, plaintext_.RevealMutable().first(SegmentPlaintextSize(segment)));
  if (!plain.ok()) return plain.status();
  plaintext_length_ = *plain;
  cached_segment_ = segment;
  return plaintext_.Reveal().first(*plain);
}

absl::Status StreamingAeadRandomAccessReader::DecryptSegmentInto(
    uint64_t segment, std::span<uint8_t> out) {
  if (segment < segment_count_ && out.size() != SegmentPlaintextSize(segment)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "segment ", segment, ": an output of ", out.size(), " bytes for ",
        SegmentPlaintextSize(segment), " bytes of plaintext"));
  }
  return Decrypt(segment, out).status();
}

absl::StatusOr<size_t> StreamingAeadRandomAccessReader::Decrypt(
    uint64_t segment, std::span<uint8_t> out) {
  if (segment >= segment_count_) {
    return absl::OutOfRangeError(absl::StrCat("segment: ", segment,
                                              " is past the last segment (",
                                              segment_count_ - 1, ")"));
  }
  const uint64_t start = SegmentStart(segment);
  const size_t length = static_cast<size_t>(SegmentCiphertextSize(segment));
  // The source's own bytes where it can lend them, else a copy.
  absl::StatusOr<std::optional<std::span<const uint8_t>>> view =
      source_->ViewAt(start, length);
  if (!view.ok()) return view.status();
  std::span<const uint8_t> ct;
  size_t got = 0;
  if (view->has_value()) {
    ct = **view;
    got = ct.size();
  } else {
    if (ciphertext_.size() < length) ciphertext_.resize(params_.ciphertext_segment_size);
    std::span<uint8_t> buffer = std::span<uint8_t>(ciphertext_).first(length);
    absl::StatusOr<size_t> read = source_->ReadAt(start, buffer);
    if (!read.ok()) return read.status();
    ct = buffer;
    got = *read;
  }
  if (got != length) {
    return absl::DataLossError(absl::StrCat("truncated: segment ", segment,
                                            " read ", got, " of ", length,
                                            " bytes; the source shrank"));
  }
  return DecryptWith(*cipher_, segment, ct, out);
}

absl::StatusOr<std::unique_ptr<SegmentCipher>>
StreamingAeadRandomAccessReader::NewCipher() const {
  return cipher_->Clone();
}

absl::Status StreamingAeadRandomAccessReader::DecryptSegmentWith(
    SegmentCipher& cipher, uint64_t segment, std::span<const uint8_t> ciphertext,
    std::span<uint8_t> out) const {
  if (segment >= segment_count_) {
    return absl::OutOfRangeError(absl::StrCat("segment: ", segment,
                                              " is past the last segment (",
                                              segment_count_ - 1, ")"));
  }
  // As Decrypt() reads a lent view: a segment's own length, no more.
  const uint64_t length = SegmentCiphertextSize(segment);
  if (ciphertext.size() < length) {
    return absl::DataLossError(absl::StrCat("truncated: segment ", segment,
                                            " read ", ciphertext.size(), " of ",
                                            length, " bytes; the source shrank"));
  }
  return DecryptWith(cipher, segment, ciphertext.first(length), out).status();
}

uint64_t StreamingAeadRandomAccessReader::SegmentStart(uint64_t segment) const {
  return segment == 0 ? uint64_t{params_.ciphertext_offset} + params_.header_size()
                      : segment * params_.ciphertext_segment_size;
}

uint64_t StreamingAeadRandomAccessReader::FullSegmentSize(uint64_t segment) const {
  return segment == 0 ? params_.first_ciphertext_segment_size()
                      : params_.ciphertext_segment_size;
}

uint64_t StreamingAeadRandomAccessReader::SegmentCiphertextSize(
    uint64_t segment) const {
  return std::min(FullSegmentSize(segment), ciphertext_size_ - SegmentStart(segment));
}

absl::StatusOr<size_t> StreamingAeadRandomAccessReader::DecryptWith(
    SegmentCipher& cipher, uint64_t segment, std::span<const uint8_t> ct,
    std::span<uint8_t> out) const {
  const bool last = segment == segment_count_ - 1;
  const size_t plain = ct.size() - kStreamingAeadTagSize;
  if (out.size() != plain) {
    return absl::InternalError(absl::StrCat("segment ", segment, ": ", plain,
                                            " bytes of plaintext for ",
                                            out.size(), " of output"));
  }
  if (absl::Status s = cipher.DecryptAndDiagnose(segment, last,
                                                 ct.size() == FullSegmentSize(segment), ct,
                                                 out.first(plain));
      !s.ok()) {
    return s;
  }
  return plain;
}

absl::StatusOr<size_t> StreamingAeadRandomAccessReader::ReadAt(
    uint64_t offset, std::span<uint8_t> out) {
  if (offset > plaintext_size_) {
    return absl::OutOfRangeError(
        absl::StrCat("offset: ", offset, " is past the end of the ",
                     plaintext_size_, "-byte plaintext"));
  }
  const uint64_t want =
      std::min<uint64_t>(out.size(), plaintext_size_ - offset);
  const uint64_t first = params_.first_plaintext_segment_size();
  const uint64_t full = params_.plaintext_segment_size();
  size_t done = 0;
  while (done < want) {
    const uint64_t pos = offset + done;
    const uint64_t segment = pos < first ? 0 : 1 + (pos - first) / full;
    absl::StatusOr<std::span<const uint8_t>> plain = DecryptSegment(segment);
    if (!plain.ok()) return plain.status();
    const uint64_t within = pos - SegmentPlaintextOffset(segment);
    const size_t n = static_cast<size_t>(
        std::min<uint64_t>(want - done, plain->size() - within));
    if (n == 0) {
      return absl::InternalError(
          absl::StrCat("segment ", segment, ": no plaintext at offset ", pos));
    }
    std::memcpy(out.data() + done, plain->data() + within, n);
    done += n;
  }
  // A read that reaches the end proves it: the last segment must
  // authenticate (with the last-segment nonce) even if the range is empty.
  if (offset + out.size() >= plaintext_size_ &&
      cached_segment_ != segment_count_ - 1) {
    if (absl::Status s = DecryptSegment(segment_count_ - 1).status(); !s.ok()) {
      return s;
    }
  }
  return done;
}

}  // namespace strongroom::storage
