// TpmVerifier refusals, each with its specific reason, on the recorded
// swtpm quotes (plus AK certificates issued by throw-away test CAs for the
// recorded AK keys, for the certificate-chain trust path).
#include <functional>

#include "attest/tpm/quote_bundle.h"
#include "attest/tpm/testing/test_ca.h"
#include "attest/tpm/tpm_verifier.h"
#include "attest/x509.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/attest/tpm/tpm_test_util.h"

namespace strongroom::attest {
namespace {

using ::strongroom::attest::testing::PinnedTime;
using ::strongroom::attest::testing::SwtpmBundle;
using ::strongroom::attest::testing::SwtpmNonce;
using ::strongroom::attest::testing::TestCa;
using ::strongroom::attest::testing::TpmEvidence;
using ::strongroom::attest::testing::TpmVec;
using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

using Code = absl::StatusCode;

struct Negative {
  std::string name;
  std::string alg;  // which recorded quote
  std::function<void(TpmQuoteBundle&, VerifyContext&)> mutate;
  Code code;
  std::string reason;
};

void PrintTo(const Negative& n, std::ostream* os) { *os << n.name; }

class TpmNegativeTest : public ::testing::TestWithParam<Negative> {};

TEST_P(TpmNegativeTest, IsRefusedWithItsReason) {
  const Negative& n = GetParam();
  TpmQuoteBundle b = SwtpmBundle(n.alg);
  VerifyContext ctx{.at = PinnedTime(), .expected_report_data = SwtpmNonce()};
  TpmVerifierOptions options;
  options.trusted_ak_public_keys_pem = {TpmVec("swtpm/ak_" + n.alg + "_pub.pem")};
  ASSERT_OK_AND_ASSIGN(auto verifier, TpmVerifier::Create(options));
  // The unmodified bundle verifies, so the refusal below is the mutation's.
  ASSERT_OK(verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(b)), ctx));
  n.mutate(b, ctx);
  EXPECT_THAT(verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(b)), ctx),
              StatusIs(n.code, HasSubstr(n.reason)));
}

