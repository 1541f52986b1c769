// End-to-end against a private swtpm per test (tests/attest/tpm/
// swtpm_fixture.h): quotes from ECDSA and RSA AKs made and read through
// TSS2 ESYS, PCR extension, and AK enrollment by TPM2_MakeCredential (ours,
// in software) / TPM2_ActivateCredential (the TPM's). Skipped only when
// swtpm is not installed.
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "attest/tpm/enrollment.h"
#include "attest/tpm/quote_bundle.h"
#include "attest/tpm/testing/swtpm_fixture.h"
#include "attest/tpm/tpm_structures.h"
#include "attest/tpm/tpm_verifier.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/attest/tpm/tpm_test_util.h"

namespace strongroom::attest {
namespace {

using ::strongroom::attest::testing::Swtpm;
using ::strongroom::attest::testing::TpmEvidence;
using ::strongroom::attest::testing::TpmKey;
using ::strongroom::attest::testing::TpmKeyKind;
using ::strongroom::attest::testing::TpmSession;
using ::strongroom::attest::testing::TpmVec;
using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

constexpr uint32_t kRsaEkCertIndex = 0x01c00002;
constexpr uint32_t kEccEkCertIndex = 0x01c00016;  // swtpm: P-384 (H-3)
constexpr uint32_t kEccEkHandle = 0x81010016;
const std::vector<uint32_t> kQuotedPcrs = {0, 1, 2, 3, 4, 5, 6, 7, 16};

Bytes Sha256(std::span<const uint8_t> data) {
  Bytes out(32);
  SHA256(data.data(), data.size(), out.data());
  return out;
}

Bytes RandomNonce() {
  Bytes n(32);
  RAND_bytes(n.data(), static_cast<int>(n.size()));
  return n;
}

class LiveSwtpmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Swtpm::Installed()) GTEST_SKIP() << "swtpm is not installed";
    ASSERT_OK_AND_ASSIGN(swtpm_, Swtpm::Start());
    ASSERT_OK_AND_ASSIGN(tpm_, TpmSession::Connect(swtpm_->tcti()));
  }

  std::unique_ptr<TpmEnrollment> Enrollment() {
    TpmEnrollmentOptions options;
    auto root = swtpm_->EkCaRootPem();
    auto issuer = swtpm_->EkCaIssuerPem();
    EXPECT_TRUE(root.ok() && issuer.ok());
    options.ek_ca_roots_pem = {*root};
    options.ek_ca_intermediates_pem = {*issuer};
    auto e = TpmEnrollment::Create(options);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? std::move(*e) : nullptr;
  }

  // Enrolls `ak` against the RSA EK (template L-1, made here) and returns
  // the verifier that trusts exactly the enrolled AK.
  std::unique_ptr<TpmVerifier> EnrollAndTrust(const TpmKey& ak) {
    auto ek = tpm_->CreateEk(TpmKeyKind::kRsa);
    EXPECT_TRUE(ek.ok()) << ek.status();
    auto cert = tpm_->ReadNv(kRsaEkCertIndex);
    EXPECT_TRUE(cert.ok()) << cert.status();
    if (!ek.ok() || !cert.ok()) return nullptr;
    auto enrollment = Enrollment();
    TpmEnrollmentRequest req;
    req.ek_certificate.assign(cert->begin(), cert->end());
    req.ek_public = ek->public_area;
    req.ak_public = ak.public_area;
    auto challenge = enrollment->Begin(req);
    EXPECT_TRUE(challenge.ok()) << challenge.status();
    if (!challenge.ok()) return nullptr;
    auto secret = tpm_->ActivateCredential(ak.handle, *ek,
                                           challenge->credential_blob,
                                           challenge->encrypted_secret);
    EXPECT_TRUE(secret.ok()) << secret.status();
    EXPECT_TRUE(tpm_->Flush(ek->handle).ok());
    if (!secret.ok()) return nullptr;
    auto enrolled = enrollment->Finish(challenge->id, *secret);
    EXPECT_TRUE(enrolled.ok()) << enrolled.status();
    if (!enrolled.ok()) return nullptr;
    TpmVerifierOptions options;
    options.trusted_ak_public_keys_pem = {enrolled->ak_public_pem};
    auto verifier = TpmVerifier::Create(options);
    EXPECT_TRUE(verifier.ok()) << verifier.status();
    return verifier.ok() ? std::move(*verifier) : nullptr;
  }

  // A quote bundle over kQuotedPcrs, with the PCR values read back.
  std::string QuoteBundle(const TpmKey& ak, const Bytes& nonce,
                          TpmPcrValues* pcrs_out = nullptr) {
    auto quote = tpm_->QuoteSha256(ak.handle, nonce, kQuotedPcrs);
    EXPECT_TRUE(quote.ok()) << quote.status();
    auto pcrs = tpm_->ReadPcrsSha256(kQuotedPcrs);
    EXPECT_TRUE(pcrs.ok()) << pcrs.status();
    if (!quote.ok() || !pcrs.ok()) return "";
    TpmQuoteBundle b;
    b.quote = quote->attest;
    b.signature = quote->signature;
    b.pcrs[kTpmAlgSha256] = *pcrs;
    b.ak_public = ak.public_area;
    if (pcrs_out != nullptr) *pcrs_out = b.pcrs;
    return BuildTpmQuoteBundle(b);
  }

  std::unique_ptr<Swtpm> swtpm_;  // outlives tpm_
  std::unique_ptr<TpmSession> tpm_;
};

