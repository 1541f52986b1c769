// EarTokenSigner: the tokens the broker issues (a standard ES256 JWT that
// the published JWKS verifies), the verified-token cache, and signing across
// an HSM reload.
#include "kms/broker/ear_token.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "attest/x509.h"
#include "nlohmann/json.hpp"
#include "tests/kms/broker/broker_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

class EarTokenTest : public BrokerFixture {};

TEST_F(EarTokenTest, TokenIsAStandardEs256JwtVerifiableWithTheJwks) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  ASSERT_EQ(parts.size(), 3u);
  ASSERT_OK_AND_ASSIGN(Bytes header, Base64UrlDecode(parts[0]));
  auto h = nlohmann::json::parse(header.begin(), header.end());
  EXPECT_EQ(h["alg"], "ES256");
  ASSERT_OK_AND_ASSIGN(auto jwks, broker_->GetJwks(kWorkload, v1::GetJwksRequest()));
  auto keys = nlohmann::json::parse(jwks.jwks_json())["keys"];
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0]["kid"], h["kid"]);
  ASSERT_OK_AND_ASSIGN(Bytes x, Base64UrlDecode(keys[0]["x"].get<std::string>()));
  ASSERT_OK_AND_ASSIGN(Bytes y, Base64UrlDecode(keys[0]["y"].get<std::string>()));
  Bytes point{0x04};
  point.insert(point.end(), x.begin(), x.end());
  point.insert(point.end(), y.begin(), y.end());
  ASSERT_OK_AND_ASSIGN(auto pub, attest::EcPublicKeyFromPoint(NID_X9_62_prime256v1, point, "jwk"));
  ASSERT_OK_AND_ASSIGN(Bytes sig, Base64UrlDecode(parts[2]));
  ASSERT_EQ(sig.size(), 64u);
  std::string signed_part = parts[0] + "." + parts[1];
  EXPECT_OK(attest::VerifyEcdsaRaw(pub.get(), EVP_sha256(), AsBytes(signed_part),
                                   std::span<const uint8_t>(sig).subspan(0, 32),
                                   std::span<const uint8_t>(sig).subspan(32), "jwt"));
  ASSERT_OK_AND_ASSIGN(Bytes payload, Base64UrlDecode(parts[1]));
  auto p = nlohmann::json::parse(payload.begin(), payload.end());
  EXPECT_EQ(p["eat_profile"], "tag:github.com,2023:veraison/ear");
  EXPECT_EQ(p["exp"].get<int64_t>() - p["iat"].get<int64_t>(), 300);
  EXPECT_EQ(p["submods"]["dev"]["ear.status"], "affirming");
  EXPECT_EQ(p["cnf"]["jwk"]["crv"], "P-256");
  EXPECT_EQ(p["strongroom"]["key"], "keys/k");
  EXPECT_EQ(p["sub"], kWorkload.principal);
}

// VerifyShared hands out the cached payload itself; Verify a copy of it.
TEST_F(EarTokenTest, VerifySharedReturnsTheCachedPayloadAndRefusesWhatVerifyRefuses) {
  const absl::Time now = clock_.Now();
  nlohmann::json payload = {{"iat", absl::ToUnixSeconds(now)},
                            {"exp", absl::ToUnixSeconds(now + absl::Minutes(5))},
                            {"jti", "0123456789abcdef0123456789abcdef"},
                            {"strongroom", {{"key", "keys/k"}}}};
  ASSERT_OK_AND_ASSIGN(std::string token, token_signer_->Sign(payload));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const nlohmann::json> first,
                       token_signer_->VerifyShared(token, now));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const nlohmann::json> second,
                       token_signer_->VerifyShared(token, now));
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first.get(), second.get());
  EXPECT_EQ(*first, payload);
  ASSERT_OK_AND_ASSIGN(nlohmann::json copied, token_signer_->Verify(token, now));
  EXPECT_EQ(copied, payload);
  EXPECT_THAT(token_signer_->VerifyShared(token, now + absl::Minutes(5)),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("expired")));
  std::string forged = token;
  const size_t i = token.rfind('.') + 10;
  forged[i] = forged[i] == 'A' ? 'B' : 'A';
  EXPECT_THAT(token_signer_->VerifyShared(forged, now),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("does not verify")));
}

// A header whose alg or kid is there with another type is refused like any
// other bad header (it used to throw out of the JSON library), and through
// the broker that is an audited token_invalid denial.
TEST_F(EarTokenTest, HeaderMembersOfTheWrongTypeAreRefused) {
  const absl::Time now = clock_.Now();
  for (const char* header : {R"({"alg":1})", R"({"alg":"ES256","kid":[]})", R"({"alg":null})"}) {
    const std::string token = absl::StrCat(Base64UrlEncode(AsBytes(header)), ".e30.AA");
    EXPECT_THAT(token_signer_->Verify(token, now),
                StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token header")))
        << header;
  }
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  EXPECT_THAT(Release(kWorkload, absl::StrCat(Base64UrlEncode(AsBytes(R"({"alg":1})")), ".e30.AA"),
                      w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_invalid")));
}

// The signer signs with a session copy of its HSM key; a module
// re-initialization takes the copy away and the next Sign makes a new one.
TEST_F(EarTokenTest, TokensAreSignedAcrossAnHsmReload) {
  const absl::Time now = clock_.Now();
  nlohmann::json payload = {{"iat", absl::ToUnixSeconds(now)},
                            {"exp", absl::ToUnixSeconds(now + absl::Minutes(5))},
                            {"jti", "00000000000000000000000000000001"}};
  ASSERT_OK_AND_ASSIGN(std::string before, token_signer_->Sign(payload));
  ASSERT_OK(hsm_->Reload());
  payload["jti"] = "00000000000000000000000000000002";
  ASSERT_OK_AND_ASSIGN(std::string after, token_signer_->Sign(payload));
  payload["jti"] = "00000000000000000000000000000003";
  ASSERT_OK_AND_ASSIGN(std::string later, token_signer_->Sign(payload));
  // Verified in full by a signer that has seen none of them.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EarTokenSigner> fresh,
                       EarTokenSigner::Create(*hsm_, "ear-test"));
  EXPECT_EQ(fresh->kid(), token_signer_->kid());
  for (const std::string& t : {before, after, later}) EXPECT_OK(fresh->Verify(t, now).status());
}

}  // namespace
}  // namespace strongroom::kms
