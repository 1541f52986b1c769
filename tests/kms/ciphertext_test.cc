// The ciphertext parser on every truncation and single-byte corruption of a
// valid header, and on random garbage: a specific error, never a crash.
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/testing/status_matchers.h"
#include "kms/ciphertext.h"
#include "kms/resource_names.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

Bytes Valid() {
  Bytes b = EncodeHeader({"payments", 7, kAlgorithmAes256Gcm});
  b.resize(b.size() + kGcmIvBytes + 5 + kGcmTagBytes, 0xab);
  return b;
}

TEST(CiphertextTest, RoundTrip) {
  ASSERT_OK_AND_ASSIGN(ParsedCiphertext p, ParseCiphertext(Valid()));
  EXPECT_EQ(p.header.key_id, "payments");
  EXPECT_EQ(p.header.version, 7u);
  EXPECT_EQ(p.iv.size(), kGcmIvBytes);
  EXPECT_EQ(p.sealed.size(), 5 + kGcmTagBytes);
  EXPECT_EQ(p.header_bytes, EncodeHeader({"payments", 7, kAlgorithmAes256Gcm}));
}

TEST(CiphertextTest, EveryTruncationIsRejected) {
  Bytes b = Valid();
  const size_t min_len = 7 + 8 + 4 + kGcmIvBytes + kGcmTagBytes;
  for (size_t n = 0; n < min_len; ++n) {
    EXPECT_THAT(ParseCiphertext(std::span(b.data(), n)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ciphertext")))
        << "length " << n;
  }
}

TEST(CiphertextTest, HeaderFieldsAreValidated) {
  Bytes b = Valid();
  b[4] = 2;
  EXPECT_THAT(ParseCiphertext(b), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ciphertext.format")));
  b = Valid();
  b[5] = 9;
  EXPECT_THAT(ParseCiphertext(b), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ciphertext.algorithm")));
  b = Valid();
  b[6] = 0;
  EXPECT_THAT(ParseCiphertext(b), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ciphertext.key_id_len")));
  b = Valid();
  b[6] = 200;
  EXPECT_THAT(ParseCiphertext(b), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ciphertext.key_id_len")));
  b = EncodeHeader({"k", 0, kAlgorithmAes256Gcm});
  b.resize(b.size() + 40);
  EXPECT_THAT(ParseCiphertext(b), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ciphertext.version")));
  // The key id is a key id, not any bytes (it is looked up and named in errors).
  b = EncodeHeader({"k\xff/..", 1, kAlgorithmAes256Gcm});
  b.resize(b.size() + 40);
  EXPECT_THAT(ParseCiphertext(b),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ciphertext.key_id")));
}

TEST(CiphertextTest, RandomGarbageNeverCrashes) {
  std::mt19937 rng(42);
  int rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes b(rng() % 96);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    if (i % 2 == 0 && b.size() >= 4) std::copy_n("SRC1", 4, b.begin());
    if (!ParseCiphertext(b).ok()) ++rejected;
  }
  EXPECT_GT(rejected, 19000);
}

TEST(CiphertextTest, AadBindsTheContextCanonically) {
  Bytes h = EncodeHeader({"k", 1, kAlgorithmAes256Gcm});
  ASSERT_OK_AND_ASSIGN(Bytes a, BuildAad(h, {{"a", "1"}, {"b", "2"}}));
  ASSERT_OK_AND_ASSIGN(Bytes b, BuildAad(h, {{"b", "2"}, {"a", "1"}}));
  EXPECT_EQ(a, b);
  ASSERT_OK_AND_ASSIGN(Bytes c, BuildAad(h, {{"a", "12"}}));
  ASSERT_OK_AND_ASSIGN(Bytes d, BuildAad(h, {{"a1", "2"}}));
  EXPECT_NE(c, d);  // length prefixes keep "a"+"12" apart from "a1"+"2"
  EXPECT_THAT(BuildAad(h, {{"", "x"}}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ResourceNamesTest, ParseAndReject) {
  ASSERT_OK_AND_ASSIGN(VersionName v, ParseVersionName("keys/a-b/versions/12", "name"));
  EXPECT_EQ(v.key_id, "a-b");
  EXPECT_EQ(v.version, 12u);
  for (const char* bad : {"keys/a/versions/0", "keys/a/versions/012", "keys/a/versions/-1",
                          "keys//versions/1", "keys/A/versions/1", "key/a/versions/1",
                          "keys/a/versions/99999999999"}) {
    EXPECT_THAT(ParseVersionName(bad, "name"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name:")))
        << bad;
  }
  EXPECT_THAT(ParseKeyName("keys/-x", "name"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseKeyName(std::string("keys/") + std::string(64, 'a'), "name"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(ParseKeyName(std::string("keys/") + std::string(63, 'a'), "name"));
}

}  // namespace
}  // namespace strongroom::kms
