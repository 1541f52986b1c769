// Whole-file reads for configuration and PEM material.
#ifndef STRONGROOM_BASE_FILE_H_
#define STRONGROOM_BASE_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace strongroom {

// The file's bytes, or NotFound "<what>: file '<path>' cannot be read".
absl::StatusOr<std::string> ReadFileToString(const std::string& path, absl::string_view what);

}  // namespace strongroom

#endif  // STRONGROOM_BASE_FILE_H_
