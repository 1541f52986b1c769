// KeyManager against a real SoftHSM token and RocksDB: envelope encryption,
// bad input, persistence across restarts, crypto-shredding, root-key rotation
// with a resumable rewrap, dual control and periodic rotation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "base/bytes.h"
#include "kms/ciphertext.h"
#include "kms/key_manager_internal.h"
#include "tests/kms/key_manager_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

class KeyManagerTest : public KeyManagerFixture {
 protected:
  // Rotates keys/{id} (so that version 1 may be destroyed) and returns
  // version 1's wrapped material as stored (empty on failure, which the
  // callers' size checks catch).
  std::string RotateAndReadWrappedV1(const std::string& id) {
    v1::RotateKeyRequest rot;
    rot.set_name("keys/" + id);
    EXPECT_OK(km_->RotateKey(kAdmin, rot).status());
    absl::StatusOr<std::string> raw = db_->Get("kv/" + id + "/0000000001");
    records::KeyVersionRecord rec;
    if (!raw.ok() || !rec.ParseFromString(*raw)) return "";
    return rec.wrapped_material();
  }
};

// Whether `needle` occurs in any file under `dir`.
bool FoundInAnyFile(const std::string& dir, const std::string& needle) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (content.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST_F(KeyManagerTest, EncryptDecryptRoundTripForBothProtections) {
  for (bool hsm : {false, true}) {
    std::string id = hsm ? "hsm-key" : "soft-key";
    v1::Key key = MakeKey(id, hsm);
    EXPECT_EQ(key.protection(), hsm ? v1::PROTECTION_HSM : v1::PROTECTION_SOFTWARE);
    ASSERT_OK_AND_ASSIGN(auto ct, Encrypt(id, "attack at dawn"));
    EXPECT_EQ(ct.key_version(), "keys/" + id + "/versions/1");
    EXPECT_EQ(ct.ciphertext().substr(0, 4), "SRC1");
    ASSERT_OK_AND_ASSIGN(auto pt, Decrypt(ct.ciphertext()));
    EXPECT_EQ(pt.plaintext(), "attack at dawn");
    ASSERT_OK_AND_ASSIGN(auto ct2, Encrypt(id, "attack at dawn"));
    EXPECT_NE(ct2.ciphertext(), ct.ciphertext());  // fresh IV each time
  }
}

TEST_F(KeyManagerTest, MalformedCiphertextsAreRejectedNamingTheField) {
  MakeKey("k");
  ASSERT_OK_AND_ASSIGN(auto ct, Encrypt("k", "payload"));
  const std::string good = ct.ciphertext();
  EXPECT_THAT(Decrypt(good, kOwner, "d2"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not authenticate")));
  EXPECT_THAT(Decrypt(good.substr(0, 20)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("truncated")));
  EXPECT_THAT(Decrypt("XXXX" + good.substr(4)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ciphertext.magic")));
  std::string bad_version = good;
  bad_version[4] = 9;
  EXPECT_THAT(Decrypt(bad_version),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ciphertext.format")));
  std::string flipped = good;
  flipped.back() ^= 1;
  EXPECT_THAT(Decrypt(flipped), StatusIs(absl::StatusCode::kInvalidArgument));
  // Header fields are authenticated too: point it at version 2 (absent).
  std::string other = good;
  other[7 + 1 + 3] = 2;
  EXPECT_THAT(Decrypt(other), StatusIs(absl::StatusCode::kNotFound, HasSubstr("versions/2")));
  EXPECT_THAT(Decrypt(""), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too short")));
  v1::DecryptRequest wrong_key;
  wrong_key.set_ciphertext(good);
  wrong_key.set_name("keys/other");
  EXPECT_THAT(km_->Decrypt(kOwner, wrong_key),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name:")));
}

// Refusals do not tell which keys exist: another owner, a workload or an
// unknown principal gets the same answer for a key that exists and for one
// that does not; admins and auditors, who may list every key, get NOT_FOUND.
TEST_F(KeyManagerTest, KeysThatDoNotExistAreNotTold) {
  MakeKey("k");  // owner1's
  const Caller nobody{"spiffe://strongroom/nobody", Role::kNone};
  for (const Caller& who : {kOwner2, kWorkload, nobody}) {
    v1::GetKeyRequest exists, missing;
    exists.set_name("keys/k");
    missing.set_name("keys/nope");
    absl::StatusOr<v1::Key> a = km_->GetKey(who, exists);
    absl::StatusOr<v1::Key> b = km_->GetKey(who, missing);
    ASSERT_THAT(a, StatusIs(absl::StatusCode::kPermissionDenied)) << who.principal;
    ASSERT_THAT(b, StatusIs(absl::StatusCode::kPermissionDenied)) << who.principal;
    EXPECT_EQ(a.status().message(), b.status().message());
    v1::EncryptRequest e1, e2;
    e1.set_name("keys/k");
    e2.set_name("keys/nope");
    e1.set_plaintext("x");
    e2.set_plaintext("x");
    absl::StatusOr<v1::EncryptResponse> c = km_->Encrypt(who, e1);
    absl::StatusOr<v1::EncryptResponse> d = km_->Encrypt(who, e2);
    EXPECT_EQ(c.status().code(), d.status().code()) << who.principal;
    EXPECT_EQ(c.status().message(), d.status().message()) << who.principal;
    // UpdateKey too, with a mask or without one.
    for (bool with_mask : {true, false}) {
      v1::UpdateKeyRequest u1, u2;
      u1.set_name("keys/k");
      u2.set_name("keys/nope");
      if (with_mask) {
        u1.add_update_mask("release_policy");
        u2.add_update_mask("release_policy");
      }
      absl::StatusOr<v1::ChangeResult> ua = km_->UpdateKey(who, u1);
      absl::StatusOr<v1::ChangeResult> ub = km_->UpdateKey(who, u2);
      EXPECT_THAT(ua, StatusIs(absl::StatusCode::kPermissionDenied)) << who.principal;
      EXPECT_EQ(ua.status().code(), ub.status().code()) << who.principal << " " << with_mask;
      EXPECT_EQ(ua.status().message(), ub.status().message()) << who.principal;
    }
  }
  for (const Caller& who : {kAdmin, kAuditor}) {
    v1::GetKeyRequest missing;
    missing.set_name("keys/nope");
    EXPECT_THAT(km_->GetKey(who, missing), StatusIs(absl::StatusCode::kNotFound));
  }
}

TEST_F(KeyManagerTest, BadRequestsNameTheField) {
  MakeKey("k");
  EXPECT_THAT(Encrypt("k", std::string(65537, 'x')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("plaintext: 65537 bytes")));
  // A missing key is NOT_FOUND to those who may list every key; an owner is
  // refused as for another owner's key (KeysThatDoNotExistAreNotTold).
  EXPECT_THAT(Encrypt("missing", "x"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("only the key's owner")));
  v1::GetKeyRequest missing;
  missing.set_name("keys/missing");
  EXPECT_THAT(km_->GetKey(kAdmin, missing),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("keys/missing")));
  v1::EncryptRequest bad_name;
  bad_name.set_name("key/k");
  EXPECT_THAT(km_->Encrypt(kOwner, bad_name),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name:")));
  v1::CreateKeyRequest bad_id;
  bad_id.set_key_id("Bad Id");
  EXPECT_THAT(km_->CreateKey(kAdmin, bad_id),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key_id:")));
  v1::CreateKeyRequest dup;
  dup.set_key_id("k");
  EXPECT_THAT(km_->CreateKey(kAdmin, dup), StatusIs(absl::StatusCode::kAlreadyExists));
  // Labels have the same limits as on datasets and objects.
  v1::CreateKeyRequest labelled;
  labelled.set_key_id("labelled");
  (*labelled.mutable_labels())[""] = "x";
  EXPECT_THAT(km_->CreateKey(kAdmin, labelled),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("labels: key ''")));
  labelled.mutable_labels()->clear();
  (*labelled.mutable_labels())["big"] = std::string(9000, 'v');
  EXPECT_THAT(km_->CreateKey(kAdmin, labelled),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("labels: larger than 8 KiB")));
  v1::GenerateDataKeyRequest gdk;
  gdk.set_name("keys/k");
  gdk.set_length(24);
  EXPECT_THAT(km_->GenerateDataKey(kOwner, gdk),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("length:")));
  v1::ListKeysRequest list;
  list.set_page_size(5000);
  EXPECT_THAT(km_->ListKeys(kAdmin, list),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size")));
  v1::UpdateKeyRequest update;
  update.set_name("keys/k");
  update.add_update_mask("colour");
  EXPECT_THAT(km_->UpdateKey(kAdmin, update),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("update_mask")));
}

TEST_F(KeyManagerTest, DataKeysAndReEncrypt) {
  MakeKey("k");
  v1::GenerateDataKeyRequest r;
  r.set_name("keys/k");
  (*r.mutable_encryption_context())["dataset"] = "d1";
  ASSERT_OK_AND_ASSIGN(auto dk, km_->GenerateDataKey(kOwner, r));
  EXPECT_EQ(dk.plaintext().size(), 32u);
  ASSERT_OK_AND_ASSIGN(auto opened, Decrypt(dk.ciphertext()));
  EXPECT_EQ(opened.plaintext(), dk.plaintext());
  r.set_wrapped_only(true);
  ASSERT_OK_AND_ASSIGN(auto wrapped, km_->GenerateDataKey(kOwner, r));
  EXPECT_TRUE(wrapped.plaintext().empty());
  EXPECT_FALSE(wrapped.ciphertext().empty());

  // Rotate, then re-encrypt the old ciphertext to the new primary.
  v1::RotateKeyRequest rot;
  rot.set_name("keys/k");
  ASSERT_OK(km_->RotateKey(kAdmin, rot));
  v1::ReEncryptRequest re;
  re.set_ciphertext(dk.ciphertext());
  (*re.mutable_encryption_context())["dataset"] = "d1";
  ASSERT_OK_AND_ASSIGN(auto moved, km_->ReEncrypt(kOwner, re));
  EXPECT_EQ(moved.source_key_version(), "keys/k/versions/1");
  EXPECT_EQ(moved.key_version(), "keys/k/versions/2");
  ASSERT_OK_AND_ASSIGN(auto again, Decrypt(moved.ciphertext()));
  EXPECT_EQ(again.plaintext(), dk.plaintext());

  // With the minimum decryption version raised, version 1 no longer decrypts.
  v1::UpdateKeyRequest up;
  up.set_name("keys/k");
  up.add_update_mask("min_decryption_version");
  up.set_min_decryption_version(2);
  ASSERT_OK(km_->UpdateKey(kAdmin, up));
  EXPECT_THAT(Decrypt(dk.ciphertext()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("minimum decryption")));
  EXPECT_OK(Decrypt(moved.ciphertext()));
}

TEST_F(KeyManagerTest, RestartKeepsEverything) {
  MakeKey("soft");
  MakeKey("hard", /*hsm=*/true);
  ASSERT_OK_AND_ASSIGN(auto soft_ct, Encrypt("soft", "one"));
  ASSERT_OK_AND_ASSIGN(auto hard_ct, Encrypt("hard", "two"));
  v1::RotateKeyRequest rot;
  rot.set_name("keys/soft");
  ASSERT_OK(km_->RotateKey(kAdmin, rot));
  ASSERT_OK(SetState("keys/soft/versions/1", v1::SUSPENDED));
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion before, Version("keys/soft/versions/1"));

  Reopen();
  ASSERT_OK_AND_ASSIGN(auto soft_pt, Decrypt(soft_ct.ciphertext()));
  EXPECT_EQ(soft_pt.plaintext(), "one");
  ASSERT_OK_AND_ASSIGN(auto hard_pt, Decrypt(hard_ct.ciphertext()));
  EXPECT_EQ(hard_pt.plaintext(), "two");
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion after, Version("keys/soft/versions/1"));
  EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString());
  v1::GetKeyRequest get;
  get.set_name("keys/soft");
  ASSERT_OK_AND_ASSIGN(v1::Key key, km_->GetKey(kAdmin, get));
  EXPECT_EQ(key.primary_version(), 2u);
  ASSERT_OK_AND_ASSIGN(auto new_ct, Encrypt("soft", "three"));
  EXPECT_EQ(new_ct.key_version(), "keys/soft/versions/2");
}

TEST_F(KeyManagerTest, DestroyShredsTheWrappedMaterialFromEveryFile) {
  MakeKey("k", false, false, /*destroy_wait=*/3600);
  ASSERT_OK_AND_ASSIGN(auto ct, Encrypt("k", "doomed"));
  const std::string wrapped = RotateAndReadWrappedV1("k");
  ASSERT_EQ(wrapped.size(), 40u);
  ASSERT_TRUE(FoundInAnyFile(db_path(), wrapped)) << "the scan must see the material first";

  v1::DestroyKeyVersionRequest d;
  d.set_name("keys/k/versions/1");
  ASSERT_OK_AND_ASSIGN(auto scheduled, km_->DestroyKeyVersion(kAdmin, d));
  EXPECT_EQ(scheduled.version().state(), v1::DESTROY_SCHEDULED);
  // Still restorable and still decrypting nothing (not a decrypt state).
  EXPECT_THAT(Decrypt(ct.ciphertext()), StatusIs(absl::StatusCode::kFailedPrecondition));
  clock_.Advance(absl::Minutes(59));
  ASSERT_OK(km_->RunMaintenance());
  ASSERT_OK_AND_ASSIGN(auto waiting, Version("keys/k/versions/1"));
  EXPECT_EQ(waiting.state(), v1::DESTROY_SCHEDULED);
  clock_.Advance(absl::Minutes(2));
  ASSERT_OK(km_->RunMaintenance());
  ASSERT_OK_AND_ASSIGN(auto gone, Version("keys/k/versions/1"));
  EXPECT_EQ(gone.state(), v1::DESTROYED);

  EXPECT_FALSE(FoundInAnyFile(db_path(), wrapped)) << "wrapped material survived destruction";
  // The compaction ran, so none is owed.
  EXPECT_THAT(db_->Get("meta/shred_compaction_owed"), StatusIs(absl::StatusCode::kNotFound));
  Reopen();
  EXPECT_FALSE(FoundInAnyFile(db_path(), wrapped));
  EXPECT_THAT(Decrypt(ct.ciphertext()), StatusIs(absl::StatusCode::kFailedPrecondition));
  // One still owed (a compaction that failed, here or before a restart) is
  // run by the next maintenance pass.
  ASSERT_OK(db_->Put("meta/shred_compaction_owed", "keys/k/versions/1"));
  ASSERT_OK(km_->RunMaintenance());
  EXPECT_THAT(db_->Get("meta/shred_compaction_owed"), StatusIs(absl::StatusCode::kNotFound));
}

// A shred whose compaction fails: the version is DESTROYED all the same, the
// compaction stays owed (across a restart), the wrapped bytes may still be in
// a file until it runs, and the next maintenance pass that can compact leaves
// them in none.
TEST_F(KeyManagerTest, AFailedShredCompactionIsRetriedUntilItRuns) {
  MakeKey("k", false, false, /*destroy_wait=*/0);
  const std::string wrapped = RotateAndReadWrappedV1("k");
  ASSERT_EQ(wrapped.size(), 40u);

  fail_compactions_ = true;
  v1::DestroyKeyVersionRequest d;
  d.set_name("keys/k/versions/1");
  ASSERT_OK_AND_ASSIGN(auto destroyed, km_->DestroyKeyVersion(kAdmin, d));
  EXPECT_EQ(destroyed.version().state(), v1::DESTROYED);
  EXPECT_OK(db_->Get("meta/shred_compaction_owed").status());
  EXPECT_TRUE(FoundInAnyFile(db_path(), wrapped)) << "nothing compacted, so the WAL still has it";
  // Still failing: maintenance reports nothing fatal and still owes it.
  ASSERT_OK(km_->RunMaintenance());
  EXPECT_OK(db_->Get("meta/shred_compaction_owed").status());

  fail_compactions_ = false;
  Reopen();  // the marker is in the database, not in memory
  ASSERT_OK(km_->RunMaintenance());
  EXPECT_THAT(db_->Get("meta/shred_compaction_owed"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(FoundInAnyFile(db_path(), wrapped)) << "wrapped material survived the retry";
}

TEST_F(KeyManagerTest, DestroyingAnHsmVersionDeletesTheTokenObject) {
  MakeKey("h", /*hsm=*/true, false, /*destroy_wait=*/0);
  ASSERT_OK_AND_ASSIGN(auto ct, Encrypt("h", "x"));
  v1::RotateKeyRequest rot;
  rot.set_name("keys/h");
  ASSERT_OK(km_->RotateKey(kAdmin, rot));
  ASSERT_OK(hsm_->FindKey(pkcs11::KeyKind::kAes, "strongroom-h-v1"));
  v1::DestroyKeyVersionRequest d;
  d.set_name("keys/h/versions/1");
  ASSERT_OK_AND_ASSIGN(auto result, km_->DestroyKeyVersion(kAdmin, d));
  EXPECT_EQ(result.version().state(), v1::DESTROYED);
  EXPECT_THAT(hsm_->FindKey(pkcs11::KeyKind::kAes, "strongroom-h-v1"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_OK(hsm_->FindKey(pkcs11::KeyKind::kAes, "strongroom-h-v2"));
}

TEST_F(KeyManagerTest, RootRotationRewrapsResumablyWhileServing) {
  std::vector<std::pair<std::string, std::string>> cts;
  for (int i = 0; i < 4; ++i) {
    std::string id = "k" + std::to_string(i);
    MakeKey(id);
    v1::RotateKeyRequest rot;
    rot.set_name("keys/" + id);
    ASSERT_OK_AND_ASSIGN(auto ct, Encrypt(id, "v1 of " + id));
    cts.emplace_back(ct.ciphertext(), "v1 of " + id);
    ASSERT_OK(km_->RotateKey(kAdmin, rot));
    ASSERT_OK_AND_ASSIGN(auto ct2, Encrypt(id, "v2 of " + id));
    cts.emplace_back(ct2.ciphertext(), "v2 of " + id);
  }
  ASSERT_OK_AND_ASSIGN(auto before, km_->GetRootKeyStatus(kAuditor));
  EXPECT_EQ(before.versions_total(), 8u);
  EXPECT_EQ(before.versions_on_current_root(), 8u);
  ASSERT_OK_AND_ASSIGN(auto started, km_->RotateRootKey(kAdmin));
  EXPECT_NE(started.current_root_key_id(), before.current_root_key_id());
  EXPECT_TRUE(started.rewrap_running());
  EXPECT_EQ(started.versions_on_current_root(), 0u);
  EXPECT_THAT(km_->RotateRootKey(kAdmin), StatusIs(absl::StatusCode::kFailedPrecondition));

  // Three versions per slice, a restart (as after a crash) between slices,
  // and every ciphertext still decrypts at every step.
  int slices = 0;
  for (;;) {
    ASSERT_OK(km_->RunMaintenance(3));
    ++slices;
    for (const auto& [ct, pt] : cts) {
      ASSERT_OK_AND_ASSIGN(auto out, Decrypt(ct));
      ASSERT_EQ(out.plaintext(), pt);
    }
    Reopen();
    ASSERT_OK_AND_ASSIGN(auto st, km_->GetRootKeyStatus(kAdmin));
    if (!st.rewrap_running()) break;
    ASSERT_LT(slices, 10);
  }
  EXPECT_GE(slices, 3);
  ASSERT_OK_AND_ASSIGN(auto after, km_->GetRootKeyStatus(kAdmin));
  EXPECT_EQ(after.versions_on_current_root(), 8u);
  EXPECT_THAT(after.retired_root_key_ids(), ::testing::ElementsAre(before.current_root_key_id()));
  for (const auto& [ct, pt] : cts) {
    ASSERT_OK_AND_ASSIGN(auto out, Decrypt(ct));
    EXPECT_EQ(out.plaintext(), pt);
  }
  // New versions are wrapped under the new root.
  v1::RotateKeyRequest rot;
  rot.set_name("keys/k0");
  ASSERT_OK_AND_ASSIGN(auto v3, km_->RotateKey(kAdmin, rot));
  EXPECT_EQ(v3.root_key_id(), after.current_root_key_id());
}

TEST_F(KeyManagerTest, DualControlNeedsASecondAdmin) {
  MakeKey("dc", false, /*dual=*/true, /*destroy_wait=*/0);
  v1::RotateKeyRequest rot;
  rot.set_name("keys/dc");
  ASSERT_OK(km_->RotateKey(kAdmin, rot));
  v1::DestroyKeyVersionRequest d;
  d.set_name("keys/dc/versions/1");
  ASSERT_OK_AND_ASSIGN(auto proposed, km_->DestroyKeyVersion(kAdmin, d));
  ASSERT_TRUE(proposed.has_pending());
  EXPECT_FALSE(proposed.has_version());
  ASSERT_OK_AND_ASSIGN(auto unchanged, Version("keys/dc/versions/1"));
  EXPECT_EQ(unchanged.state(), v1::ENABLED);

  v1::ApproveChangeRequest approve;
  for (const char* bad : {"NOT-HEX", "0123456789ABCDEF", "ab\ncd"}) {
    approve.set_id(bad);
    EXPECT_THAT(km_->ApproveChange(kAdmin2, approve),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("id: not a change id")))
        << bad;
  }
  approve.set_id(proposed.pending().id());
  EXPECT_THAT(km_->ApproveChange(kAdmin, approve),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("second, different admin")));
  EXPECT_THAT(km_->ApproveChange(kOwner, approve), StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_OK_AND_ASSIGN(auto applied, km_->ApproveChange(kAdmin2, approve));
  EXPECT_EQ(applied.version().state(), v1::DESTROYED);
  EXPECT_THAT(applied.version().history().rbegin()->principal(), HasSubstr(kAdmin2.principal));
  EXPECT_THAT(km_->ApproveChange(kAdmin2, approve),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("approved")));

  // A policy change that is not approved in time expires.
  v1::UpdateKeyRequest up;
  up.set_name("keys/dc");
  up.add_update_mask("rotation_period_seconds");
  up.set_rotation_period_seconds(86400);
  ASSERT_OK_AND_ASSIGN(auto pending, km_->UpdateKey(kAdmin, up));
  ASSERT_TRUE(pending.has_pending());
  clock_.Advance(absl::Hours(2));
  approve.set_id(pending.pending().id());
  const std::string stored = db_->Get("change/" + pending.pending().id()).value_or("");
  EXPECT_THAT(km_->ApproveChange(kAdmin2, approve),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("expired")));
  // A failed call writes nothing (the record still says pending; expiry is
  // read from the time).
  EXPECT_EQ(db_->Get("change/" + pending.pending().id()).value_or("gone"), stored);
  v1::GetKeyRequest get;
  get.set_name("keys/dc");
  ASSERT_OK_AND_ASSIGN(auto key, km_->GetKey(kAdmin, get));
  EXPECT_EQ(key.rotation_period_seconds(), 0);
}

TEST_F(KeyManagerTest, RotationPeriodRotatesInMaintenance) {
  v1::CreateKeyRequest r;
  r.set_key_id("auto");
  r.set_owner(kOwner.principal);
  r.set_rotation_period_seconds(3600);
  ASSERT_OK(km_->CreateKey(kAdmin, r));
  clock_.Advance(absl::Minutes(30));
  ASSERT_OK(km_->RunMaintenance());
  v1::GetKeyRequest get;
  get.set_name("keys/auto");
  ASSERT_OK_AND_ASSIGN(auto key, km_->GetKey(kAdmin, get));
  EXPECT_EQ(key.primary_version(), 1u);
  clock_.Advance(absl::Minutes(31));
  ASSERT_OK(km_->RunMaintenance());
  ASSERT_OK_AND_ASSIGN(key, km_->GetKey(kAdmin, get));
  EXPECT_EQ(key.primary_version(), 2u);
  ASSERT_OK_AND_ASSIGN(auto v2, Version("keys/auto/versions/2"));
  EXPECT_EQ(v2.history(0).principal(), "system:rotation-period");
}

TEST_F(KeyManagerTest, ListKeysPaginatesAndFiltersByOwner) {
  for (int i = 0; i < 5; ++i) MakeKey("k" + std::to_string(i));
  v1::CreateKeyRequest other;
  other.set_key_id("theirs");
  other.set_owner(kOwner2.principal);
  ASSERT_OK(km_->CreateKey(kAdmin, other));
  v1::ListKeysRequest r;
  r.set_page_size(2);
  std::vector<std::string> names;
  for (int page = 0; page < 10; ++page) {
    ASSERT_OK_AND_ASSIGN(auto resp, km_->ListKeys(kAdmin, r));
    for (const auto& k : resp.keys()) names.push_back(k.name());
    if (resp.next_page_token().empty()) break;
    r.set_page_token(resp.next_page_token());
  }
  EXPECT_EQ(names.size(), 6u);
  v1::ListKeysRequest mine;
  ASSERT_OK_AND_ASSIGN(auto own, km_->ListKeys(kOwner2, mine));
  ASSERT_EQ(own.keys_size(), 1);
  EXPECT_EQ(own.keys(0).name(), "keys/theirs");
}

// Domain-level authorization: who may do what to a key owned by kOwner.
TEST_F(KeyManagerTest, AuthorizationByRoleAndOwnership) {
  MakeKey("k");
  ASSERT_OK_AND_ASSIGN(auto ct, Encrypt("k", "x"));
  for (const Caller* c : {&kAdmin, &kOwner2, &kAuditor, &kWorkload}) {
    EXPECT_THAT(Encrypt("k", "x", *c), StatusIs(absl::StatusCode::kPermissionDenied)) << c->principal;
    EXPECT_THAT(Decrypt(ct.ciphertext(), *c), StatusIs(absl::StatusCode::kPermissionDenied))
        << c->principal;
  }
  v1::RotateKeyRequest rot;
  rot.set_name("keys/k");
  for (const Caller* c : {&kOwner, &kAuditor, &kWorkload}) {
    EXPECT_THAT(km_->RotateKey(*c, rot), StatusIs(absl::StatusCode::kPermissionDenied));
  }
  v1::GetKeyRequest get;
  get.set_name("keys/k");
  EXPECT_OK(km_->GetKey(kAuditor, get));
  EXPECT_OK(km_->GetKey(kOwner, get));
  EXPECT_THAT(km_->GetKey(kOwner2, get), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(km_->GetKey(kWorkload, get), StatusIs(absl::StatusCode::kPermissionDenied));
  v1::CreateKeyRequest for_other;
  for_other.set_key_id("mine");
  for_other.set_owner(kOwner2.principal);
  EXPECT_THAT(km_->CreateKey(kOwner, for_other), StatusIs(absl::StatusCode::kPermissionDenied));
  for_other.clear_owner();
  ASSERT_OK_AND_ASSIGN(auto own, km_->CreateKey(kOwner, for_other));
  EXPECT_EQ(own.owner(), kOwner.principal);
}

}  // namespace
}  // namespace strongroom::kms
