// Encrypt, GenerateDataKey and ReEncrypt against lifecycle changes that land
// while they seal (KmsOptions::before_seal_for_testing lets them in between):
// a call never returns a ciphertext that nothing can open.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/kms/key_manager_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

class KeyManagerSealRaceTest : public KeyManagerFixture {};

// An admin rotates a key and destroys its old primary at once (destroy wait
// 0) while an Encrypt, GenerateDataKey or ReEncrypt is between reading the
// primary and sealing under it. The seal under the destroyed version is
// discarded and redone under the new primary: what the call returns opens.
TEST_F(KeyManagerSealRaceTest, ASealRacingTheDestructionOfItsVersionIsRedone) {
  MakeKey("k", false, false, /*destroy_wait=*/0);
  ASSERT_OK_AND_ASSIGN(auto old_ct, Encrypt("k", "from before"));  // v1's material cached
  uint32_t primary = 1;
  int seals = 0;
  auto rotate_and_destroy = [&] {
    ++seals;
    v1::RotateKeyRequest rot;
    rot.set_name("keys/k");
    ASSERT_OK(km_->RotateKey(kAdmin, rot).status());
    v1::DestroyKeyVersionRequest d;
    d.set_name(absl::StrCat("keys/k/versions/", primary++));
    ASSERT_OK_AND_ASSIGN(auto destroyed, km_->DestroyKeyVersion(kAdmin, d));
    ASSERT_EQ(destroyed.version().state(), v1::DESTROYED);
  };
  auto once = [&] {
    if (seals == 0) rotate_and_destroy();
  };

  before_seal_ = once;
  ASSERT_OK_AND_ASSIGN(auto enc, Encrypt("k", "secret"));
  EXPECT_EQ(seals, 1);
  EXPECT_EQ(enc.key_version(), "keys/k/versions/2");
  ASSERT_OK_AND_ASSIGN(auto dec, Decrypt(enc.ciphertext()));
  EXPECT_EQ(dec.plaintext(), "secret");

  seals = 0;
  v1::GenerateDataKeyRequest g;
  g.set_name("keys/k");
  (*g.mutable_encryption_context())["dataset"] = "d1";
  ASSERT_OK_AND_ASSIGN(auto dk, km_->GenerateDataKey(kOwner, g));
  EXPECT_EQ(seals, 1);
  EXPECT_EQ(dk.key_version(), "keys/k/versions/3");
  ASSERT_OK_AND_ASSIGN(auto dk_open, Decrypt(dk.ciphertext()));
  EXPECT_EQ(dk_open.plaintext(), dk.plaintext());

  before_seal_ = nullptr;
  ASSERT_OK_AND_ASSIGN(auto v3_ct, Encrypt("k", "under v3"));
  seals = 0;
  before_seal_ = once;
  v1::ReEncryptRequest re;
  re.set_ciphertext(v3_ct.ciphertext());
  (*re.mutable_encryption_context())["dataset"] = "d1";
  ASSERT_OK_AND_ASSIGN(auto moved, km_->ReEncrypt(kOwner, re));
  EXPECT_EQ(moved.key_version(), "keys/k/versions/4");
  ASSERT_OK_AND_ASSIGN(auto moved_open, Decrypt(moved.ciphertext()));
  EXPECT_EQ(moved_open.plaintext(), "under v3");

  // A key whose primary is destroyed under every attempt: the call gives up
  // with ABORTED rather than return a ciphertext that cannot open.
  before_seal_ = rotate_and_destroy;
  EXPECT_THAT(Encrypt("k", "never"),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("changed while sealing")));
  before_seal_ = nullptr;
  EXPECT_THAT(Decrypt(old_ct.ciphertext()), StatusIs(absl::StatusCode::kFailedPrecondition));
}

// A raised min_decryption_version makes the version being sealed under
// unusable for decryption as surely as a destruction: redone as well.
TEST_F(KeyManagerSealRaceTest, ASealRacingARaisedMinimumDecryptionVersionIsRedone) {
  MakeKey("k");
  ASSERT_OK(Encrypt("k", "warm").status());
  bool raised = false;
  before_seal_ = [&] {
    if (raised) return;
    raised = true;
    v1::RotateKeyRequest rot;
    rot.set_name("keys/k");
    ASSERT_OK(km_->RotateKey(kAdmin, rot).status());
    v1::UpdateKeyRequest up;
    up.set_name("keys/k");
    up.add_update_mask("min_decryption_version");
    up.set_min_decryption_version(2);
    ASSERT_OK(km_->UpdateKey(kAdmin, up).status());
  };
  ASSERT_OK_AND_ASSIGN(auto enc, Encrypt("k", "secret"));
  EXPECT_EQ(enc.key_version(), "keys/k/versions/2");
  ASSERT_OK_AND_ASSIGN(auto dec, Decrypt(enc.ciphertext()));
  EXPECT_EQ(dec.plaintext(), "secret");
}

}  // namespace
}  // namespace strongroom::kms
