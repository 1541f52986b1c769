// HsmCheckpointSigner on a real SoftHSM token: finds or creates a persistent
// P-256 key pair, survives a restart, refuses a half-present pair, and signs
// checkpoints and export trailers that verify offline.
#include "kms/audit/hsm_checkpoint_signer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "base/testing/status_matchers.h"
#include "hsm-sim/testing/softhsm_token.h"
#include "kms/audit/audit_log.h"
#include "kms/audit/export_verifier.h"
#include "tests/kms/audit/audit_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

class HsmCheckpointSignerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(token_, hsm_sim::SoftHsmToken::Create("audit-test"));
    ASSERT_OK(OpenHsm());
  }
  void TearDown() override {
    hsm_.reset();
    token_.reset();
  }
  absl::Status OpenHsm() {
    hsm_.reset();
    pkcs11::HsmOptions options{hsm_sim::SoftHsmToken::SoftHsmModulePath(), token_->label(),
                               {.file = token_->pin_file()}, 4};
    absl::StatusOr<std::unique_ptr<pkcs11::Hsm>> hsm = pkcs11::Hsm::Create(options);
    if (!hsm.ok()) return hsm.status();
    hsm_ = *std::move(hsm);
    return absl::OkStatus();
  }

  std::unique_ptr<hsm_sim::SoftHsmToken> token_;
  std::unique_ptr<pkcs11::Hsm> hsm_;
};

TEST_F(HsmCheckpointSignerTest, CreatesPersistentKeyAndFindsItAfterRestart) {
  EXPECT_THAT(hsm_->FindKey(pkcs11::KeyKind::kEcPrivate, HsmCheckpointSigner::kDefaultLabel),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(auto signer, HsmCheckpointSigner::Create(*hsm_));
  EXPECT_EQ(signer->private_key().label, HsmCheckpointSigner::kDefaultLabel);
  EXPECT_TRUE(signer->private_key().persistent);
  std::string key_id = signer->KeyId();
  EXPECT_EQ(key_id.size(), 64u);
  ASSERT_OK_AND_ASSIGN(CheckpointVerifyKey key,
                       CheckpointVerifyKey::FromPem(signer->PublicKeyPem()));
  EXPECT_EQ(key.key_id(), key_id);

  const Bytes msg = {'h', 'e', 'a', 'd'};
  ASSERT_OK_AND_ASSIGN(Bytes sig, signer->Sign(msg));
  EXPECT_OK(key.Verify(msg, sig));
  EXPECT_THAT(key.Verify(Bytes{'h', 'e', 'a', 'x'}, sig),
              StatusIs(absl::StatusCode::kInvalidArgument));

  signer.reset();
  ASSERT_OK(OpenHsm());  // a restart: the same token object is found again
  ASSERT_OK_AND_ASSIGN(signer, HsmCheckpointSigner::Create(*hsm_));
  EXPECT_EQ(signer->KeyId(), key_id);
  ASSERT_OK_AND_ASSIGN(sig, signer->Sign(msg));
  EXPECT_OK(key.Verify(msg, sig));

  // Another label is another key.
  ASSERT_OK_AND_ASSIGN(auto other, HsmCheckpointSigner::Create(*hsm_, "audit-other"));
  EXPECT_NE(other->KeyId(), key_id);
}

// The head MAC key: made once in the token, the same 32 bytes after a
// restart, another for another label; the token's key itself stays
// sensitive (not readable).
TEST_F(HsmCheckpointSignerTest, HeadMacKeyIsStableAcrossRestarts) {
  EXPECT_THAT(hsm_->FindKey(pkcs11::KeyKind::kAes, kAuditHeadMacKeyLabel),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(SecretBytes first, DeriveAuditHeadMacKey(*hsm_));
  EXPECT_EQ(first.size(), 32u);
  ASSERT_OK_AND_ASSIGN(pkcs11::KeyHandle key,
                       hsm_->FindKey(pkcs11::KeyKind::kAes, kAuditHeadMacKeyLabel));
  EXPECT_TRUE(key.persistent);
  ASSERT_OK(OpenHsm());
  ASSERT_OK_AND_ASSIGN(SecretBytes again, DeriveAuditHeadMacKey(*hsm_));
  EXPECT_TRUE(std::equal(first.Reveal().begin(), first.Reveal().end(), again.Reveal().begin(),
                         again.Reveal().end()));
  ASSERT_OK_AND_ASSIGN(SecretBytes other, DeriveAuditHeadMacKey(*hsm_, "audit-mac-other"));
  EXPECT_FALSE(std::equal(first.Reveal().begin(), first.Reveal().end(), other.Reveal().begin(),
                          other.Reveal().end()));
}

TEST_F(HsmCheckpointSignerTest, HalfPresentKeyPairIsRefused) {
  ASSERT_OK_AND_ASSIGN(auto signer, HsmCheckpointSigner::Create(*hsm_));
  ASSERT_OK_AND_ASSIGN(pkcs11::KeyHandle pub,
                       hsm_->FindKey(pkcs11::KeyKind::kEcPublic,
                                     HsmCheckpointSigner::kDefaultLabel));
  ASSERT_OK(hsm_->DestroyKey(pub));
  EXPECT_THAT(HsmCheckpointSigner::Create(*hsm_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("only the private")));
}

TEST_F(HsmCheckpointSignerTest, AuditLogExportSignedByTheHsmVerifies) {
  ASSERT_OK_AND_ASSIGN(auto signer, HsmCheckpointSigner::Create(*hsm_));
  ASSERT_OK_AND_ASSIGN(auto db, storage::Database::Open(token_->dir() + "/db"));
  FakeClock clock(absl::FromUnixSeconds(1'790'000'000));
  ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Create(*db, signer.get(), clock,
                                                  AuditOptions{.checkpoint_every = 3}));
  for (int i = 1; i <= 7; ++i) ASSERT_OK(log->Append(kms::testing::TestEntry(i)));
  ASSERT_OK(log->Checkpoint());
  std::ostringstream out;
  ASSERT_OK(log->Export(1, out));

  VerifyExportOptions pinned{{signer->PublicKeyPem()}};
  AuditVerifyResult v = kms::testing::VerifyText(out.str(), pinned);
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records, 7u);
  EXPECT_EQ(v.checkpoints, 3u);  // 3, 6 and the on-demand one at 7
  EXPECT_EQ(v.signing_key_ids, std::vector<std::string>{signer->KeyId()});

  // Reopen the log on the same HSM key: the chain and checkpoints verify.
  log.reset();
  ASSERT_OK_AND_ASSIGN(log, AuditLog::Create(*db, signer.get(), clock,
                                             AuditOptions{.checkpoint_every = 3}));
  EXPECT_EQ(log->head().sequence, 7u);
}

}  // namespace
}  // namespace strongroom::kms
