// TCB status of a TDX platform and of its Quoting Enclave, from signed
// collateral, following Intel's quote verification library (QVL,
// TcbLevelCheck / TdxModuleCheck / EnclaveReportVerifier):
//
// Platform (EvaluateTdxTcb), over the TCB info's levels in listed order
// (PCS lists them highest first):
//   1. the first level whose 16 sgxtcbcomponents are all <= the PCK
//      certificate's CPUSVN components and whose pcesvn <= the PCK's PCESVN
//      is the SGX level; none -> NotSupported;
//   2. from there on, the first such level whose 16 tdxtcbcomponents are all
//      <= the quote's tee_tcb_svn is the TDX level; when tee_tcb_svn[1] (the
//      TDX module major version) is > 0 the first two bytes are skipped,
//      because the module is then judged by its module identity (3.);
//      none -> NotSupported;
//   3. TDX module: tee_tcb_svn[1] == 0 -> UpToDate against "tdxModule";
//      otherwise the identity "TDX_%02X" of tee_tcb_svn[1] in
//      tdxModuleIdentities (absent -> PermissionDenied, module mismatch) and
//      its first level with isvsvn <= tee_tcb_svn[0] (none -> NotSupported).
//      mrsignerseam must equal the identity's mrsigner and seam_attributes
//      masked with attributesMask its attributes (else PermissionDenied);
//   4. the TDX level's status converged with the module's: a module
//      OutOfDate turns UpToDate/SWHardeningNeeded into OutOfDate and the
//      Configuration* statuses into OutOfDateConfigurationNeeded; a module
//      Revoked makes it Revoked.
// QE (EvaluateQeIdentity): miscselect and attributes under their masks,
// mrsigner and isvprodid must match (else PermissionDenied); the status is
// that of the first level with isvsvn <= the QE's isvsvn (none ->
// NotSupported). ConvergeWithQe folds it into the platform status as QVL
// does (OutOfDate as in 4.; Revoked -> Revoked; NotSupported ->
// NotSupported).
//
// Not implemented: the TDX 1.5 TD relaunch advice (tee_tcb_svn2), which QVL
// reports as TDRelaunchAdvised; the status computed here is the one QVL
// gives before that step.
//
// Pure functions of their inputs; thread-safe.
#ifndef STRONGROOM_ATTEST_TDX_TCB_EVALUATION_H_
#define STRONGROOM_ATTEST_TDX_TCB_EVALUATION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "attest/tdx/collateral.h"
#include "attest/tdx/pck_extension.h"
#include "attest/tdx/quote.h"

namespace strongroom::attest {

enum class TcbStatus {
  kUpToDate,
  kSwHardeningNeeded,
  kConfigurationNeeded,
  kConfigurationAndSwHardeningNeeded,
  kOutOfDate,
  kOutOfDateConfigurationNeeded,
  kRevoked,
  kNotSupported,  // below every level listed (not a PCS status string)
};

// PCS spelling ("UpToDate", "SWHardeningNeeded", ...); "NotSupported".
absl::string_view TcbStatusName(TcbStatus status);
std::optional<TcbStatus> TcbStatusFromName(absl::string_view name);

struct TcbVerdict {
  TcbStatus status = TcbStatus::kNotSupported;
  absl::Time tcb_date = absl::InfinitePast();  // of the matched level
  std::vector<std::string> advisory_ids;       // no duplicates
  std::string detail;  // for NotSupported: what did not match
};

absl::StatusOr<TcbVerdict> EvaluateTdxTcb(const TdxTcbInfo& info,
                                          const PckSgxExtension& pck,
                                          const TdReportBody& body);

absl::StatusOr<TcbVerdict> EvaluateQeIdentity(const QeIdentity& identity,
                                              const QeReport& report);

// The platform verdict with the QE's folded in (advisories merged).
TcbVerdict ConvergeWithQe(const TcbVerdict& platform, const TcbVerdict& qe);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_TDX_TCB_EVALUATION_H_
