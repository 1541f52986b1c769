// Whole-file reads for configuration and PEM material.
#ifndef STRONGROOM_BASE_FILE_H_
#define STRONGROOM_BASE_FILE_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace strongroom {

// The file's bytes, or NotFound "<what>: file '<path>' cannot be read".
absl::StatusOr<std::string> ReadFileToString(const std::string& path, absl::string_view what);

// A private key's file must be a regular file that neither group nor others
// can access (as the HSM PIN file): PermissionDenied "<what>: file '<path>'
// has mode 0644: ... (chmod 600)"; NotFound when it cannot be read.
absl::Status CheckPrivateFileMode(const std::string& path, absl::string_view what);
// The same checks on a file already opened and fstat()ed (so that what is
// checked is what is read).
absl::Status CheckPrivateFileStat(const struct stat& st, const std::string& path,
                                  absl::string_view what);

// Writes `data` to a new file next to `path` (created 0600, then given
// `mode`), fsyncs it and renames it over `path`: readers see the old file or
// the whole new one, and a failure leaves nothing behind. Unavailable
// "<what>: cannot write '<path>': <reason>".
absl::Status WriteFileAtomically(const std::string& path, absl::string_view data, mode_t mode,
                                 absl::string_view what);

}  // namespace strongroom

#endif  // STRONGROOM_BASE_FILE_H_
