// A per-test SoftHSM token and an Hsm logged into it (directly, or through the
// fault-injecting module when `through_fault_module` is set).
#ifndef STRONGROOM_TESTS_KMS_PKCS11_HSM_FIXTURE_H_
#define STRONGROOM_TESTS_KMS_PKCS11_HSM_FIXTURE_H_

#include <memory>

#include <gtest/gtest.h>

#include "base/testing/status_matchers.h"
#include "hsm-sim/testing/softhsm_token.h"
#include "kms/pkcs11/hsm.h"

namespace strongroom::kms::pkcs11 {

class HsmFixture : public ::testing::Test {
 protected:
  void SetUpHsm(bool through_fault_module, size_t max_sessions = 8) {
    ASSERT_OK_AND_ASSIGN(token_, hsm_sim::SoftHsmToken::Create("strongroom-test"));
    HsmOptions options;
    options.module_path = through_fault_module ? hsm_sim::SoftHsmToken::FaultModulePath()
                                               : hsm_sim::SoftHsmToken::SoftHsmModulePath();
    options.token_label = token_->label();
    options.pin.file = token_->pin_file();
    options.max_sessions = max_sessions;
    ASSERT_OK_AND_ASSIGN(hsm_, Hsm::Create(options));
  }
  void TearDown() override {
    hsm_.reset();
    token_.reset();
  }

  std::unique_ptr<hsm_sim::SoftHsmToken> token_;
  std::unique_ptr<Hsm> hsm_;
};

}  // namespace strongroom::kms::pkcs11

#endif  // STRONGROOM_TESTS_KMS_PKCS11_HSM_FIXTURE_H_
