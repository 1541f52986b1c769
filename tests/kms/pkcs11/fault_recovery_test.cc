// The PKCS#11 layer through the fault-injecting module wrapped around SoftHSM:
// device errors surface clearly, recoverable errors heal by themselves, and no
// session leaks either way.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/testing/status_matchers.h"
#include "hsm-sim/testing/fault_injector.h"
#include "tests/kms/pkcs11/hsm_fixture.h"

namespace strongroom::kms::pkcs11 {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

class FaultRecoveryTest : public HsmFixture {
 protected:
  void SetUp() override {
    SetUpHsm(/*through_fault_module=*/true, /*max_sessions=*/4);
    ASSERT_OK_AND_ASSIGN(faults_, hsm_sim::FaultInjector::Load());
    faults_->Clear();
    ASSERT_OK_AND_ASSIGN(key_, hsm_->GenerateAesKey(32, {.label = "work", .persistent = true}));
  }
  void TearDown() override {
    if (faults_) faults_->Clear();
    HsmFixture::TearDown();
  }

  // One unit of work: encrypt then decrypt 1 KiB.
  absl::Status Work(uint8_t n) {
    Bytes iv(12, n);
    Bytes pt(1024, n);
    ASSIGN_OR_RETURN(Bytes ct, hsm_->AesGcmEncrypt(key_, iv, {}, pt));
    ASSIGN_OR_RETURN(SecretBytes back, hsm_->AesGcmDecrypt(key_, iv, {}, ct));
    if (Bytes(back.Reveal().begin(), back.Reveal().end()) != pt) {
      return absl::InternalError("round trip mismatch");
    }
    return absl::OkStatus();
  }

  std::unique_ptr<hsm_sim::FaultInjector> faults_;
  KeyHandle key_;
};

TEST_F(FaultRecoveryTest, DeviceErrorMidWorkIsClearAndCallsSucceedOnceItClears) {
  for (uint8_t i = 0; i < 5; ++i) ASSERT_OK(Work(i));
  const long sessions_before = faults_->OpenSessions();
  const size_t layer_before = hsm_->OpenSessionCount();
  ASSERT_GT(sessions_before, 0);

  ASSERT_OK(faults_->Configure("fail C_Decrypt CKR_DEVICE_ERROR"));
  for (uint8_t i = 0; i < 10; ++i) {
    absl::Status s = Work(i);
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable,
                            HasSubstr("C_Decrypt failed: CKR_DEVICE_ERROR (0x30)")));
  }
  EXPECT_GE(faults_->Injected(), 10);

  faults_->Clear();
  for (uint8_t i = 0; i < 10; ++i) EXPECT_OK(Work(i));
  // Sessions that saw the error were closed, fresh ones opened: none leaked.
  EXPECT_EQ(faults_->OpenSessions(), sessions_before);
  EXPECT_EQ(hsm_->OpenSessionCount(), layer_before);
  EXPECT_EQ(static_cast<size_t>(faults_->OpenSessions()), hsm_->OpenSessionCount());
}

TEST_F(FaultRecoveryTest, FailAfterNCallsInTheMiddleOfABatch) {
  ASSERT_OK(faults_->Configure("fail_after 7 C_Encrypt CKR_DEVICE_ERROR count=3"));
  int ok = 0, failed = 0;
  for (uint8_t i = 0; i < 20; ++i) {
    absl::Status s = Work(i);
    if (s.ok()) {
      ++ok;
    } else {
      ++failed;
      EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("C_Encrypt")));
    }
  }
  EXPECT_EQ(failed, 3);
  EXPECT_EQ(ok, 17);
  EXPECT_EQ(static_cast<size_t>(faults_->OpenSessions()), hsm_->OpenSessionCount());
}

TEST_F(FaultRecoveryTest, SessionHandleInvalidIsRecoveredTransparently) {
  ASSERT_OK(Work(1));
  ASSERT_OK(faults_->Configure("fail C_EncryptInit CKR_SESSION_HANDLE_INVALID count=1"));
  EXPECT_OK(Work(2));  // retried on a fresh session
  EXPECT_EQ(faults_->Injected(), 1);
  ASSERT_OK_AND_ASSIGN(TokenStatus status, hsm_->GetTokenStatus());
  EXPECT_EQ(status.recoveries, 1u);
  EXPECT_EQ(static_cast<size_t>(faults_->OpenSessions()), hsm_->OpenSessionCount());
}

