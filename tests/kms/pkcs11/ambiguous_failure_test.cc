// Failures whose outcome the caller cannot see directly, through the
// fault-injecting module around SoftHSM: a creation that happened although
// its answer said otherwise, a search that found nothing because the login
// was lost, a reconnect that failed, an operation left active in the session
// that owns session objects.
#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "base/testing/status_matchers.h"
#include "hsm-sim/testing/fault_injector.h"
#include "tests/kms/pkcs11/hsm_fixture.h"

namespace strongroom::kms::pkcs11 {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

class AmbiguousFailureTest : public HsmFixture {
 protected:
  void SetUp() override {
    SetUpHsm(/*through_fault_module=*/true, /*max_sessions=*/4);
    ASSERT_OK_AND_ASSIGN(faults_, hsm_sim::FaultInjector::Load());
    faults_->Clear();
  }
  void TearDown() override {
    if (faults_) faults_->Clear();
    HsmFixture::TearDown();
  }

  // Token objects (any class) that carry `id`, counted on a session of our
  // own that is logged in (the login is the application's, shared by every
  // session).
  int CountTokenObjects(const Bytes& id) {
    CK_FUNCTION_LIST* fn = Functions();
    CK_SESSION_HANDLE s = OpenRawSession(fn);
    if (s == CK_INVALID_HANDLE) return -1;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &yes, sizeof(yes)},
                           {CKA_ID, const_cast<uint8_t*>(id.data()), id.size()}};
    CK_OBJECT_HANDLE found[8];
    CK_ULONG n = 0;
    int result = -1;
    if (fn->C_FindObjectsInit(s, tmpl, 2) == CKR_OK) {
      if (fn->C_FindObjects(s, found, 8, &n) == CKR_OK) result = static_cast<int>(n);
      fn->C_FindObjectsFinal(s);
    }
    fn->C_CloseSession(s);
    return result;
  }

  // Logs the application out of the token: every session of this process,
  // the Hsm's included, loses its login (as after a token-side timeout).
  void LogOut() {
    CK_FUNCTION_LIST* fn = Functions();
    CK_SESSION_HANDLE s = OpenRawSession(fn);
    ASSERT_NE(s, CK_INVALID_HANDLE);
    ASSERT_EQ(fn->C_Logout(s), CKR_OK);
    fn->C_CloseSession(s);
  }

  // The module the Hsm loaded (dlopen of the same path gives the same
  // instance, already initialized).
  CK_FUNCTION_LIST* Functions() {
    void* handle = dlopen(hsm_sim::SoftHsmToken::FaultModulePath().c_str(), RTLD_NOW | RTLD_NOLOAD);
    if (handle == nullptr) return nullptr;
    auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
    CK_FUNCTION_LIST* fn = nullptr;
    if (get == nullptr || get(&fn) != CKR_OK) fn = nullptr;
    dlclose(handle);
    return fn;
  }

  CK_SESSION_HANDLE OpenRawSession(CK_FUNCTION_LIST* fn) {
    if (fn == nullptr) return CK_INVALID_HANDLE;
    CK_SLOT_ID slots[16];
    CK_ULONG count = 16;
    if (fn->C_GetSlotList(CK_TRUE, slots, &count) != CKR_OK) return CK_INVALID_HANDLE;
    for (CK_ULONG i = 0; i < count; ++i) {
      CK_TOKEN_INFO info;
      if (fn->C_GetTokenInfo(slots[i], &info) != CKR_OK) continue;
      std::string label(reinterpret_cast<char*>(info.label), sizeof(info.label));
      label.erase(label.find_last_not_of(' ') + 1);
      if (label != token_->label()) continue;
      CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
      if (fn->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s) !=
          CKR_OK) {
        return CK_INVALID_HANDLE;
      }
      return s;
    }
    return CK_INVALID_HANDLE;
  }

  // `key` as the KMS names a token key: kind and CKA_ID only, so every use
  // searches the token.
  KeyHandle ById(const KeyHandle& key) {
    KeyHandle h;
    h.kind = key.kind;
    h.persistent = true;
    h.label = key.label;
    h.id = key.id;
    h.aes_key_bytes = key.aes_key_bytes;
    h.curve = key.curve;
    hsm_->ForgetHandle(h);
    return h;
  }

  std::unique_ptr<hsm_sim::FaultInjector> faults_;
};

