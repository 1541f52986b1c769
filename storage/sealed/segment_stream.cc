#include "storage/sealed/segment_stream.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/status_macros.h"
#include "storage/sealed/parallel_decrypt.h"
#include "storage/sealed/segment_layout.h"

namespace strongroom::storage::sealed {

using storage::kStreamingAeadNoncePrefixSize;
using storage::StreamingAeadParams;

// --- SegmentSplitter ---------------------------------------------------------

SegmentSplitter::SegmentSplitter(const StreamingAeadParams& params, HeaderFn on_header,
                                 SegmentFn on_segment)
    : params_(params), on_header_(std::move(on_header)), on_segment_(std::move(on_segment)) {}

size_t SegmentSplitter::CurrentSegmentSize() const {
  return segments_ == 0 ? params_.first_ciphertext_segment_size() : params_.ciphertext_segment_size;
}

absl::Status SegmentSplitter::Emit(std::span<const uint8_t> segment) {
  if (absl::Status s = on_segment_(segments_, segment); !s.ok()) return s;
  ++segments_;
  stream_bytes_ += segment.size();
  return absl::OkStatus();
}

absl::Status SegmentSplitter::Append(std::span<const uint8_t> data) {
  while (!data.empty()) {
    if (header_.size() < params_.header_size()) {
      const size_t take = std::min(data.size(), params_.header_size() - header_.size());
      header_.insert(header_.end(), data.begin(), data.begin() + take);
      data = data.subspan(take);
      if (header_.size() == params_.header_size()) {
        if (absl::Status s = on_header_(header_); !s.ok()) return s;
        stream_bytes_ += header_.size();
      }
      continue;
    }
    const size_t full = CurrentSegmentSize();
    if (buffer_.empty() && data.size() >= full) {  // a whole segment: no copy
      if (absl::Status s = Emit(data.first(full)); !s.ok()) return s;
      data = data.subspan(full);
      continue;
    }
    const size_t take = std::min(data.size(), full - buffer_.size());
    buffer_.insert(buffer_.end(), data.begin(), data.begin() + take);
    data = data.subspan(take);
    if (buffer_.size() == full) {
      if (absl::Status s = Emit(buffer_); !s.ok()) return s;
      buffer_.clear();
    }
  }
  return absl::OkStatus();
}

absl::Status SegmentSplitter::Finish() {
  if (header_.size() < params_.header_size()) {
    return absl::FailedPreconditionError("segment splitter: the stream header never arrived");
  }
  if (!buffer_.empty()) {
    if (absl::Status s = Emit(buffer_); !s.ok()) return s;
    buffer_.clear();
  }
  return absl::OkStatus();
}

// --- SegmentStreamReader -------------------------------------------------------

// Serves the stream header and, at segment offsets, segments pulled in order
// from the transport; holds one segment at a time.
class SegmentStreamReader::Source final : public storage::RandomAccessSource {
 public:
  Source(const StreamingAeadParams& params, Bytes header, uint64_t stream_bytes, NextFn next)
      : params_(params),
        header_(std::move(header)),
        stream_bytes_(stream_bytes),
        next_(std::move(next)) {}

  absl::StatusOr<uint64_t> Size() override { return stream_bytes_; }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    const uint64_t header_size = header_.size();
    if (offset < header_size) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), header_size - offset));
      std::memcpy(out.data(), header_.data() + offset, n);
      return n;
    }
    ASSIGN_OR_RETURN(const Segment* segment, SegmentAt(offset));
    const size_t n = std::min(out.size(), segment->data.size());
    std::memcpy(out.data(), segment->data.data(), n);
    return n;
  }

  // Whole segments are lent, not copied (the header is copied by ReadAt).
  absl::StatusOr<std::optional<std::span<const uint8_t>>> ViewAt(uint64_t offset,
                                                                 size_t length) override {
    if (offset < header_.size()) return std::optional<std::span<const uint8_t>>();
    ASSIGN_OR_RETURN(const Segment* segment, SegmentAt(offset));
    return std::optional<std::span<const uint8_t>>(
        AsBytes(segment->data).first(std::min(length, segment->data.size())));
  }

  // Segment `index`'s stored bytes, pulled from the transport as SegmentAt
  // does and handed over (the source keeps no copy).
  absl::StatusOr<std::string> Take(uint64_t index) {
    const uint64_t offset = index == 0 ? header_.size() : index * params_.ciphertext_segment_size;
    RETURN_IF_ERROR(SegmentAt(offset).status());
    std::string data = std::move(current_->data);
    current_->data.clear();
    return data;
  }

 private:
  // The segment starting at `offset` (past the header), pulled from the
  // transport as far as needed.
  absl::StatusOr<const Segment*> SegmentAt(uint64_t offset) {
    const uint64_t header_size = header_.size();
    uint64_t index = 0;
    if (offset != header_size) {
      if (offset % params_.ciphertext_segment_size != 0) {
        return absl::InternalError(
            absl::StrCat("segment stream: read at ", offset, " is not at a segment boundary"));
      }
      index = offset / params_.ciphertext_segment_size;
    }
    while (!current_.has_value() || current_->index < index) {
      absl::StatusOr<std::optional<Segment>> next = next_();
      if (!next.ok()) return next.status();
      if (!next->has_value()) {
        return absl::DataLossError(
            absl::StrCat("truncated: the store's stream ended before segment ", index));
      }
      if (current_.has_value() && (*next)->index <= current_->index) {
        return absl::DataLossError(absl::StrCat("segment ", (*next)->index,
                                                ": sent again or out of order after segment ",
                                                current_->index));
      }
      if ((*next)->index != index) {
        return absl::DataLossError(absl::StrCat("segment ", index, ": the store sent segment ",
                                                (*next)->index, " instead"));
      }
      // Exactly the segment's bytes: the decryption reads only its own
      // length, so extra bytes would otherwise pass unnoticed.
      if (layout_.has_value() && index < layout_->segment_count() &&
          (*next)->data.size() != layout_->SegmentSize(index)) {
        return absl::DataLossError(absl::StrCat("segment ", index, ": the store sent ",
                                                (*next)->data.size(), " bytes, expected ",
                                                layout_->SegmentSize(index)));
      }
      current_ = std::move(*next);
    }
    if (current_->index != index) {
      return absl::InternalError(absl::StrCat("segment stream: segment ", index,
                                              " asked for after segment ", current_->index));
    }
    return &*current_;
  }

  const StreamingAeadParams params_;
  const Bytes header_;
  const uint64_t stream_bytes_;
  NextFn next_;
  std::optional<Segment> current_;

 public:
  // Set once the stream's size is known to be valid (before any read).
  std::optional<SegmentLayout> layout_;
};

