// HKDF (the per-object key derivation) against Wycheproof's HKDF-SHA256
// vectors; the SHA-1 and SHA-512 paths are covered by the Tink streaming
// vectors, which use them.
#include "storage/streaming/hkdf.h"

#include <string>

#include "base/bytes.h"
#include "base/file.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace strongroom::storage {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

Bytes Unhex(const nlohmann::json& t, const char* field) {
  absl::StatusOr<Bytes> b = HexDecode(t.at(field).get<std::string>(), field);
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? *b : Bytes();
}

TEST(HkdfTest, WycheproofSha256) {
  ASSERT_OK_AND_ASSIGN(std::string text,
                       ReadFileToString(std::string(STRONGROOM_VECTORS_DIR) +
                                            "/wycheproof/hkdf_sha256_test.json",
                                        "wycheproof hkdf"));
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  int valid = 0, invalid = 0;
  for (const auto& group : doc.at("testGroups")) {
    for (const auto& t : group.at("tests")) {
      SCOPED_TRACE(t.at("tcId").get<int>());
      const size_t size = t.at("size").get<size_t>();
      absl::StatusOr<SecretBytes> okm =
          Hkdf(HkdfHash::kSha256, Unhex(t, "ikm"), Unhex(t, "salt"),
               Unhex(t, "info"), size);
      if (t.at("result") == "valid") {
        ASSERT_OK(okm.status());
        EXPECT_EQ(HexEncode(okm->Reveal()), t.at("okm").get<std::string>());
        ++valid;
      } else {
        EXPECT_THAT(okm, StatusIs(absl::StatusCode::kInvalidArgument,
                                  HasSubstr("hkdf length")));
        ++invalid;
      }
    }
  }
  EXPECT_EQ(valid, 83);
  EXPECT_EQ(invalid, 3);
}

TEST(HkdfTest, LongInfoIsAccepted) {
  // Associated data of any length goes into info; OpenSSL 3.0's own HKDF
  // would refuse this.
  const Bytes ikm(32, 1), salt(32, 2), info(100000, 3);
  ASSERT_OK_AND_ASSIGN(SecretBytes a,
                       Hkdf(HkdfHash::kSha512, ikm, salt, info, 32));
  Bytes info2 = info;
  info2.back() ^= 1;
  ASSERT_OK_AND_ASSIGN(SecretBytes b,
                       Hkdf(HkdfHash::kSha512, ikm, salt, info2, 32));
  EXPECT_FALSE(a == b);
}

}  // namespace
}  // namespace strongroom::storage
