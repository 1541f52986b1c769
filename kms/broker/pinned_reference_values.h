// PinnedReferenceValues: a ReferenceValueResolver that answers with the
// versions of the reference-value sets a dual_control key's binding pinned
// (Key.release_reference_sets, "set@version"); a set the binding did not pin
// does not resolve, so a set created later cannot widen the key's policy.
// The key broker evaluates such a key's policy under it as well as under
// the current sets (docs/broker.md, "Release policies on keys").
#ifndef STRONGROOM_KMS_BROKER_PINNED_REFERENCE_VALUES_H_
#define STRONGROOM_KMS_BROKER_PINNED_REFERENCE_VALUES_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "attest/policy/reference_values.h"
#include "kms/broker/attestation_admin.h"

namespace strongroom::kms {

class PinnedReferenceValues final : public attest::ReferenceValueResolver {
 public:
  // `pins` as stored on the key; `key` names it in errors. `admin` must
  // outlive this object.
  PinnedReferenceValues(const AttestationAdmin& admin, const std::vector<std::string>& pins,
                        absl::string_view key);
  absl::StatusOr<attest::ReferenceValueSet> Resolve(absl::string_view name) const override;

 private:
  const AttestationAdmin& admin_;
  const std::string key_;
  std::map<std::string, int64_t, std::less<>> versions_;
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_BROKER_PINNED_REFERENCE_VALUES_H_
