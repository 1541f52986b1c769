// The payload layer as the store's clients use it: Tink's streaming vectors
// (shared/vectors/streaming-aead/tink) decrypt when fed one segment per
// message through SegmentStreamReader; the splitter cuts a writer's output
// into exactly the vector's segments; and every way of tampering with the
// segment sequence is refused.
#include <random>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/file.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "storage/sealed/segment_stream.h"
#include "storage/streaming/streaming_aead_writer.h"
#include "tests/storage/sealed/sealed_test_util.h"
#include "tests/storage/streaming/lending_sink.h"

namespace strongroom::storage::sealed {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using Segment = SegmentStreamReader::Segment;
using ::strongroom::storage::testing::LendingSink;

struct Vector {
  int id = 0;
  StreamingAeadParams params;
  Bytes key, aad;
  std::string plaintext, ciphertext;
  size_t header_length = 0;
  std::vector<size_t> segment_lengths;
};

Bytes Unhex(const nlohmann::json& v, const char* field) {
  absl::StatusOr<Bytes> b = HexDecode(v.at(field).get<std::string>(), field);
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? *b : Bytes();
}

std::vector<Vector> LoadVectors() {
  absl::StatusOr<std::string> text =
      ReadFileToString(std::string(STRONGROOM_VECTORS_DIR) +
                           "/streaming-aead/tink/aes_gcm_hkdf_streaming_vectors.json",
                       "tink vectors");
  EXPECT_TRUE(text.ok()) << text.status();
  if (!text.ok()) return {};
  std::vector<Vector> out;
  const nlohmann::json doc = nlohmann::json::parse(*text);
  for (const auto& v : doc.at("vectors")) {
    Vector t;
    t.id = v.at("id").get<int>();
    absl::StatusOr<HkdfHash> hash = ParseHkdfHash(v.at("hkdfHash").get<std::string>());
    EXPECT_TRUE(hash.ok());
    t.params.hkdf_hash = *hash;
    t.params.derived_key_size = v.at("derivedKeySizeBytes").get<uint32_t>();
    t.params.ciphertext_segment_size = v.at("ciphertextSegmentSize").get<uint32_t>();
    t.key = Unhex(v, "key");
    t.aad = Unhex(v, "aad");
    Bytes p = Unhex(v, "plaintext"), c = Unhex(v, "ciphertext");
    t.plaintext.assign(p.begin(), p.end());
    t.ciphertext.assign(c.begin(), c.end());
    t.header_length = v.at("headerLength").get<size_t>();
    t.segment_lengths = v.at("ciphertextSegmentLengths").get<std::vector<size_t>>();
    out.push_back(std::move(t));
  }
  return out;
}

const std::vector<Vector>& Vectors() {
  static const auto* v = new std::vector<Vector>(LoadVectors());
  return *v;
}

std::vector<Segment> Cut(const Vector& v) {
  std::vector<Segment> out;
  size_t pos = v.header_length;
  for (size_t i = 0; i < v.segment_lengths.size(); ++i) {
    out.push_back({i, v.ciphertext.substr(pos, v.segment_lengths[i])});
    pos += v.segment_lengths[i];
  }
  return out;
}


absl::Status DecryptInto(const Vector& v, std::vector<Segment> segments, uint64_t start,
                         uint64_t end, ByteSink& sink, int threads = 1) {
  size_t next = 0;
  ASSIGN_OR_RETURN(auto reader,
                   SegmentStreamReader::Create(
                       SecretBytes::CopyFrom(v.key), v.params, v.aad,
                       AsBytes(absl::string_view(v.ciphertext).substr(0, v.header_length)),
                       v.ciphertext.size(), [&]() -> absl::StatusOr<std::optional<Segment>> {
                         if (next == segments.size()) return std::nullopt;
                         return segments[next++];
                       }));
  return reader->CopyRange(start, end, &sink, nullptr, threads);
}

// Decrypts into a sink that copies and one that lends, the latter also on
// two and three threads; all must agree.
absl::StatusOr<std::string> Decrypt(const Vector& v, std::vector<Segment> segments,
                                    uint64_t start = 0, uint64_t end = UINT64_MAX) {
  StringSink copied;
  LendingSink lent;
  const absl::Status a = DecryptInto(v, segments, start, end, copied);
  const absl::Status b = DecryptInto(v, segments, start, end, lent);
  EXPECT_EQ(a, b) << "vector " << v.id;
  if (a.ok()) {
    EXPECT_EQ(copied.data(), lent.committed()) << "vector " << v.id;
  }
  for (int threads : {2, 3}) {
    LendingSink parallel;
    EXPECT_EQ(DecryptInto(v, segments, start, end, parallel, threads), a)
        << "vector " << v.id << ", " << threads << " threads";
    // On failure too: the segments before the failing one, as sequentially.
    EXPECT_EQ(parallel.committed(), a.ok() ? copied.data() : lent.committed())
        << "vector " << v.id << ", " << threads << " threads";
  }
  if (!a.ok()) return a;
  return copied.Release();
}

TEST(PayloadVectorsTest, VectorsAreLoaded) { EXPECT_GE(Vectors().size(), 8u); }

TEST(PayloadVectorsTest, EveryVectorDecryptsSegmentBySegment) {
  for (const Vector& v : Vectors()) {
    absl::StatusOr<std::string> plain = Decrypt(v, Cut(v));
    ASSERT_TRUE(plain.ok()) << "vector " << v.id << ": " << plain.status();
    EXPECT_EQ(*plain, v.plaintext) << "vector " << v.id;
  }
}

TEST(PayloadVectorsTest, EveryRangeOfEveryVectorDecrypts) {
  for (const Vector& v : Vectors()) {
    const uint64_t n = v.plaintext.size();
    for (uint64_t a = 0; a <= n; a += 7) {
      for (uint64_t b = a; b <= n; b += 11) {
        // The store sends only the segments a range needs (SegmentLayout).
        ASSERT_OK_AND_ASSIGN(SegmentLayout layout,
                             SegmentLayout::ForStreamSize(v.params, v.ciphertext.size()));
        ASSERT_OK_AND_ASSIGN(SegmentLayout::Span span, layout.SegmentsForRange(a, b));
        std::vector<Segment> all = Cut(v), sent(all.begin() + span.first, all.begin() + span.end);
        absl::StatusOr<std::string> part = Decrypt(v, sent, a, b);
        ASSERT_TRUE(part.ok()) << "vector " << v.id << " [" << a << "," << b
                               << "): " << part.status();
        EXPECT_EQ(*part, v.plaintext.substr(a, b - a));
      }
    }
  }
}

TEST(PayloadVectorsTest, SplitterCutsTheWritersOutputIntoTheVectorsSegments) {
  for (const Vector& v : Vectors()) {
    for (size_t chunk : {size_t{1}, size_t{5}, size_t{64}, size_t{0}}) {
      std::string header;
      std::vector<std::string> segments;
      SegmentSplitter splitter(
          v.params,
          [&](std::span<const uint8_t> h) {
            header = std::string(AsStringView(h));
            return absl::OkStatus();
          },
          [&](uint64_t i, std::span<const uint8_t> s) {
            EXPECT_EQ(i, segments.size());
            segments.emplace_back(AsStringView(s));
            return absl::OkStatus();
          });
      // Re-encrypt with the vector's salt and nonce prefix: byte for byte.
      const std::string vh = v.ciphertext.substr(0, v.header_length);
      ASSERT_OK_AND_ASSIGN(
          auto writer,
          StreamingAeadWriter::CreateWithSaltAndNoncePrefixForTesting(
              SecretBytes::CopyFrom(v.key), v.params, v.aad,
              AsBytes(absl::string_view(vh).substr(1, v.params.derived_key_size)),
              AsBytes(absl::string_view(vh).substr(1 + v.params.derived_key_size)), &splitter));
      const size_t step = chunk == 0 ? std::max<size_t>(1, v.plaintext.size()) : chunk;
      for (size_t i = 0; i < v.plaintext.size(); i += step) {
        ASSERT_OK(writer->Write(AsBytes(absl::string_view(v.plaintext).substr(i, step))));
      }
      ASSERT_OK(writer->Finish());
      ASSERT_OK(splitter.Finish());
      EXPECT_EQ(header, vh);
      ASSERT_EQ(segments.size(), v.segment_lengths.size()) << "vector " << v.id;
      std::vector<Segment> cut = Cut(v);
      for (size_t i = 0; i < segments.size(); ++i) EXPECT_EQ(segments[i], cut[i].data);
      EXPECT_EQ(splitter.stream_bytes(), v.ciphertext.size());
    }
  }
}

TEST(PayloadVectorsTest, SegmentEncryptorReproducesEverySegment) {
  for (const Vector& v : Vectors()) {
    ASSERT_OK_AND_ASSIGN(auto enc,
                         SegmentEncryptor::Create(
                             SecretBytes::CopyFrom(v.key), v.params, v.aad,
                             AsBytes(absl::string_view(v.ciphertext).substr(0, v.header_length))));
    std::vector<Segment> cut = Cut(v);
    ASSERT_OK_AND_ASSIGN(SegmentLayout layout,
                         SegmentLayout::ForStreamSize(v.params, v.ciphertext.size()));
    // Backwards, as a resumed job would start in the middle.
    for (size_t k = cut.size(); k-- > 0;) {
      const uint64_t off = layout.SegmentPlaintextOffset(k);
      const std::string plain = v.plaintext.substr(off, cut[k].data.size() - kStreamingAeadTagSize);
      ASSERT_OK_AND_ASSIGN(Bytes ct, enc->Encrypt(k, k + 1 == cut.size(), AsBytes(plain)));
      EXPECT_EQ(AsStringView(ct), cut[k].data) << "vector " << v.id << " segment " << k;
    }
  }
}

// A vector with at least three segments, for the tampering cases.
const Vector& Long() {
  for (const Vector& v : Vectors()) {
    if (v.segment_lengths.size() >= 3) return v;
  }
  ADD_FAILURE() << "no vector with three segments";
  return Vectors().front();
}

TEST(PayloadTamperTest, ReorderedSegmentsFail) {
  std::vector<Segment> s = Cut(Long());
  std::swap(s[1].data, s[2].data);  // indexes in order, contents swapped
  EXPECT_THAT(Decrypt(Long(), s), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("segment 1")));
}

