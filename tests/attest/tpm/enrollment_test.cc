// TpmEnrollment and TpmMakeCredential without a TPM: the checks on the AK,
// the EK certificate and the challenge lifecycle, with the recorded swtpm
// EK certificate and AKs. (That the TPM accepts what we make is shown by
// live_swtpm_test.cc.)
#include "attest/tpm/enrollment.h"

#include <functional>

#include "attest/tpm/credential.h"
#include "attest/tpm/tpm_structures.h"
#include "base/clock.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/attest/tpm/tpm_test_util.h"

namespace strongroom::attest {
namespace {

using ::strongroom::attest::testing::TpmVec;
using ::strongroom::attest::testing::TpmVecBytes;
using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

using Code = absl::StatusCode;

class EnrollmentTest : public ::testing::Test {
 protected:
  // Inside the recorded swtpm-localca certificates' validity.
  EnrollmentTest()
      : clock_(absl::FromCivil(absl::CivilDay(2027, 6, 1), absl::UTCTimeZone())) {}

  std::unique_ptr<TpmEnrollment> Make(size_t max_pending = 100) {
    TpmEnrollmentOptions options;
    options.ek_ca_roots_pem = {TpmVec("swtpm/swtpm_localca_rootca_cert.pem")};
    options.ek_ca_intermediates_pem = {TpmVec("swtpm/swtpm_localca_issuercert.pem")};
    options.clock = &clock_;
    options.max_pending = max_pending;
    auto e = TpmEnrollment::Create(options);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? std::move(*e) : nullptr;
  }

  TpmEnrollmentRequest Request(absl::string_view ak = "ecc") {
    TpmEnrollmentRequest r;
    r.ek_certificate = TpmVec("swtpm/ek_rsa_cert.der");
    r.ak_public = TpmVecBytes(absl::StrCat("swtpm/ak_", ak, ".pub"));
    return r;
  }

