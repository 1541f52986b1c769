// Names in the sealed store: dataset ids, object names and the CLI's
// DATASET/NAME[@VERSION] paths. Errors are InvalidArgument naming `field`
// and the value at fault (truncated when long).
//
//   dataset id   [a-z0-9][a-z0-9_-]{0,62}                      (like key ids)
//   object name  1..1024 bytes of [A-Za-z0-9._/-]; no leading or trailing
//                '/', and no empty, "." or ".." segment between slashes
//   version      1..2^63-1
#ifndef STRONGROOM_STORAGE_SEALED_OBJECT_NAMES_H_
#define STRONGROOM_STORAGE_SEALED_OBJECT_NAMES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace strongroom::storage::sealed {

inline constexpr size_t kMaxObjectNameSize = 1024;
// Staged uploads one CommitUploads makes visible together, at most: half the
// default cap on a principal's begun-and-unfinished uploads
// (store.max_pending_uploads, 64), which counts staged ones too.
inline constexpr int kMaxCommitUploads = 32;

absl::Status ValidateDatasetId(absl::string_view id, absl::string_view field);
// An attestation policy's id (the same syntax), naming `field` in errors.
absl::Status ValidatePolicyId(absl::string_view id, absl::string_view field);
absl::Status ValidateObjectName(absl::string_view name, absl::string_view field);
// The start of an object name (a listing filter): the characters and length
// of a name; it may end anywhere, inside a path segment too.
absl::Status ValidateObjectPrefix(absl::string_view prefix, absl::string_view field);
// "keys/{id}" with a valid key id (the KMS's rule, same as dataset ids).
absl::Status ValidateKeyName(absl::string_view name, absl::string_view field);

// "id" or "datasets/id" -> "id".
absl::StatusOr<std::string> ParseDatasetName(absl::string_view name, absl::string_view field);
std::string DatasetResourceName(absl::string_view id);  // "datasets/{id}"

// "DATASET/NAME" or "DATASET/NAME@VERSION" (version 0 when absent).
struct ObjectPath {
  std::string dataset;
  std::string name;
  uint64_t version = 0;
};
absl::StatusOr<ObjectPath> ParseObjectPath(absl::string_view path, absl::string_view field);

}  // namespace strongroom::storage::sealed

#endif  // STRONGROOM_STORAGE_SEALED_OBJECT_NAMES_H_
