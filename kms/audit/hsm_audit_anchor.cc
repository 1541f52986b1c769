#include "kms/audit/hsm_audit_anchor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"

namespace strongroom::kms {
namespace {

constexpr size_t kMarkBytes = 8 + kAuditHashBytes;

}  // namespace

absl::StatusOr<std::optional<AuditHead>> HsmAuditAnchor::Read() {
  ASSIGN_OR_RETURN(std::vector<Bytes> values, hsm_.ReadDataObjects(label_));
  // More than one: a replacement was cut short after making its object
  // (Hsm::ReplaceDataObjects); the marks only ever move forward, so the
  // furthest is the latest. Only this application's private objects are
  // read, which takes the PIN to make, so one that is not a mark is a
  // damaged write: passed over when a mark stands beside it.
  std::optional<AuditHead> latest;
  std::string unreadable;
  for (const Bytes& value : values) {
    AuditHead mark;
    if (value.size() == kMarkBytes) {
      for (size_t i = 0; i < 8; ++i) mark.sequence = (mark.sequence << 8) | value[i];
      mark.hash.assign(value.begin() + 8, value.end());
    }
    if (mark.sequence == 0) {
      unreadable = absl::StrCat("the HSM's audit anchor '", label_, "' holds ", value.size(),
                                " bytes, not a mark of ", kMarkBytes, " naming a sequence");
      continue;
    }
    if (!latest.has_value() || mark.sequence > latest->sequence) latest = std::move(mark);
  }
  if (!unreadable.empty()) {
    if (!latest.has_value()) return absl::DataLossError(unreadable);
    LogWarning("audit.anchor_object_unreadable", {{"detail", unreadable}});
  }
  return latest;
}

absl::Status HsmAuditAnchor::Write(const AuditHead& mark) {
  if (mark.sequence == 0 || mark.hash.size() != kAuditHashBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "audit anchor: sequence ", mark.sequence, " with a ", mark.hash.size(),
        "-byte hash is not a record (sequence >= 1, ", kAuditHashBytes, "-byte hash)"));
  }
  Bytes value(kMarkBytes);
  for (size_t i = 0; i < 8; ++i) value[i] = static_cast<uint8_t>(mark.sequence >> (56 - 8 * i));
  std::copy(mark.hash.begin(), mark.hash.end(), value.begin() + 8);
  return hsm_.ReplaceDataObjects(label_, value);
}

}  // namespace strongroom::kms
