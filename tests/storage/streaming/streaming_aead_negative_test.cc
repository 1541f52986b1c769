// Tampering, truncation and misuse: every altered stream is refused with an
// error that names what went wrong and where, by both readers.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
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

// 16-byte AES keys, 64-byte segments: header 24, segment 0 holds 24 bytes of
// plaintext in 40, every other full segment 48 in 64.
StreamingAeadParams SmallParams() {
  StreamingAeadParams p;
  p.hkdf_hash = HkdfHash::kSha1;
  p.derived_key_size = 16;
  p.ciphertext_segment_size = 64;
  return p;
}

const SecretBytes& Key() {
  static const SecretBytes* k =
      new SecretBytes(testing::KeyFrom("fedcba9876543210fedcba9876543210"));
  return *k;
}

struct Segment {
  size_t start;
  size_t length;
};

std::vector<Segment> Segments(const StreamingAeadParams& p, size_t ct_size) {
  std::vector<Segment> out;
  size_t pos = p.header_size();
  size_t len = p.first_ciphertext_segment_size();
  while (pos < ct_size) {
    out.push_back({pos, std::min(len, ct_size - pos)});
    pos += len;
    len = p.ciphertext_segment_size;
  }
  return out;
}

class TamperTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    // Five segments; the last one short, or (param true) exactly full.
    pt_ = Pattern(24 + 3 * 48 + (GetParam() ? 48 : 20), 5);
    absl::StatusOr<std::string> ct = Encrypt(Key(), SmallParams(), "aad", pt_);
    ASSERT_OK(ct.status());
    ct_ = *ct;
    segments_ = Segments(SmallParams(), ct_.size());
    ASSERT_EQ(segments_.size(), 5u);
  }
  bool last_is_full() const { return GetParam(); }
  std::string Seg(size_t i) const {
    return ct_.substr(segments_[i].start, segments_[i].length);
  }

  // Both readers must refuse `ct` with `code` and a message matching `m`.
  template <typename M>
  void ExpectRefused(const std::string& ct, absl::StatusCode code, M m) {
    EXPECT_THAT(Decrypt(Key(), SmallParams(), "aad", ct), StatusIs(code, m))
        << "sequential";
    EXPECT_THAT(DecryptRandomAccess(Key(), SmallParams(), "aad", ct),
                StatusIs(code, m))
        << "random access";
  }

  std::string pt_;
  std::string ct_;
  std::vector<Segment> segments_;
};

TEST_P(TamperTest, IntactStreamDecrypts) {
  EXPECT_THAT(Decrypt(Key(), SmallParams(), "aad", ct_),
              testing::IsOkAndHolds(pt_));
  EXPECT_EQ(segments_.back().length, last_is_full() ? 64u : 36u);
}

TEST_P(TamperTest, TruncationAtEverySegmentBoundaryIsRefused) {
  // Ends right after the header, then after each segment but the last.
  ExpectRefused(ct_.substr(0, 24), absl::StatusCode::kDataLoss,
                HasSubstr("truncated: the stream ends after its header"));
  for (size_t i = 0; i + 1 < segments_.size(); ++i) {
    SCOPED_TRACE(i);
    const size_t end = segments_[i].start + segments_[i].length;
    ExpectRefused(ct_.substr(0, end), absl::StatusCode::kDataLoss,
                  absl::StrCat("truncated: the stream ends after segment ", i,
                               ", which is not its last segment"));
  }
}

TEST_P(TamperTest, EveryTruncationIsRefused) {
  for (size_t n = 0; n < ct_.size(); ++n) {
    SCOPED_TRACE(n);
    ExpectRefused(ct_.substr(0, n), absl::StatusCode::kDataLoss, HasSubstr(""));
  }
}

