// The sealed object header, names and segment layout: round trips, every
// field's refusal, what the associated data binds, hostile bytes.
#include <random>
#include <string>

#include "base/bytes.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/sealed/object_names.h"
#include "storage/sealed/sealed_header.h"
#include "storage/sealed/segment_layout.h"
#include "tests/storage/sealed/sealed_test_util.h"

namespace strongroom::storage::sealed {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

TEST(SealedHeaderTest, RoundTrips) {
  const SealedHeader h = testing::SampleHeader();
  ASSERT_OK(h.Validate());
  const Bytes encoded = h.Encode();
  EXPECT_EQ(encoded.size(), h.EncodedSize());
  EXPECT_EQ(AsStringView(std::span<const uint8_t>(encoded).first(4)), "SRSO");
  ASSERT_OK_AND_ASSIGN(SealedHeader back, ParseSealedHeader(encoded));
  EXPECT_EQ(back.Encode(), encoded);
  EXPECT_EQ(back.key_name, "keys/k1");
  EXPECT_EQ(back.key_version, 3u);
  EXPECT_EQ(back.dataset, "ds1");
  EXPECT_EQ(back.name, "models/llama/weights.bin");
  EXPECT_EQ(back.version, 7u);
  EXPECT_EQ(back.params.ciphertext_segment_size, 1u << 20);
  EXPECT_EQ(back.stream_header, h.stream_header);
  ASSERT_OK_AND_ASSIGN(size_t size, PeekSealedHeaderSize(encoded));
  EXPECT_EQ(size, encoded.size());
}

TEST(SealedHeaderTest, UnknownFormatVersionIsNamed) {
  Bytes encoded = testing::SampleHeader().Encode();
  encoded[4] = 2;
  EXPECT_THAT(ParseSealedHeader(encoded),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("format_version: 2 is not supported")));
  EXPECT_THAT(PeekSealedHeaderSize(encoded),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("format_version")));
}

TEST(SealedHeaderTest, EachFieldIsChecked) {
  auto refused = [](auto mutate, const char* field) {
    SealedHeader h = testing::SampleHeader();
    mutate(h);
    EXPECT_THAT(h.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(field)))
        << field;
  };
  refused([](SealedHeader& h) { h.key_name = "k1"; }, "key_name");
  refused([](SealedHeader& h) { h.key_version = 0; }, "key_version");
  refused([](SealedHeader& h) { h.key_version = 4; }, "key_version: 4, but the wrapped key");
  refused([](SealedHeader& h) { h.key_name = "keys/other"; }, "wrapped under keys/k1");
  refused([](SealedHeader& h) { h.wrapped_key.resize(10); }, "wrapped_key");
  // A wrapped key that holds a 16-byte data key would be stored and never
  // read (readers take 32 bytes): refused as the header is checked.
  refused([](SealedHeader& h) { h.wrapped_key.resize(h.wrapped_key.size() - 16); },
          "is not a wrapped 32-byte data key");
  refused([](SealedHeader& h) { h.wrapped_key[0] = 'X'; }, "SRC1");
  refused([](SealedHeader& h) { h.dataset = "Bad Name"; }, "dataset");
  refused([](SealedHeader& h) { h.name = "a/../b"; }, "name");
  refused([](SealedHeader& h) { h.version = 0; }, "version");
  refused([](SealedHeader& h) { h.stream_header.pop_back(); }, "stream_header");
  refused([](SealedHeader& h) { h.params.ciphertext_segment_size = 40; }, "params");
  refused([](SealedHeader& h) { h.format_version = 9; }, "format_version");
}

TEST(SealedHeaderTest, MagicFlagsAndLengthAreChecked) {
  const Bytes good = testing::SampleHeader().Encode();
  Bytes b = good;
  b[0] = 'X';
  EXPECT_THAT(ParseSealedHeader(b),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a sealed object")));
  b = good;
  b[5] = 1;
  EXPECT_THAT(ParseSealedHeader(b),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("flags")));
  b = good;
  b.push_back(0);
  EXPECT_THAT(ParseSealedHeader(b),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("announces")));
  b = good;
  b[7] = static_cast<uint8_t>(b[7] + 1);  // claims one byte more than it has
  b.push_back(0);
  EXPECT_THAT(ParseSealedHeader(b),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("follow the stream header")));
}