class LiveQuoteTest : public LiveSwtpmTest,
                      public ::testing::WithParamInterface<TpmKeyKind> {};

TEST_P(LiveQuoteTest, EnrolledAkQuoteVerifies) {
  ASSERT_OK_AND_ASSIGN(TpmKey ak, tpm_->CreateAk(GetParam()));
  std::string measurement = "strongroom-live-measurement";
  Bytes m = Sha256(AsBytes(measurement));
  ASSERT_OK(tpm_->ExtendPcrSha256(16, m));
  auto verifier = EnrollAndTrust(ak);
  ASSERT_NE(verifier, nullptr);
  Bytes nonce = RandomNonce();
  std::string json = QuoteBundle(ak, nonce);
  VerifyContext ctx{.at = absl::Now(), .expected_report_data = nonce};
  ASSERT_OK_AND_ASSIGN(Appraisal a, verifier->Verify(TpmEvidence(json), ctx));

  EXPECT_EQ(a.status(), TrustTier::kAffirming);
  EXPECT_EQ(a.claims.GetString("tpm.ak.alg"),
            GetParam() == TpmKeyKind::kRsa ? "rsa" : "ecc");
  EXPECT_EQ(a.claims.GetString("tpm.ak.name"), HexEncode(ak.name));
  EXPECT_EQ(a.claims.GetString("tpm.ak.trust"), "pinned-key");
  EXPECT_EQ(a.claims.GetString("tpm.ak.qualified_name_check"),
            "endorsement-primary");
  EXPECT_EQ(a.claims.GetString("tpm.nonce"), HexEncode(nonce));
  // A fresh swtpm: PCR16 = SHA256(0^32 || m), PCR0..7 zero.
  Bytes expect(32, 0);
  expect.insert(expect.end(), m.begin(), m.end());
  EXPECT_EQ(a.claims.GetString("tpm.pcrs.sha256.16"), HexEncode(Sha256(expect)));
  EXPECT_EQ(a.claims.GetString("tpm.pcrs.sha256.0"), std::string(64, '0'));
  EXPECT_TRUE(a.claims.GetBool("tpm.clock.safe"));
}

