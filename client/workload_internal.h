// Shared between workload.cc and workload_store.cc; not part of the SDK.
#ifndef STRONGROOM_CLIENT_WORKLOAD_INTERNAL_H_
#define STRONGROOM_CLIENT_WORKLOAD_INTERNAL_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace strongroom::client::internal {

// A refusal that fresh evidence may cure: the token aged, was revoked
// (by id, or by a change of the policy or reference values it relied on),
// or does not verify any more (the signing key changed).
bool IsStaleToken(const absl::Status& s);

// The version number in "{key}/versions/{n}" as the server writes it: plain
// decimal digits, no sign, space or leading zero, 1..2^32-1. False otherwise.
bool ParseCanonicalVersion(absl::string_view digits, uint32_t* version);

}  // namespace strongroom::client::internal

#endif  // STRONGROOM_CLIENT_WORKLOAD_INTERNAL_H_
