// HsmSelfCheck: a round of real key operations inside the HSM with throw-away
// session keys, used by the System.CheckHsm RPC and the quickstart demo to
// show that the token works end to end.
//
// Steps: generate an AES-256 key; AES-GCM encrypt and decrypt a random
// payload; confirm a flipped ciphertext byte is rejected; wrap and unwrap a
// random 32-byte data key under a second AES key; generate an EC P-256 pair,
// sign in the HSM and verify the DER signature with OpenSSL outside it. The
// session keys are destroyed at the end. Nothing secret is reported.
//
// Thread-safe (the Hsm is).
#ifndef STRONGROOM_KMS_HSM_SELF_CHECK_H_
#define STRONGROOM_KMS_HSM_SELF_CHECK_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kms/pkcs11/hsm.h"

namespace strongroom::kms {

struct SelfCheckStep {
  std::string name;
  bool ok = false;
  std::string detail;
  double micros = 0;
};

struct SelfCheckReport {
  bool ok = false;
  std::vector<SelfCheckStep> steps;
};

// InvalidArgument when payload_bytes is outside [1, 65536]. Failures of the
// HSM steps are reported in the steps (ok=false), not as an error status.
absl::StatusOr<SelfCheckReport> RunHsmSelfCheck(pkcs11::Hsm& hsm, size_t payload_bytes);

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_HSM_SELF_CHECK_H_
