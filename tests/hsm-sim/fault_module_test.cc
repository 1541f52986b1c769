// Tests of libstrongroom-fault-pkcs11.so through the raw PKCS#11 API.
#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <p11-kit/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/testing/status_matchers.h"
#include "hsm-sim/fault_control.h"
#include "tests/hsm-sim/pkcs11_fixture.h"

namespace strongroom::hsm_sim {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Replaces `path` atomically, so the module never reads half a file.
void WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << tmp;
  }
  ASSERT_EQ(rename(tmp.c_str(), path.c_str()), 0) << path;
}

TEST_F(Pkcs11FaultTest, ForwardsEveryCallWithoutRules) {
  CK_INFO info;
  ASSERT_EQ(p11_->C_GetInfo(&info), CKR_OK);
  EXPECT_THAT(std::string(reinterpret_cast<char*>(info.manufacturerID), 32),
              StartsWith("SoftHSM"));

  CK_SESSION_HANDLE session;
  ASSERT_NO_FATAL_FAILURE(OpenUserSession(&session));
  CK_OBJECT_HANDLE key;
  ASSERT_NO_FATAL_FAILURE(GenerateAesKey(session, &key));

  const std::vector<uint8_t> plaintext = {'s', 'e', 'c', 'r', 'e', 't'};
  CK_MECHANISM gcm = GcmMechanism();
  ASSERT_EQ(p11_->C_EncryptInit(session, &gcm, key), CKR_OK);
  std::vector<uint8_t> ciphertext;
  ASSERT_EQ(EncryptOnce(session, plaintext, &ciphertext), CKR_OK);
  ASSERT_EQ(ciphertext.size(), plaintext.size() + 16);  // ct || tag

  ASSERT_EQ(p11_->C_DecryptInit(session, &gcm, key), CKR_OK);
  std::vector<uint8_t> decrypted(ciphertext.size());
  CK_ULONG len = decrypted.size();
  ASSERT_EQ(p11_->C_Decrypt(session, ciphertext.data(), ciphertext.size(),
                            decrypted.data(), &len),
            CKR_OK);
  decrypted.resize(len);
  EXPECT_EQ(decrypted, plaintext);

  EXPECT_EQ(faults_->Injected(), 0);
  EXPECT_EQ(faults_->Calls("C_Encrypt"), 1);
  EXPECT_EQ(faults_->Calls("C_GenerateKey"), 1);
  EXPECT_EQ(faults_->Calls("C_NoSuchFunction"), -1);
}

TEST_F(Pkcs11FaultTest, FailRuleInjectsUntilCleared) {
  CK_SESSION_HANDLE session;
  ASSERT_NO_FATAL_FAILURE(OpenUserSession(&session));
  CK_OBJECT_HANDLE key;
  ASSERT_NO_FATAL_FAILURE(GenerateAesKey(session, &key));
  ASSERT_OK(faults_->Configure("fail C_Encrypt CKR_DEVICE_ERROR"));

  CK_MECHANISM gcm = GcmMechanism();
  ASSERT_EQ(p11_->C_EncryptInit(session, &gcm, key), CKR_OK);
  std::vector<uint8_t> out;
  EXPECT_EQ(EncryptOnce(session, {1, 2, 3}, &out), 0x30u);
  EXPECT_EQ(EncryptOnce(session, {1, 2, 3}, &out), CKR_DEVICE_ERROR);
  EXPECT_EQ(GenerateRandom(session), CKR_OK);  // other functions unaffected
  EXPECT_EQ(faults_->Injected(), 2);
  EXPECT_EQ(faults_->Calls("C_Encrypt"), 2);

  faults_->Clear();
  // The injected failures never reached SoftHSM, so the operation started by
  // C_EncryptInit is still active and now completes.
  EXPECT_EQ(EncryptOnce(session, {1, 2, 3}, &out), CKR_OK);
  EXPECT_EQ(out.size(), 3u + 16u);
  EXPECT_EQ(faults_->Injected(), 0);
}

