// TpmVerifier on recorded quotes: swtpm + tpm2-tools (tpm/swtpm) and GCE
// Shielded VM quotes from go-tpm-tools (tpm/gce-shielded-vm).
//
// The GCE AK certificate is issued by Google's "tpm_ek_v1_cloud_host-signer"
// intermediate, which is not among the vectors (nor its root), so these
// tests trust the GCE AK by its pinned public key (ak_pub.pem) and check
// that the certificate alone does not make it trusted.
#include <openssl/sha.h>

#include "attest/tpm/quote_bundle.h"
#include "attest/tpm/tpm_verifier.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/attest/tpm/tpm_test_util.h"

namespace strongroom::attest {
namespace {

using ::strongroom::attest::testing::PinnedTime;
using ::strongroom::attest::testing::SwtpmBundle;
using ::strongroom::attest::testing::SwtpmNonce;
using ::strongroom::attest::testing::TpmEvidence;
using ::strongroom::attest::testing::TpmVec;
using ::strongroom::attest::testing::TpmVecBytes;
using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::unique_ptr<TpmVerifier> PinnedVerifier(const std::string& pem) {
  TpmVerifierOptions options;
  options.trusted_ak_public_keys_pem = {pem};
  auto v = TpmVerifier::Create(options);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? std::move(*v) : nullptr;
}

class SwtpmRecordedTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SwtpmRecordedTest, QuoteVerifiesWithClaims) {
  const std::string alg = GetParam();
  std::string dir = "swtpm/";
  ASSERT_OK_AND_ASSIGN(
      std::string json,
      BuildTpmQuoteBundleFromTpm2Tools(
          {TpmVec(dir + "quote_" + alg + ".attest"),
           TpmVec(dir + "quote_" + alg + ".sig"), TpmVec(dir + "pcrs_sha256.txt"),
           TpmVec(dir + "ak_" + alg + ".pub"), TpmVec(dir + "ek.pub")}));
  auto verifier = PinnedVerifier(TpmVec(dir + "ak_" + alg + "_pub.pem"));
  VerifyContext ctx{.at = PinnedTime(), .expected_report_data = SwtpmNonce()};
  ASSERT_OK_AND_ASSIGN(Appraisal a, verifier->Verify(TpmEvidence(json), ctx));

  EXPECT_EQ(a.tee, "tpm");
  EXPECT_EQ(a.status(), TrustTier::kAffirming);
  EXPECT_EQ(a.trust.instance_identity, 2);
  EXPECT_EQ(a.trust.hardware, 2);
  EXPECT_EQ(a.trust.executables, 2);
  EXPECT_THAT(a.warnings, IsEmpty());
  ASSERT_OK_AND_ASSIGN(TpmPcrValues pcrs, ParsePcrListing(TpmVec(dir + "pcrs_sha256.txt")));
  for (const auto& [index, value] : pcrs.at(kTpmAlgSha256)) {
    EXPECT_EQ(a.claims.GetString(absl::StrCat("tpm.pcrs.sha256.", index)),
              HexEncode(value));
  }
  EXPECT_EQ(a.claims.GetString("tpm.nonce"), HexEncode(SwtpmNonce()));
  EXPECT_EQ(a.claims.GetString("tpm.ak.name"),
            HexEncode(TpmVecBytes(dir + "ak_" + alg + ".name")));
  EXPECT_EQ(a.claims.GetString("tpm.ak.alg"), alg);
  EXPECT_EQ(a.claims.GetString("tpm.ak.trust"), "pinned-key");
  // tpm2_createak makes the AK a child of the EK.
  EXPECT_EQ(a.claims.GetString("tpm.ak.qualified_name_check"), "ek-child");
  EXPECT_TRUE(a.claims.GetBool("tpm.clock.safe"));
  EXPECT_TRUE(a.claims.Has("tpm.firmware_version"));
  EXPECT_TRUE(a.claims.Has("tpm.reset_count"));
  EXPECT_TRUE(a.claims.Has("tpm.restart_count"));
  EXPECT_EQ(a.claims.GetString("tpm.quote.hash"), "sha256");
}

TEST_P(SwtpmRecordedTest, WithoutEkPublicTheQualifiedNameIsOnlyReported) {
  TpmQuoteBundle b = SwtpmBundle(GetParam());
  b.ek_public.clear();
  auto verifier = PinnedVerifier(TpmVec("swtpm/ak_" + GetParam() + "_pub.pem"));
  VerifyContext ctx{.at = PinnedTime(), .expected_report_data = SwtpmNonce()};
  ASSERT_OK_AND_ASSIGN(Appraisal a,
                       verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(b)), ctx));
  EXPECT_EQ(a.claims.GetString("tpm.ak.qualified_name_check"), "unverified");
  EXPECT_EQ(a.claims.GetString("tpm.ak.qualified_name"),
            HexEncode(std::span<const uint8_t>(b.quote).subspan(8, 34)));
  EXPECT_THAT(a.warnings, ::testing::Contains(HasSubstr("qualifiedSigner")));
}

TEST_P(SwtpmRecordedTest, AkFromPinnedKeyAloneWithoutPublicArea) {
  TpmQuoteBundle b = SwtpmBundle(GetParam());
  b.ak_public.clear();
  auto verifier = PinnedVerifier(TpmVec("swtpm/ak_" + GetParam() + "_pub.pem"));
  VerifyContext ctx{.at = PinnedTime(), .expected_report_data = SwtpmNonce()};
  // No ak_public and no certificate: nothing names the AK.
  EXPECT_THAT(verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(b)), ctx),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no AK")));
}

