// Crash points: a test hook that kills the process at a named point, so the
// crash test (tests/e2e/sealed_store_crash_test.sh) can stop strongroomd at
// exactly the moments that matter (after segments, between a commit and its
// reply, in the middle of a job) and check what a restart finds.
//
// Armed only by the environment variable STRONGROOM_TEST_CRASH_AT, read once:
// "POINT" kills at the first pass through POINT, "POINT@N" at the N-th.
// The process then raises SIGKILL: no destructor, flush or handler runs, as
// with a power cut of the process (the OS still has what was written).
// Unset (production), CrashPoint() is one relaxed atomic load.
//
// Thread-safe.
#ifndef STRONGROOM_STORAGE_SEALED_CRASH_POINT_H_
#define STRONGROOM_STORAGE_SEALED_CRASH_POINT_H_

#include "absl/strings/string_view.h"

namespace strongroom::storage::sealed {

void CrashPoint(absl::string_view point);

}  // namespace strongroom::storage::sealed

#endif  // STRONGROOM_STORAGE_SEALED_CRASH_POINT_H_
