// Round trips, parameter checks, writer behaviour and memory bounds of the
// streaming AEAD writer and sequential reader.
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/streaming/streaming_aead_params.h"
#include "tests/storage/streaming/streaming_test_util.h"

namespace strongroom::storage {
namespace {

using ::strongroom::testing::StatusIs;
using testing::Decrypt;
using testing::DecryptRandomAccess;
using testing::Encrypt;
using ::testing::HasSubstr;
using testing::Pattern;

const SecretBytes& Key32() {
  static const SecretBytes* k =
      new SecretBytes(testing::KeyFrom("0123456789abcdef0123456789abcdef"));
  return *k;
}

StreamingAeadParams Params(HkdfHash hash, uint32_t dks, uint32_t segment,
                           uint32_t offset = 0) {
  StreamingAeadParams p;
  p.hkdf_hash = hash;
  p.derived_key_size = dks;
  p.ciphertext_segment_size = segment;
  p.ciphertext_offset = offset;
  return p;
}

// ---- parameters -----------------------------------------------------------

TEST(StreamingAeadParamsTest, RejectsBadValuesNamingTheField) {
  StreamingAeadParams p = Params(HkdfHash::kSha256, 24, 4096);
  EXPECT_THAT(p.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("derived_key_size: 24")));
  // Segment 0 must carry at least one plaintext byte: 40 + 16 = 56.
  p = Params(HkdfHash::kSha256, 32, 56);
  EXPECT_THAT(p.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("ciphertext_segment_size: 56")));
  EXPECT_OK(Params(HkdfHash::kSha256, 32, 57).Validate());
  EXPECT_THAT(Params(HkdfHash::kSha256, 32, 100, 44).Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("ciphertext_offset (44)")));
  EXPECT_THAT(Params(HkdfHash::kSha256, 32, (64u << 20) + 1).Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("exceeds the maximum")));
  EXPECT_THAT(
      Params(static_cast<HkdfHash>(7), 16, 4096).Validate(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hkdf_hash: 7")));
  EXPECT_THAT(
      Params(HkdfHash::kSha1, 32, 4096).ValidateWithKeySize(16),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key: 16 bytes")));
  EXPECT_THAT(
      Params(HkdfHash::kSha1, 16, 4096).ValidateWithKeySize(15),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key: 15 bytes")));
  EXPECT_OK(Params(HkdfHash::kSha1, 16, 4096).ValidateWithKeySize(16));
  EXPECT_THAT(ParseHkdfHash("MD5"), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("\"MD5\"")));
}

TEST(StreamingAeadParamsTest, WriterAndReadersRefuseBadParams) {
  StringSink sink;
  StringSource source("");
  const auto bad = Params(HkdfHash::kSha256, 20, 4096);
  EXPECT_THAT(StreamingAeadWriter::Create(Key32(), bad, {}, &sink),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(StreamingAeadReader::Create(Key32(), bad, {}, &source),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      StreamingAeadRandomAccessReader::Create(Key32(), bad, {}, &source),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(sink.data().empty());
}

TEST(StreamingAeadParamsTest, SizesFollowTheLayout) {
  const auto p = Params(HkdfHash::kSha256, 16, 64);  // header 24, first pt 24
  EXPECT_EQ(p.header_size(), 24u);
  EXPECT_EQ(p.first_plaintext_segment_size(), 24u);
  EXPECT_EQ(p.plaintext_segment_size(), 48u);
  EXPECT_EQ(p.SegmentCount(0), 1u);
  EXPECT_EQ(p.SegmentCount(24), 1u);
  EXPECT_EQ(p.SegmentCount(25), 2u);
  EXPECT_EQ(p.SegmentCount(72), 2u);
  EXPECT_EQ(p.SegmentCount(73), 3u);
  EXPECT_THAT(p.CiphertextSize(0), testing::IsOkAndHolds(40u));
  EXPECT_THAT(p.CiphertextSize(uint64_t{48} << 32),
              StatusIs(absl::StatusCode::kOutOfRange));
}

// ---- round trips ----------------------------------------------------------

struct RoundTripCase {
  const char* name;
  StreamingAeadParams params;
};

class RoundTripTest : public ::testing::TestWithParam<RoundTripCase> {
 protected:
  // Sizes around the first and second segment boundaries, and several
  // segments.
  std::vector<size_t> Sizes() const {
    const auto& p = GetParam().params;
    const size_t first = p.first_plaintext_segment_size();
    const size_t full = p.plaintext_segment_size();
    return {0,
            1,
            first - 1,
            first,
            first + 1,
            first + full - 1,
            first + full,
            first + full + 1,
            first + 5 * full + 7,
            first + 6 * full};
  }
};

TEST_P(RoundTripTest, EverySizeAroundSegmentBoundaries) {
  const auto& p = GetParam().params;
  for (size_t n : Sizes()) {
    SCOPED_TRACE(n);
    const std::string pt = Pattern(n, 3);
    ASSERT_OK_AND_ASSIGN(std::string ct, Encrypt(Key32(), p, "object-a", pt));
    EXPECT_THAT(p.CiphertextSize(n), testing::IsOkAndHolds(ct.size()));
    EXPECT_EQ(static_cast<uint8_t>(ct[0]), p.header_size());
    EXPECT_THAT(Decrypt(Key32(), p, "object-a", ct), testing::IsOkAndHolds(pt));
    // Tink's random-access layout counts ciphertext_offset caller bytes first.
    const std::string prefixed = std::string(p.ciphertext_offset, 'P') + ct;
    EXPECT_THAT(DecryptRandomAccess(Key32(), p, "object-a", prefixed),
                testing::IsOkAndHolds(pt));
  }
}

TEST_P(RoundTripTest, WriteChunkingDoesNotChangeTheCiphertext) {
  const auto& p = GetParam().params;
  const std::string pt = Pattern(
      p.first_plaintext_segment_size() + 3 * p.plaintext_segment_size() + 5, 9);
  const Bytes salt(p.derived_key_size, 0xAB), prefix(7, 0xCD);
  std::string reference;
  for (size_t chunk :
       {size_t{0}, size_t{1}, size_t{7}, p.plaintext_segment_size(),
        p.plaintext_segment_size() + 1}) {
    SCOPED_TRACE(chunk);
    StringSink sink;
    ASSERT_OK_AND_ASSIGN(
        auto w, StreamingAeadWriter::CreateWithSaltAndNoncePrefixForTesting(
                    Key32(), p, AsBytes("aad"), salt, prefix, &sink));
    const size_t step = chunk == 0 ? pt.size() : chunk;
    for (size_t i = 0; i < pt.size(); i += step) {
      ASSERT_OK(w->Write(AsBytes(absl::string_view(pt).substr(i, step))));
    }
    ASSERT_OK(w->Write({}));  // empty writes are no-ops
    ASSERT_OK(w->Finish());
    if (reference.empty()) reference = sink.data();
    EXPECT_EQ(sink.data(), reference);
  }
  EXPECT_THAT(Decrypt(Key32(), p, "aad", reference), testing::IsOkAndHolds(pt));
}

TEST_P(RoundTripTest, ReaderReadsInAnyChunkSize) {
  const auto& p = GetParam().params;
  const std::string pt = Pattern(p.first_plaintext_segment_size() +
                                 4 * p.plaintext_segment_size() + 3);
  ASSERT_OK_AND_ASSIGN(std::string ct, Encrypt(Key32(), p, "", pt));
  for (size_t read_size : {size_t{1}, size_t{13}, size_t{4096}}) {
    for (size_t trickle : {size_t{1}, size_t{5}, size_t{1} << 20}) {
      SCOPED_TRACE(::testing::Message() << read_size << "/" << trickle);
      StringSource inner(ct);
      testing::TricklingSource source(&inner, trickle);
      ASSERT_OK_AND_ASSIGN(
          auto r, StreamingAeadReader::Create(Key32(), p, {}, &source));
      std::string got;
      std::string buf(read_size, '\0');
      while (true) {
        ASSERT_OK_AND_ASSIGN(
            size_t n, r->Read(std::span<uint8_t>(
                          reinterpret_cast<uint8_t*>(buf.data()), buf.size())));
        if (n == 0) break;
        got.append(buf, 0, n);
      }
      EXPECT_TRUE(r->done());
      EXPECT_EQ(got, pt);
      // The end stays the end.
      EXPECT_THAT(r->Read(std::span<uint8_t>(
                      reinterpret_cast<uint8_t*>(buf.data()), buf.size())),
                  testing::IsOkAndHolds(0u));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Params, RoundTripTest,
    ::testing::Values(
        RoundTripCase{"Sha1Aes128Seg64", Params(HkdfHash::kSha1, 16, 64)},
        RoundTripCase{"Sha256Aes256Seg128", Params(HkdfHash::kSha256, 32, 128)},
        RoundTripCase{"Sha512Aes256Seg256Offset17",
                      Params(HkdfHash::kSha512, 32, 256, 17)},
        RoundTripCase{"Sha256Aes128Seg4096Offset8",
                      Params(HkdfHash::kSha256, 16, 4096, 8)}),
    [](const ::testing::TestParamInfo<RoundTripCase>& info) {
      return std::string(info.param.name);
    });

TEST(StreamingAeadTest, EmptyPlaintextIsOneTagOnlySegment) {
  const auto p = Params(HkdfHash::kSha256, 32, 4096);
  ASSERT_OK_AND_ASSIGN(std::string ct, Encrypt(Key32(), p, "", ""));
  EXPECT_EQ(ct.size(), p.header_size() + kStreamingAeadTagSize);
  StringSource source(ct);
  ASSERT_OK_AND_ASSIGN(auto r,
                       StreamingAeadReader::Create(Key32(), p, {}, &source));
  ASSERT_OK_AND_ASSIGN(auto seg, r->NextSegment());
  EXPECT_TRUE(seg.empty());
  EXPECT_TRUE(r->done());
  EXPECT_EQ(r->segments_read(), 1u);
}

TEST(StreamingAeadTest, FreshSaltAndNoncePrefixPerStream) {
  const auto p = Params(HkdfHash::kSha256, 32, 4096);
  ASSERT_OK_AND_ASSIGN(std::string a, Encrypt(Key32(), p, "", "same"));
  ASSERT_OK_AND_ASSIGN(std::string b, Encrypt(Key32(), p, "", "same"));
  EXPECT_NE(a.substr(1, p.header_size() - 1), b.substr(1, p.header_size() - 1));
  EXPECT_NE(a, b);
}

// ---- writer state and faults ---------------------------------------------

TEST(StreamingAeadWriterTest, CallsAfterFinishFail) {
  StringSink sink;
  ASSERT_OK_AND_ASSIGN(
      auto w, StreamingAeadWriter::Create(
                  Key32(), Params(HkdfHash::kSha1, 16, 64), {}, &sink));
  ASSERT_OK(w->Write(AsBytes("abc")));
  ASSERT_OK(w->Finish());
  EXPECT_THAT(w->Write(AsBytes("d")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("already finished")));
  EXPECT_THAT(w->Finish(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(StreamingAeadWriterTest, SinkFailureIsReturnedAndSticky) {
  const auto p = Params(HkdfHash::kSha1, 16, 64);
  StringSink real;
  // Header (24) and the first segment (40) pass; the second segment fails.
  testing::FailingSink sink(&real, 64);
  ASSERT_OK_AND_ASSIGN(auto w,
                       StreamingAeadWriter::Create(Key32(), p, {}, &sink));
  const std::string pt = Pattern(200);
  EXPECT_THAT(w->Write(AsBytes(pt)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("injected")));
  EXPECT_EQ(sink.written(), 64u);
  EXPECT_THAT(w->Finish(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                    HasSubstr("injected")));
  // What reached the sink is a truncated stream, and is refused.
  EXPECT_THAT(Decrypt(Key32(), p, "", real.data()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("truncated")));
}

TEST(StreamingAeadWriterTest, HeaderWriteFailureFailsCreate) {
  StringSink real;
  testing::FailingSink sink(&real, 0);
  EXPECT_THAT(StreamingAeadWriter::Create(
                  Key32(), Params(HkdfHash::kSha1, 16, 64), {}, &sink),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST(StreamingAeadWriterTest, UnfinishedStreamIsRefused) {
  const auto p = Params(HkdfHash::kSha1, 16, 64);
  StringSink sink;
  {
    ASSERT_OK_AND_ASSIGN(auto w,
                         StreamingAeadWriter::Create(Key32(), p, {}, &sink));
    ASSERT_OK(w->Write(AsBytes(Pattern(300))));
  }  // destroyed without Finish()
  EXPECT_THAT(Decrypt(Key32(), p, "", sink.data()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("truncated")));
}

// ---- bounded memory -------------------------------------------------------

TEST(StreamingAeadWriterTest, EmitsEachSegmentAsSoonAsTheNextByteArrives) {
  const auto p = Params(HkdfHash::kSha256, 32, 128);  // first pt 72, then 112
  StringSink sink;
  ASSERT_OK_AND_ASSIGN(auto w,
                       StreamingAeadWriter::Create(Key32(), p, {}, &sink));
  EXPECT_EQ(sink.data().size(), 40u);  // header only
  ASSERT_OK(w->Write(AsBytes(Pattern(72))));
  EXPECT_EQ(sink.data().size(), 40u);  // segment 0 full, might be the last
  ASSERT_OK(w->Write(AsBytes("x")));
  EXPECT_EQ(sink.data().size(), 128u);  // now it is known to be a middle one
  for (int i = 0; i < 50; ++i) ASSERT_OK(w->Write(AsBytes(Pattern(112))));
  // 72 + 1 + 50 * 112 bytes in: segments 0..50 are out, one byte is held.
  EXPECT_EQ(sink.data().size(), 40 + 88 + 50 * 128u);
  ASSERT_OK(w->Finish());
  EXPECT_EQ(w->ciphertext_bytes(), sink.data().size());
}

TEST(StreamingAeadReaderTest, PullsAtMostOneSegmentAhead) {
  const auto p = Params(HkdfHash::kSha256, 32, 128);
  const std::string pt = Pattern(72 + 112 * 20);
  ASSERT_OK_AND_ASSIGN(std::string ct, Encrypt(Key32(), p, "", pt));
  StringSource inner(ct);
  testing::TricklingSource source(&inner, 1 << 20);
  ASSERT_OK_AND_ASSIGN(auto r,
                       StreamingAeadReader::Create(Key32(), p, {}, &source));
  EXPECT_EQ(source.consumed(), 40u);
  uint8_t byte;
  ASSERT_THAT(r->Read(std::span<uint8_t>(&byte, 1)), testing::IsOkAndHolds(1u));
  // Header, segment 0 and one byte of look-ahead.
  EXPECT_EQ(source.consumed(), 128u + 1);
  std::vector<uint8_t> rest(72 - 1 + 1);
  ASSERT_THAT(r->Read(rest), testing::IsOkAndHolds(rest.size()));
  EXPECT_EQ(source.consumed(), 2 * 128u + 1);
}

// Large stream: 64 MiB through 1 MiB segments, hashed on both sides so only
// the ciphertext is held; checks speed and that the plaintext survives.
class HashingSink final : public ByteSink {
 public:
  HashingSink() : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
  }
  ~HashingSink() override { EVP_MD_CTX_free(ctx_); }
  absl::Status Append(std::span<const uint8_t> data) override {
    EVP_DigestUpdate(ctx_, data.data(), data.size());
    bytes_ += data.size();
    return absl::OkStatus();
  }
  std::string Digest() {
    uint8_t d[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, d, &len);
    return HexEncode(std::span<const uint8_t>(d, len));
  }
  uint64_t bytes() const { return bytes_; }

 private:
  EVP_MD_CTX* ctx_;
  uint64_t bytes_ = 0;
};

TEST(StreamingAeadTest, SixtyFourMebibytesRoundTripQuickly) {
  const auto start = std::chrono::steady_clock::now();
  const StreamingAeadParams p;  // defaults: SHA256, AES-256, 1 MiB segments
  const uint64_t total = 64ull << 20;
  const std::string chunk = Pattern((1 << 20) + 7, 1);
  StringSink ct;
  HashingSink expected;
  {
    ASSERT_OK_AND_ASSIGN(
        auto w, StreamingAeadWriter::Create(Key32(), p, AsBytes("big"), &ct));
    uint64_t written = 0;
    while (written < total) {
      absl::string_view piece = absl::string_view(chunk).substr(
          0, std::min<uint64_t>(chunk.size(), total - written));
      ASSERT_OK(w->Write(AsBytes(piece)));
      ASSERT_OK(expected.Append(AsBytes(piece)));
      written += piece.size();
    }
    ASSERT_OK(w->Finish());
  }
  EXPECT_THAT(p.CiphertextSize(total), testing::IsOkAndHolds(ct.data().size()));
  StringSource source(ct.Release());
  ASSERT_OK_AND_ASSIGN(
      auto r, StreamingAeadReader::Create(Key32(), p, AsBytes("big"), &source));
  HashingSink got;
  ASSERT_OK(r->ReadAll(&got));
  EXPECT_EQ(got.bytes(), total);
  EXPECT_EQ(got.Digest(), expected.Digest());
  EXPECT_EQ(r->segments_read(), p.SegmentCount(total));
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  EXPECT_LT(seconds, 20.0);  // a few seconds on one core; generous for CI
}

// ---- file descriptors ----------------------------------------------------

TEST(StreamingAeadTest, FileDescriptorSinkAndSources) {
  char path[] = "/tmp/streaming_aead_test_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  const auto p = Params(HkdfHash::kSha512, 32, 256, 17);
  const std::string prefix(17, 'H');  // caller's bytes before the header
  ASSERT_EQ(write(fd, prefix.data(), prefix.size()), 17);
  const std::string pt = Pattern(5000, 4);
  {
    FdSink sink(fd);
    ASSERT_OK_AND_ASSIGN(
        auto w, StreamingAeadWriter::Create(Key32(), p, AsBytes("f"), &sink));
    ASSERT_OK(w->Write(AsBytes(pt)));
    ASSERT_OK(w->Finish());
  }
  // Sequential: the caller skips its own prefix, then the reader reads on.
  ASSERT_EQ(lseek(fd, 17, SEEK_SET), 17);
  FdSource source(fd);
  ASSERT_OK_AND_ASSIGN(
      auto r, StreamingAeadReader::Create(Key32(), p, AsBytes("f"), &source));
  StringSink out;
  ASSERT_OK(r->ReadAll(&out));
  EXPECT_EQ(out.data(), pt);
  // Random access: the source includes the prefix (Tink's layout).
  ASSERT_OK_AND_ASSIGN(auto ra, StreamingAeadRandomAccessReader::Create(
                                    Key32(), p, AsBytes("f"), &source));
  std::string range(1000, '\0');
  ASSERT_THAT(ra->ReadAt(2500, std::span<uint8_t>(
                                   reinterpret_cast<uint8_t*>(range.data()),
                                   range.size())),
              testing::IsOkAndHolds(1000u));
  EXPECT_EQ(range, pt.substr(2500, 1000));
  close(fd);
  EXPECT_THAT(
      FdSink(fd).Append(AsBytes("x")),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("write(fd")));
}

}  // namespace
}  // namespace strongroom::storage
