// Random access: any segment and any byte range decrypts to the matching
// plaintext; corruption is reported for the ranges that touch it.
#include <string>

#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/streaming/streaming_aead_params.h"
#include "tests/storage/streaming/streaming_test_util.h"

namespace strongroom::storage {
namespace {

using ::strongroom::testing::StatusIs;
using testing::Encrypt;
using ::testing::HasSubstr;
using testing::Pattern;

const SecretBytes& Key() {
  static const SecretBytes* k =
      new SecretBytes(testing::KeyFrom("0011223344556677889900aabbccddeeff"));
  return *k;
}

// Counts ReadAt calls on a real source.
class CountingSource final : public RandomAccessSource {
 public:
  explicit CountingSource(std::string data) : inner_(std::move(data)) {}
  absl::StatusOr<uint64_t> Size() override { return inner_.Size(); }
  absl::StatusOr<size_t> ReadAt(uint64_t offset,
                                std::span<uint8_t> out) override {
    ++reads_;
    return inner_.ReadAt(offset, out);
  }
  int reads() const { return reads_; }

 private:
  StringSource inner_;
  int reads_ = 0;
};

std::span<uint8_t> AsSpan(std::string& s) {
  return {reinterpret_cast<uint8_t*>(s.data()), s.size()};
}

class RandomAccessTest : public ::testing::TestWithParam<uint32_t> {
 protected:
  StreamingAeadParams Params() const {
    StreamingAeadParams p;
    p.hkdf_hash = HkdfHash::kSha256;
    p.derived_key_size = 16;
    p.ciphertext_segment_size = 64;
    p.ciphertext_offset = GetParam();  // segment 0 holds 24 - offset bytes
    return p;
  }
  // `ciphertext_offset` caller bytes, then the stream.
  std::string Stored(absl::string_view pt) {
    absl::StatusOr<std::string> ct = Encrypt(Key(), Params(), "ra", pt);
    EXPECT_TRUE(ct.ok()) << ct.status();
    return std::string(GetParam(), '#') + ct.value_or("");
  }
};

TEST_P(RandomAccessTest, EveryRangeMatchesThePlaintext) {
  const std::string pt = Pattern(24 + 48 * 3 + 11, 2);
  CountingSource source(Stored(pt));
  ASSERT_OK_AND_ASSIGN(auto r, StreamingAeadRandomAccessReader::Create(
                                   Key(), Params(), AsBytes("ra"), &source));
  ASSERT_EQ(r->plaintext_size(), pt.size());
  EXPECT_EQ(r->segment_count(), Params().SegmentCount(pt.size()));
  for (size_t off = 0; off <= pt.size(); ++off) {
    for (size_t len : {size_t{0}, size_t{1}, size_t{17}, size_t{48}, size_t{49},
                       size_t{500}}) {
      std::string out(len, '\0');
      ASSERT_OK_AND_ASSIGN(size_t n, r->ReadAt(off, AsSpan(out)));
      ASSERT_EQ(n, std::min(len, pt.size() - off)) << off << "+" << len;
      ASSERT_EQ(out.substr(0, n), pt.substr(off, n)) << off << "+" << len;
    }
  }
}

TEST_P(RandomAccessTest, DecryptSegmentReturnsEachSegment) {
  const std::string pt = Pattern(24 + 48 * 2 + 5, 8);
  StringSource source(Stored(pt));
  ASSERT_OK_AND_ASSIGN(auto r, StreamingAeadRandomAccessReader::Create(
                                   Key(), Params(), AsBytes("ra"), &source));
  std::string joined;
  for (uint64_t i = 0; i < r->segment_count(); ++i) {
    ASSERT_OK_AND_ASSIGN(auto seg, r->DecryptSegment(i));
    EXPECT_EQ(r->SegmentPlaintextOffset(i), joined.size());
    if (i == 0) {
      EXPECT_EQ(seg.size(), Params().first_plaintext_segment_size());
    }
    joined.append(seg.begin(), seg.end());
  }
  EXPECT_EQ(joined, pt);
  // Going back to an earlier segment works too.
  ASSERT_OK_AND_ASSIGN(auto seg1, r->DecryptSegment(1));
  EXPECT_EQ(AsStringView(seg1),
            absl::string_view(pt).substr(
                Params().first_plaintext_segment_size(), 48));
  EXPECT_THAT(r->DecryptSegment(r->segment_count()),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("segment: 4")));
  std::string out(4, '\0');
  EXPECT_THAT(r->ReadAt(pt.size(), AsSpan(out)), testing::IsOkAndHolds(0u));
  EXPECT_THAT(r->ReadAt(pt.size() + 1, AsSpan(out)),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("offset: ")));
}

TEST_P(RandomAccessTest, DecryptSegmentIntoWritesTheCallersBuffer) {
  const std::string pt = Pattern(24 + 48 * 2 + 5, 3);
  std::string stored = Stored(pt);
  StringSource intact(stored);
  ASSERT_OK_AND_ASSIGN(auto r, StreamingAeadRandomAccessReader::Create(
                                   Key(), Params(), AsBytes("ra"), &intact));
  const uint64_t last = r->segment_count() - 1;
  ASSERT_GE(last, 2u);
  for (uint64_t i = 0; i <= last; ++i) {
    std::string out(r->SegmentPlaintextSize(i), '?');
    ASSERT_OK(r->DecryptSegmentInto(i, AsSpan(out)));
    EXPECT_EQ(out, pt.substr(r->SegmentPlaintextOffset(i), out.size())) << i;
  }
  EXPECT_EQ(r->SegmentPlaintextOffset(last) + r->SegmentPlaintextSize(last), pt.size());
  EXPECT_EQ(r->SegmentPlaintextSize(last + 1), 0u);
  std::string wrong(47, '?');
  EXPECT_THAT(r->DecryptSegmentInto(1, AsSpan(wrong)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("47 bytes")));
  EXPECT_THAT(r->DecryptSegmentInto(last + 1, AsSpan(wrong)),
              StatusIs(absl::StatusCode::kOutOfRange));

  // A failing segment leaves the caller's buffer wiped.
  stored[last * 64 + 1] ^= 0x02;  // the stored object, offset included
  StringSource bad(stored);
  ASSERT_OK_AND_ASSIGN(auto rb, StreamingAeadRandomAccessReader::Create(
                                    Key(), Params(), AsBytes("ra"), &bad));
  std::string out(rb->SegmentPlaintextSize(last), '?');
  EXPECT_THAT(rb->DecryptSegmentInto(last, AsSpan(out)),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr(absl::StrCat("segment ", last))));
  EXPECT_EQ(out, std::string(out.size(), '\0'));
}

