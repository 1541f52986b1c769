// Test fixture that drives libstrongroom-fault-pkcs11.so through the raw
// PKCS#11 API against a fresh SoftHSM token per test.
//
// SetUp provisions a token (SoftHsmToken), loads the fault module, clears its
// programmatic rules and counters, and calls C_Initialize. TearDown clears the
// rules again and finalises, so every test starts with no sessions open.
// Single-threaded, like the tests that use it.
#ifndef STRONGROOM_TESTS_HSM_SIM_PKCS11_FIXTURE_H_
#define STRONGROOM_TESTS_HSM_SIM_PKCS11_FIXTURE_H_

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/testing/status_matchers.h"
#include "hsm-sim/testing/fault_injector.h"
#include "hsm-sim/testing/softhsm_token.h"

namespace strongroom::hsm_sim {

class Pkcs11FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(token_, SoftHsmToken::Create("fault-test"));
    handle_ =
        dlopen(SoftHsmToken::FaultModulePath().c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle_, nullptr) << dlerror();
    auto get_list = reinterpret_cast<CK_C_GetFunctionList>(
        dlsym(handle_, "C_GetFunctionList"));
    ASSERT_NE(get_list, nullptr);
    ASSERT_EQ(get_list(&p11_), CKR_OK);
    ASSERT_OK_AND_ASSIGN(faults_, FaultInjector::Load());
    faults_->Clear();
    ASSERT_NO_FATAL_FAILURE(Initialize());
  }

  void TearDown() override {
    if (faults_ != nullptr) faults_->Clear();
    Finalize();
    unsetenv("STRONGROOM_FAULT_FILE");
    unsetenv("STRONGROOM_FAULT_SPEC");
    faults_.reset();
    if (handle_ != nullptr) dlclose(handle_);
    token_.reset();
  }

  // C_Initialize (re-reads the fault environment) and finds our slot.
  void Initialize() {
    CK_C_INITIALIZE_ARGS args;
    std::memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    ASSERT_EQ(p11_->C_Initialize(&args), CKR_OK);
    initialized_ = true;
    ASSERT_NO_FATAL_FAILURE(FindSlot());
  }

  void Finalize() {
    if (initialized_) p11_->C_Finalize(nullptr);
    initialized_ = false;
  }

  void FindSlot() {
    CK_ULONG count = 0;
    ASSERT_EQ(p11_->C_GetSlotList(CK_TRUE, nullptr, &count), CKR_OK);
    std::vector<CK_SLOT_ID> slots(count);
    ASSERT_EQ(p11_->C_GetSlotList(CK_TRUE, slots.data(), &count), CKR_OK);
    std::string padded = token_->label();
    padded.resize(32, ' ');
    for (CK_ULONG i = 0; i < count; ++i) {
      CK_TOKEN_INFO info;
      if (p11_->C_GetTokenInfo(slots[i], &info) != CKR_OK) continue;
      if (std::memcmp(info.label, padded.data(), 32) == 0) {
        slot_ = slots[i];
        return;
      }
    }
    FAIL() << "no slot holds token '" << token_->label() << "'";
  }

  CK_RV OpenSession(CK_SESSION_HANDLE* session) {
    return p11_->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                               nullptr, nullptr, session);
  }

  // Opens a session and logs the user in.
  void OpenUserSession(CK_SESSION_HANDLE* session) {
    ASSERT_EQ(OpenSession(session), CKR_OK);
    std::string pin = token_->user_pin();
    ASSERT_FALSE(pin.empty());
    ASSERT_EQ(p11_->C_Login(*session, CKU_USER,
                            reinterpret_cast<CK_UTF8CHAR_PTR>(pin.data()),
                            pin.size()),
              CKR_OK);
  }

  // A session AES-256 key usable for encrypt and decrypt.
  void GenerateAesKey(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE* key) {
    CK_MECHANISM mechanism = {CKM_AES_KEY_GEN, nullptr, 0};
    CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
    CK_KEY_TYPE key_type = CKK_AES;
    CK_ULONG length = 32;
    CK_BBOOL yes = CK_TRUE;
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE attrs[] = {
        {CKA_CLASS, &klass, sizeof(klass)},
        {CKA_KEY_TYPE, &key_type, sizeof(key_type)},
        {CKA_VALUE_LEN, &length, sizeof(length)},
        {CKA_TOKEN, &no, sizeof(no)},
        {CKA_ENCRYPT, &yes, sizeof(yes)},
        {CKA_DECRYPT, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)},
    };
    ASSERT_EQ(p11_->C_GenerateKey(session, &mechanism, attrs,
                                  sizeof(attrs) / sizeof(attrs[0]), key),
              CKR_OK);
  }

  // GCM parameters for a fixed (test-only) 96-bit IV and 128-bit tag.
  CK_MECHANISM GcmMechanism() {
    std::memset(&gcm_, 0, sizeof(gcm_));
    gcm_.pIv = iv_;
    gcm_.ulIvLen = sizeof(iv_);
    gcm_.ulIvBits = 8 * sizeof(iv_);
    gcm_.ulTagBits = 128;
    return CK_MECHANISM{CKM_AES_GCM, &gcm_, sizeof(gcm_)};
  }

  // C_Encrypt of an operation already started with C_EncryptInit.
  CK_RV EncryptOnce(CK_SESSION_HANDLE session, std::vector<uint8_t> plaintext,
                    std::vector<uint8_t>* out) {
    out->assign(plaintext.size() + 16, 0);
    CK_ULONG len = out->size();
    const CK_RV rv = p11_->C_Encrypt(session, plaintext.data(),
                                     plaintext.size(), out->data(), &len);
    out->resize(rv == CKR_OK ? len : 0);
    return rv;
  }

  CK_RV GenerateRandom(CK_SESSION_HANDLE session) {
    uint8_t buf[16];
    return p11_->C_GenerateRandom(session, buf, sizeof(buf));
  }

  std::unique_ptr<SoftHsmToken> token_;
  std::unique_ptr<FaultInjector> faults_;
  void* handle_ = nullptr;
  CK_FUNCTION_LIST_PTR p11_ = nullptr;
  CK_SLOT_ID slot_ = 0;
  bool initialized_ = false;
  CK_GCM_PARAMS gcm_;
  uint8_t iv_[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
};

}  // namespace strongroom::hsm_sim

#endif  // STRONGROOM_TESTS_HSM_SIM_PKCS11_FIXTURE_H_
