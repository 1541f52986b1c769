// The client's dev attester produces evidence that attest::DevVerifier (the
// server's verifier) accepts for exactly the binding it was given.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/binding.h"
#include "attest/dev/dev_verifier.h"
#include "base/bytes.h"
#include "base/testing/status_matchers.h"
#include "client/dev_attester.h"
#include "tests/client/workload_fixture.h"

namespace strongroom::client {
namespace {

using ::strongroom::client::testing::NewP256PrivateKeyPem;
using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

attest::Evidence ToEvidence(const strongroom::v1::EvidenceItem& item) {
  attest::Evidence e;
  e.type = *attest::ParseEvidenceType(item.type());
  e.payload = item.payload();
  return e;
}

class DevAttesterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DevAttesterOptions o;
    o.private_key_pem = NewP256PrivateKeyPem();
    o.measurement = Bytes(48, 0xab);
    o.svn = 7;
    o.claims = {{"image", "registry/model:1"}};
    ASSERT_OK_AND_ASSIGN(attester_, DevAttester::Create(o, clock_));
    attest::DevVerifierOptions v;
    v.enabled = true;
    v.trusted_public_keys_pem = {attester_->public_key_pem()};
    ASSERT_OK_AND_ASSIGN(verifier_, attest::DevVerifier::Create(v));
    nonce_ = Bytes(32, 0x5a);
    public_key_ = Bytes(65, 0x04);
    binding_ = attest::AttestationBinding(0x0010, nonce_, public_key_);
  }

  FakeClock clock_{absl::FromUnixSeconds(1767225600)};
  std::unique_ptr<DevAttester> attester_;
  std::unique_ptr<attest::DevVerifier> verifier_;
  Bytes nonce_, public_key_, binding_;
};

TEST_F(DevAttesterTest, EvidenceVerifiesForItsBinding) {
  EXPECT_EQ(attester_->type(), "dev");
  ASSERT_OK_AND_ASSIGN(auto items, attester_->Attest(binding_));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].type(), "dev");
  attest::VerifyContext ctx;
  ctx.at = clock_.Now();
  ctx.expected_report_data = binding_;
  ASSERT_OK_AND_ASSIGN(attest::Appraisal a, verifier_->Verify(ToEvidence(items[0]), ctx));
  EXPECT_EQ(a.claims.GetString("dev.measurement"), HexEncode(Bytes(48, 0xab)));
  EXPECT_EQ(a.claims.GetString("dev.report_data"), HexEncode(binding_));
  EXPECT_EQ(a.claims.GetInt("dev.svn"), 7);
  EXPECT_FALSE(a.claims.GetBool("dev.debug"));
  EXPECT_EQ(a.claims.GetString("dev.claims.image"), "registry/model:1");
}

TEST_F(DevAttesterTest, EvidenceDoesNotVerifyForAnotherNonceOrKey) {
  ASSERT_OK_AND_ASSIGN(auto items, attester_->Attest(binding_));
  attest::VerifyContext ctx;
  ctx.at = clock_.Now();
  Bytes other_nonce = nonce_;
  other_nonce[0] ^= 1;
  ctx.expected_report_data = attest::AttestationBinding(0x0010, other_nonce, public_key_);
  EXPECT_THAT(verifier_->Verify(ToEvidence(items[0]), ctx),
              StatusIs(absl::StatusCode::kPermissionDenied));
  Bytes other_key = public_key_;
  other_key[1] ^= 1;
  ctx.expected_report_data = attest::AttestationBinding(0x0010, nonce_, other_key);
  EXPECT_THAT(verifier_->Verify(ToEvidence(items[0]), ctx),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(DevAttesterTest, BadOptionsAreRefused) {
  DevAttesterOptions o;
  o.private_key_pem = "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n";
  o.measurement = Bytes(32, 1);
  EXPECT_THAT(DevAttester::Create(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                               HasSubstr("private key")));
  o.private_key_pem = NewP256PrivateKeyPem();
  o.measurement.clear();
  EXPECT_THAT(DevAttester::Create(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                               HasSubstr("measurement")));
  o.measurement = Bytes(32, 1);
  o.claims = {{"bad name!", "x"}};
  EXPECT_THAT(DevAttester::Create(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                               HasSubstr("claims")));
  EXPECT_THAT(attester_->Attest(Bytes(65, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("binding")));
}

}  // namespace
}  // namespace strongroom::client
