// Status propagation helpers for absl::Status / absl::StatusOr.
//
// RETURN_IF_ERROR(expr): evaluates expr (a Status or StatusOr) and returns its
// status from the enclosing function when it is not OK.
// ASSIGN_OR_RETURN(lhs, expr): evaluates expr (a StatusOr<T>); on error returns
// the status, otherwise moves the value into lhs (which may be a declaration).
#ifndef STRONGROOM_BASE_STATUS_MACROS_H_
#define STRONGROOM_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace strongroom::internal {
inline const absl::Status& AsStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& AsStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace strongroom::internal

#define SR_CONCAT_INNER_(a, b) a##b
#define SR_CONCAT_(a, b) SR_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                                               \
  do {                                                                      \
    if (auto&& sr_status_ = (expr); !sr_status_.ok()) {                     \
      return ::strongroom::internal::AsStatus(sr_status_);                  \
    }                                                                       \
  } while (false)

#define SR_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).status();  \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  SR_ASSIGN_OR_RETURN_IMPL_(SR_CONCAT_(sr_statusor_, __LINE__), lhs, expr)

#endif  // STRONGROOM_BASE_STATUS_MACROS_H_
