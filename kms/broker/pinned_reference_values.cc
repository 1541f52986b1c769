#include "kms/broker/pinned_reference_values.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace strongroom::kms {

PinnedReferenceValues::PinnedReferenceValues(const AttestationAdmin& admin,
                                             const std::vector<std::string>& pins,
                                             absl::string_view key)
    : admin_(admin), key_(key) {
  for (const std::string& pin : pins) {
    const size_t at = pin.rfind('@');
    int64_t version = 0;
    if (at != std::string::npos && absl::SimpleAtoi(pin.substr(at + 1), &version)) {
      versions_[pin.substr(0, at)] = version;
    }
  }
}

absl::StatusOr<attest::ReferenceValueSet> PinnedReferenceValues::Resolve(
    absl::string_view name) const {
  auto it = versions_.find(name);
  if (it == versions_.end()) {
    return absl::NotFoundError(absl::StrCat(
        "was not pinned when ", key_, " was bound (re-bind its policy, with approval)"));
  }
  return admin_.ResolveVersion(name, it->second);
}

}  // namespace strongroom::kms
