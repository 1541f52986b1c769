// KeyBroker with dataset tokens: Attest for "datasets/{id}" under the
// dataset's release policy, the store's read/write authorization, and the
// object and upload keys sealed to the workload. The store is an in-memory
// DatasetDirectory holding real sealed headers whose data keys the real KMS
// wrapped (the owner's way); the over-gRPC test with the real store is
// tests/client/workload_store_e2e_test.cc; malformed requests, audit records
// and store failures are in dataset_token_audit_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "absl/strings/str_split.h"
#include "tests/kms/broker/dataset_token_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

TEST_F(DatasetTokenTest, TokenNamesTheDatasetAndItsCurrentPolicy) {
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, DatasetToken(kWorkload, w, "ds"));
  nlohmann::json sr = Claims(token)["strongroom"];
  EXPECT_EQ(sr["dataset"], "datasets/ds");
  EXPECT_FALSE(sr.contains("key"));
  EXPECT_EQ(sr["policy"], "policies/p");
  EXPECT_EQ(sr["policy_version"], 1);
  EXPECT_EQ(sr["reference_values"], nlohmann::json::array({"approved@1"}));
  // "ds" and "datasets/ds" are the same dataset.
  ASSERT_OK_AND_ASSIGN(std::string nonce, Challenge(kWorkload, "ds"));
  EXPECT_OK(broker_->CheckToken(kWorkload, token, "datasets/ds").status());
}

TEST_F(DatasetTokenTest, ObjectKeyIsTheOwnersDataKeySealedWithDocumentedInfo) {
  const std::string data_key = AddObject("ds", "train/a.bin", 3);
  for (hpke::Kem kem : {hpke::Kem::kDhkemP256HkdfSha256, hpke::Kem::kDhkemX25519HkdfSha256}) {
    ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload(kem));
    ASSERT_OK_AND_ASSIGN(std::string token, DatasetToken(kWorkload, w, "ds"));
    const std::string jti = Claims(token)["jti"];
    // Version 0 is the latest; the answer names the version it resolved.
    ASSERT_OK_AND_ASSIGN(auto resp,
                         ObjectKey(kWorkload, token, w.keys.public_key, "ds", "train/a.bin"));
    EXPECT_EQ(resp.version(), 3u);
    EXPECT_EQ(resp.dataset(), "datasets/ds");
    EXPECT_EQ(resp.sealed().key_version(), "keys/dk/versions/1");
    EXPECT_EQ(resp.sealed().token_id(), jti);
    EXPECT_EQ(resp.sealed().info(),
              AsStringView(Info("strongroom-object-key-v1", "ds", "train/a.bin", 3,
                                "keys/dk/versions/1", jti)));
    ASSERT_OK_AND_ASSIGN(SecretBytes opened, Open(resp.sealed(), w.keys.private_key));
    EXPECT_EQ(AsStringView(opened.Reveal()), data_key);
    ASSERT_OK_AND_ASSIGN(hpke::KeyPair other, hpke::GenerateKeyPair(kem));
    EXPECT_FALSE(Open(resp.sealed(), other.private_key).ok());
  }
  EXPECT_THAT(AuditJsonl(), HasSubstr("\"object_key\""));
}

TEST_F(DatasetTokenTest, DatasetWithoutPolicyAndUnknownDatasetAreRefusedAlike) {
  AddDataset("gonepolicy", "policies/gone");  // names a policy that does not exist
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  for (const char* ds : {"nopolicy", "missing", "gonepolicy"}) {
    absl::Status s = DatasetToken(kWorkload, w, ds).status();
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied,
                            HasSubstr("refused: dataset_not_releasable")));
    EXPECT_THAT(s.message(), Not(HasSubstr("policy")));
    EXPECT_THAT(s.message(), Not(HasSubstr("exist")));
  }
  // The audit record holds the detail.
  const std::string jsonl = AuditJsonl();
  EXPECT_THAT(jsonl, HasSubstr("has no release policy"));
  EXPECT_THAT(jsonl, HasSubstr("gonepolicy's release policy policies/gone: "));
}