// Offsets in the recorded TPMS_ATTEST: magic 0, type 4, firmwareVersion 78.
// In TPMT_SIGNATURE: ECDSA r at 6, RSA signature at 6. In TPM2B_PUBLIC:
// objectAttributes at 6 (the restricted bit 0x00010000 in byte 7).
INSTANTIATE_TEST_SUITE_P(
    Cases, TpmNegativeTest,
    ::testing::Values(
        Negative{"FlippedEcdsaSignatureByte", "ecc",
                 [](auto& b, auto&) { b.signature[10] ^= 0x01; },
                 Code::kPermissionDenied, "signature does not verify"},
        Negative{"FlippedRsaSignatureByte", "rsa",
                 [](auto& b, auto&) { b.signature[100] ^= 0x01; },
                 Code::kPermissionDenied, "signature does not verify"},
        Negative{"FlippedAttestByte", "ecc",
                 [](auto& b, auto&) { b.quote[80] ^= 0x01; },
                 Code::kPermissionDenied, "signature does not verify"},
        Negative{"PcrValueChanged", "rsa",
                 [](auto& b, auto&) { b.pcrs[kTpmAlgSha256][16][0] ^= 0x01; },
                 Code::kPermissionDenied, "pcrDigest mismatch"},
        Negative{"SelectedPcrMissing", "ecc",
                 [](auto& b, auto&) { b.pcrs[kTpmAlgSha256].erase(16); },
                 Code::kInvalidArgument,
                 "pcrs.sha256.16: selected by the quote but not supplied"},
        Negative{"WrongNonce", "ecc",
                 [](auto&, auto& ctx) {
                   std::string other = "broker-nonce-0002";
                   ctx.expected_report_data = Bytes(other.begin(), other.end());
                 },
                 Code::kPermissionDenied, "extraData (nonce)"},
        Negative{"TruncatedAttest", "rsa",
                 [](auto& b, auto&) { b.quote.pop_back(); },
                 Code::kInvalidArgument, "truncated"},
        Negative{"TrailingGarbage", "rsa",
                 [](auto& b, auto&) { b.quote.push_back(0x00); },
                 Code::kInvalidArgument, "trailing bytes"},
        Negative{"WrongMagic", "ecc",
                 [](auto& b, auto&) { b.quote[0] = 0xfe; },
                 Code::kInvalidArgument, "is not TPM_GENERATED_VALUE"},
        Negative{"WrongType", "ecc",
                 [](auto& b, auto&) { b.quote[5] = 0x17; },  // ATTEST_CERTIFY
                 Code::kInvalidArgument, "0x8017 is not TPM_ST_ATTEST_QUOTE"},
        Negative{"EcdsaSignatureWithRsaAk", "rsa",
                 [](auto& b, auto&) {
                   std::string sig = TpmVec("swtpm/quote_ecc.sig");
                   b.signature.assign(sig.begin(), sig.end());
                 },
                 Code::kPermissionDenied,
                 "signature algorithm ecdsa does not match the AK's rsa key"},
        Negative{"RsaSignatureWithEccAk", "ecc",
                 [](auto& b, auto&) {
                   std::string sig = TpmVec("swtpm/quote_rsa.sig");
                   b.signature.assign(sig.begin(), sig.end());
                 },
                 Code::kPermissionDenied,
                 "signature algorithm rsassa does not match the AK's ecc key"},
        Negative{"SchemeOtherThanTheAksFixedOne", "rsa",
                 [](auto& b, auto&) { b.signature[1] = 0x16; },  // RSAPSS
                 Code::kPermissionDenied, "is not the AK's fixed scheme rsassa"},
        Negative{"AkNotRestricted", "ecc",
                 [](auto& b, auto&) { b.ak_public[7] &= ~0x01; },
                 Code::kPermissionDenied, "lack restricted"},
        Negative{"AkPublicOfAnotherKey", "ecc",
                 [](auto& b, auto&) {
                   std::string other = TpmVec("swtpm/ak_rsa.pub");
                   b.ak_public.assign(other.begin(), other.end());
                 },
                 Code::kPermissionDenied, "does not match the AK's rsa key"},
        // The qualifiedSigner answer is cached with the exact ek_public
        // bytes, so a changed ek_public is parsed (and refused) again.
        Negative{"TruncatedEkPublic", "rsa",
                 [](auto& b, auto&) { b.ek_public.pop_back(); },
                 Code::kInvalidArgument, "tpm quote: ek_public: TPMT_PUBLIC"},
        Negative{"EkPublicWithTrailingByte", "ecc",
                 [](auto& b, auto&) { b.ek_public.push_back(0x00); },
                 Code::kInvalidArgument, "tpm quote: ek_public: TPMT_PUBLIC"},
        Negative{"GarbageBundle", "ecc",
                 [](auto& b, auto&) { b.signature = {0x00}; },
                 Code::kInvalidArgument, "TPMT_SIGNATURE: sigAlg: truncated"}),
    [](const auto& info) { return info.param.name; });

// A refused signature does not leave anything behind in the AK's pooled
// verify contexts: the genuine quote verifies before and after, on both AKs.
TEST(TpmVerifierSignatureTest, GenuineQuoteVerifiesAfterForgedOnes) {
  TpmVerifierOptions options;
  for (const char* alg : {"ecc", "rsa"}) {
    options.trusted_ak_public_keys_pem.push_back(
        TpmVec(std::string("swtpm/ak_") + alg + "_pub.pem"));
  }
  ASSERT_OK_AND_ASSIGN(auto verifier, TpmVerifier::Create(options));
  VerifyContext ctx{.at = PinnedTime(), .expected_report_data = SwtpmNonce()};
  for (const char* alg : {"ecc", "rsa"}) {
    SCOPED_TRACE(alg);
    const TpmQuoteBundle good = SwtpmBundle(alg);
    TpmQuoteBundle forged = good;
    forged.signature[20] ^= 0x80;
    for (int i = 0; i < 3; ++i) {
      ASSERT_OK(verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(good)), ctx));
      EXPECT_THAT(
          verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(forged)), ctx),
          StatusIs(Code::kPermissionDenied, HasSubstr("does not verify")));
    }
    ASSERT_OK(verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(good)), ctx));
  }
}