TEST_F(Pkcs11FaultTest, WildcardSparesLifecycleFunctions) {
  CK_SESSION_HANDLE session;
  ASSERT_EQ(OpenSession(&session), CKR_OK);
  ASSERT_OK(faults_->Configure("fail * 0x32"));  // CKR_DEVICE_REMOVED
  EXPECT_EQ(GenerateRandom(session), CKR_DEVICE_REMOVED);
  CK_ULONG count = 0;
  EXPECT_EQ(p11_->C_GetSlotList(CK_TRUE, nullptr, &count), CKR_DEVICE_REMOVED);
  CK_INFO info;
  EXPECT_EQ(p11_->C_GetInfo(&info), CKR_OK);
  EXPECT_EQ(faults_->Injected(), 2);
}

TEST_F(Pkcs11FaultTest, CountRuleExpires) {
  CK_SESSION_HANDLE session;
  ASSERT_EQ(OpenSession(&session), CKR_OK);
  ASSERT_OK(
      faults_->Configure("fail C_GenerateRandom CKR_DEVICE_ERROR count=2"));
  EXPECT_EQ(GenerateRandom(session), CKR_DEVICE_ERROR);
  EXPECT_EQ(GenerateRandom(session), CKR_DEVICE_ERROR);
  EXPECT_EQ(GenerateRandom(session), CKR_OK);
  EXPECT_EQ(GenerateRandom(session), CKR_OK);
  EXPECT_EQ(faults_->Injected(), 2);
  EXPECT_EQ(faults_->Calls("C_GenerateRandom"), 4);
}

TEST_F(Pkcs11FaultTest, FailAfterPassesTheFirstCalls) {
  CK_SESSION_HANDLE session;
  ASSERT_EQ(OpenSession(&session), CKR_OK);
  ASSERT_OK(
      faults_->Configure("fail_after 2 C_GenerateRandom CKR_FUNCTION_FAILED"));
  EXPECT_EQ(GenerateRandom(session), CKR_OK);
  EXPECT_EQ(GenerateRandom(session), CKR_OK);
  EXPECT_EQ(GenerateRandom(session), CKR_FUNCTION_FAILED);
  EXPECT_EQ(GenerateRandom(session), CKR_FUNCTION_FAILED);

  // Configure installs fresh rules, whose call counts start at zero.
  ASSERT_OK(faults_->Configure(
      "fail_after 1 C_GenerateRandom CKR_DEVICE_ERROR count=1"));
  EXPECT_EQ(GenerateRandom(session), CKR_OK);
  EXPECT_EQ(GenerateRandom(session), CKR_DEVICE_ERROR);
  EXPECT_EQ(GenerateRandom(session), CKR_OK);
  EXPECT_EQ(faults_->Injected(), 3);
}