// Session objects live in the owner session: when it is replaced (the module
// said its handle was invalid), a session key made before is refused as gone
// (FAILED_PRECONDITION, which the token signer answers by copying again)
// rather than used through a handle that may now name nothing or another
// object. A copy made afterwards works.
TEST_F(FaultRecoveryTest, SessionKeysOfAReplacedOwnerSessionAreGone) {
  ASSERT_OK_AND_ASSIGN(KeyHandle before, hsm_->CopyToSession(key_));
  Bytes iv(12, 7), pt(64, 7);
  ASSERT_OK(hsm_->AesGcmEncrypt(before, iv, {}, pt).status());
  ASSERT_OK(faults_->Configure("fail C_CopyObject CKR_SESSION_HANDLE_INVALID count=1"));
  ASSERT_OK_AND_ASSIGN(KeyHandle after, hsm_->CopyToSession(key_));  // on a new owner session
  EXPECT_EQ(faults_->Injected(), 1);
  EXPECT_THAT(hsm_->AesGcmEncrypt(before, iv, {}, pt),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("owner session")));
  EXPECT_OK(hsm_->AesGcmEncrypt(after, iv, {}, pt).status());
}

TEST_F(FaultRecoveryTest, UserNotLoggedInLogsInAgain) {
  ASSERT_OK(faults_->Configure("fail C_Encrypt CKR_USER_NOT_LOGGED_IN count=1"));
  EXPECT_OK(Work(3));
  EXPECT_GE(faults_->Calls("C_Login"), 1);
  EXPECT_EQ(static_cast<size_t>(faults_->OpenSessions()), hsm_->OpenSessionCount());
}

TEST_F(FaultRecoveryTest, DeviceRemovedReloadsTheModule) {
  ASSERT_OK(Work(4));
  ASSERT_OK(faults_->Configure("fail C_EncryptInit CKR_DEVICE_REMOVED count=1"));
  EXPECT_OK(Work(5));  // module finalized, re-initialized, token found, retried
  EXPECT_GE(faults_->Calls("C_Initialize"), 1);
  ASSERT_OK_AND_ASSIGN(TokenStatus status, hsm_->GetTokenStatus());
  EXPECT_EQ(status.generation, 2u);
  EXPECT_EQ(static_cast<size_t>(faults_->OpenSessions()), hsm_->OpenSessionCount());
}

TEST_F(FaultRecoveryTest, PersistentFaultGivesUpAfterOneRetry) {
  ASSERT_OK(faults_->Configure("fail C_EncryptInit CKR_SESSION_HANDLE_INVALID"));
  EXPECT_THAT(Work(6), StatusIs(absl::StatusCode::kUnavailable,
                                HasSubstr("CKR_SESSION_HANDLE_INVALID")));
  EXPECT_EQ(faults_->Calls("C_EncryptInit"), 2);  // first try + one retry
  faults_->Clear();
  EXPECT_OK(Work(7));
  EXPECT_EQ(static_cast<size_t>(faults_->OpenSessions()), hsm_->OpenSessionCount());
}

TEST_F(FaultRecoveryTest, OpenSessionFailureIsReportedAndNotCounted) {
  // Every failed sign closes its session, so the pool is empty afterwards and
  // the next call must open one.
  ASSERT_OK(faults_->Configure("fail C_Sign CKR_DEVICE_ERROR"));
  ASSERT_OK_AND_ASSIGN(EcKeyPair pair, hsm_->GenerateEcKeyPair(EcCurve::kP256, {.label = "s", .usage = kUsageSign}));
  for (int i = 0; i < 4; ++i) {
    EXPECT_THAT(hsm_->EcdsaSign(pair.private_key, HashAlg::kSha256, Bytes{1}),
                StatusIs(absl::StatusCode::kUnavailable, HasSubstr("C_Sign")));
  }
  ASSERT_OK(faults_->Configure("fail C_OpenSession CKR_DEVICE_ERROR"));
  EXPECT_THAT(Work(8), StatusIs(absl::StatusCode::kUnavailable,
                                HasSubstr("C_OpenSession failed: CKR_DEVICE_ERROR")));
  faults_->Clear();
  EXPECT_OK(Work(9));
  EXPECT_OK(hsm_->EcdsaSign(pair.private_key, HashAlg::kSha256, Bytes{1}));
  EXPECT_EQ(static_cast<size_t>(faults_->OpenSessions()), hsm_->OpenSessionCount());
}

TEST_F(FaultRecoveryTest, LatencyIsAddedNotFailed) {
  ASSERT_OK(faults_->Configure("latency_us C_Encrypt 20000"));
  absl::Time start = absl::Now();
  EXPECT_OK(Work(10));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(20));
  EXPECT_EQ(faults_->Injected(), 0);
}

}  // namespace
}  // namespace strongroom::kms::pkcs11
