#include "attest/x509.h"

#include <openssl/evp.h>

#include "absl/time/time.h"
#include "base/file.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace strongroom::attest {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

std::string Vec(absl::string_view rel) {
  auto s = ReadFileToString(std::string(STRONGROOM_VECTORS_DIR) + "/" +
                            std::string(rel), "vector");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

absl::Time At(absl::string_view rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return t;
}

TEST(X509Test, AmdMilanVcekChainsToArk) {
  ASSERT_OK_AND_ASSIGN(auto vcek, ParseCertificates(Vec("sev-snp/milan/gosev_vcek.der"), "vcek"));
  ASSERT_OK_AND_ASSIGN(auto pool, ParseCertificates(Vec("sev-snp/milan/ask_ark_milan.pem"), "chain"));
  ASSERT_EQ(pool.size(), 2u);
  ChainCheck check{.at = At("2024-01-01T00:00:00Z")};
  ASSERT_OK_AND_ASSIGN(auto chain, BuildAndVerifyChain(vcek[0], pool, check));
  EXPECT_EQ(chain.size(), 3u);
  EXPECT_EQ(chain.back().common_name(), "ARK-Milan");
  // Pinning a different root refuses the same chain.
  check.pinned_roots = {std::string(64, '0')};
  EXPECT_THAT(VerifyChain(chain, check),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("pinned")));
  check.pinned_roots = {chain.back().SpkiSha256Hex()};
  EXPECT_OK(VerifyChain(chain, check));
}

TEST(X509Test, ExpiredAtVerificationTimeIsRefused) {
  ASSERT_OK_AND_ASSIGN(auto pool, ParseCertificates(Vec("tdx/gotdx/tcb_signing_chain_2018.pem"), "chain"));
  ASSERT_GE(pool.size(), 2u);
  ChainCheck check{.at = At("2090-01-01T00:00:00Z")};
  EXPECT_THAT(VerifyChain(pool, check),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("expired")));
}

TEST(X509Test, TamperedVcekFailsUnderAsk) {
  ASSERT_OK_AND_ASSIGN(auto bad, ParseCertificates(Vec("sev-snp/negative/trustee_test-vcek-invalid-new.der"), "vcek"));
  ASSERT_OK_AND_ASSIGN(auto pool, ParseCertificates(Vec("sev-snp/milan/ask_ark_milan.pem"), "chain"));
  std::vector<Certificate> chain{bad[0], pool[0], pool[1]};
  ChainCheck check{.at = At("2024-01-01T00:00:00Z")};
  EXPECT_THAT(VerifyChain(chain, check),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("signature")));
}

TEST(X509Test, GarbageIsInvalidArgument) {
  EXPECT_THAT(ParseCertificates("", "f"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseCertificates("\x30\x03\x02\x01\x01", "f"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("f")));
  EXPECT_THAT(ParseCertificates("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "f"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(X509Test, EcPointMustBeOnCurve) {
  Bytes bad(64, 0x01);
  EXPECT_THAT(EcPublicKeyFromPoint(NID_X9_62_prime256v1, bad, "ak"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ak")));
}

}  // namespace
}  // namespace strongroom::attest
