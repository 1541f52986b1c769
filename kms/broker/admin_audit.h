// Admin changes in the audit chain, recorded before they take effect.
//
// Each administrative call (key lifecycle, policies, reference values, token
// revocation, store changes) leaves up to two records: its request, appended
// and synced before the change may be made (if it cannot be written the call
// fails UNAVAILABLE and nothing changes), then its outcome: applied (`info`,
// what changed) or refused (`deny`, reason id `admin.refused.<code>` and the
// error). A request whose outcome record is missing (a crash, or a failed
// write after the change) may or may not have taken effect; the state says
// which. No change is made that the chain does not show. docs/audit.md.
#ifndef STRONGROOM_KMS_BROKER_ADMIN_AUDIT_H_
#define STRONGROOM_KMS_BROKER_ADMIN_AUDIT_H_

#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kms/caller.h"

namespace strongroom::kms {

struct AdminAudit {
  // The request, durable before it returns OK; an error refuses the change.
  std::function<absl::Status(const Caller&, absl::string_view action, absl::string_view resource)>
      request;
  // The change was made (`detail`: what changed).
  std::function<void(const Caller&, absl::string_view action, absl::string_view resource,
                     absl::string_view detail)>
      applied;
  // The change was refused (or failed) with `why`.
  std::function<void(const Caller&, absl::string_view action, absl::string_view resource,
                     const absl::Status& why)>
      refused;

  explicit operator bool() const { return request != nullptr; }
};

// Runs `change` between the request record and its outcome. `describe`
// turns the result into the applied record's resource and detail
// (std::pair<std::string, std::string>); with `describe` null the subsystem
// records the applied outcome itself, once its change has committed. Without
// an audit (tests of one subsystem), or for a caller that is neither an
// admin nor an owner, it only runs `change`.
template <typename T, typename Change, typename Describe>
absl::StatusOr<T> RunAudited(const AdminAudit& audit, const Caller& c, absl::string_view action,
                             absl::string_view requested, Change&& change, Describe&& describe) {
  // Only admins and owners make admin changes: a workload's, auditor's or
  // unknown certificate's attempt is refused by the change's own role check
  // and not let fill the chain with synced request records.
  if (!audit || (c.role != Role::kAdmin && c.role != Role::kOwner)) return change();
  if (absl::Status recorded = audit.request(c, action, requested); !recorded.ok()) {
    return recorded;
  }
  absl::StatusOr<T> out = change();
  if (!out.ok()) {
    audit.refused(c, action, requested, out.status());
  } else if constexpr (!std::is_same_v<std::decay_t<Describe>, std::nullptr_t>) {
    std::pair<std::string, std::string> what = describe(*out);
    audit.applied(c, action, what.first, what.second);
  }
  return out;
}

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_BROKER_ADMIN_AUDIT_H_
