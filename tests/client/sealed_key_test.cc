// OpenSealedKey: a SealedKey built the way the broker builds it (HPKE base
// mode, HKDF-SHA256, AES-256-GCM, info = aad = "strongroom-release-v1" 0
// version 0 token-id) opens to the sealed bytes, and every field the client
// checks is refused when it does not match what the client expects.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "base/bytes.h"
#include "base/testing/status_matchers.h"
#include "client/workload.h"
#include "kms/hpke/hpke.h"

namespace strongroom::client {
namespace {

namespace hpke = ::strongroom::kms::hpke;
namespace v1 = ::strongroom::v1;
using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kTokenId[] = "0123456789abcdef0123456789abcdef";
constexpr char kVersion[] = "keys/model/versions/3";

// The info as docs/broker / key_broker.proto spell it, built here on its own
// so that the client's ReleaseInfo is checked against the protocol, not
// against itself.
std::string ProtocolInfo(const std::string& version, const std::string& token_id) {
  return std::string("strongroom-release-v1") + '\0' + version + '\0' + token_id;
}

struct Sealing {
  hpke::KeyPair recipient;
  SecretBytes material;
  v1::SealedKey sealed;
};

Sealing Seal(hpke::Kem kem, const std::string& version, const std::string& token_id,
             const std::string& info) {
  Sealing s{*hpke::GenerateKeyPair(kem), SecretBytes::Random(32), {}};
  hpke::Suite suite = *hpke::Suite::Create(kem, hpke::Kdf::kHkdfSha256, hpke::Aead::kAes256Gcm);
  hpke::Sealed sealed =
      *hpke::Seal(suite, s.recipient.public_key, AsBytes(info), AsBytes(info), s.material.Reveal());
  s.sealed.set_key_version(version);
  s.sealed.set_kem(kem == hpke::Kem::kDhkemX25519HkdfSha256 ? v1::HPKE_KEM_X25519_SHA256
                                                            : v1::HPKE_KEM_P256_SHA256);
  s.sealed.set_enc(std::string(AsStringView(sealed.enc)));
  s.sealed.set_ciphertext(std::string(AsStringView(sealed.ciphertext)));
  s.sealed.set_token_id(token_id);
  s.sealed.set_info(info);
  return s;
}

class SealedKeyTest : public ::testing::TestWithParam<hpke::Kem> {};

TEST_P(SealedKeyTest, OpensUnderEveryFormOfTheKeyName) {
  Sealing s = Seal(GetParam(), kVersion, kTokenId, ProtocolInfo(kVersion, kTokenId));
  for (const char* asked : {"model", "keys/model", "keys/model/versions/3"}) {
    ASSERT_OK_AND_ASSIGN(SecretBytes opened,
                         OpenSealedKey(s.recipient.private_key, s.sealed, asked, kTokenId));
    EXPECT_TRUE(opened == s.material) << asked;
  }
}

TEST_P(SealedKeyTest, InfoThatIsNotTheProtocolsIsRefused) {
  // Sealed consistently, but with an info of another shape: the client does
  // not open what it did not expect, even if it would decrypt.
  for (const std::string& info :
       {std::string("strongroom-release-v1") + '\0' + kVersion + '\0' + "ffff",
        std::string("strongroom-release-v2") + '\0' + kVersion + '\0' + kTokenId,
        std::string("strongroom-release-v1") + kVersion + '\0' + kTokenId,
        ProtocolInfo("keys/model/versions/4", kTokenId), std::string()}) {
    Sealing s = Seal(GetParam(), kVersion, kTokenId, info);
    EXPECT_THAT(OpenSealedKey(s.recipient.private_key, s.sealed, "model", kTokenId),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("info")))
        << HexEncode(AsBytes(info));
  }
}

TEST_P(SealedKeyTest, InfoFieldThatLiesAboutTheSealingIsCaughtByTheAead) {
  // The info field says the right thing, but the sender sealed under
  // another info: the AEAD refuses.
  Sealing s = Seal(GetParam(), kVersion, kTokenId, ProtocolInfo(kVersion, "other"));
  s.sealed.set_info(ProtocolInfo(kVersion, kTokenId));
  EXPECT_THAT(OpenSealedKey(s.recipient.private_key, s.sealed, "model", kTokenId),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("ciphertext")));
}

TEST_P(SealedKeyTest, TokenOfAnotherReleaseIsRefused) {
  const std::string other = "fedcba9876543210fedcba9876543210";
  Sealing s = Seal(GetParam(), kVersion, other, ProtocolInfo(kVersion, other));
  EXPECT_THAT(OpenSealedKey(s.recipient.private_key, s.sealed, "model", kTokenId),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("token_id")));
}

