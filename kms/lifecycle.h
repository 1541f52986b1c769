// The key-version lifecycle (NIST SP 800-57 states) as one table: which
// transitions are legal, and which operations each state allows.
//
//   PRE_ACTIVE  -> ENABLED, DISABLED, DESTROY_SCHEDULED
//   ENABLED     -> SUSPENDED, DISABLED, COMPROMISED, DESTROY_SCHEDULED
//   SUSPENDED   -> ENABLED, DISABLED, COMPROMISED, DESTROY_SCHEDULED
//   DISABLED    -> ENABLED, COMPROMISED, DESTROY_SCHEDULED
//   COMPROMISED -> DISABLED, DESTROY_SCHEDULED
//   DESTROY_SCHEDULED -> DISABLED (restore), DESTROYED (when the wait ends)
//   DESTROYED   -> nothing
//
// Encrypt needs ENABLED; decrypt needs ENABLED, SUSPENDED or COMPROMISED.
#ifndef STRONGROOM_KMS_LIFECYCLE_H_
#define STRONGROOM_KMS_LIFECYCLE_H_

#include "absl/status/status.h"
#include "strongroom/v1/key_management.pb.h"

namespace strongroom::kms {

using State = strongroom::v1::KeyVersionState;

const char* StateName(State s);
bool IsLegalTransition(State from, State to);
// FailedPrecondition naming both states when the transition is illegal.
absl::Status CheckTransition(State from, State to);
bool AllowsEncrypt(State s);
bool AllowsDecrypt(State s);

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_LIFECYCLE_H_