TEST_P(LiveQuoteTest, WrongNonceIsRefused) {
  ASSERT_OK_AND_ASSIGN(TpmKey ak, tpm_->CreateAk(GetParam()));
  auto verifier = EnrollAndTrust(ak);
  ASSERT_NE(verifier, nullptr);
  Bytes nonce = RandomNonce();
  std::string json = QuoteBundle(ak, nonce);
  Bytes other = nonce;
  other[0] ^= 0x80;
  VerifyContext ctx{.at = absl::Now(), .expected_report_data = other};
  EXPECT_THAT(verifier->Verify(TpmEvidence(json), ctx),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("extraData (nonce)")));
}

INSTANTIATE_TEST_SUITE_P(Aks, LiveQuoteTest,
                         ::testing::Values(TpmKeyKind::kEcc, TpmKeyKind::kRsa),
                         [](const auto& info) {
                           return info.param == TpmKeyKind::kRsa ? "Rsa" : "Ecc";
                         });

TEST_F(LiveSwtpmTest, PcrExtendChangesTheClaimAndOldValuesNoLongerMatch) {
  ASSERT_OK_AND_ASSIGN(TpmKey ak, tpm_->CreateAk(TpmKeyKind::kEcc));
  auto verifier = EnrollAndTrust(ak);
  ASSERT_NE(verifier, nullptr);
  Bytes nonce = RandomNonce();
  VerifyContext ctx{.at = absl::Now(), .expected_report_data = nonce};
  TpmPcrValues before;
  std::string first = QuoteBundle(ak, nonce, &before);
  ASSERT_OK_AND_ASSIGN(Appraisal a1, verifier->Verify(TpmEvidence(first), ctx));

  std::string event = "model-weights-v2";
  Bytes digest = Sha256(AsBytes(event));
  ASSERT_OK(tpm_->ExtendPcrSha256(16, digest));
  std::string second = QuoteBundle(ak, nonce);
  ASSERT_OK_AND_ASSIGN(Appraisal a2, verifier->Verify(TpmEvidence(second), ctx));

  std::string old16 = a1.claims.GetString("tpm.pcrs.sha256.16");
  std::string new16 = a2.claims.GetString("tpm.pcrs.sha256.16");
  EXPECT_NE(old16, new16);
  ASSERT_OK_AND_ASSIGN(Bytes old_bytes, HexDecode(old16));
  old_bytes.insert(old_bytes.end(), digest.begin(), digest.end());
  EXPECT_EQ(new16, HexEncode(Sha256(old_bytes)));
  EXPECT_EQ(a1.claims.GetString("tpm.pcrs.sha256.7"),
            a2.claims.GetString("tpm.pcrs.sha256.7"));

  // The new quote with the old PCR values: the digest no longer matches.
  ASSERT_OK_AND_ASSIGN(TpmQuoteBundle stale, ParseTpmQuoteBundle(second));
  stale.pcrs = before;
  EXPECT_THAT(verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(stale)), ctx),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("pcrDigest mismatch")));
}

TEST_F(LiveSwtpmTest, QuoteSelectingNoPcrsNeedsNoValues) {
  ASSERT_OK_AND_ASSIGN(TpmKey ak, tpm_->CreateAk(TpmKeyKind::kEcc));
  auto verifier = EnrollAndTrust(ak);
  ASSERT_NE(verifier, nullptr);
  Bytes nonce = RandomNonce();
  ASSERT_OK_AND_ASSIGN(auto quote, tpm_->QuoteSha256(ak.handle, nonce, {}));
  TpmQuoteBundle b;
  b.quote = quote.attest;
  b.signature = quote.signature;
  b.ak_public = ak.public_area;  // and no "pcrs" values at all
  VerifyContext ctx{.at = absl::Now(), .expected_report_data = nonce};
  ASSERT_OK_AND_ASSIGN(Appraisal a,
                       verifier->Verify(TpmEvidence(BuildTpmQuoteBundle(b)), ctx));
  EXPECT_FALSE(a.claims.Has("tpm.pcrs.sha256.0"));
  EXPECT_EQ(a.claims.GetString("tpm.nonce"), HexEncode(nonce));
}