TEST_P(TamperTest, FlippedByteIsRefusedNamingItsSegment) {
  for (size_t pos = 0; pos < ct_.size(); ++pos) {
    SCOPED_TRACE(pos);
    std::string bad = ct_;
    bad[pos] ^= 0x01;
    if (pos == 0) {
      ExpectRefused(bad, absl::StatusCode::kInvalidArgument,
                    HasSubstr("header length byte: 25, expected 24"));
      continue;
    }
    // Salt and nonce-prefix bytes change every segment's key or nonce, so the
    // first segment already fails.
    size_t segment = 0;
    for (size_t i = 0; i < segments_.size(); ++i) {
      if (pos >= segments_[i].start) segment = i;
    }
    ExpectRefused(bad, absl::StatusCode::kDataLoss,
                  absl::StrCat("segment ", segment,
                               ": ciphertext does not authenticate"));
  }
}

TEST_P(TamperTest, SwappedSegmentsAreRefused) {
  std::string swapped = ct_.substr(0, segments_[1].start) + Seg(2) + Seg(1) +
                        ct_.substr(segments_[3].start);
  ASSERT_EQ(swapped.size(), ct_.size());
  ExpectRefused(swapped, absl::StatusCode::kDataLoss,
                "segment 1: ciphertext does not authenticate");
}

TEST_P(TamperTest, DuplicatedSegmentIsRefused) {
  std::string dup = ct_.substr(0, segments_[2].start) + Seg(1) +
                    ct_.substr(segments_[2].start);
  ExpectRefused(dup, absl::StatusCode::kDataLoss,
                "segment 2: ciphertext does not authenticate");
}

TEST_P(TamperTest, DroppedMiddleSegmentIsRefused) {
  std::string dropped =
      ct_.substr(0, segments_[2].start) + ct_.substr(segments_[3].start);
  ExpectRefused(dropped, absl::StatusCode::kDataLoss,
                "segment 2: ciphertext does not authenticate");
}

TEST_P(TamperTest, ReplacedLastSegmentFromAnotherStreamIsRefused) {
  ASSERT_OK_AND_ASSIGN(std::string other,
                       Encrypt(Key(), SmallParams(), "aad", pt_));
  std::string spliced =
      ct_.substr(0, segments_[4].start) + other.substr(segments_[4].start);
  ExpectRefused(spliced, absl::StatusCode::kDataLoss,
                "segment 4: ciphertext does not authenticate");
}

TEST_P(TamperTest, AppendedBytesAreRefused) {
  for (const std::string& extra :
       {std::string(1, '\0'), std::string(16, 'x'), Seg(4), Seg(3)}) {
    SCOPED_TRACE(extra.size());
    if (last_is_full()) {
      // The full last segment now has bytes after it.
      EXPECT_THAT(Decrypt(Key(), SmallParams(), "aad", ct_ + extra),
                  StatusIs(absl::StatusCode::kDataLoss,
                           "trailing data: segment 4 is the last segment but "
                           "more bytes follow it"));
    } else {
      EXPECT_THAT(
          Decrypt(Key(), SmallParams(), "aad", ct_ + extra),
          StatusIs(absl::StatusCode::kDataLoss, HasSubstr("segment 4")));
    }
    EXPECT_THAT(DecryptRandomAccess(Key(), SmallParams(), "aad", ct_ + extra),
                StatusIs(absl::StatusCode::kDataLoss));
  }
}

TEST_P(TamperTest, WrongKeyOrAssociatedDataIsRefused) {
  const SecretBytes other_key =
      testing::KeyFrom("fedcba9876543210fedcba9876543211");
  EXPECT_THAT(Decrypt(other_key, SmallParams(), "aad", ct_),
              StatusIs(absl::StatusCode::kDataLoss,
                       "segment 0: ciphertext does not authenticate"));
  EXPECT_THAT(Decrypt(Key(), SmallParams(), "aae", ct_),
              StatusIs(absl::StatusCode::kDataLoss,
                       "segment 0: ciphertext does not authenticate"));
  EXPECT_THAT(Decrypt(Key(), SmallParams(), "", ct_),
              StatusIs(absl::StatusCode::kDataLoss,
                       "segment 0: ciphertext does not authenticate"));
  EXPECT_THAT(DecryptRandomAccess(other_key, SmallParams(), "aad", ct_),
              StatusIs(absl::StatusCode::kDataLoss,
                       "segment 0: ciphertext does not authenticate"));
}