TEST(TpmVerifierTrustTest, UntrustedAkIsRefused) {
  TpmVerifierOptions options;  // the other AK is pinned
  options.trusted_ak_public_keys_pem = {TpmVec("swtpm/ak_rsa_pub.pem")};
  ASSERT_OK_AND_ASSIGN(auto verifier, TpmVerifier::Create(options));
  VerifyContext ctx{.at = PinnedTime(), .expected_report_data = SwtpmNonce()};
  EXPECT_THAT(
      verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(SwtpmBundle("ecc"))), ctx),
      StatusIs(Code::kPermissionDenied,
               HasSubstr("is not a trusted AK key and no AK certificate")));
  ASSERT_OK_AND_ASSIGN(auto empty, TpmVerifier::Create({}));
  EXPECT_THAT(
      empty->Verify(TpmEvidence(BuildTpmQuoteBundle(SwtpmBundle("rsa"))), ctx),
      StatusIs(Code::kPermissionDenied, HasSubstr("not a trusted AK key")));
}

class TpmAkCertificateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Time t = PinnedTime();
    auto ca = TestCa::Create("Test AK CA", t - absl::Hours(24 * 365),
                             t + absl::Hours(24 * 365));
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<TestCa>(std::move(*ca));
    auto other = TestCa::Create("Other AK CA", t - absl::Hours(24 * 365),
                                t + absl::Hours(24 * 365));
    ASSERT_TRUE(other.ok()) << other.status();
    other_ = std::make_unique<TestCa>(std::move(*other));
    auto key = PublicKeyFromPem(TpmVec("swtpm/ak_ecc_pub.pem"), "ak");
    ASSERT_TRUE(key.ok()) << key.status();
    ak_key_ = *key;
  }

  absl::StatusOr<Appraisal> Verify(const TestCa& root,
                                   std::vector<std::string> certs,
                                   absl::Time at, bool with_ak_public = true) {
    TpmVerifierOptions options;
    options.ak_ca_roots_pem = {root.cert_pem()};
    auto verifier = TpmVerifier::Create(options);
    if (!verifier.ok()) return verifier.status();
    TpmQuoteBundle b = SwtpmBundle("ecc");
    if (!with_ak_public) b.ak_public.clear();
    VerifyContext ctx{.at = at, .expected_report_data = SwtpmNonce()};
    return (*verifier)->Verify(TpmEvidence(BuildTpmQuoteBundle(b), certs), ctx);
  }

  std::unique_ptr<TestCa> ca_;
  std::unique_ptr<TestCa> other_;
  std::shared_ptr<EVP_PKEY> ak_key_;
};

TEST_F(TpmAkCertificateTest, ChainToThePinnedRootMakesTheAkTrusted) {
  absl::Time t = PinnedTime();
  ASSERT_OK_AND_ASSIGN(std::string leaf,
                       ca_->Issue(ak_key_.get(), "ak", t - absl::Hours(1),
                                  t + absl::Hours(1)));
  ASSERT_OK_AND_ASSIGN(Appraisal a, Verify(*ca_, {leaf}, t));
  EXPECT_EQ(a.claims.GetString("tpm.ak.trust"), "certificate");
  // The certificate alone names the AK as well.
  ASSERT_OK_AND_ASSIGN(Appraisal b, Verify(*ca_, {leaf}, t, false));
  EXPECT_EQ(b.claims.GetString("tpm.ak.alg"), "ecc");
  EXPECT_FALSE(b.claims.Has("tpm.ak.name"));
}

// The CA's chain alone does not make a key an AK: the leaf must carry a TCG
// key purpose. A key the same CA certified for something else (or for
// nothing in particular) could sign a made-up quote.
TEST_F(TpmAkCertificateTest, AkCertificateWithoutATcgKeyPurposeIsRefused) {
  absl::Time t = PinnedTime();
  for (bool with_ak_public : {true, false}) {
    ASSERT_OK_AND_ASSIGN(std::string none, ca_->Issue(ak_key_.get(), "ak", t - absl::Hours(1),
                                                      t + absl::Hours(1), /*eku=*/""));
    EXPECT_THAT(Verify(*ca_, {none}, t, with_ak_public),
                StatusIs(Code::kPermissionDenied, HasSubstr("extended key usage absent")));
    ASSERT_OK_AND_ASSIGN(std::string tls, ca_->Issue(ak_key_.get(), "ak", t - absl::Hours(1),
                                                     t + absl::Hours(1), "serverAuth"));
    EXPECT_THAT(
        Verify(*ca_, {tls}, t, with_ak_public),
        StatusIs(Code::kPermissionDenied, HasSubstr("[1.3.6.1.5.5.7.3.1] has no TCG key purpose")));
    // Google's AK certificates carry tcg-kp-EKCertificate.
    ASSERT_OK_AND_ASSIGN(std::string ek_purpose, ca_->Issue(ak_key_.get(), "ak", t - absl::Hours(1),
                                                            t + absl::Hours(1), "2.23.133.8.1"));
    EXPECT_OK(Verify(*ca_, {ek_purpose}, t, with_ak_public));
  }
}

