// HsmAuditAnchor: the audit log's anchor (audit_anchor.h) as a private,
// modifiable data object in the HSM's token, labelled
// "strongroom-audit-anchor". Its value is 40 bytes: the big-endian sequence
// (8) and the record's hash (32). Only a session logged in with the token's
// PIN can read or change it; the host's database files do not hold it.
//
// With SoftHSM (the embedded default) the token's objects are files too,
// under the token directory: someone who restores both that directory and
// the database to the same earlier moment is not caught. A hardware HSM, or
// a token directory on storage the database's host cannot roll back, closes
// that (SECURITY.md).
//
// Thread-safety: as AuditAnchor; the Hsm must outlive it.
#ifndef STRONGROOM_KMS_AUDIT_HSM_AUDIT_ANCHOR_H_
#define STRONGROOM_KMS_AUDIT_HSM_AUDIT_ANCHOR_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "kms/audit/audit_anchor.h"
#include "kms/pkcs11/hsm.h"

namespace strongroom::kms {

inline constexpr absl::string_view kAuditAnchorLabel = "strongroom-audit-anchor";

class HsmAuditAnchor : public AuditAnchor {
 public:
  explicit HsmAuditAnchor(pkcs11::Hsm& hsm, absl::string_view label = kAuditAnchorLabel)
      : hsm_(hsm), label_(label) {}

  absl::StatusOr<std::optional<AuditHead>> Read() override;
  absl::Status Write(const AuditHead& mark) override;

 private:
  pkcs11::Hsm& hsm_;
  const std::string label_;
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_AUDIT_HSM_AUDIT_ANCHOR_H_