TEST_P(RandomAccessTest, ReadsWithinOneSegmentDecryptItOnce) {
  const std::string pt = Pattern(300, 1);
  CountingSource source(Stored(pt));
  ASSERT_OK_AND_ASSIGN(auto r, StreamingAeadRandomAccessReader::Create(
                                   Key(), Params(), AsBytes("ra"), &source));
  const int after_create = source.reads();
  const uint64_t seg2 = r->SegmentPlaintextOffset(2);
  std::string out(8, '\0');
  for (int i = 0; i < 5; ++i)
    ASSERT_OK(r->ReadAt(seg2 + 8 * i, AsSpan(out)).status());
  EXPECT_EQ(source.reads(), after_create + 1);
}

TEST_P(RandomAccessTest, CorruptSegmentFailsOnlyRangesThatTouchIt) {
  const std::string pt = Pattern(24 + 48 * 4 + 9, 6);
  std::string stored = Stored(pt);
  const size_t seg2_start = 2 * 64;  // in the stored object, offset included
  stored[seg2_start + 3] ^= 0x40;
  StringSource source(stored);
  ASSERT_OK_AND_ASSIGN(auto r, StreamingAeadRandomAccessReader::Create(
                                   Key(), Params(), AsBytes("ra"), &source));
  std::string out(10, '\0');
  const uint64_t s2 = r->SegmentPlaintextOffset(2),
                 s3 = r->SegmentPlaintextOffset(3);
  EXPECT_OK(r->ReadAt(0, AsSpan(out)).status());
  EXPECT_OK(r->ReadAt(s3, AsSpan(out)).status());
  EXPECT_THAT(r->ReadAt(s2 + 4, AsSpan(out)),
              StatusIs(absl::StatusCode::kDataLoss,
                       "segment 2: ciphertext does not authenticate"));
  EXPECT_THAT(r->ReadAt(s2 - 5, AsSpan(out)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("segment 2")));
  // A failed segment is not cached: the error repeats, other reads still work.
  EXPECT_THAT(r->DecryptSegment(2), StatusIs(absl::StatusCode::kDataLoss));
  const uint64_t last_index = r->segment_count() - 1;
  ASSERT_OK_AND_ASSIGN(auto last, r->DecryptSegment(last_index));
  EXPECT_EQ(AsStringView(last), absl::string_view(pt).substr(
                                    r->SegmentPlaintextOffset(last_index)));
  EXPECT_EQ(r->SegmentPlaintextOffset(last_index) + last.size(), pt.size());
}

TEST_P(RandomAccessTest, TruncationShowsWhenTheLastSegmentIsRead) {
  const std::string pt = Pattern(24 + 48 * 4 + 9, 6);
  const std::string stored = Stored(pt);
  // Cut after segment 3: segments 0..3 remain, segment 3 is full-size.
  StringSource source(stored.substr(0, 4 * 64));
  ASSERT_OK_AND_ASSIGN(auto r, StreamingAeadRandomAccessReader::Create(
                                   Key(), Params(), AsBytes("ra"), &source));
  EXPECT_EQ(r->segment_count(), 4u);
  std::string out(10, '\0');
  EXPECT_OK(r->ReadAt(0, AsSpan(out)).status());
  // Any read that reaches the end checks the last segment, even an empty one.
  std::string none;
  EXPECT_THAT(r->ReadAt(r->plaintext_size(), AsSpan(none)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("truncated")));
  EXPECT_THAT(r->ReadAt(r->plaintext_size() - 3, AsSpan(out)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("truncated")));
  EXPECT_THAT(r->DecryptSegment(3),
              StatusIs(absl::StatusCode::kDataLoss,
                       "truncated: the stream ends after segment 3, which is "
                       "not its last segment"));
}

TEST_P(RandomAccessTest, HeaderIsReadAfterTheOffset) {
  std::string stored = Stored("abc");
  stored[GetParam()] ^= 0x02;  // the header length byte
  StringSource source(stored);
  EXPECT_THAT(StreamingAeadRandomAccessReader::Create(Key(), Params(),
                                                      AsBytes("ra"), &source),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("header length byte")));
  StringSource short_source(stored.substr(0, GetParam() + 10));
  EXPECT_THAT(StreamingAeadRandomAccessReader::Create(
                  Key(), Params(), AsBytes("ra"), &short_source),
              StatusIs(absl::StatusCode::kDataLoss,
                       "truncated: header is 10 bytes, expected 24"));
}

INSTANTIATE_TEST_SUITE_P(Offsets, RandomAccessTest, ::testing::Values(0u, 9u),
                         [](const ::testing::TestParamInfo<uint32_t>& info) {
                           return "Offset" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace strongroom::storage
