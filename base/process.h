// Process hardening applied by every Strongroom daemon at start.
#ifndef STRONGROOM_BASE_PROCESS_H_
#define STRONGROOM_BASE_PROCESS_H_

#include "absl/status/status.h"

namespace strongroom {

// Sets RLIMIT_CORE to 0 and marks the process non-dumpable, so a crash never
// writes key material to a core file (and ptrace by other users is refused).
// Returns an Internal error naming the call that failed.
absl::Status DisableCoreDumps();

// True when core dumps are disabled for this process (both limits in place).
bool CoreDumpsDisabled();

}  // namespace strongroom

#endif  // STRONGROOM_BASE_PROCESS_H_