// C_GenerateKey made the key but its answer was lost as a session error: the
// retry on a fresh session must not leave a second object under the same id
// (which would make the key unusable: DATA_LOSS at every lookup).
TEST_F(AmbiguousFailureTest, RetriedPersistentCreationLeavesOneObject) {
  ASSERT_OK(faults_->Configure("fail C_GenerateKey CKR_SESSION_HANDLE_INVALID count=1 after_call"));
  ASSERT_OK_AND_ASSIGN(KeyHandle key,
                       hsm_->GenerateAesKey(32, {.label = "twice", .persistent = true}));
  EXPECT_EQ(faults_->Injected(), 1);
  EXPECT_EQ(faults_->Calls("C_GenerateKey"), 2);
  EXPECT_EQ(CountTokenObjects(key.id), 1);
  // The owner session the module called invalid (it was not) is closed, not
  // leaked.
  EXPECT_EQ(static_cast<size_t>(faults_->OpenSessions()), hsm_->OpenSessionCount());
  Bytes iv(12, 1), pt(32, 2);
  ASSERT_OK_AND_ASSIGN(Bytes ct, hsm_->AesGcmEncrypt(ById(key), iv, {}, pt));
  ASSERT_OK_AND_ASSIGN(SecretBytes back, hsm_->AesGcmDecrypt(key, iv, {}, ct));
  EXPECT_EQ(Bytes(back.Reveal().begin(), back.Reveal().end()), pt);
}

TEST_F(AmbiguousFailureTest, RetriedKeyPairCreationLeavesOnePair) {
  ASSERT_OK(
      faults_->Configure("fail C_GenerateKeyPair CKR_SESSION_HANDLE_INVALID count=1 after_call"));
  ASSERT_OK_AND_ASSIGN(
      EcKeyPair pair,
      hsm_->GenerateEcKeyPair(EcCurve::kP256,
                              {.label = "pair", .persistent = true, .usage = kUsageSign}));
  EXPECT_EQ(faults_->Calls("C_GenerateKeyPair"), 2);
  EXPECT_EQ(CountTokenObjects(pair.private_key.id), 2);  // one private, one public
  EXPECT_OK(hsm_->EcdsaSign(ById(pair.private_key), HashAlg::kSha256, Bytes{1}).status());
}

TEST_F(AmbiguousFailureTest, RetriedImportLeavesOneObject) {
  ASSERT_OK(
      faults_->Configure("fail C_CreateObject CKR_SESSION_HANDLE_INVALID count=1 after_call"));
  SecretBytes raw(32);
  std::memset(raw.RevealMutable().data(), 7, 32);
  ASSERT_OK_AND_ASSIGN(KeyHandle key,
                       hsm_->ImportAesKey(raw, {.label = "imported", .persistent = true}));
  EXPECT_EQ(faults_->Calls("C_CreateObject"), 2);
  EXPECT_EQ(CountTokenObjects(key.id), 1);
  EXPECT_OK(hsm_->CheckKeyExists(ById(key)));
}

