#include "attest/tdx/tcb_evaluation.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace strongroom::attest {
namespace {

constexpr std::pair<TcbStatus, absl::string_view> kNames[] = {
    {TcbStatus::kUpToDate, "UpToDate"},
    {TcbStatus::kSwHardeningNeeded, "SWHardeningNeeded"},
    {TcbStatus::kConfigurationNeeded, "ConfigurationNeeded"},
    {TcbStatus::kConfigurationAndSwHardeningNeeded,
     "ConfigurationAndSWHardeningNeeded"},
    {TcbStatus::kOutOfDate, "OutOfDate"},
    {TcbStatus::kOutOfDateConfigurationNeeded, "OutOfDateConfigurationNeeded"},
    {TcbStatus::kRevoked, "Revoked"},
    {TcbStatus::kNotSupported, "NotSupported"},
};

void AddAdvisories(const std::vector<std::string>& ids,
                   std::vector<std::string>& out) {
  for (const std::string& id : ids) {
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
}

// A status written in signed collateral; only the PCS statuses are valid
// (NotSupported is ours, never Intel's).
absl::StatusOr<TcbStatus> CollateralStatus(absl::string_view name,
                                           absl::string_view where) {
  std::optional<TcbStatus> s = TcbStatusFromName(name);
  if (!s || *s == TcbStatus::kNotSupported) {
    return absl::PermissionDeniedError(
        absl::StrCat(where, ": unrecognized tcbStatus '", name, "'"));
  }
  return *s;
}

// QVL's convergence of a level status with an OutOfDate/Revoked module or
// QE status.
TcbStatus Converge(TcbStatus level, TcbStatus other) {
  if (other == TcbStatus::kRevoked) return TcbStatus::kRevoked;
  if (other == TcbStatus::kNotSupported) return TcbStatus::kNotSupported;
  if (other == TcbStatus::kOutOfDate) {
    if (level == TcbStatus::kUpToDate ||
        level == TcbStatus::kSwHardeningNeeded) {
      return TcbStatus::kOutOfDate;
    }
    if (level == TcbStatus::kConfigurationNeeded ||
        level == TcbStatus::kConfigurationAndSwHardeningNeeded) {
      return TcbStatus::kOutOfDateConfigurationNeeded;
    }
  }
  return level;
}

TcbVerdict NotSupported(std::string detail) {
  TcbVerdict v;
  v.status = TcbStatus::kNotSupported;
  v.detail = std::move(detail);
  return v;
}

const IsvSvnTcbLevel* FirstLevelAtOrBelow(
    const std::vector<IsvSvnTcbLevel>& levels, uint16_t isvsvn) {
  for (const IsvSvnTcbLevel& l : levels) {
    if (isvsvn >= l.isvsvn) return &l;
  }
  return nullptr;
}

// Step 3 of the header: the module's own status and signer check.
absl::StatusOr<TcbVerdict> EvaluateModule(const TdxTcbInfo& info,
                                          const TdReportBody& body) {
  const uint8_t module_svn = body.tee_tcb_svn[0];
  const uint8_t module_version = body.tee_tcb_svn[1];
  const TdxModuleIdentity* identity = nullptr;
  std::string want_id = absl::StrFormat("TDX_%02X", module_version);
  if (module_version > 0) {
    for (const TdxModuleIdentity& m : info.module_identities) {
      if (absl::AsciiStrToUpper(m.id) == want_id) {
        identity = &m;
        break;
      }
    }
    if (identity == nullptr) {
      return absl::PermissionDeniedError(absl::StrCat(
          "tdx tcb: TDX module version ", module_version,
          " has no module identity ", want_id, " in the TCB info"));
    }
  }
  const Bytes* mrsigner = identity ? &identity->mrsigner : &info.module_mrsigner;
  const Bytes* attrs = identity ? &identity->attributes : &info.module_attributes;
  const Bytes* mask =
      identity ? &identity->attributes_mask : &info.module_attributes_mask;
  if (identity == nullptr && !info.has_tdx_module) {
    return absl::PermissionDeniedError(
        "tdx tcb: the TCB info has no tdxModule to check mrsignerseam against");
  }
  if (!std::equal(mrsigner->begin(), mrsigner->end(), body.mrsignerseam.begin(),
                  body.mrsignerseam.end())) {
    return absl::PermissionDeniedError(absl::StrCat(
        "tdx tcb: mrsignerseam ", HexEncode(body.mrsignerseam),
        " is not the TDX module signer ", HexEncode(*mrsigner),
        " of the TCB info"));
  }
  for (size_t i = 0; i < 8; ++i) {
    if ((body.seam_attributes[i] & (*mask)[i]) != (*attrs)[i]) {
      return absl::PermissionDeniedError(absl::StrCat(
          "tdx tcb: seam_attributes ", HexEncode(body.seam_attributes),
          " do not match the TDX module attributes ", HexEncode(*attrs),
          " under mask ", HexEncode(*mask)));
    }
  }
  TcbVerdict v;
  v.status = TcbStatus::kUpToDate;
  if (identity == nullptr) return v;
  const IsvSvnTcbLevel* level =
      FirstLevelAtOrBelow(identity->tcb_levels, module_svn);
  if (level == nullptr) {
    return NotSupported(absl::StrCat("TDX module svn ", module_svn,
                                     " is below every level of ", want_id));
  }
  ASSIGN_OR_RETURN(v.status,
                   CollateralStatus(level->tcb_status,
                                    absl::StrCat("tdx tcb: ", want_id)));
  v.tcb_date = level->tcb_date;
  v.advisory_ids = level->advisory_ids;
  return v;
}

}  // namespace

absl::string_view TcbStatusName(TcbStatus status) {
  for (const auto& [s, name] : kNames) {
    if (s == status) return name;
  }
  return "NotSupported";
}

std::optional<TcbStatus> TcbStatusFromName(absl::string_view name) {
  for (const auto& [s, n] : kNames) {
    if (n == name) return s;
  }
  return std::nullopt;
}

absl::StatusOr<TcbVerdict> EvaluateTdxTcb(const TdxTcbInfo& info,
                                          const PckSgxExtension& pck,
                                          const TdReportBody& body) {
  // The module signer check comes first: it is not a TCB question.
  ASSIGN_OR_RETURN(TcbVerdict module, EvaluateModule(info, body));
  const TdxTcbLevel* sgx_level = nullptr;
  const TdxTcbLevel* tdx_level = nullptr;
  const size_t tdx_first = body.tee_tcb_svn[1] > 0 ? 2 : 0;
  for (const TdxTcbLevel& level : info.tcb_levels) {
    bool sgx_ok = pck.pcesvn >= level.pcesvn;
    for (size_t i = 0; i < 16 && sgx_ok; ++i) {
      sgx_ok = pck.cpusvn_components[i] >= level.sgx_components[i];
    }
    if (!sgx_ok) continue;
    if (sgx_level == nullptr) sgx_level = &level;
    bool tdx_ok = true;
    for (size_t i = tdx_first; i < 16 && tdx_ok; ++i) {
      tdx_ok = body.tee_tcb_svn[i] >= level.tdx_components[i];
    }
    if (tdx_ok) {
      tdx_level = &level;
      break;
    }
  }
  if (sgx_level == nullptr) {
    return NotSupported(absl::StrCat(
        "PCK TCB (cpusvn components ", HexEncode(pck.cpusvn_components),
        ", pcesvn ", pck.pcesvn, ") is below every TCB level"));
  }
  if (tdx_level == nullptr) {
    return NotSupported(absl::StrCat("tee_tcb_svn ",
                                     HexEncode(body.tee_tcb_svn),
                                     " is below every TDX TCB level"));
  }
  ASSIGN_OR_RETURN(TcbStatus level_status,
                   CollateralStatus(tdx_level->tcb_status, "tdx tcb level"));
  TcbVerdict v;
  v.tcb_date = tdx_level->tcb_date;
  AddAdvisories(tdx_level->advisory_ids, v.advisory_ids);
  AddAdvisories(module.advisory_ids, v.advisory_ids);
  if (module.status == TcbStatus::kNotSupported) {
    v.status = TcbStatus::kNotSupported;
    v.detail = module.detail;
    return v;
  }
  v.status = Converge(level_status, module.status);
  return v;
}

absl::StatusOr<TcbVerdict> EvaluateQeIdentity(const QeIdentity& identity,
                                              const QeReport& report) {
  if ((report.miscselect & identity.miscselect_mask) != identity.miscselect) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "tdx qe identity: QE miscselect 0x%08x under mask 0x%08x is not "
        "0x%08x",
        report.miscselect, identity.miscselect_mask, identity.miscselect));
  }
  for (size_t i = 0; i < 16; ++i) {
    if ((report.attributes[i] & identity.attributes_mask[i]) !=
        identity.attributes[i]) {
      return absl::PermissionDeniedError(absl::StrCat(
          "tdx qe identity: QE attributes ", HexEncode(report.attributes),
          " under mask ", HexEncode(identity.attributes_mask), " are not ",
          HexEncode(identity.attributes)));
    }
  }
  if (report.mrsigner != identity.mrsigner) {
    return absl::PermissionDeniedError(absl::StrCat(
        "tdx qe identity: QE mrsigner ", HexEncode(report.mrsigner),
        " is not ", HexEncode(identity.mrsigner)));
  }
  if (report.isvprodid != identity.isvprodid) {
    return absl::PermissionDeniedError(
        absl::StrCat("tdx qe identity: QE isvprodid ", report.isvprodid,
                     " is not ", identity.isvprodid));
  }
  const IsvSvnTcbLevel* level =
      FirstLevelAtOrBelow(identity.tcb_levels, report.isvsvn);
  if (level == nullptr) {
    return NotSupported(absl::StrCat("QE isvsvn ", report.isvsvn,
                                     " is below every QE identity level"));
  }
  TcbVerdict v;
  ASSIGN_OR_RETURN(v.status, CollateralStatus(level->tcb_status,
                                              "tdx qe identity level"));
  v.tcb_date = level->tcb_date;
  v.advisory_ids = level->advisory_ids;
  return v;
}

TcbVerdict ConvergeWithQe(const TcbVerdict& platform, const TcbVerdict& qe) {
  TcbVerdict v = platform;
  v.status = Converge(platform.status, qe.status);
  AddAdvisories(qe.advisory_ids, v.advisory_ids);
  if (v.detail.empty() && qe.status == TcbStatus::kNotSupported) {
    v.detail = qe.detail;
  }
  return v;
}

}  // namespace strongroom::attest