SegmentStreamReader::SegmentStreamReader(
    std::unique_ptr<Source> source,
    std::unique_ptr<storage::StreamingAeadRandomAccessReader> reader, SegmentLayout layout)
    : source_(std::move(source)), layout_(layout), reader_(std::move(reader)) {}

SegmentStreamReader::~SegmentStreamReader() = default;

absl::StatusOr<std::unique_ptr<SegmentStreamReader>> SegmentStreamReader::Create(
    const SecretBytes& key, const StreamingAeadParams& params,
    std::span<const uint8_t> associated_data, std::span<const uint8_t> stream_header,
    uint64_t stream_bytes, NextFn next) {
  if (params.ciphertext_offset != 0) {
    return absl::InvalidArgumentError("ciphertext_offset: sealed streams use 0");
  }
  auto source = std::make_unique<Source>(params, Bytes(stream_header.begin(), stream_header.end()),
                                         stream_bytes, std::move(next));
  absl::StatusOr<std::unique_ptr<storage::StreamingAeadRandomAccessReader>> reader =
      storage::StreamingAeadRandomAccessReader::Create(key, params, associated_data, source.get());
  if (!reader.ok()) return reader.status();
  // The reader accepted the size, so the layout exists.
  absl::StatusOr<SegmentLayout> layout = SegmentLayout::ForStreamSize(params, stream_bytes);
  if (!layout.ok()) return absl::DataLossError(layout.status().message());
  source->layout_ = *layout;
  return std::unique_ptr<SegmentStreamReader>(
      new SegmentStreamReader(std::move(source), *std::move(reader), *layout));
}

absl::StatusOr<std::span<const uint8_t>> SegmentStreamReader::DecryptSegment(uint64_t i) {
  return reader_->DecryptSegment(i);
}

