#include "absl/strings/string_view.h"
#include "kms/pkcs11/errors.h"

#include <cstdio>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace strongroom::kms::pkcs11 {
namespace {

constexpr absl::string_view kRvPayload = "type.strongroom.dev/pkcs11.rv";

struct RvEntry {
  CK_RV rv;
  const char* name;
};

#define SR_RV(x) {x, #x}
constexpr RvEntry kRvNames[] = {
    SR_RV(CKR_OK), SR_RV(CKR_CANCEL), SR_RV(CKR_HOST_MEMORY),
    SR_RV(CKR_SLOT_ID_INVALID), SR_RV(CKR_GENERAL_ERROR),
    SR_RV(CKR_FUNCTION_FAILED), SR_RV(CKR_ARGUMENTS_BAD), SR_RV(CKR_NO_EVENT),
    SR_RV(CKR_NEED_TO_CREATE_THREADS), SR_RV(CKR_CANT_LOCK),
    SR_RV(CKR_ATTRIBUTE_READ_ONLY), SR_RV(CKR_ATTRIBUTE_SENSITIVE),
    SR_RV(CKR_ATTRIBUTE_TYPE_INVALID), SR_RV(CKR_ATTRIBUTE_VALUE_INVALID),
    SR_RV(CKR_ACTION_PROHIBITED), SR_RV(CKR_DATA_INVALID),
    SR_RV(CKR_DATA_LEN_RANGE), SR_RV(CKR_DEVICE_ERROR),
    SR_RV(CKR_DEVICE_MEMORY), SR_RV(CKR_DEVICE_REMOVED),
    SR_RV(CKR_ENCRYPTED_DATA_INVALID), SR_RV(CKR_ENCRYPTED_DATA_LEN_RANGE),
    SR_RV(CKR_FUNCTION_CANCELED), SR_RV(CKR_FUNCTION_NOT_PARALLEL),
    SR_RV(CKR_FUNCTION_NOT_SUPPORTED), SR_RV(CKR_KEY_HANDLE_INVALID),
    SR_RV(CKR_KEY_SIZE_RANGE), SR_RV(CKR_KEY_TYPE_INCONSISTENT),
    SR_RV(CKR_KEY_NOT_NEEDED), SR_RV(CKR_KEY_CHANGED), SR_RV(CKR_KEY_NEEDED),
    SR_RV(CKR_KEY_INDIGESTIBLE), SR_RV(CKR_KEY_FUNCTION_NOT_PERMITTED),
    SR_RV(CKR_KEY_NOT_WRAPPABLE), SR_RV(CKR_KEY_UNEXTRACTABLE),
    SR_RV(CKR_MECHANISM_INVALID), SR_RV(CKR_MECHANISM_PARAM_INVALID),
    SR_RV(CKR_OBJECT_HANDLE_INVALID), SR_RV(CKR_OPERATION_ACTIVE),
    SR_RV(CKR_OPERATION_NOT_INITIALIZED), SR_RV(CKR_PIN_INCORRECT),
    SR_RV(CKR_PIN_INVALID), SR_RV(CKR_PIN_LEN_RANGE), SR_RV(CKR_PIN_EXPIRED),
    SR_RV(CKR_PIN_LOCKED), SR_RV(CKR_SESSION_CLOSED), SR_RV(CKR_SESSION_COUNT),
    SR_RV(CKR_SESSION_HANDLE_INVALID), SR_RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    SR_RV(CKR_SESSION_READ_ONLY), SR_RV(CKR_SESSION_EXISTS),
    SR_RV(CKR_SESSION_READ_ONLY_EXISTS), SR_RV(CKR_SESSION_READ_WRITE_SO_EXISTS),
    SR_RV(CKR_SIGNATURE_INVALID), SR_RV(CKR_SIGNATURE_LEN_RANGE),
    SR_RV(CKR_TEMPLATE_INCOMPLETE), SR_RV(CKR_TEMPLATE_INCONSISTENT),
    SR_RV(CKR_TOKEN_NOT_PRESENT), SR_RV(CKR_TOKEN_NOT_RECOGNIZED),
    SR_RV(CKR_TOKEN_WRITE_PROTECTED), SR_RV(CKR_UNWRAPPING_KEY_HANDLE_INVALID),
    SR_RV(CKR_UNWRAPPING_KEY_SIZE_RANGE), SR_RV(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT),
    SR_RV(CKR_USER_ALREADY_LOGGED_IN), SR_RV(CKR_USER_NOT_LOGGED_IN),
    SR_RV(CKR_USER_PIN_NOT_INITIALIZED), SR_RV(CKR_USER_TYPE_INVALID),
    SR_RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN), SR_RV(CKR_USER_TOO_MANY_TYPES),
    SR_RV(CKR_WRAPPED_KEY_INVALID), SR_RV(CKR_WRAPPED_KEY_LEN_RANGE),
    SR_RV(CKR_WRAPPING_KEY_HANDLE_INVALID), SR_RV(CKR_WRAPPING_KEY_SIZE_RANGE),
    SR_RV(CKR_WRAPPING_KEY_TYPE_INCONSISTENT), SR_RV(CKR_RANDOM_SEED_NOT_SUPPORTED),
    SR_RV(CKR_RANDOM_NO_RNG), SR_RV(CKR_DOMAIN_PARAMS_INVALID),
    SR_RV(CKR_CURVE_NOT_SUPPORTED), SR_RV(CKR_BUFFER_TOO_SMALL),
    SR_RV(CKR_SAVED_STATE_INVALID), SR_RV(CKR_INFORMATION_SENSITIVE),
    SR_RV(CKR_STATE_UNSAVEABLE), SR_RV(CKR_CRYPTOKI_NOT_INITIALIZED),
    SR_RV(CKR_CRYPTOKI_ALREADY_INITIALIZED), SR_RV(CKR_MUTEX_BAD),
    SR_RV(CKR_MUTEX_NOT_LOCKED), SR_RV(CKR_FUNCTION_REJECTED),
    SR_RV(CKR_LIBRARY_LOAD_FAILED), SR_RV(CKR_PIN_TOO_WEAK),
    SR_RV(CKR_PUBLIC_KEY_INVALID),
};
#undef SR_RV

