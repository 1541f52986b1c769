#include "client/attester_flag_rules.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace strongroom::client {

absl::Status CheckAttesterFlagOwnership(
    absl::string_view kind,
    const std::function<std::optional<std::string>(absl::string_view flag)>& flag) {
  // A flag, the attesters it belongs to (space-separated), the SNP device it
  // needs when the attester is snp ("" for either), whether it needs
  // --tpm-ak ek-child, and how to say where it belongs.
  struct Owned {
    const char* flag;
    absl::string_view attesters;
    absl::string_view snp_device;
    bool ek_child;
    const char* where;
  };
  static const Owned kOwned[] = {
      {"dev-key", "dev", "", false, "--attester dev"},
      {"measurement", "dev", "", false, "--attester dev"},
      {"svn", "dev", "", false, "--attester dev"},
      {"dev-claim", "dev", "", false, "--attester dev"},
      {"dev-debug", "dev", "", false, "--attester dev"},
      {"tcti", "tpm", "", false, "--attester tpm"},
      {"pcrs", "tpm", "", false, "--attester tpm"},
      {"tpm-ak", "tpm", "", false, "--attester tpm"},
      {"tpm-ek", "tpm", "", true, "--attester tpm --tpm-ak ek-child (the AK's parent EK)"},
      {"tpm-ak-public", "tpm", "", true, "--attester tpm --tpm-ak ek-child"},
      {"tpm-ak-private", "tpm", "", true, "--attester tpm --tpm-ak ek-child"},
      {"snp-device", "snp", "", false, "--attester snp"},
      {"sev-guest", "snp", "sev-guest", false, "--attester snp --snp-device sev-guest"},
      {"tsm-dir", "tdx snp", "configfs", false,
       "configfs-tsm (--attester tdx, or snp with --snp-device configfs)"},
      {"privlevel", "snp", "", false, "--attester snp (the VMPL; TDX has none)"},
  };
  const std::string device = flag("snp-device").value_or("configfs");
  const bool ek_child = flag("tpm-ak").value_or("") == "ek-child";
  for (const Owned& f : kOwned) {
    if (!flag(f.flag).has_value()) continue;
    const std::vector<absl::string_view> kinds = absl::StrSplit(f.attesters, ' ');
    const bool applies = std::find(kinds.begin(), kinds.end(), kind) != kinds.end() &&
                         (kind != "snp" || f.snp_device.empty() || device == f.snp_device) &&
                         (!f.ek_child || ek_child);
    if (!applies) {
      return absl::InvalidArgumentError(absl::StrCat("--", f.flag, ": only with ", f.where));
    }
  }
  return absl::OkStatus();
}

}  // namespace strongroom::client