TEST(PayloadTamperTest, OutOfOrderDeliveryFails) {
  std::vector<Segment> s = Cut(Long());
  std::swap(s[1], s[2]);
  EXPECT_THAT(Decrypt(Long(), s), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("segment")));
}

TEST(PayloadTamperTest, DroppedSegmentFails) {
  std::vector<Segment> s = Cut(Long());
  s.erase(s.begin() + 1);
  EXPECT_THAT(Decrypt(Long(), s),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("segment 1: the store sent")));
}

TEST(PayloadTamperTest, DuplicatedSegmentFails) {
  std::vector<Segment> s = Cut(Long());
  s.insert(s.begin() + 2, s[1]);
  EXPECT_THAT(Decrypt(Long(), s), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("again")));
  // The duplicate relabelled as the next segment does not authenticate there.
  s = Cut(Long());
  s[2].data = s[1].data;
  EXPECT_FALSE(Decrypt(Long(), s).ok());
}

TEST(PayloadTamperTest, TruncatedStreamFails) {
  const Vector& v = Long();
  std::vector<Segment> s = Cut(v);
  s.pop_back();
  EXPECT_THAT(Decrypt(v, s), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("truncated")));
  // A store that also lies about the size: the new last segment is not one.
  Vector shorter = v;
  shorter.ciphertext.resize(v.ciphertext.size() - v.segment_lengths.back());
  EXPECT_THAT(Decrypt(shorter, s), StatusIs(absl::StatusCode::kDataLoss));
}

