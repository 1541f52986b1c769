// Caller: the authenticated principal behind a request and its role, as the
// transport established it (mutual TLS in server/). Domain code authorizes
// against this, never against transport details.
#ifndef STRONGROOM_KMS_CALLER_H_
#define STRONGROOM_KMS_CALLER_H_

#include <string>

namespace strongroom::kms {

enum class Role { kNone, kAdmin, kOwner, kAuditor, kWorkload };

inline const char* RoleName(Role role) {
  switch (role) {
    case Role::kAdmin: return "admin";
    case Role::kOwner: return "owner";
    case Role::kAuditor: return "auditor";
    case Role::kWorkload: return "workload";
    case Role::kNone: return "none";
  }
  return "none";
}

struct Caller {
  std::string principal;
  Role role = Role::kNone;
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_CALLER_H_
