// Builds the attester that `strongroom-worker run --attester ...` names,
// the same kinds and options as `strongroom workload get-key`:
//   tpm  client::TpmAttester (TSS2 ESYS on --tcti; swtpm, /dev/tpmrm0)
//   snp  client::TsmAttester(kSevGuest) on configfs-tsm, or
//        client::SevGuestAttester on /dev/sev-guest (--snp-device sev-guest)
//   tdx  client::TsmAttester(kTdxGuest) on configfs-tsm
//   dev  client::DevAttester (a software signer; servers accept it only when
//        attestation.dev_attester is configured)
// Errors: the attester's own (Unavailable when the TPM or configfs-tsm is
// not there, ...), the file error naming --dev-key (--measurement is checked
// by ParseRunFlags). Nothing here contacts the broker.
#ifndef STRONGROOM_WORKER_ATTESTER_FLAGS_H_
#define STRONGROOM_WORKER_ATTESTER_FLAGS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/attester.h"
#include "worker/run_flags.h"

namespace strongroom::worker {

absl::StatusOr<std::unique_ptr<client::Attester>> MakeAttester(const AttesterFlags& flags);

// "tpm" | "snp" | "tdx" | "dev".
absl::string_view AttesterKindName(AttesterKind kind);

}  // namespace strongroom::worker

#endif  // STRONGROOM_WORKER_ATTESTER_FLAGS_H_
