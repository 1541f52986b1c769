// Shared by the AttestationAdmin sources; not part of its interface.
#ifndef STRONGROOM_KMS_BROKER_ATTESTATION_ADMIN_INTERNAL_H_
#define STRONGROOM_KMS_BROKER_ATTESTATION_ADMIN_INTERNAL_H_

#include <initializer_list>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "kms/caller.h"

namespace strongroom::kms::internal {

// OK when the caller has one of `roles`; PermissionDenied naming the
// principal, its role and `what` otherwise.
inline absl::Status RequireRole(const Caller& c, std::initializer_list<Role> roles,
                                absl::string_view what) {
  for (Role r : roles) {
    if (c.role == r) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("principal '", c.principal, "' (role ", RoleName(c.role), ") may not ", what));
}

}  // namespace strongroom::kms::internal

#endif  // STRONGROOM_KMS_BROKER_ATTESTATION_ADMIN_INTERNAL_H_