INSTANTIATE_TEST_SUITE_P(Algs, SwtpmRecordedTest, ::testing::Values("ecc", "rsa"));

struct GceCase {
  std::string prefix;  // gce-cos-85-<...>
  std::string quote;   // q0 (SHA-1 bank), q1 (SHA-256), q2 (SHA-384)
};

void PrintTo(const GceCase& c, std::ostream* os) {
  *os << c.prefix << "/" << c.quote;
}

std::string GceName(const ::testing::TestParamInfo<GceCase>& info) {
  std::string p = info.param.prefix == "nonce9009" ? "Nonce9009" : "NoNonce";
  return p + "_" + info.param.quote;
}

class GceRecordedTest : public ::testing::TestWithParam<GceCase> {
 protected:
  std::string File(absl::string_view suffix) const {
    return absl::StrCat("gce-shielded-vm/gce-cos-85-", GetParam().prefix, "_",
                        suffix);
  }
  std::string Bundle() const {
    auto json = BuildTpmQuoteBundleFromTpm2Tools(
        {TpmVec(File(GetParam().quote + "_attest.bin")),
         TpmVec(File(GetParam().quote + "_tpmt_signature.bin")),
         TpmVec(File(GetParam().quote + "_pcrs.txt")),
         TpmVec(File("ak_tpmt_public.bin")), ""});
    EXPECT_TRUE(json.ok()) << json.status();
    return json.ok() ? *json : "";
  }
  // go-tpm-tools' file names say the nonce: "nonce9009" quoted with the
  // extraData bytes 0x90 0x09, "no-nonce" with an empty one.
  Bytes Nonce() const {
    return GetParam().prefix == "nonce9009" ? Bytes{0x90, 0x09} : Bytes{};
  }
  Evidence WithCert(const std::string& json) const {
    return TpmEvidence(json, {TpmVec(File("ak_cert.der"))});
  }
};

TEST_P(GceRecordedTest, QuoteVerifiesUnderThePinnedAk) {
  auto verifier = PinnedVerifier(TpmVec(File("ak_pub.pem")));
  VerifyContext ctx{.at = PinnedTime(), .expected_report_data = Nonce()};
  ASSERT_OK_AND_ASSIGN(Appraisal a, verifier->Verify(WithCert(Bundle()), ctx));
  EXPECT_EQ(a.status(), TrustTier::kAffirming);
  EXPECT_EQ(a.claims.GetString("tpm.ak.trust"), "pinned-key");
  EXPECT_EQ(a.claims.GetString("tpm.ak.alg"), "rsa");
  EXPECT_EQ(a.claims.GetString("tpm.ak.qualified_name_check"),
            "endorsement-primary");
  EXPECT_EQ(a.claims.GetString("tpm.nonce"), HexEncode(Nonce()));
  ASSERT_OK_AND_ASSIGN(TpmPcrValues pcrs,
                       ParsePcrListing(TpmVec(File(GetParam().quote + "_pcrs.txt"))));
  ASSERT_EQ(pcrs.size(), 1u);
  std::string bank = TpmAlgName(pcrs.begin()->first);
  for (const auto& [index, value] : pcrs.begin()->second) {
    EXPECT_EQ(a.claims.GetString(absl::StrCat("tpm.pcrs.", bank, ".", index)),
              HexEncode(value));
  }
  Bytes tpmt = TpmVecBytes(File("ak_tpmt_public.bin"));
  Bytes digest(32);
  SHA256(tpmt.data(), tpmt.size(), digest.data());
  EXPECT_EQ(a.claims.GetString("tpm.ak.name"), "000b" + HexEncode(digest));
}

TEST_P(GceRecordedTest, CertificateAloneIsNotTrustWithoutGooglesCa) {
  // An unrelated (swtpm) root is configured: the Google chain cannot be built.
  TpmVerifierOptions options;
  options.ak_ca_roots_pem = {TpmVec("swtpm/swtpm_localca_rootca_cert.pem")};
  ASSERT_OK_AND_ASSIGN(auto verifier, TpmVerifier::Create(options));
  VerifyContext ctx{.at = PinnedTime(), .expected_report_data = Nonce()};
  EXPECT_THAT(verifier->Verify(WithCert(Bundle()), ctx),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("no certificate verifies the signature")));
}

TEST_P(GceRecordedTest, OtherNonceIsRefused) {
  auto verifier = PinnedVerifier(TpmVec(File("ak_pub.pem")));
  VerifyContext ctx{.at = PinnedTime(), .expected_report_data = Bytes{0x90, 0x08}};
  EXPECT_THAT(verifier->Verify(WithCert(Bundle()), ctx),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("is not the expected 9008")));
}

INSTANTIATE_TEST_SUITE_P(
    Quotes, GceRecordedTest,
    ::testing::Values(GceCase{"nonce9009", "q0"}, GceCase{"nonce9009", "q1"},
                      GceCase{"nonce9009", "q2"}, GceCase{"no-nonce", "q0"},
                      GceCase{"no-nonce", "q1"}, GceCase{"no-nonce", "q2"}),
    GceName);

}  // namespace
}  // namespace strongroom::attest
