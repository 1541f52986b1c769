// PinSource: where the token user PIN comes from. Never argv: a PIN on a
// command line is visible to every user through /proc.
//
// Exactly one of `file` (read once, trailing newline stripped; the file must
// not be readable by group or others) or `env_var` (the name of an environment
// variable) is set. Load() returns the PIN as SecretBytes, or
// InvalidArgument / NotFound / PermissionDenied naming the source (never the PIN).
#ifndef STRONGROOM_KMS_PKCS11_PIN_SOURCE_H_
#define STRONGROOM_KMS_PKCS11_PIN_SOURCE_H_

#include <string>

#include "absl/status/statusor.h"
#include "base/secret_bytes.h"

namespace strongroom::kms::pkcs11 {

struct PinSource {
  std::string file;
  std::string env_var;

  absl::StatusOr<SecretBytes> Load() const;
};

// [A-Z_][A-Z0-9_]*, at most 128 characters: the names POSIX reserves for
// environment variables of utilities. Refuses `true`, `yes`, a PIN pasted in
// by mistake, and anything with '=' (which getenv could never find).
bool IsEnvironmentVariableName(const std::string& name);

}  // namespace strongroom::kms::pkcs11

#endif  // STRONGROOM_KMS_PKCS11_PIN_SOURCE_H_