absl::Status SegmentStreamReader::CopyRange(uint64_t start, uint64_t end, storage::ByteSink* sink,
                                            const std::function<void(uint64_t)>& progress,
                                            int threads) {
  const SegmentLayout* layout = &layout_;
  end = std::min(end, layout->plaintext_size());
  absl::StatusOr<SegmentLayout::Span> span = layout->SegmentsForRange(start, end);
  if (!span.ok()) {
    return absl::Status(span.status().code(), absl::StrCat("range: ", span.status().message()));
  }
  // Whether segment i's plaintext lies wholly inside [start, end) (and is
  // not empty); those segments are contiguous: [whole_first, whole_end).
  auto whole = [&](uint64_t i) {
    const uint64_t at = layout->SegmentPlaintextOffset(i), size = reader_->SegmentPlaintextSize(i);
    return size > 0 && start <= at && at + size <= end;
  };
  uint64_t whole_first = span->first, whole_end = span->end;
  while (whole_first < whole_end && !whole(whole_first)) ++whole_first;
  while (whole_end > whole_first && !whole(whole_end - 1)) --whole_end;
  const bool parallel = threads > 1 && whole_end - whole_first >= 2;
  uint64_t written = 0;
  for (uint64_t i = span->first; i < span->end; ++i) {
    if (parallel && i == whole_first) {
      // The whole segments at once, on `threads` threads, into one loan. A
      // sink that cannot lend that much (or threads that cannot start) gets
      // them one at a time below, with the sequential errors.
      const uint64_t bytes = layout->SegmentPlaintextOffset(whole_end - 1) +
                             reader_->SegmentPlaintextSize(whole_end - 1) -
                             layout->SegmentPlaintextOffset(whole_first);
      absl::StatusOr<std::span<uint8_t>> room = sink->Lend(static_cast<size_t>(bytes));
      if (room.ok() && room->size() == bytes) {
        const ParallelDecryptResult r = DecryptSegmentsInParallel(
            *reader_, whole_first, whole_end, *room, threads,
            [this](uint64_t k) { return source_->Take(k); });
        if (r.started) {
          if (r.good_bytes > 0) {
            RETURN_IF_ERROR(sink->Commit(static_cast<size_t>(r.good_bytes)));
            written += r.good_bytes;
            if (progress) progress(written);
          }
          RETURN_IF_ERROR(r.status);
          i = whole_end - 1;
          continue;
        }
      }
    }
    const uint64_t seg_start = layout->SegmentPlaintextOffset(i);
    if (whole(i)) {
      // A whole segment: straight into the sink's buffer where it lends one.
      const uint64_t seg_size = reader_->SegmentPlaintextSize(i);
      absl::StatusOr<std::span<uint8_t>> room = sink->Lend(static_cast<size_t>(seg_size));
      if (!room.ok()) return room.status();
      if (!room->empty()) {
        RETURN_IF_ERROR(reader_->DecryptSegmentInto(i, *room));
        RETURN_IF_ERROR(sink->Commit(room->size()));
        written += seg_size;
        if (progress) progress(written);
        continue;
      }
    }
    absl::StatusOr<std::span<const uint8_t>> plain = reader_->DecryptSegment(i);
    if (!plain.ok()) return plain.status();
    const uint64_t from = std::max(start, seg_start);
    const uint64_t to = std::min(end, seg_start + plain->size());
    if (from < to) {
      if (absl::Status s = sink->Append(plain->subspan(from - seg_start, to - from)); !s.ok()) {
        return s;
      }
      written += to - from;
      if (progress) progress(written);
    }
  }
  return absl::OkStatus();
}

// --- SegmentEncryptor ---------------------------------------------------------

absl::StatusOr<std::unique_ptr<SegmentEncryptor>> SegmentEncryptor::Create(
    const SecretBytes& key, const StreamingAeadParams& params,
    std::span<const uint8_t> associated_data, std::span<const uint8_t> stream_header) {
  if (absl::Status s = params.ValidateWithKeySize(key.size()); !s.ok()) return s;
  if (stream_header.size() != params.header_size()) {
    return absl::InvalidArgumentError(absl::StrCat("stream_header: ", stream_header.size(),
                                                   " bytes, expected ", params.header_size()));
  }
  absl::StatusOr<storage::StreamHeader> parsed = storage::ParseStreamHeader(params, stream_header);
  if (!parsed.ok()) return parsed.status();
  absl::StatusOr<std::unique_ptr<storage::SegmentCipher>> cipher =
      storage::SegmentCipher::Create(storage::SegmentCipher::Direction::kEncrypt, params, key,
                                     parsed->salt, parsed->nonce_prefix, associated_data);
  if (!cipher.ok()) return cipher.status();
  return std::unique_ptr<SegmentEncryptor>(new SegmentEncryptor(*std::move(cipher)));
}

absl::StatusOr<Bytes> SegmentEncryptor::Encrypt(uint64_t i, bool last,
                                                std::span<const uint8_t> plaintext) {
  Bytes out(plaintext.size() + storage::kStreamingAeadTagSize);
  if (absl::Status s = cipher_->Encrypt(i, last, plaintext, out); !s.ok()) return s;
  return out;
}

absl::Status SegmentEncryptor::EncryptInto(uint64_t i, bool last,
                                           std::span<const uint8_t> plaintext,
                                           std::span<uint8_t> out) {
  if (out.size() != plaintext.size() + storage::kStreamingAeadTagSize) {
    return absl::InvalidArgumentError(absl::StrCat("segment ", i, ": output of ", out.size(),
                                                   " bytes for ", plaintext.size(),
                                                   " bytes of plaintext"));
  }
  return cipher_->Encrypt(i, last, plaintext, out);
}

absl::StatusOr<Bytes> NewStreamHeader(const StreamingAeadParams& params) {
  if (absl::Status s = params.Validate(); !s.ok()) return s;
  Bytes salt(params.derived_key_size);
  Bytes prefix(kStreamingAeadNoncePrefixSize);
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1 ||
      RAND_bytes(prefix.data(), static_cast<int>(prefix.size())) != 1) {
    return absl::InternalError("stream header: RAND_bytes failed");
  }
  return storage::EncodeStreamHeader(salt, prefix);
}

}  // namespace strongroom::storage::sealed