// A segment message with bytes past the segment (or short of it) is refused,
// on one thread and on several, though decryption reads only its length.
TEST(PayloadTamperTest, ASegmentOfTheWrongSizeFails) {
  std::vector<Segment> s = Cut(Long());
  const size_t size = s[1].data.size();
  s[1].data.push_back('x');
  EXPECT_THAT(Decrypt(Long(), s),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr(absl::StrCat("segment 1: the store sent ", size + 1,
                                              " bytes, expected ", size))));
  s = Cut(Long());
  s.back().data.push_back('x');  // the last, shorter one too
  EXPECT_THAT(Decrypt(Long(), s),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("bytes, expected")));
  s = Cut(Long());
  s[0].data.pop_back();
  EXPECT_THAT(Decrypt(Long(), s),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("bytes, expected")));
}

TEST(PayloadTamperTest, FlippedBitFails) {
  std::vector<Segment> s = Cut(Long());
  s[1].data[3] ^= 0x01;
  EXPECT_THAT(Decrypt(Long(), s),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("segment 1: ciphertext does not")));
}

TEST(PayloadTamperTest, LentBufferKeepsOnlyAuthenticatedSegments) {
  // Segment 0 decrypts into the sink's buffer and is committed; segment 1
  // fails: nothing of it is committed, and what was written into the loan
  // is wiped.
  const Vector& v = Long();
  std::vector<Segment> s = Cut(v);
  s[1].data[3] ^= 0x01;
  LendingSink sink;
  EXPECT_THAT(DecryptInto(v, s, 0, UINT64_MAX, sink), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(sink.lends(), 2);
  const size_t first = v.segment_lengths[0] - kStreamingAeadTagSize;
  EXPECT_EQ(sink.committed(), v.plaintext.substr(0, first));
  const size_t second = v.segment_lengths[1] - kStreamingAeadTagSize;
  EXPECT_EQ(sink.uncommitted(), std::string(second, '\0'));
  // A range that starts inside a segment lends only for the whole ones.
  LendingSink part;
  ASSERT_OK(DecryptInto(v, Cut(v), 1, UINT64_MAX, part));
  EXPECT_EQ(part.committed(), v.plaintext.substr(1));
  EXPECT_EQ(part.lends(), static_cast<int>(v.segment_lengths.size()) - 1);
}

// Opens `parts` into a lending sink on `threads` threads; `fail_take` > 0
// makes the transport fail when segment fail_take - 1 is asked for.
absl::Status OpenParallel(const SecretBytes& key, const testing::SealedParts& parts,
                          std::vector<Segment> segments, int threads, LendingSink& sink,
                          uint64_t start = 0, size_t fail_take = 0) {
  size_t next = 0;
  ASSIGN_OR_RETURN(auto reader,
                   SegmentStreamReader::Create(
                       key, parts.header.params, AssociatedData(parts.header),
                       parts.header.stream_header, parts.stream_bytes,
                       [&]() -> absl::StatusOr<std::optional<Segment>> {
                         if (fail_take > 0 && next + 1 == fail_take) {
                           return absl::UnavailableError("transport: connection reset");
                         }
                         if (next == segments.size()) return std::nullopt;
                         return segments[next++];
                       }));
  return reader->CopyRange(start, UINT64_MAX, &sink, nullptr, threads);
}

TEST(PayloadParallelTest, ManySegmentsOnManyThreadsFailAsTheSequentialReaderDoes) {
  // 150 segments of 256 bytes: the queue fills and drains many times.
  const SecretBytes key = SecretBytes::Random(32);
  std::string plain(150 * (256 - 16) - 40 - 16 - 100, '\0');
  for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<char>(i * 131 + 7);
  ASSERT_OK_AND_ASSIGN(testing::SealedParts parts,
                       testing::Seal(key, "ds", "big", 1, plain, /*segment_size=*/256));
  ASSERT_GE(parts.segments.size(), 140u);
  std::vector<Segment> all;
  for (size_t i = 0; i < parts.segments.size(); ++i) all.push_back({i, parts.segments[i]});
  const size_t n = all.size();
  for (int threads : {2, 3, 8}) {
    SCOPED_TRACE(threads);
    LendingSink whole;
    ASSERT_OK(OpenParallel(key, parts, all, threads, whole));
    EXPECT_EQ(whole.committed(), plain);
    EXPECT_EQ(whole.lends(), 1);
    // From inside segment 4: the store sends segments 4 on.
    LendingSink from;
    ASSERT_OK(OpenParallel(key, parts, std::vector<Segment>(all.begin() + 4, all.end()), threads,
                           from, /*start=*/1000));
    EXPECT_EQ(from.committed(), plain.substr(1000));
    // A bad segment first, in the middle, last: the segments before it are
    // kept, the rest of the loan wiped, the error is the sequential one.
    for (size_t bad : {size_t{0}, n / 2, n - 1}) {
      std::vector<Segment> s = all;
      s[bad].data[5] ^= 0x10;
      LendingSink sink;
      EXPECT_THAT(OpenParallel(key, parts, s, threads, sink),
                  StatusIs(absl::StatusCode::kDataLoss,
                           absl::StrCat("segment ", bad, ": ciphertext does not authenticate")));
      ASSERT_OK_AND_ASSIGN(SegmentLayout layout, SegmentLayout::ForStreamSize(
                                                     parts.header.params, parts.stream_bytes));
      const uint64_t kept = layout.SegmentPlaintextOffset(bad);
      EXPECT_EQ(sink.committed(), plain.substr(0, kept)) << bad;
      EXPECT_EQ(sink.uncommitted(), std::string(plain.size() - kept, '\0')) << bad;
    }
    // Two bad segments: the first one is named.
    std::vector<Segment> two = all;
    two[n - 3].data[9] ^= 0x01;
    two[7].data[9] ^= 0x01;
    LendingSink sink2;
    EXPECT_THAT(OpenParallel(key, parts, two, threads, sink2), StatusIs(absl::StatusCode::kDataLoss,
                                                                        HasSubstr("segment 7:")));
    // A sink that cannot lend the whole run gets the segments one at a
    // time, and fails as sequentially: the bad segment before the limit.
    std::vector<Segment> bad3 = all;
    bad3[3].data[5] ^= 0x10;
    LendingSink small(plain.size() / 2);
    EXPECT_THAT(OpenParallel(key, parts, bad3, threads, small),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("segment 3:")));
    EXPECT_EQ(small.committed(), plain.substr(0, 200 + 2 * 240));
    LendingSink small_ok(plain.size() / 2);
    EXPECT_THAT(OpenParallel(key, parts, all, threads, small_ok),
                StatusIs(absl::StatusCode::kResourceExhausted));
    // The transport failing on segment 60, and segments swapped after it.
    LendingSink cut;
    EXPECT_THAT(OpenParallel(key, parts, all, threads, cut, 0, /*fail_take=*/61),
                StatusIs(absl::StatusCode::kUnavailable, "transport: connection reset"));
    std::vector<Segment> swapped = all;
    std::swap(swapped[70], swapped[71]);
    LendingSink order;
    EXPECT_THAT(OpenParallel(key, parts, swapped, threads, order),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("segment 70")));
  }
}