// after_call: the real module runs the call (here: makes the key), the
// caller hears the injected failure.
TEST_F(Pkcs11FaultTest, AfterCallRunsTheRealCallThenFails) {
  CK_SESSION_HANDLE session;
  ASSERT_NO_FATAL_FAILURE(OpenUserSession(&session));
  ASSERT_OK(faults_->Configure("fail C_GenerateKey CKR_DEVICE_ERROR count=1 after_call"));
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  CK_MECHANISM mechanism = {CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
  CK_ULONG length = 32;
  CK_BBOOL no = CK_FALSE;
  CK_ATTRIBUTE attrs[] = {{CKA_CLASS, &klass, sizeof(klass)},
                          {CKA_VALUE_LEN, &length, sizeof(length)},
                          {CKA_TOKEN, &no, sizeof(no)}};
  EXPECT_EQ(p11_->C_GenerateKey(session, &mechanism, attrs, 3, &key), CKR_DEVICE_ERROR);
  EXPECT_EQ(faults_->Injected(), 1);
  // The key exists in SoftHSM although the call "failed".
  ASSERT_EQ(p11_->C_FindObjectsInit(session, attrs, 1), CKR_OK);
  CK_OBJECT_HANDLE found[4];
  CK_ULONG n = 0;
  ASSERT_EQ(p11_->C_FindObjects(session, found, 4, &n), CKR_OK);
  ASSERT_EQ(p11_->C_FindObjectsFinal(session), CKR_OK);
  EXPECT_EQ(n, 1u);
  // Without after_call the call never reaches SoftHSM.
  ASSERT_OK(faults_->Configure("fail C_GenerateKey CKR_DEVICE_ERROR count=1"));
  EXPECT_EQ(p11_->C_GenerateKey(session, &mechanism, attrs, 3, &key), CKR_DEVICE_ERROR);
  ASSERT_EQ(p11_->C_FindObjectsInit(session, attrs, 1), CKR_OK);
  ASSERT_EQ(p11_->C_FindObjects(session, found, 4, &n), CKR_OK);
  ASSERT_EQ(p11_->C_FindObjectsFinal(session), CKR_OK);
  EXPECT_EQ(n, 1u);
}

TEST_F(Pkcs11FaultTest, FileRulesFollowTheFile) {
  const std::string path = token_->dir() + "/faults.txt";
  ASSERT_EQ(setenv("STRONGROOM_FAULT_FILE", path.c_str(), 1), 0);
  Finalize();  // the module reads its environment at C_Initialize
  ASSERT_NO_FATAL_FAILURE(Initialize());
  CK_SESSION_HANDLE session;
  ASSERT_EQ(OpenSession(&session), CKR_OK);

  EXPECT_EQ(GenerateRandom(session), CKR_OK);  // no file yet: no rules
  ASSERT_NO_FATAL_FAILURE(WriteFileAtomically(
      path,
      "# injected by the test\nfail C_GenerateRandom CKR_DEVICE_ERROR\n"));
  EXPECT_EQ(GenerateRandom(session), CKR_DEVICE_ERROR);
  EXPECT_EQ(GenerateRandom(session), CKR_DEVICE_ERROR);

  // A bad rule is reported and skipped; the good one still applies.
  ASSERT_NO_FATAL_FAILURE(WriteFileAtomically(
      path,
      "explode now\nfail C_GenerateRandom CKR_TOKEN_NOT_PRESENT count=1"));
  EXPECT_EQ(GenerateRandom(session), CKR_TOKEN_NOT_PRESENT);
  EXPECT_EQ(GenerateRandom(session), CKR_OK);

  ASSERT_NO_FATAL_FAILURE(
      WriteFileAtomically(path, "fail C_GenerateRandom CKR_DEVICE_ERROR"));
  EXPECT_EQ(GenerateRandom(session), CKR_DEVICE_ERROR);
  ASSERT_EQ(unlink(path.c_str()), 0);
  EXPECT_EQ(GenerateRandom(session), CKR_OK);  // file gone: rules gone
}

TEST_F(Pkcs11FaultTest, EnvironmentSpecIsReadAtInitialize) {
  ASSERT_EQ(setenv("STRONGROOM_FAULT_SPEC",
                   "fail C_GenerateRandom CKR_DEVICE_MEMORY count=1; "
                   "fail C_NoSuchCall CKR_DEVICE_ERROR",
                   1),
            0);
  CK_SESSION_HANDLE session;
  ASSERT_EQ(OpenSession(&session), CKR_OK);
  EXPECT_EQ(GenerateRandom(session), CKR_OK);  // not re-initialised yet

  Finalize();
  ASSERT_NO_FATAL_FAILURE(Initialize());
  ASSERT_EQ(OpenSession(&session), CKR_OK);
  EXPECT_EQ(GenerateRandom(session), CKR_DEVICE_MEMORY);
  EXPECT_EQ(GenerateRandom(session), CKR_OK);
}

TEST_F(Pkcs11FaultTest, CountsOpenSessions) {
  EXPECT_EQ(faults_->OpenSessions(), 0);
  CK_SESSION_HANDLE s1, s2, s3, s4;
  ASSERT_EQ(OpenSession(&s1), CKR_OK);
  ASSERT_EQ(OpenSession(&s2), CKR_OK);
  ASSERT_EQ(OpenSession(&s3), CKR_OK);
  EXPECT_EQ(faults_->OpenSessions(), 3);

  ASSERT_EQ(p11_->C_CloseSession(s1), CKR_OK);
  EXPECT_EQ(faults_->OpenSessions(), 2);
  // Closing a handle that is no longer open fails in SoftHSM: no change.
  EXPECT_EQ(p11_->C_CloseSession(s1), CKR_SESSION_HANDLE_INVALID);
  EXPECT_EQ(faults_->OpenSessions(), 2);

  // An injected close failure leaves the session open and counted.
  ASSERT_OK(faults_->Configure("fail C_CloseSession CKR_DEVICE_ERROR count=1"));
  EXPECT_EQ(p11_->C_CloseSession(s2), CKR_DEVICE_ERROR);
  EXPECT_EQ(faults_->OpenSessions(), 2);
  EXPECT_EQ(p11_->C_CloseSession(s2), CKR_OK);
  EXPECT_EQ(faults_->OpenSessions(), 1);

  // An injected open failure opens nothing.
  ASSERT_OK(faults_->Configure("fail C_OpenSession CKR_SESSION_COUNT count=1"));
  EXPECT_EQ(OpenSession(&s4), CKR_SESSION_COUNT);
  EXPECT_EQ(faults_->OpenSessions(), 1);
  ASSERT_EQ(OpenSession(&s4), CKR_OK);
  EXPECT_EQ(faults_->OpenSessions(), 2);

  ASSERT_EQ(p11_->C_CloseAllSessions(slot_), CKR_OK);
  EXPECT_EQ(faults_->OpenSessions(), 0);
  EXPECT_EQ(p11_->C_CloseSession(s3), CKR_SESSION_HANDLE_INVALID);

  ASSERT_EQ(OpenSession(&s1), CKR_OK);
  EXPECT_EQ(faults_->OpenSessions(), 1);
  Finalize();
  EXPECT_EQ(faults_->OpenSessions(), 0);
  ASSERT_NO_FATAL_FAILURE(Initialize());
}

TEST_F(Pkcs11FaultTest, LatencyDelaysTheCall) {
  CK_SESSION_HANDLE session;
  ASSERT_EQ(OpenSession(&session), CKR_OK);
  ASSERT_OK(faults_->Configure("latency_us C_GenerateRandom 40000"));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(GenerateRandom(session), CKR_OK);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, std::chrono::microseconds(40000));
  EXPECT_EQ(faults_->Injected(), 0);  // a delay is not a fault
}

