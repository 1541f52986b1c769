// Shared between workload.cc and workload_store.cc; not part of the SDK.
#ifndef STRONGROOM_CLIENT_WORKLOAD_INTERNAL_H_
#define STRONGROOM_CLIENT_WORKLOAD_INTERNAL_H_

#include "absl/status/status.h"

namespace strongroom::client::internal {

// A refusal that fresh evidence may cure: the token aged, was revoked
// (by id, or by a change of the policy or reference values it relied on),
// or does not verify any more (the signing key changed).
bool IsStaleToken(const absl::Status& s);

}  // namespace strongroom::client::internal

#endif  // STRONGROOM_CLIENT_WORKLOAD_INTERNAL_H_
