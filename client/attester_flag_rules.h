// Which command-line flags belong to which attester, shared by
// `strongroom workload get-key` and `strongroom-worker run`: a flag of
// another attester (or of another SNP device, or of another TPM AK source)
// is refused naming where it belongs, never ignored: a workload that asks
// for --privlevel 2 with the TPM would otherwise attest without it and not
// know.
#ifndef STRONGROOM_CLIENT_ATTESTER_FLAG_RULES_H_
#define STRONGROOM_CLIENT_ATTESTER_FLAG_RULES_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace strongroom::client {

// `kind` is tpm, snp, tdx or dev; `flag` says whether a flag (without "--")
// was given and with what value (switches: any value). InvalidArgument
// "--FLAG: only with WHERE" for the first flag that does not apply.
absl::Status CheckAttesterFlagOwnership(
    absl::string_view kind,
    const std::function<std::optional<std::string>(absl::string_view flag)>& flag);

}  // namespace strongroom::client

#endif  // STRONGROOM_CLIENT_ATTESTER_FLAG_RULES_H_