TEST_F(Pkcs11FaultTest, BadSpecIsRejectedAndKeepsTheRules) {
  auto configure = reinterpret_cast<strongroom_fault_configure_fn>(
      dlsym(handle_, "strongroom_fault_configure"));
  ASSERT_NE(configure, nullptr);
  CK_SESSION_HANDLE session;
  ASSERT_EQ(OpenSession(&session), CKR_OK);

  ASSERT_EQ(configure("fail C_GenerateRandom CKR_DEVICE_ERROR"), 0);
  for (const char* bad : {
           "explode C_Encrypt",
           "fail C_NoSuchCall CKR_DEVICE_ERROR",
           "fail C_Encrypt CKR_NO_SUCH_CODE",
           "fail C_Encrypt",
           "fail C_Encrypt CKR_OK",
           "fail C_Encrypt CKR_DEVICE_ERROR count=0",
           "fail C_Encrypt CKR_DEVICE_ERROR sometimes",
           "fail C_Encrypt CKR_DEVICE_ERROR after_calls",
           "latency_us C_Encrypt 5 after_call",
           "fail_after x C_Encrypt CKR_DEVICE_ERROR",
           "latency_us C_Encrypt -5",
           "fail C_GetFunctionList CKR_DEVICE_ERROR",
           "fail C_GetSlotList CKR_DEVICE_ERROR; nonsense",
       }) {
    EXPECT_EQ(configure(bad), -1) << bad;
  }
  // The rejected specs changed nothing: the first rule still applies and the
  // valid half of the last spec was not installed.
  EXPECT_EQ(GenerateRandom(session), CKR_DEVICE_ERROR);
  CK_ULONG count = 0;
  EXPECT_EQ(p11_->C_GetSlotList(CK_TRUE, nullptr, &count), CKR_OK);

  EXPECT_THAT(
      faults_->Configure("fail C_Bogus CKR_DEVICE_ERROR"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("C_Bogus")));
  // Blank rules and comments are fine; the empty spec clears.
  EXPECT_EQ(configure("  ;\n# comment\n fail C_Digest 0x30 ; "), 0);
  EXPECT_EQ(GenerateRandom(session), CKR_OK);
  EXPECT_EQ(configure(""), 0);
}

}  // namespace
}  // namespace strongroom::hsm_sim