TEST(SealedHeaderTest, TruncationsAndGarbageNeverCrash) {
  const Bytes good = testing::SampleHeader().Encode();
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(ParseSealedHeader(std::span<const uint8_t>(good).first(n)).ok()) << n;
  }
  std::mt19937 rng(7);
  for (int round = 0; round < 3000; ++round) {
    Bytes b = good;
    const int flips = 1 + round % 4;
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    absl::StatusOr<SealedHeader> h = ParseSealedHeader(b);
    if (h.ok()) {
      EXPECT_OK(h->Validate());  // whatever parses is well-formed
    }
    Bytes junk(rng() % 300);
    for (uint8_t& c : junk) c = static_cast<uint8_t>(rng());
    (void)ParseSealedHeader(junk);
  }
}

TEST(SealedHeaderTest, AssociatedDataBindsIdentityButNotTheWrappedKey) {
  const SealedHeader h = testing::SampleHeader();
  const Bytes ad = AssociatedData(h);
  auto differs = [&](auto mutate) {
    SealedHeader m = h;
    mutate(m);
    return AssociatedData(m) != ad;
  };
  EXPECT_TRUE(differs([](SealedHeader& m) { m.dataset = "ds2"; }));
  EXPECT_TRUE(differs([](SealedHeader& m) { m.name = "models/other"; }));
  EXPECT_TRUE(differs([](SealedHeader& m) { m.version = 8; }));
  EXPECT_TRUE(differs([](SealedHeader& m) { m.key_name = "keys/k2"; }));
  EXPECT_TRUE(differs([](SealedHeader& m) { m.params.ciphertext_segment_size = 4096; }));
  EXPECT_TRUE(differs([](SealedHeader& m) { m.params.hkdf_hash = HkdfHash::kSha512; }));
  // Re-wrapping replaces these without touching a segment.
  EXPECT_FALSE(differs([](SealedHeader& m) { m.key_version = 4; }));
  EXPECT_FALSE(differs([](SealedHeader& m) { m.wrapped_key.back() ^= 1; }));
  // Field boundaries are length-prefixed: moving a byte between fields shows.
  SealedHeader a = h, b = h;
  a.dataset = "ab";
  a.name = "c";
  b.dataset = "a";
  b.name = "bc";
  EXPECT_NE(AssociatedData(a), AssociatedData(b));
}

TEST(SealedHeaderTest, DataKeyContextNamesTheObject) {
  auto c = DataKeyContext("ds1", "a/b", 12);
  EXPECT_EQ(c.at("strongroom.sealed.dataset"), "ds1");
  EXPECT_EQ(c.at("strongroom.sealed.object"), "a/b");
  EXPECT_EQ(c.at("strongroom.sealed.version"), "12");
}

TEST(WrappedKeyReferenceTest, ReadsTheKmsHeader) {
  const Bytes w = testing::FakeWrappedKey("k-9_x", 513);
  ASSERT_OK_AND_ASSIGN(WrappedKeyReference ref, ParseWrappedKeyReference(w, "w"));
  EXPECT_EQ(ref.key_id, "k-9_x");
  EXPECT_EQ(ref.version, 513u);
  Bytes bad = w;
  bad[6] = 0;
  EXPECT_THAT(ParseWrappedKeyReference(bad, "w"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("w: key id length 0")));
  bad = w;
  bad.resize(30);
  EXPECT_FALSE(ParseWrappedKeyReference(bad, "w").ok());
}

TEST(ObjectNamesTest, PathsAndNames) {
  ASSERT_OK_AND_ASSIGN(ObjectPath p, ParseObjectPath("ds1/models/m.bin@12", "p"));
  EXPECT_EQ(p.dataset, "ds1");
  EXPECT_EQ(p.name, "models/m.bin");
  EXPECT_EQ(p.version, 12u);
  ASSERT_OK_AND_ASSIGN(p, ParseObjectPath("ds1/x", "p"));
  EXPECT_EQ(p.version, 0u);
  for (const char* bad :
       {"ds1", "ds1/", "DS/x", "ds1/x@0", "ds1/x@-1", "ds1/x@abc", "ds1//x", "ds1/x/", "ds1/./x",
        "ds1/x/../y", "ds1/x y", "ds1/x\\y",
        // One spelling per version: no sign, space or leading zero.
        "ds1/x@+3", "ds1/x@003", "ds1/x@ 3", "ds1/x@3 ", "ds1/x@", "ds1/x@99999999999999999999"}) {
    EXPECT_THAT(ParseObjectPath(bad, "DATASET/NAME"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("DATASET/NAME")))
        << bad;
  }
  EXPECT_OK(ValidateObjectName(std::string(1024, 'a'), "n"));
  EXPECT_FALSE(ValidateObjectName(std::string(1025, 'a'), "n").ok());
  ASSERT_OK_AND_ASSIGN(std::string id, ParseDatasetName("datasets/ds-1", "d"));
  EXPECT_EQ(id, "ds-1");
}

