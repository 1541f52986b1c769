// KeyManager's HSM intents (records of token objects made before the records
// naming them) against a real SoftHSM token and RocksDB: what a failed
// commit leaves, what the next start keeps or destroys (on the audit hooks,
// deferred or not), and a corrupt intent record.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/bytes.h"
#include "kms/key_manager_internal.h"
#include "tests/kms/key_manager_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

class KeyManagerHsmIntentTest : public KeyManagerFixture {};

// An HSM version's token object is made after a synced intent record and
// before the record naming it. A failed commit keeps the object (the write
// may still have reached the disk) and the next start resolves the intent:
// no record names the object, so it is destroyed.
TEST_F(KeyManagerHsmIntentTest, FailedCommitLeavesNoHsmObjectAfterRestart) {
  fail_commits_ = true;
  v1::CreateKeyRequest r;
  r.set_key_id("orphan");
  r.set_owner(kOwner.principal);
  r.set_protection(v1::PROTECTION_HSM);
  EXPECT_THAT(km_->CreateKey(kAdmin, r),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("injected")));
  EXPECT_OK(hsm_->FindKey(pkcs11::KeyKind::kAes, "strongroom-orphan-v1"));
  EXPECT_EQ(CountRecords("hsm-intent/"), 1u);
  fail_commits_ = false;
  MakeKey("h", /*hsm=*/true);
  fail_commits_ = true;
  v1::RotateKeyRequest rot;
  rot.set_name("keys/h");
  EXPECT_THAT(km_->RotateKey(kAdmin, rot), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_OK(hsm_->FindKey(pkcs11::KeyKind::kAes, "strongroom-h-v2"));
  EXPECT_EQ(CountRecords("hsm-intent/"), 2u);
  fail_commits_ = false;
  // In the process that wrote them, the intents stay (a commit that reported
  // failure may be on disk): only the next start decides.
  ASSERT_OK(km_->ResolveHsmIntents());
  EXPECT_OK(hsm_->FindKey(pkcs11::KeyKind::kAes, "strongroom-orphan-v1"));
  EXPECT_EQ(CountRecords("hsm-intent/"), 2u);
  system_changes_.clear();
  // Deferred (as the server does until its audit log takes records): the
  // objects and intents stay until ResolveHsmIntents. A request that cannot
  // be recorded keeps both for the next start.
  defer_hsm_intents_ = true;
  Reopen();
  EXPECT_OK(hsm_->FindKey(pkcs11::KeyKind::kAes, "strongroom-orphan-v1"));
  EXPECT_EQ(CountRecords("hsm-intent/"), 2u);
  fail_system_requests_ = true;
  ASSERT_OK(km_->ResolveHsmIntents());
  EXPECT_OK(hsm_->FindKey(pkcs11::KeyKind::kAes, "strongroom-orphan-v1"));
  EXPECT_OK(hsm_->FindKey(pkcs11::KeyKind::kAes, "strongroom-h-v2"));
  EXPECT_EQ(CountRecords("hsm-intent/"), 2u);
  EXPECT_TRUE(system_changes_.empty());
  fail_system_requests_ = false;
  defer_hsm_intents_ = false;
  Reopen();
  // Each destruction is a system change on the audit hooks.
  EXPECT_THAT(system_changes_,
              ::testing::UnorderedElementsAre(
                  "requested system:start-up destroy_unrecorded_hsm_object keys/orphan/versions/1",
                  ::testing::AllOf(
                      HasSubstr("system:start-up destroy_unrecorded_hsm_object "
                                "keys/orphan/versions/1: hsm object "),
                      HasSubstr("(strongroom-orphan-v1) destroyed: no committed record names it")),
                  "requested system:start-up destroy_unrecorded_hsm_object keys/h/versions/2",
                  ::testing::AllOf(
                      HasSubstr("keys/h/versions/2: hsm object "),
                      HasSubstr("(strongroom-h-v2) destroyed: no committed record names it"))));
  EXPECT_THAT(hsm_->FindKey(pkcs11::KeyKind::kAes, "strongroom-orphan-v1"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(hsm_->FindKey(pkcs11::KeyKind::kAes, "strongroom-h-v2"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_OK(hsm_->FindKey(pkcs11::KeyKind::kAes, "strongroom-h-v1"));
  EXPECT_EQ(CountRecords("hsm-intent/"), 0u);
  ASSERT_OK(Encrypt("h", "still usable"));
  ASSERT_OK(km_->RotateKey(kAdmin, rot));
  EXPECT_OK(hsm_->FindKey(pkcs11::KeyKind::kAes, "strongroom-h-v2"));
  EXPECT_EQ(CountRecords("hsm-intent/"), 0u);
}

// A commit that reported failure but reached the disk (here: the record is
// written, the intent left as such a write would leave it): the next start
// finds a record naming the object and keeps it, so the version works.
TEST_F(KeyManagerHsmIntentTest, IntentWhoseRecordLandedKeepsTheObject) {
  MakeKey("h", /*hsm=*/true);
  v1::RotateKeyRequest rot;
  rot.set_name("keys/h");
  ASSERT_OK(km_->RotateKey(kAdmin, rot));
  ASSERT_OK_AND_ASSIGN(std::string raw, db_->Get(internal::VersionRecordKey("h", 2)));
  records::KeyVersionRecord rec;
  ASSERT_TRUE(rec.ParseFromString(raw));
  ASSERT_FALSE(rec.hsm_object_id().empty());
  records::HsmObjectIntent intent;
  intent.set_hsm_object_id(rec.hsm_object_id());
  intent.set_hsm_label("strongroom-h-v2");
  intent.set_purpose("keys/h/versions/2");
  ASSERT_OK(
      db_->Put(internal::HsmIntentKey(AsBytes(rec.hsm_object_id())), intent.SerializeAsString()));
  // And one for an object the HSM never made (a crash before C_GenerateKey).
  records::HsmObjectIntent never;
  never.set_hsm_object_id(std::string(16, '\x5a'));
  never.set_hsm_label("strongroom-h-v3");
  never.set_purpose("keys/h/versions/3");
  ASSERT_OK(
      db_->Put(internal::HsmIntentKey(AsBytes(never.hsm_object_id())), never.SerializeAsString()));
  // And a root key's (its audit resource is root/ID).
  records::HsmObjectIntent root;
  root.set_hsm_object_id(std::string(16, '\x11'));
  root.set_hsm_label("strongroom-root-9-0badf00d");
  root.set_purpose("root root-9-0badf00d");
  ASSERT_OK(
      db_->Put(internal::HsmIntentKey(AsBytes(root.hsm_object_id())), root.SerializeAsString()));
  system_changes_.clear();
  Reopen();
  EXPECT_EQ(CountRecords("hsm-intent/"), 0u);
  EXPECT_OK(hsm_->FindKey(pkcs11::KeyKind::kAes, "strongroom-h-v2"));
  // Only the object nobody names is a (recorded) destruction.
  EXPECT_THAT(system_changes_,
              ::testing::UnorderedElementsAre(
                  "requested system:start-up destroy_unrecorded_hsm_object root/root-9-0badf00d",
                  "system:start-up destroy_unrecorded_hsm_object root/root-9-0badf00d: hsm object "
                  "11111111111111111111111111111111 (strongroom-root-9-0badf00d) was not in the "
                  "HSM: no committed record names it",
                  "requested system:start-up destroy_unrecorded_hsm_object keys/h/versions/3",
                  "system:start-up destroy_unrecorded_hsm_object keys/h/versions/3: hsm object "
                  "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a (strongroom-h-v3) was not in the HSM: no "
                  "committed record names it"));
  ASSERT_OK_AND_ASSIGN(auto ct, Encrypt("h", "under v2"));
  ASSERT_OK_AND_ASSIGN(auto pt, Decrypt(ct.ciphertext()));
  EXPECT_EQ(pt.plaintext(), "under v2");
}

// An intent record that does not parse (or whose key is not its id) stops
// the start with DATA_LOSS naming it, as other corrupt records do.
TEST_F(KeyManagerHsmIntentTest, CorruptIntentRecordIsDataLoss) {
  ASSERT_OK(db_->Put("hsm-intent/00", "\xff\xff"));
  km_.reset();
  KmsOptions options;
  EXPECT_THAT(KeyManager::Create(*hsm_, *db_, clock_, options),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("hsm-intent/00")));
}

}  // namespace
}  // namespace strongroom::kms