TEST(PayloadTamperTest, SegmentFromAnotherObjectFails) {
  const SecretBytes key = SecretBytes::Random(32);
  const std::string plain(20000, 'x');
  ASSERT_OK_AND_ASSIGN(testing::SealedParts a, testing::Seal(key, "ds", "a", 1, plain));
  ASSERT_OK_AND_ASSIGN(testing::SealedParts b, testing::Seal(key, "ds", "b", 1, plain));
  std::vector<Segment> mixed;
  for (size_t i = 0; i < a.segments.size(); ++i) mixed.push_back({i, a.segments[i]});
  mixed[2].data = b.segments[2];  // same key, same position, same plaintext
  EXPECT_THAT(testing::Open(key, a.header, a.stream_bytes, mixed),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("segment 2")));
  // And a header of another identity (version) opens nothing.
  testing::SealedParts other = a;
  other.header.version = 2;
  mixed[2].data = a.segments[2];
  EXPECT_THAT(testing::Open(key, other.header, a.stream_bytes, mixed),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("segment 0")));
}

TEST(PayloadTamperTest, WrongKeyFails) {
  const SecretBytes key = SecretBytes::Random(32);
  ASSERT_OK_AND_ASSIGN(testing::SealedParts a, testing::Seal(key, "ds", "a", 1, "hello"));
  std::vector<Segment> s = {{0, a.segments[0]}};
  EXPECT_OK(testing::Open(key, a.header, a.stream_bytes, s).status());
  EXPECT_THAT(testing::Open(SecretBytes::Random(32), a.header, a.stream_bytes, s),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not authenticate")));
}

}  // namespace
}  // namespace strongroom::storage::sealed