  FakeClock clock_;
};

TEST_F(EnrollmentTest, ChallengeIsBoundToTheAkNameAndTheEk) {
  auto enrollment = Make();
  ASSERT_OK_AND_ASSIGN(TpmCredentialChallenge c, enrollment->Begin(Request()));
  EXPECT_EQ(c.ak_name, TpmVecBytes("swtpm/ak_ecc.name"));
  EXPECT_EQ(c.id.size(), 32u);
  // TPM2B_ENCRYPTED_SECRET: 2-byte size, then one RSA-2048 block.
  ASSERT_EQ(c.encrypted_secret.size(), 2u + 256u);
  EXPECT_EQ(c.encrypted_secret[0], 0x01);
  EXPECT_EQ(c.encrypted_secret[1], 0x00);
  // TPM2B_ID_OBJECT: size, TPM2B HMAC (32), CFB of a 2+32 byte TPM2B.
  ASSERT_EQ(c.credential_blob.size(), 2u + 2u + 32u + 34u);
  EXPECT_EQ(c.credential_blob[1], 2 + 32 + 34);
  EXPECT_EQ(c.credential_blob[3], 32);
  EXPECT_EQ(enrollment->pending(), 1u);
  // Same inputs, fresh randomness each time.
  ASSERT_OK_AND_ASSIGN(TpmCredentialChallenge d, enrollment->Begin(Request()));
  EXPECT_NE(c.encrypted_secret, d.encrypted_secret);
  EXPECT_NE(c.credential_blob, d.credential_blob);
}

TEST_F(EnrollmentTest, WrongSecretUnknownAndExpiredChallenges) {
  auto enrollment = Make();
  ASSERT_OK_AND_ASSIGN(TpmCredentialChallenge c, enrollment->Begin(Request()));
  EXPECT_THAT(enrollment->Finish("00", SecretBytes::Random(32)),
              StatusIs(Code::kNotFound));
  EXPECT_THAT(enrollment->Finish(c.id, SecretBytes::Random(32)),
              StatusIs(Code::kPermissionDenied, HasSubstr("does not match")));
  EXPECT_EQ(enrollment->pending(), 0u);
  ASSERT_OK_AND_ASSIGN(TpmCredentialChallenge e, enrollment->Begin(Request()));
  clock_.Advance(absl::Minutes(6));
  EXPECT_THAT(enrollment->Finish(e.id, SecretBytes::Random(32)),
              StatusIs(Code::kNotFound, HasSubstr("expired")));
}

TEST_F(EnrollmentTest, PendingChallengesAreBounded) {
  auto enrollment = Make(/*max_pending=*/2);
  ASSERT_OK(enrollment->Begin(Request()));
  ASSERT_OK(enrollment->Begin(Request()));
  EXPECT_THAT(enrollment->Begin(Request()), StatusIs(Code::kResourceExhausted));
  clock_.Advance(absl::Minutes(6));  // the old ones expire and make room
  EXPECT_OK(enrollment->Begin(Request()));
}

TEST_F(EnrollmentTest, AkAttributesAreChecked) {
  auto enrollment = Make();
  // TPM2B_PUBLIC: objectAttributes in bytes 6..9 (0x00050072).
  const std::pair<std::function<void(Bytes&)>, const char*> cases[] = {
      {[](Bytes& b) { b[9] &= ~0x02; }, "lack fixedTPM"},
      {[](Bytes& b) { b[9] &= ~0x10; }, "lack fixedParent"},
      {[](Bytes& b) { b[9] &= ~0x20; }, "lack sensitiveDataOrigin"},
      {[](Bytes& b) { b[7] &= ~0x01; }, "lack restricted"},
      {[](Bytes& b) { b[7] &= ~0x04; }, "lack sign"},
      {[](Bytes& b) { b[7] |= 0x02; }, "set decrypt"},
  };
  for (const auto& [mutate, reason] : cases) {
    SCOPED_TRACE(reason);
    TpmEnrollmentRequest r = Request();
    mutate(r.ak_public);
    EXPECT_THAT(enrollment->Begin(r),
                StatusIs(Code::kPermissionDenied, HasSubstr(reason)));
  }
  TpmEnrollmentRequest garbage = Request();
  garbage.ak_public.resize(10);
  EXPECT_THAT(enrollment->Begin(garbage),
              StatusIs(Code::kInvalidArgument, HasSubstr("ak_public")));
}

TEST_F(EnrollmentTest, EkMustChainAndMatchItsPublicArea) {
  auto enrollment = Make();
  TpmEnrollmentRequest r = Request("rsa");
  r.ek_public = TpmVecBytes("swtpm/ek.pub");  // the certified key
  EXPECT_OK(enrollment->Begin(r));
  r.ek_public = TpmVecBytes("swtpm/ak_rsa.pub");  // another key
  EXPECT_THAT(enrollment->Begin(r),
              StatusIs(Code::kPermissionDenied,
                       HasSubstr("ek_public is not the key of the EK certificate")));
  // A certificate from another issuer (Google's AK certificate) is refused.
  r = Request();
  r.ek_certificate = TpmVec("gce-shielded-vm/gce-cos-85-nonce9009_ak_cert.der");
  EXPECT_THAT(enrollment->Begin(r),
              StatusIs(Code::kPermissionDenied, HasSubstr("does not chain to an EK CA")));
  // Before the EK CA existed.
  clock_.Set(absl::FromCivil(absl::CivilDay(2020, 1, 1), absl::UTCTimeZone()));
  EXPECT_THAT(enrollment->Begin(Request()),
              StatusIs(Code::kPermissionDenied, HasSubstr("not yet valid")));
}

TEST(EnrollmentCreateTest, NeedsSelfSignedRoots) {
  EXPECT_THAT(TpmEnrollment::Create({}),
              StatusIs(Code::kInvalidArgument, HasSubstr("at least one")));
  TpmEnrollmentOptions options;
  options.ek_ca_roots_pem = {TpmVec("swtpm/swtpm_localca_issuercert.pem")};
  EXPECT_THAT(TpmEnrollment::Create(options),
              StatusIs(Code::kInvalidArgument, HasSubstr("not a self-signed root")));
}

TEST(MakeCredentialTest, RefusesWhatATpmWouldRefuse) {
  ASSERT_OK_AND_ASSIGN(TpmtPublic ek, ParseTpmPublicBlob(TpmVecBytes("swtpm/ek.pub")));
  ASSERT_OK_AND_ASSIGN(TpmtPublic ak, ParseTpmPublicBlob(TpmVecBytes("swtpm/ak_rsa.pub")));
  Bytes name = TpmVecBytes("swtpm/ak_rsa.name");
  EXPECT_OK(TpmMakeCredential(ek, name, SecretBytes::Random(32)));
  EXPECT_THAT(TpmMakeCredential(ek, name, SecretBytes::Random(33)),
              StatusIs(Code::kInvalidArgument, HasSubstr("credential of 33 bytes")));
  EXPECT_THAT(TpmMakeCredential(ek, name, SecretBytes()),
              StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(TpmMakeCredential(ak, name, SecretBytes::Random(32)),
              StatusIs(Code::kInvalidArgument,
                       HasSubstr("not a restricted decryption key")));
}

TEST(KdfTest, LengthsAndLabelsSeparateKeys) {
  Bytes seed(32, 0x5a);
  Bytes name = TpmVecBytes("swtpm/ak_rsa.name");
  ASSERT_OK_AND_ASSIGN(SecretBytes a, TpmKdfa(kTpmAlgSha256, seed, "STORAGE", name, {}, 128));
  ASSERT_OK_AND_ASSIGN(SecretBytes b, TpmKdfa(kTpmAlgSha256, seed, "INTEGRITY", {}, {}, 256));
  ASSERT_OK_AND_ASSIGN(SecretBytes c, TpmKdfa(kTpmAlgSha256, seed, "STORAGE", name, {}, 128));
  ASSERT_OK_AND_ASSIGN(SecretBytes longer,
                       TpmKdfa(kTpmAlgSha256, seed, "STORAGE", name, {}, 512));
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(b.size(), 32u);
  EXPECT_EQ(longer.size(), 64u);
  EXPECT_TRUE(a.Equals(c));
  EXPECT_FALSE(SecretBytes::CopyFrom(b.Reveal().first(16)).Equals(a));
  // The requested length is an input of every block, so a longer output
  // does not start with the shorter one.
  EXPECT_FALSE(SecretBytes::CopyFrom(longer.Reveal().first(16)).Equals(a));
  EXPECT_THAT(TpmKdfa(0x0012, seed, "STORAGE", name, {}, 128),
              StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(TpmKdfa(kTpmAlgSha256, seed, "STORAGE", name, {}, 12),
              StatusIs(Code::kInvalidArgument));
}

}  // namespace
}  // namespace strongroom::attest