TEST_F(DatasetTokenTest, PolicyThatDeniesRefusesTheDataset) {
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  EXPECT_THAT(DatasetToken(kWorkload, w, "ds", kBadMeasurement),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("refused: policy_denied")));
}

TEST_F(DatasetTokenTest, TokenServesOnlyItsOwnDatasetAndNoKey) {
  AddObject("other", "x", 1);
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string ds_token, DatasetToken(kWorkload, w, "ds"));
  EXPECT_OK(broker_->AuthorizeWorkloadRead(kWorkload, ds_token, "ds", "GetObject o@1"));
  EXPECT_THAT(broker_->AuthorizeWorkloadRead(kWorkload, ds_token, "other", "GetObject o@1"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_wrong_dataset")));
  EXPECT_THAT(ObjectKey(kWorkload, ds_token, w.keys.public_key, "other", "x"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_wrong_dataset")));
  // A dataset token releases no key, and a key token reads no dataset.
  EXPECT_THAT(Release(kWorkload, ds_token, w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_wrong_key")));
  ASSERT_OK_AND_ASSIGN(std::string key_token, Token(kWorkload, w));
  EXPECT_THAT(broker_->AuthorizeWorkloadRead(kWorkload, key_token, "other", "GetObject o@1"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_wrong_dataset")));
  EXPECT_THAT(ObjectKey(kWorkload, key_token, w.keys.public_key, "other", "x"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_wrong_dataset")));
  // Another principal cannot use it.
  EXPECT_THAT(broker_->AuthorizeWorkloadRead(kWorkload2, ds_token, "ds", "GetObject o@1"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_wrong_principal")));
}

TEST_F(DatasetTokenTest, ObjectKeyForAnotherPublicKeyIsRefused) {
  AddObject("ds", "x", 1);
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(Workload other, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, DatasetToken(kWorkload, w, "ds"));
  EXPECT_THAT(ObjectKey(kWorkload, token, other.keys.public_key, "ds", "x"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_wrong_public_key")));
}

TEST_F(DatasetTokenTest, PolicyOrReferenceValueChangeRevokesTheToken) {
  AddObject("ds", "x", 1);
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, DatasetToken(kWorkload, w, "ds"));
  ASSERT_OK(ObjectKey(kWorkload, token, w.keys.public_key, "ds", "x").status());
  // A new version of the dataset's policy (same text): the token was
  // issued under version 1 and is void now.
  PutApprovedPolicy();
  EXPECT_THAT(
      broker_->AuthorizeWorkloadRead(kWorkload, token, "ds", "GetObject o@1"),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_revoked_policy_changed")));
  EXPECT_THAT(
      ObjectKey(kWorkload, token, w.keys.public_key, "ds", "x"),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_revoked_policy_changed")));
  // A fresh token works under version 2 until the reference values change.
  ASSERT_OK_AND_ASSIGN(token, DatasetToken(kWorkload, w, "ds"));
  EXPECT_EQ(Claims(token)["strongroom"]["policy_version"], 2);
  EXPECT_OK(broker_->AuthorizeWorkloadRead(kWorkload, token, "ds", "GetObject o@1"));
  PutApprovedValues();
  EXPECT_THAT(broker_->AuthorizeWorkloadWrite(kWorkload, token, "ds", "GetObject o@1"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("token_revoked_reference_values_changed")));
}

// Deleting the policy a dual_control key's binding names stops dataset
// tokens under that key at once, as it stops key tokens, even while the
// dataset's own policy (another one) is still there.
TEST_F(DatasetTokenTest, DatasetTokensStopWhenTheirKeysBoundPolicyIsDeleted) {
  v1::PutPolicyRequest q;
  q.set_name("q");
  q.set_policy_json(R"({"version": 1, "tee": ["dev"], "require": {"allOf": [
      {"claim": "dev.measurement", "in": {"referenceValues": "approved"}}]}})");
  ASSERT_OK(admin_->PutPolicy(kAdmin, q).status());
  MakeKey("qk", /*hsm=*/false, /*dual=*/true);
  v1::UpdateKeyRequest up;
  up.set_name("keys/qk");
  up.add_update_mask("release_policy");
  up.set_release_policy("policies/q");
  ASSERT_OK_AND_ASSIGN(auto proposed, km_->UpdateKey(kOwner, up));
  ASSERT_TRUE(proposed.has_pending());
  v1::ApproveChangeRequest approve;
  approve.set_id(proposed.pending().id());
  ASSERT_OK(km_->ApproveChange(kAdmin2, approve).status());
  AddDataset("underq", "policies/p", "keys/qk");
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, DatasetToken(kWorkload, w, "underq"));
  EXPECT_EQ(Claims(token)["strongroom"]["key_policy"], "policies/q");
  ASSERT_OK(broker_->AuthorizeWorkloadRead(kWorkload, token, "underq", "GetObject o@1"));

  v1::DeletePolicyRequest del;
  del.set_name("q");
  ASSERT_OK(admin_->DeletePolicy(kAdmin, del).status());
  EXPECT_THAT(
      broker_->AuthorizeWorkloadRead(kWorkload, token, "underq", "GetObject o@1"),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_revoked_policy_changed")));
  EXPECT_THAT(AuditJsonl(),
              HasSubstr("keys/qk's binding to policies/q v1, which no longer exists"));
}

// A dataset under a dual_control key is released only when the key's own
// binding (proposed by its owner, approved by an admin, its reference values
// pinned) allows as well: one admin widening the dataset's policy or its
// reference values releases nothing the binding does not accept.
TEST_F(DatasetTokenTest, DatasetUnderADualControlKeyNeedsTheKeysBindingToo) {
  MakeKey("hk", /*hsm=*/true, /*dual=*/true);
  AddDataset("dual", "policies/p", "keys/hk");
  const std::string data_key = AddObject("dual", "x", 1, "keys/hk");
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  // No binding yet: nothing is released, whatever the dataset's policy says.
  EXPECT_THAT(DatasetToken(kWorkload, w, "dual"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("dataset_not_releasable")));
  EXPECT_THAT(AuditJsonl(), HasSubstr("which has no approved release policy binding"));

  // The owner proposes policy "p" for the key, an admin approves.
  v1::UpdateKeyRequest up;
  up.set_name("keys/hk");
  up.add_update_mask("release_policy");
  up.set_release_policy("policies/p");
  ASSERT_OK(km_->UpdateKey(kOwner, up).status());
  EXPECT_THAT(DatasetToken(kWorkload, w, "dual"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("dataset_not_releasable")));
  auto approve_pending = [&](const std::string& expected_action) {
    v1::ListChangesRequest pending;
    pending.set_pending_only(true);
    ASSERT_OK_AND_ASSIGN(auto changes, km_->ListChanges(kAdmin, pending));
    ASSERT_EQ(changes.changes_size(), 1);
    // The approver sees what the binding pins.
    EXPECT_EQ(changes.changes(0).action(), expected_action);
    v1::ApproveChangeRequest approve;
    approve.set_id(changes.changes(0).id());
    ASSERT_OK(km_->ApproveChange(kAdmin2, approve).status());
  };
  ASSERT_NO_FATAL_FAILURE(
      approve_pending("update keys/hk; release_policy policies/p v1 pinning approved@1"));
  ASSERT_OK_AND_ASSIGN(std::string token, DatasetToken(kWorkload, w, "dual"));
  nlohmann::json sr = Claims(token)["strongroom"];
  EXPECT_EQ(sr["key_policy"], "policies/p");
  EXPECT_EQ(sr["key_policy_version"], 1);
  EXPECT_EQ(sr["key_policy_pins"], nlohmann::json::array({"approved@1"}));
  EXPECT_OK(broker_->AuthorizeWorkloadRead(kWorkload, token, "dual", "GetObject o@1"));
  // The data key wrapped under the HSM key is released, sealed to the
  // workload; the HSM key itself never is.
  ASSERT_OK_AND_ASSIGN(auto object, ObjectKey(kWorkload, token, w.keys.public_key, "dual", "x"));
  ASSERT_OK_AND_ASSIGN(SecretBytes opened, Open(object.sealed(), w.keys.private_key));
  EXPECT_EQ(AsStringView(opened.Reveal()), data_key);
  {
    ASSERT_OK_AND_ASSIGN(std::string nonce, Challenge(kWorkload, "keys/hk"));
    ASSERT_OK_AND_ASSIGN(v1::EvidenceItem item, Evidence(w, nonce, kGoodMeasurement));
    EXPECT_THAT(AttestWith(kWorkload, w, nonce, item, "keys/hk"),
                StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("key_not_releasable")));
  }
  // A dataset under a key without dual control carries no key binding.
  ASSERT_OK_AND_ASSIGN(std::string plain, DatasetToken(kWorkload, w, "ds"));
  EXPECT_FALSE(Claims(plain)["strongroom"].contains("key_policy"));

  // One admin widens the reference values: the dataset's policy (current
  // values) would accept the bad measurement, the key's pins do not; the
  // token that relied on the old set is void.
  PutApprovedValues({kGoodMeasurement, kBadMeasurement});
  EXPECT_THAT(broker_->AuthorizeWorkloadRead(kWorkload, token, "dual", "GetObject o@1"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("token_revoked_reference_values_changed")));
  EXPECT_OK(DatasetToken(kWorkload, w, "ds", kBadMeasurement).status());
  EXPECT_THAT(DatasetToken(kWorkload, w, "dual", kBadMeasurement),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("policy_denied")));
  EXPECT_THAT(AuditJsonl(), HasSubstr("keys/hk's dual-control binding policies/p v1 and the "
                                      "reference values it pinned"));

  // One admin loosens the policy itself (a new version that asks for no
  // measurement): the dataset follows it, the key's binding stays at v1,
  // which the current set refuses for a third measurement.
  v1::PutPolicyRequest loose;
  loose.set_name("p");
  loose.set_policy_json(R"({"version": 1, "tee": ["dev"], "require": {"allOf": [
      {"claim": "dev.debug", "equals": false}]}})");
  ASSERT_OK(admin_->PutPolicy(kAdmin, loose).status());
  EXPECT_THAT(DatasetToken(kWorkload, w, "dual", kOtherMeasurement),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("policy_denied")));
  EXPECT_THAT(AuditJsonl(), HasSubstr("version 2 (under keys/hk's dual-control binding "
                                      "policies/p v1)"));
  ASSERT_OK_AND_ASSIGN(token, DatasetToken(kWorkload, w, "dual", kGoodMeasurement));
  sr = Claims(token)["strongroom"];
  EXPECT_EQ(sr["policy_version"], 2);
  EXPECT_EQ(sr["key_policy_version"], 1);
  // The dataset's v2 names no set; the key's binding consulted the current one.
  EXPECT_EQ(sr["reference_values"], nlohmann::json::array({"approved@2"}));

  // A new binding of the key (approved again) voids the tokens issued under
  // the old one, and takes the looser version.
  ASSERT_OK(km_->UpdateKey(kOwner, up).status());
  ASSERT_NO_FATAL_FAILURE(approve_pending("update keys/hk; release_policy policies/p v2"));
  EXPECT_THAT(
      broker_->AuthorizeWorkloadRead(kWorkload, token, "dual", "GetObject o@1"),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_revoked_policy_changed")));
  EXPECT_THAT(AuditJsonl(), HasSubstr("was issued under the binding 'policies/p v1 pinning "
                                      "approved@1' of keys/hk, which is now 'policies/p v2'"));
  ASSERT_OK_AND_ASSIGN(token, DatasetToken(kWorkload, w, "dual", kOtherMeasurement));
  EXPECT_EQ(Claims(token)["strongroom"]["key_policy_version"], 2);
}

TEST_F(DatasetTokenTest, ExpiredOrRevokedTokenIsRefused) {
  AddObject("ds", "x", 1);
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, DatasetToken(kWorkload, w, "ds"));
  v1::RevokeTokenRequest revoke;
  revoke.set_token_id(Claims(token)["jti"].get<std::string>());
  ASSERT_OK(broker_->RevokeToken(kAdmin, revoke).status());
  EXPECT_THAT(ObjectKey(kWorkload, token, w.keys.public_key, "ds", "x"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_revoked")));
  ASSERT_OK_AND_ASSIGN(token, DatasetToken(kWorkload, w, "ds"));
  clock_.Advance(absl::Minutes(6));
  EXPECT_THAT(broker_->AuthorizeWorkloadRead(kWorkload, token, "ds", "GetObject o@1"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_expired")));
}

TEST_F(DatasetTokenTest, DestroyedKeyVersionIsAFailedPrecondition) {
  AddObject("ds", "x", 1);  // wrapped under keys/dk/versions/1
  v1::RotateKeyRequest rot;
  rot.set_name("keys/dk");
  ASSERT_OK(km_->RotateKey(kAdmin, rot).status());
  v1::DestroyKeyVersionRequest d;
  d.set_name("keys/dk/versions/1");
  ASSERT_OK_AND_ASSIGN(auto destroyed, km_->DestroyKeyVersion(kAdmin, d));
  ASSERT_EQ(destroyed.version().state(), v1::DESTROYED);
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, DatasetToken(kWorkload, w, "ds"));
  EXPECT_THAT(ObjectKey(kWorkload, token, w.keys.public_key, "ds", "x"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("refused: key_version_not_usable (audit ")));
  EXPECT_THAT(ObjectKey(kWorkload, token, w.keys.public_key, "ds", "missing"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(DatasetTokenTest, UploadKeyIsWrappedExactlyAsAnOwnersAndBoundToTheUpload) {
  const std::string upload_id(32, 'a');
  dir_.uploads[upload_id] = {"ds", "out/result.bin", 7, kWorkload.principal, true};
  dir_.uploads[std::string(32, 'b')] = {"ds", "y", 1, kWorkload2.principal, true};
  dir_.uploads[std::string(32, 'c')] = {"ds", "z", 1, kWorkload.principal, false};
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, DatasetToken(kWorkload, w, "ds"));
  const std::string jti = Claims(token)["jti"];
  v1::GetUploadKeyRequest r;
  r.set_token(token);
  r.set_upload_id(upload_id);
  r.set_public_key(std::string(AsStringView(w.keys.public_key.Serialize())));
  ASSERT_OK_AND_ASSIGN(auto resp, broker_->GetUploadKey(kWorkload, r));
  EXPECT_EQ(resp.dataset(), "datasets/ds");
  EXPECT_EQ(resp.name(), "out/result.bin");
  EXPECT_EQ(resp.version(), 7u);
  EXPECT_EQ(resp.key(), "keys/dk");
  EXPECT_EQ(resp.key_version(), 1u);
  EXPECT_EQ(resp.sealed().info(),
            AsStringView(Info("strongroom-upload-key-v1", "ds", "out/result.bin", 7,
                              "keys/dk/versions/1", jti)));
  ASSERT_OK_AND_ASSIGN(SecretBytes dk, Open(resp.sealed(), w.keys.private_key));
  // The owner unwraps it with the ordinary object context.
  v1::DecryptRequest d;
  d.set_ciphertext(resp.wrapped());
  for (const auto& [k, v] : storage::sealed::DataKeyContext("ds", "out/result.bin", 7)) {
    (*d.mutable_encryption_context())[k] = v;
  }
  ASSERT_OK_AND_ASSIGN(auto plain, km_->Decrypt(kOwner, d));
  EXPECT_EQ(plain.plaintext(), AsStringView(dk.Reveal()));
  // Another object's context does not open it.
  (*d.mutable_encryption_context())["strongroom.sealed.version"] = "8";
  EXPECT_FALSE(km_->Decrypt(kOwner, d).ok());

  // Someone else's upload, or one begun without a token: refused.
  r.set_upload_id(std::string(32, 'b'));
  EXPECT_THAT(broker_->GetUploadKey(kWorkload, r),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("upload_wrong_principal")));
  r.set_upload_id(std::string(32, 'c'));
  EXPECT_THAT(broker_->GetUploadKey(kWorkload, r),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("upload_wrong_principal")));
  // A token of another dataset.
  dir_.uploads[std::string(32, 'd')] = {"other", "y", 1, kWorkload.principal, true};
  r.set_upload_id(std::string(32, 'd'));
  EXPECT_THAT(broker_->GetUploadKey(kWorkload, r),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_wrong_dataset")));
  EXPECT_THAT(AuditJsonl(), HasSubstr("\"upload_key\""));
}

}  // namespace
}  // namespace strongroom::kms