TEST_P(TamperTest, OtherSegmentSizeIsRefused) {
  StreamingAeadParams p = SmallParams();
  p.ciphertext_segment_size = 80;
  EXPECT_THAT(Decrypt(Key(), p, "aad", ct_),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("segment 0")));
}

TEST_P(TamperTest, GoodSegmentsBeforeABadOneAreDeliveredThenTheErrorSticks) {
  std::string bad = ct_;
  bad[segments_[3].start + 5] ^= 0x80;
  StringSource source(bad);
  ASSERT_OK_AND_ASSIGN(
      auto r, StreamingAeadReader::Create(Key(), SmallParams(), AsBytes("aad"),
                                          &source));
  std::string got(1000, '\0');
  std::span<uint8_t> buf(reinterpret_cast<uint8_t*>(got.data()), got.size());
  const absl::Status want =
      absl::DataLossError("segment 3: ciphertext does not authenticate");
  // Segments 0..2 authenticate (24 + 48 + 48 bytes) and come out one at a
  // time through NextSegment; Read() stops at the failure.
  size_t delivered = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(auto seg, r->NextSegment());
    EXPECT_EQ(AsStringView(seg),
              absl::string_view(pt_).substr(delivered, seg.size()));
    delivered += seg.size();
  }
  EXPECT_EQ(delivered, 120u);
  // Segment 3's 48 bytes fit `buf`, so Read decrypts straight into it; the
  // unauthenticated plaintext is wiped there, the rest left alone.
  got.assign(got.size(), 'x');
  EXPECT_EQ(r->Read(buf).status(), want);
  EXPECT_EQ(got.substr(0, 48), std::string(48, '\0'));
  EXPECT_EQ(got.substr(48), std::string(got.size() - 48, 'x'));
  EXPECT_EQ(r->Read(buf).status(), want);
  EXPECT_EQ(r->NextSegment().status(), want);
  StringSink sink;
  EXPECT_EQ(r->ReadAll(&sink), want);
  EXPECT_FALSE(r->done());
}

INSTANTIATE_TEST_SUITE_P(LastSegment, TamperTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Full" : "Short";
                         });

TEST(MalformedStreamTest, ShortInputsNameTheProblem) {
  const auto p = SmallParams();
  EXPECT_THAT(Decrypt(Key(), p, "", ""),
              StatusIs(absl::StatusCode::kDataLoss,
                       "truncated: header is 0 bytes, expected 24"));
  ASSERT_OK_AND_ASSIGN(std::string ct, Encrypt(Key(), p, "", ""));
  ASSERT_EQ(ct.size(), 40u);
  EXPECT_THAT(Decrypt(Key(), p, "", ct.substr(0, 29)),
              StatusIs(absl::StatusCode::kDataLoss,
                       "truncated: segment 0 is 5 bytes, shorter than its "
                       "16-byte tag"));
  EXPECT_THAT(DecryptRandomAccess(Key(), p, "", ct.substr(0, 29)),
              StatusIs(absl::StatusCode::kDataLoss,
                       "truncated: segment 0 is 5 bytes, shorter than its "
                       "16-byte tag"));
  // An empty stream with a byte appended.
  EXPECT_THAT(Decrypt(Key(), p, "", ct + "!"),
              StatusIs(absl::StatusCode::kDataLoss,
                       "segment 0: ciphertext does not authenticate"));
}

TEST(MalformedStreamTest, HeaderOfTheOtherKeySizeIsInvalidArgument) {
  StreamingAeadParams p32 = SmallParams();
  p32.derived_key_size = 32;
  p32.ciphertext_segment_size = 128;
  ASSERT_OK_AND_ASSIGN(std::string ct, Encrypt(Key(), p32, "", "hello"));
  StreamingAeadParams p16 = p32;
  p16.derived_key_size = 16;
  EXPECT_THAT(Decrypt(Key(), p16, "", ct),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "header length byte: 40, expected 24 for "
                       "derived_key_size 16"));
}

}  // namespace
}  // namespace strongroom::storage
