#include "attest/x509.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

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

// A self-signed P-256 certificate (DER) whose notBefore and notAfter are
// UTCTime values with the given text, which need not be a valid time.
std::string CertWithTimes(const std::string& not_before, const std::string& not_after) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("times"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  auto set = [](const std::string& text) {
    ASN1_TIME* t = ASN1_STRING_type_new(V_ASN1_UTCTIME);
    ASN1_STRING_set(t, text.data(), static_cast<int>(text.size()));
    return t;
  };
  ASN1_TIME* nb = set(not_before);
  ASN1_TIME* na = set(not_after);
  X509_set1_notBefore(x, nb);
  X509_set1_notAfter(x, na);
  X509_set_pubkey(x, key);
  X509_sign(x, key, EVP_sha256());
  unsigned char* der = nullptr;
  const int n = i2d_X509(x, &der);
  std::string out = n > 0 ? std::string(reinterpret_cast<char*>(der), n) : "";
  OPENSSL_free(der);
  ASN1_TIME_free(nb);
  ASN1_TIME_free(na);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

// A validity time OpenSSL cannot read never makes a certificate valid: an
// unreadable notBefore is in the infinite future, an unreadable notAfter in
// the infinite past.
TEST(X509Test, UnreadableValidityTimesFailClosed) {
  const std::string good = CertWithTimes("240101000000Z", "340101000000Z");
  ASSERT_OK_AND_ASSIGN(std::vector<Certificate> certs, ParseCertificates(good, "good"));
  EXPECT_EQ(certs[0].not_before(), At("2024-01-01T00:00:00Z"));
  const std::string bad = CertWithTimes("2401xx000000Z", "34010100000xZ");
  absl::StatusOr<std::vector<Certificate>> parsed = ParseCertificates(bad, "bad");
  if (!parsed.ok()) {
    // An OpenSSL that refuses the text at parse fails closed as well.
    EXPECT_THAT(parsed.status(), StatusIs(absl::StatusCode::kInvalidArgument));
    return;
  }
  EXPECT_EQ((*parsed)[0].not_before(), absl::InfiniteFuture());
  EXPECT_EQ((*parsed)[0].not_after(), absl::InfinitePast());
}

TEST(X509Test, EcPointMustBeOnCurve) {
  Bytes bad(64, 0x01);
  EXPECT_THAT(EcPublicKeyFromPoint(NID_X9_62_prime256v1, bad, "ak"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ak")));
}

}  // namespace
}  // namespace strongroom::attest
