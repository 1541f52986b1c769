#include "kms/lifecycle.h"

#include "absl/strings/str_cat.h"

namespace strongroom::kms {

namespace v1 = ::strongroom::v1;

const char* StateName(State s) {
  switch (s) {
    case v1::PRE_ACTIVE: return "PRE_ACTIVE";
    case v1::ENABLED: return "ENABLED";
    case v1::SUSPENDED: return "SUSPENDED";
    case v1::DISABLED: return "DISABLED";
    case v1::COMPROMISED: return "COMPROMISED";
    case v1::DESTROY_SCHEDULED: return "DESTROY_SCHEDULED";
    case v1::DESTROYED: return "DESTROYED";
    default: return "UNSPECIFIED";
  }
}

bool IsLegalTransition(State from, State to) {
  switch (from) {
    case v1::PRE_ACTIVE:
      return to == v1::ENABLED || to == v1::DISABLED || to == v1::DESTROY_SCHEDULED;
    case v1::ENABLED:
      return to == v1::SUSPENDED || to == v1::DISABLED || to == v1::COMPROMISED ||
             to == v1::DESTROY_SCHEDULED;
    case v1::SUSPENDED:
      return to == v1::ENABLED || to == v1::DISABLED || to == v1::COMPROMISED ||
             to == v1::DESTROY_SCHEDULED;
    case v1::DISABLED:
      return to == v1::ENABLED || to == v1::COMPROMISED || to == v1::DESTROY_SCHEDULED;
    case v1::COMPROMISED:
      return to == v1::DISABLED || to == v1::DESTROY_SCHEDULED;
    case v1::DESTROY_SCHEDULED:
      return to == v1::DISABLED || to == v1::DESTROYED;
    default:
      return false;
  }
}

absl::Status CheckTransition(State from, State to) {
  if (IsLegalTransition(from, to)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "illegal state transition ", StateName(from), " -> ", StateName(to)));
}

bool AllowsEncrypt(State s) { return s == v1::ENABLED; }

bool AllowsDecrypt(State s) {
  return s == v1::ENABLED || s == v1::SUSPENDED || s == v1::COMPROMISED;
}

}  // namespace strongroom::kms