absl::StatusCode CodeFor(CK_RV rv) {
  switch (rv) {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_EXPIRED:
    case CKR_PIN_LOCKED:
    case CKR_USER_PIN_NOT_INITIALIZED:
      return absl::StatusCode::kPermissionDenied;
    case CKR_KEY_HANDLE_INVALID:
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_WRAPPING_KEY_HANDLE_INVALID:
    case CKR_UNWRAPPING_KEY_HANDLE_INVALID:
    case CKR_SLOT_ID_INVALID:
      return absl::StatusCode::kNotFound;
    case CKR_DATA_INVALID:
    case CKR_DATA_LEN_RANGE:
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_WRAPPED_KEY_INVALID:
    case CKR_WRAPPED_KEY_LEN_RANGE:
    case CKR_SIGNATURE_INVALID:
    case CKR_SIGNATURE_LEN_RANGE:
    case CKR_ATTRIBUTE_VALUE_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_ARGUMENTS_BAD:
    case CKR_PUBLIC_KEY_INVALID:
    case CKR_DOMAIN_PARAMS_INVALID:
    case CKR_KEY_SIZE_RANGE:
      return absl::StatusCode::kInvalidArgument;
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_KEY_UNEXTRACTABLE:
    case CKR_KEY_NOT_WRAPPABLE:
    case CKR_ATTRIBUTE_SENSITIVE:
    case CKR_ACTION_PROHIBITED:
    case CKR_WRAPPING_KEY_TYPE_INCONSISTENT:
    case CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT:
    case CKR_TEMPLATE_INCONSISTENT:
    case CKR_TEMPLATE_INCOMPLETE:
    case CKR_SESSION_READ_ONLY:
    case CKR_TOKEN_WRITE_PROTECTED:
      return absl::StatusCode::kFailedPrecondition;
    case CKR_MECHANISM_INVALID:
    case CKR_FUNCTION_NOT_SUPPORTED:
    case CKR_CURVE_NOT_SUPPORTED:
      return absl::StatusCode::kUnimplemented;
    case CKR_HOST_MEMORY:
    case CKR_DEVICE_MEMORY:
    case CKR_SESSION_COUNT:
      return absl::StatusCode::kResourceExhausted;
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
    case CKR_FUNCTION_CANCELED:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

std::string RvName(CK_RV rv) {
  for (const RvEntry& e : kRvNames) {
    if (e.rv == rv) return e.name;
  }
  if (rv >= CKR_VENDOR_DEFINED) {
    return absl::StrFormat("CKR_VENDOR_DEFINED+0x%x", rv - CKR_VENDOR_DEFINED);
  }
  return absl::StrFormat("CKR_UNKNOWN");
}

absl::Status RvToStatus(absl::string_view call, CK_RV rv, absl::string_view context) {
  if (rv == CKR_OK) return absl::OkStatus();
  std::string message = absl::StrFormat("%s failed: %s (0x%x)", call, RvName(rv), rv);
  if (!context.empty()) absl::StrAppend(&message, ": ", context);
  absl::Status status(CodeFor(rv), message);
  status.SetPayload(kRvPayload, absl::Cord(absl::StrCat(rv)));
  return status;
}

absl::Status IntegrityFailureToStatus(absl::string_view call, CK_RV rv,
                                      absl::string_view what) {
  absl::Status status = RvToStatus(call, rv);
  if (rv != CKR_GENERAL_ERROR && rv != CKR_ENCRYPTED_DATA_INVALID &&
      rv != CKR_WRAPPED_KEY_INVALID) {
    return status;
  }
  absl::Status invalid(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(status.message(), ": ", what, " do not authenticate"));
  invalid.SetPayload(kRvPayload, absl::Cord(absl::StrCat(rv)));
  return invalid;
}

std::optional<CK_RV> RvOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kRvPayload);
  if (!payload.has_value()) return std::nullopt;
  unsigned long rv = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &rv)) return std::nullopt;
  return rv;
}

bool IsRecoverable(CK_RV rv) {
  switch (rv) {
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
      return true;
    default:
      return false;
  }
}

bool NeedsModuleReload(CK_RV rv) {
  return rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
         rv == CKR_CRYPTOKI_NOT_INITIALIZED;
}

}  // namespace strongroom::kms::pkcs11