TEST_F(TpmAkCertificateTest, ChainToAnUnpinnedRootIsRefused) {
  absl::Time t = PinnedTime();
  ASSERT_OK_AND_ASSIGN(std::string leaf,
                       other_->Issue(ak_key_.get(), "ak", t - absl::Hours(1),
                                     t + absl::Hours(1)));
  // The evidence brings its own root; only ca_ is pinned.
  EXPECT_THAT(Verify(*ca_, {leaf, other_->cert_pem()}, t),
              StatusIs(Code::kPermissionDenied,
                       HasSubstr("is not a pinned trust anchor")));
}

TEST_F(TpmAkCertificateTest, ExpiredAkCertificateIsRefusedAtThePinnedTime) {
  absl::Time t = PinnedTime();
  ASSERT_OK_AND_ASSIGN(std::string leaf,
                       ca_->Issue(ak_key_.get(), "ak", t - absl::Hours(48),
                                  t - absl::Hours(24)));
  EXPECT_THAT(Verify(*ca_, {leaf}, t),
              StatusIs(Code::kPermissionDenied, HasSubstr("expired")));
  // The same certificate verified at a time inside its validity is fine.
  EXPECT_OK(Verify(*ca_, {leaf}, t - absl::Hours(36)));
}

TEST_F(TpmAkCertificateTest, CertificateForAnotherKeyIsRefused) {
  absl::Time t = PinnedTime();
  ASSERT_OK_AND_ASSIGN(auto rsa, PublicKeyFromPem(TpmVec("swtpm/ak_rsa_pub.pem"), "ak"));
  ASSERT_OK_AND_ASSIGN(std::string leaf,
                       ca_->Issue(rsa.get(), "ak", t - absl::Hours(1), t + absl::Hours(1)));
  EXPECT_THAT(Verify(*ca_, {leaf}, t),
              StatusIs(Code::kPermissionDenied,
                       HasSubstr("does not match the key of AK certificate")));
}

TEST(TpmVerifierContextTest, ContextAndEvidenceTypeAreChecked) {
  ASSERT_OK_AND_ASSIGN(auto verifier, TpmVerifier::Create({}));
  std::string json = BuildTpmQuoteBundle(SwtpmBundle("ecc"));
  EXPECT_THAT(verifier->Verify(TpmEvidence(json), VerifyContext{}),
              StatusIs(Code::kInvalidArgument, HasSubstr("VerifyContext.at")));
  Evidence snp = TpmEvidence(json);
  snp.type = EvidenceType::kSevSnp;
  EXPECT_THAT(verifier->Verify(snp, VerifyContext{.at = PinnedTime()}),
              StatusIs(Code::kInvalidArgument, HasSubstr("'snp'")));
  TpmVerifierOptions bad;
  bad.trusted_ak_public_keys_pem = {"not a key"};
  EXPECT_THAT(TpmVerifier::Create(bad),
              StatusIs(Code::kInvalidArgument,
                       HasSubstr("trusted_ak_public_keys_pem[0]")));
  TpmVerifierOptions leaf_as_root;
  leaf_as_root.ak_ca_roots_pem = {TpmVec("swtpm/swtpm_localca_issuercert.pem")};
  EXPECT_THAT(TpmVerifier::Create(leaf_as_root),
              StatusIs(Code::kInvalidArgument, HasSubstr("not a self-signed root")));
}

}  // namespace
}  // namespace strongroom::attest