TEST(SegmentLayoutTest, AgreesWithTheStreamingParameters) {
  StreamingAeadParams p;
  p.ciphertext_segment_size = 4096;
  for (uint64_t size : {0ull, 1ull, 4039ull, 4040ull, 4041ull, 4040ull + 4080ull,
                        4040ull + 4080ull + 1ull, 100000ull}) {
    ASSERT_OK_AND_ASSIGN(uint64_t stream, p.CiphertextSize(size));
    ASSERT_OK_AND_ASSIGN(SegmentLayout layout, SegmentLayout::ForStreamSize(p, stream));
    EXPECT_EQ(layout.plaintext_size(), size);
    EXPECT_EQ(layout.segment_count(), p.SegmentCount(size)) << size;
    uint64_t total = p.header_size();
    for (uint64_t i = 0; i < layout.segment_count(); ++i) total += layout.SegmentSize(i);
    EXPECT_EQ(total, stream);
  }
  EXPECT_THAT(SegmentLayout::ForStreamSize(p, 40 + 15),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // A last segment shorter than its tag cannot exist.
  EXPECT_THAT(SegmentLayout::ForStreamSize(p, 4096 + 10),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shorter than its tag")));
}

TEST(SegmentLayoutTest, RangesCoverTheirBytesAndProveTheEnd) {
  StreamingAeadParams p;
  p.ciphertext_segment_size = 4096;  // segment 0: 4040 plaintext bytes, then 4080
  ASSERT_OK_AND_ASSIGN(uint64_t stream, p.CiphertextSize(20000));
  ASSERT_OK_AND_ASSIGN(SegmentLayout layout, SegmentLayout::ForStreamSize(p, stream));
  ASSERT_EQ(layout.segment_count(), 5u);
  using P = std::pair<uint64_t, uint64_t>;
  auto span = [&](uint64_t a, uint64_t b) {
    absl::StatusOr<SegmentLayout::Span> s = layout.SegmentsForRange(a, b);
    EXPECT_OK(s.status());
    return s.ok() ? P(s->first, s->end) : P(~uint64_t{0}, ~uint64_t{0});
  };
  EXPECT_EQ(span(0, 1), P(0, 1));
  EXPECT_EQ(span(4039, 4041), P(0, 2));
  EXPECT_EQ(span(4040, 8120), P(1, 2));
  EXPECT_EQ(span(5000, 20000), P(1, 5));   // reaches the end
  EXPECT_EQ(span(5000, 99999), P(1, 5));   // clamped
  EXPECT_EQ(span(20000, 20000), P(4, 5));  // empty at the end: last one
  EXPECT_THAT(layout.SegmentsForRange(20001, 30000), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(layout.SegmentsForRange(10, 5), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(SegmentSequenceCheckerTest, RefusesWhatNoStreamHas) {
  StreamingAeadParams p;
  p.ciphertext_segment_size = 4096;
  SegmentSequenceChecker c(p);
  EXPECT_THAT(c.Accept(4057), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("segment 0: 4057 bytes, larger than its full "
                                                 "size of 4056")));
  SegmentSequenceChecker ok(p);
  EXPECT_OK(ok.Accept(4056));
  EXPECT_OK(ok.Accept(4096));
  EXPECT_THAT(ok.Accept(4097),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("larger than its full size")));
  EXPECT_OK(ok.Accept(100));
  EXPECT_THAT(ok.Accept(100),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must have been the last")));
  EXPECT_THAT(ok.Finish(2, 40 + 4056 + 4096 + 100),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("segment_count: 2")));
  EXPECT_THAT(ok.Finish(3, 5),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("stream_bytes")));
  EXPECT_OK(ok.Finish(3, 40 + 4056 + 4096 + 100));
  SegmentSequenceChecker tiny(p);
  EXPECT_THAT(tiny.Accept(15), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("shorter than its 16-byte tag")));
  EXPECT_THAT(tiny.Finish(0, 40),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no segment")));
}

}  // namespace
}  // namespace strongroom::storage::sealed