// With the login lost, private objects are invisible to a search: an empty
// answer then must not read as "the key is gone" (a shred would record a
// destruction that never happened). The layer logs in again and searches
// again.
TEST_F(AmbiguousFailureTest, LostLoginIsNotMistakenForAMissingKey) {
  ASSERT_OK_AND_ASSIGN(KeyHandle key,
                       hsm_->GenerateAesKey(32, {.label = "kept", .persistent = true}));
  ASSERT_NO_FATAL_FAILURE(LogOut());
  const int64_t logins = faults_->Calls("C_Login");
  EXPECT_OK(hsm_->CheckKeyExists(ById(key)));
  EXPECT_GT(faults_->Calls("C_Login"), logins);

  ASSERT_NO_FATAL_FAILURE(LogOut());
  ASSERT_OK(hsm_->DestroyKey(ById(key)));
  EXPECT_EQ(CountTokenObjects(key.id), 0);  // really destroyed, not skipped
  EXPECT_THAT(hsm_->CheckKeyExists(ById(key)), StatusIs(absl::StatusCode::kNotFound));

  ASSERT_OK_AND_ASSIGN(KeyHandle other,
                       hsm_->GenerateAesKey(32, {.label = "kept-2", .persistent = true}));
  ASSERT_NO_FATAL_FAILURE(LogOut());
  ASSERT_OK_AND_ASSIGN(KeyHandle found, hsm_->FindKey(KeyKind::kAes, "kept-2"));
  EXPECT_EQ(found.id, other.id);
}

// The module was re-initialized but the token was not found: the next call
// tries the whole reconnect again instead of opening sessions on the slot
// of the old connection.
TEST_F(AmbiguousFailureTest, FailedReconnectIsRetriedByTheNextCall) {
  ASSERT_OK_AND_ASSIGN(KeyHandle key, hsm_->GenerateAesKey(32, {.label = "k", .persistent = true}));
  Bytes iv(12, 3), pt(16, 4);
  ASSERT_OK(faults_->Configure(
      "fail C_EncryptInit CKR_DEVICE_REMOVED count=1; fail C_GetSlotList CKR_DEVICE_ERROR "
      "count=1"));
  EXPECT_THAT(hsm_->AesGcmEncrypt(key, iv, {}, pt),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("recovery failed")));
  ASSERT_OK_AND_ASSIGN(TokenStatus before, hsm_->GetTokenStatus());
  const int64_t slot_lists = faults_->Calls("C_GetSlotList");
  EXPECT_OK(hsm_->AesGcmEncrypt(key, iv, {}, pt).status());
  ASSERT_OK_AND_ASSIGN(TokenStatus after, hsm_->GetTokenStatus());
  EXPECT_GT(after.generation, before.generation);
  EXPECT_GT(faults_->Calls("C_GetSlotList"), slot_lists);
  EXPECT_EQ(static_cast<size_t>(faults_->OpenSessions()), hsm_->OpenSessionCount());
}

// C_FindObjectsFinal failed (injected, so SoftHSM still has the search
// active in the owner session): later owner-session calls would all fail
// with CKR_OPERATION_ACTIVE. The owner session is replaced instead.
TEST_F(AmbiguousFailureTest, OperationLeftActiveInTheOwnerSessionHeals) {
  ASSERT_OK_AND_ASSIGN(KeyHandle a, hsm_->GenerateAesKey(32, {.label = "a", .persistent = true}));
  ASSERT_OK_AND_ASSIGN(KeyHandle b, hsm_->GenerateAesKey(32, {.label = "b", .persistent = true}));
  ASSERT_OK(faults_->Configure("fail C_FindObjectsFinal CKR_DEVICE_ERROR count=1"));
  EXPECT_THAT(hsm_->DestroyKey(ById(a)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("C_FindObjectsFinal")));
  EXPECT_OK(hsm_->DestroyKey(ById(a)));
  EXPECT_OK(hsm_->DestroyKey(ById(b)));
  EXPECT_EQ(CountTokenObjects(a.id), 0);
  EXPECT_EQ(CountTokenObjects(b.id), 0);
  EXPECT_EQ(static_cast<size_t>(faults_->OpenSessions()), hsm_->OpenSessionCount());
}

}  // namespace
}  // namespace strongroom::kms::pkcs11
