// Translation of PKCS#11 return values into absl::Status.
//
// Every failing CK_RV becomes a Status whose message names the PKCS#11
// function and the code ("C_Encrypt failed: CKR_DEVICE_ERROR (0x30)"), and
// which carries the raw CK_RV as a payload so the session layer can decide
// whether to recover (see IsRecoverable).
#ifndef STRONGROOM_KMS_PKCS11_ERRORS_H_
#define STRONGROOM_KMS_PKCS11_ERRORS_H_

#include "absl/strings/string_view.h"
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "kms/pkcs11/cryptoki.h"

namespace strongroom::kms::pkcs11 {

// "CKR_DEVICE_ERROR", or "CKR_VENDOR_DEFINED+0x.." / "CKR_0x..." for unknowns.
std::string RvName(CK_RV rv);

// OK for CKR_OK; otherwise an error naming `call` and `rv`. `context` (never
// secret) is appended when given.
absl::Status RvToStatus(absl::string_view call, CK_RV rv,
                        absl::string_view context = {});

// For decrypt and unwrap: SoftHSM reports a failed integrity check as
// CKR_GENERAL_ERROR, others as CKR_ENCRYPTED_DATA_INVALID or
// CKR_WRAPPED_KEY_INVALID. Those become InvalidArgument ("... do not
// authenticate"), keeping the CK_RV payload; other codes map as usual.
absl::Status IntegrityFailureToStatus(absl::string_view call, CK_RV rv,
                                      absl::string_view what);

// The CK_RV carried by a status built by RvToStatus, if any.
std::optional<CK_RV> RvOf(const absl::Status& status);

// Codes after which the session layer re-opens sessions, logs in again or
// reloads the module, then retries the call once.
bool IsRecoverable(CK_RV rv);
// Codes that need the module finalized and initialized again.
bool NeedsModuleReload(CK_RV rv);

}  // namespace strongroom::kms::pkcs11

#endif  // STRONGROOM_KMS_PKCS11_ERRORS_H_