TEST_P(SealedKeyTest, VersionOfAnotherKeyIsRefused) {
  for (const std::string version :
       {"keys/model2/versions/3", "keys/other/versions/3", "keys/model/versions/x",
        "keys/model/versions/0", "keys/model",
        // Not as the server writes a version: a sign, spaces, a leading zero,
        // beyond 32 bits.
        "keys/model/versions/+3", "keys/model/versions/ 3", "keys/model/versions/3 ",
        "keys/model/versions/03", "keys/model/versions/4294967296", "keys/model/versions/"}) {
    Sealing s = Seal(GetParam(), version, kTokenId, ProtocolInfo(version, kTokenId));
    EXPECT_THAT(OpenSealedKey(s.recipient.private_key, s.sealed, "model", kTokenId),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("key_version")))
        << version;
  }
  // A specific version was asked for: another version is not it.
  Sealing s = Seal(GetParam(), kVersion, kTokenId, ProtocolInfo(kVersion, kTokenId));
  EXPECT_THAT(OpenSealedKey(s.recipient.private_key, s.sealed, "keys/model/versions/2", kTokenId),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("key_version")));
}

TEST_P(SealedKeyTest, TamperedOrMisaddressedCiphertextDoesNotOpen) {
  Sealing s = Seal(GetParam(), kVersion, kTokenId, ProtocolInfo(kVersion, kTokenId));
  v1::SealedKey flipped = s.sealed;
  flipped.mutable_ciphertext()->back() ^= 1;
  EXPECT_THAT(OpenSealedKey(s.recipient.private_key, flipped, "model", kTokenId),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("ciphertext")));
  hpke::KeyPair stranger = *hpke::GenerateKeyPair(GetParam());
  EXPECT_THAT(OpenSealedKey(stranger.private_key, s.sealed, "model", kTokenId),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("ciphertext")));
}

TEST_P(SealedKeyTest, SealedForTheOtherKemIsRefused) {
  const hpke::Kem other = GetParam() == hpke::Kem::kDhkemP256HkdfSha256
                              ? hpke::Kem::kDhkemX25519HkdfSha256
                              : hpke::Kem::kDhkemP256HkdfSha256;
  Sealing s = Seal(other, kVersion, kTokenId, ProtocolInfo(kVersion, kTokenId));
  hpke::KeyPair mine = *hpke::GenerateKeyPair(GetParam());
  EXPECT_THAT(OpenSealedKey(mine.private_key, s.sealed, "model", kTokenId),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("kem")));
}

INSTANTIATE_TEST_SUITE_P(Kems, SealedKeyTest,
                         ::testing::Values(hpke::Kem::kDhkemP256HkdfSha256,
                                           hpke::Kem::kDhkemX25519HkdfSha256),
                         [](const auto& info) {
                           return info.param == hpke::Kem::kDhkemP256HkdfSha256 ? "P256"
                                                                                : "X25519";
                         });

TEST(ReleaseInfoTest, IsTheProtocolsByteString) {
  Bytes info = ReleaseInfo(kVersion, kTokenId);
  EXPECT_EQ(AsStringView(info), ProtocolInfo(kVersion, kTokenId));
}

std::string Jws(const std::string& payload_json) {
  return "eyJhbGciOiJFUzI1NiJ9." + Base64UrlEncode(AsBytes(payload_json)) + ".c2ln";
}

TEST(TokenIdTest, ReadsTheJtiOfACompactJws) {
  ASSERT_OK_AND_ASSIGN(std::string id, TokenId(Jws(R"({"jti":"abc123","exp":1})")));
  EXPECT_EQ(id, "abc123");
  EXPECT_THAT(TokenId("a.b"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("token")));
  EXPECT_THAT(TokenId(Jws(R"({"exp":1})")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("jti")));
  EXPECT_THAT(TokenId(Jws(R"({"jti":7})")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(TokenId(Jws("not json")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(TokenId("x.!!!.y"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// What TokenId reads from the payload: only the top-level member counts, the
// last of repeated members wins, and the payload must be one whole object.
TEST(TokenIdTest, OnlyTheTopLevelJtiOfOneWholeObjectCounts) {
  const auto id = [](const std::string& payload) { return TokenId(Jws(payload)); };
  const auto read = [&](const std::string& payload) {
    absl::StatusOr<std::string> r = id(payload);
    return r.ok() ? *r : r.status().ToString();
  };
  EXPECT_EQ(read(R"({"sub":{"jti":"inner"},"jti":"outer","a":[{"jti":1}]})"), "outer");
  EXPECT_EQ(read(R"({"jti":"first","x":[["jti"]],"jti":"last"})"), "last");
  EXPECT_EQ(read(R"({"cnf":{"jwk":{"kty":"EC"}},"jti":"k\u00e9y","n":null,"f":1.5,"b":true})"),
            "k\xc3\xa9y");
  const char* refused[] = {
      R"({"sub":{"jti":"inner"}})",  // only nested
      R"([{"jti":"in an array"}])",  // not an object
      R"("jti")",                    // not an object
      R"({"jti":"abc"} trailing)",   // more than one value
      R"({"jti":"abc"})"
      R"({"jti":"abc"})",             // two documents
      R"({"jti":"abc")",              // cut short
      R"({"jti":""})",                // empty
      R"({"jti":"abc","jti":null})",  // the last one is not a string
      R"({"jti":"abc","jti":{"x":1}})",
      R"({"jti":["abc"]})",
      "",
  };
  for (const char* payload : refused) {
    EXPECT_THAT(id(payload), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("token")))
        << payload;
  }
}

}  // namespace
}  // namespace strongroom::client