TEST_F(LiveSwtpmTest, EnrollmentWithTheRsaEk) {
  ASSERT_OK_AND_ASSIGN(TpmKey ak, tpm_->CreateAk(TpmKeyKind::kRsa));
  ASSERT_OK_AND_ASSIGN(TpmKey ek, tpm_->CreateEk(TpmKeyKind::kRsa));
  ASSERT_OK_AND_ASSIGN(Bytes cert, tpm_->ReadNv(kRsaEkCertIndex));
  auto enrollment = Enrollment();
  TpmEnrollmentRequest req;
  req.ek_certificate.assign(cert.begin(), cert.end());
  req.ak_public = ak.public_area;  // no ek_public: template L-1 assumed
  ASSERT_OK_AND_ASSIGN(TpmCredentialChallenge c, enrollment->Begin(req));
  EXPECT_EQ(c.ak_name, ak.name);
  ASSERT_OK_AND_ASSIGN(SecretBytes secret,
                       tpm_->ActivateCredential(ak.handle, ek, c.credential_blob,
                                                c.encrypted_secret));
  EXPECT_EQ(secret.size(), 32u);
  ASSERT_OK_AND_ASSIGN(EnrolledAk enrolled, enrollment->Finish(c.id, secret));
  EXPECT_EQ(enrolled.ak_name, ak.name);
  EXPECT_EQ(enrolled.ak_public, ak.public_area);
  ASSERT_OK_AND_ASSIGN(TpmtPublic parsed, ParseTpmtPublic(ak.public_area));
  ASSERT_OK_AND_ASSIGN(auto key, TpmPublicKey(parsed));
  ASSERT_OK_AND_ASSIGN(auto pem, PublicKeyFromPem(enrolled.ak_public_pem, "pem"));
  EXPECT_EQ(EVP_PKEY_eq(key.get(), pem.get()), 1);
  // Single use.
  EXPECT_THAT(enrollment->Finish(c.id, secret),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(LiveSwtpmTest, EnrollmentWithTheEccEk) {
  ASSERT_OK_AND_ASSIGN(TpmKey ak, tpm_->CreateAk(TpmKeyKind::kEcc));
  ASSERT_OK_AND_ASSIGN(TpmKey ek, tpm_->Persistent(kEccEkHandle));
  ASSERT_OK_AND_ASSIGN(Bytes cert, tpm_->ReadNv(kEccEkCertIndex));
  auto enrollment = Enrollment();
  TpmEnrollmentRequest req;
  req.ek_certificate.assign(cert.begin(), cert.end());
  req.ek_public = ek.public_area;
  req.ak_public = ak.public_area;
  ASSERT_OK_AND_ASSIGN(TpmCredentialChallenge c, enrollment->Begin(req));
  ASSERT_OK_AND_ASSIGN(SecretBytes secret,
                       tpm_->ActivateCredential(ak.handle, ek, c.credential_blob,
                                                c.encrypted_secret));
  EXPECT_EQ(secret.size(), 48u);  // SHA-384 nameAlg
  EXPECT_OK(enrollment->Finish(c.id, secret));
}

TEST_F(LiveSwtpmTest, CredentialForAnotherAkNameIsNotActivated) {
  ASSERT_OK_AND_ASSIGN(TpmKey ak, tpm_->CreateAk(TpmKeyKind::kRsa));
  ASSERT_OK_AND_ASSIGN(TpmKey other, tpm_->CreateAk(TpmKeyKind::kEcc));
  ASSERT_OK(tpm_->Flush(other.handle));
  ASSERT_OK_AND_ASSIGN(TpmKey ek, tpm_->CreateEk(TpmKeyKind::kRsa));
  ASSERT_OK_AND_ASSIGN(Bytes cert, tpm_->ReadNv(kRsaEkCertIndex));
  auto enrollment = Enrollment();
  TpmEnrollmentRequest req;
  req.ek_certificate.assign(cert.begin(), cert.end());
  req.ak_public = other.public_area;  // the challenge names the other AK
  ASSERT_OK_AND_ASSIGN(TpmCredentialChallenge c, enrollment->Begin(req));
  // The TPM refuses to release it for `ak` (integrity check over the Name).
  EXPECT_THAT(tpm_->ActivateCredential(ak.handle, ek, c.credential_blob,
                                       c.encrypted_secret),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("ActivateCredential")));
  // Guessing does not help, and the challenge is gone afterwards.
  SecretBytes guess = SecretBytes::Random(32);
  EXPECT_THAT(enrollment->Finish(c.id, guess),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("activated secret does not match")));
  EXPECT_THAT(enrollment->Finish(c.id, guess), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(LiveSwtpmTest, CredentialForAnotherEkIsNotActivated) {
  // The recorded EK of a different swtpm (same swtpm-localca design, its CA
  // in the vectors).
  ASSERT_OK_AND_ASSIGN(TpmKey ak, tpm_->CreateAk(TpmKeyKind::kRsa));
  ASSERT_OK_AND_ASSIGN(TpmKey ek, tpm_->CreateEk(TpmKeyKind::kRsa));
  TpmEnrollmentOptions options;
  options.ek_ca_roots_pem = {TpmVec("swtpm/swtpm_localca_rootca_cert.pem")};
  options.ek_ca_intermediates_pem = {TpmVec("swtpm/swtpm_localca_issuercert.pem")};
  FakeClock clock(absl::FromCivil(absl::CivilDay(2027, 6, 1), absl::UTCTimeZone()));
  options.clock = &clock;  // inside the recorded certificates' validity
  ASSERT_OK_AND_ASSIGN(auto enrollment, TpmEnrollment::Create(options));
  TpmEnrollmentRequest req;
  req.ek_certificate = TpmVec("swtpm/ek_rsa_cert.der");
  req.ak_public = ak.public_area;
  ASSERT_OK_AND_ASSIGN(TpmCredentialChallenge c, enrollment->Begin(req));
  EXPECT_THAT(tpm_->ActivateCredential(ak.handle, ek, c.credential_blob,
                                       c.encrypted_secret),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("ActivateCredential")));
}

TEST_F(LiveSwtpmTest, EkCertificateMustChainToAConfiguredEkCa) {
  ASSERT_OK_AND_ASSIGN(TpmKey ak, tpm_->CreateAk(TpmKeyKind::kRsa));
  ASSERT_OK_AND_ASSIGN(Bytes cert, tpm_->ReadNv(kRsaEkCertIndex));
  // Only the recorded vectors' swtpm-localca is configured, not this TPM's.
  TpmEnrollmentOptions options;
  options.ek_ca_roots_pem = {TpmVec("swtpm/swtpm_localca_rootca_cert.pem")};
  options.ek_ca_intermediates_pem = {TpmVec("swtpm/swtpm_localca_issuercert.pem")};
  ASSERT_OK_AND_ASSIGN(auto enrollment, TpmEnrollment::Create(options));
  TpmEnrollmentRequest req;
  req.ek_certificate.assign(cert.begin(), cert.end());
  req.ak_public = ak.public_area;
  EXPECT_THAT(enrollment->Begin(req),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("does not chain to an EK CA")));
  // An EK public area that is not the certified key is refused too.
  auto ok_enrollment = Enrollment();
  ASSERT_OK_AND_ASSIGN(TpmKey ecc_ek, tpm_->Persistent(kEccEkHandle));
  req.ek_public = ecc_ek.public_area;
  EXPECT_THAT(ok_enrollment->Begin(req),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("ek_public is not the key of the EK certificate")));
}

}  // namespace
}  // namespace strongroom::attest
