// GoogleTest matchers for absl::Status and absl::StatusOr<T>.
//
//   EXPECT_THAT(s, IsOk());
//   EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound, HasSubstr("key")));
//   ASSERT_OK_AND_ASSIGN(auto v, MakeThing());
#ifndef STRONGROOM_BASE_TESTING_STATUS_MATCHERS_H_
#define STRONGROOM_BASE_TESTING_STATUS_MATCHERS_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/status_macros.h"

namespace strongroom::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s;
  return s.ok();
}

MATCHER_P2(StatusIs, code, message_matcher, "") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code &&
         ::testing::Matches(message_matcher)(std::string(s.message()));
}

MATCHER_P(StatusIs, code, "") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}

}  // namespace strongroom::testing

#define ASSERT_OK(expr) ASSERT_THAT((expr), ::strongroom::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT((expr), ::strongroom::testing::IsOk())

#define SR_ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr)      \
  auto tmp = (expr);                                       \
  ASSERT_THAT(tmp.status(), ::strongroom::testing::IsOk()); \
  lhs = std::move(tmp).value()
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  SR_ASSERT_OK_AND_ASSIGN_IMPL_(SR_CONCAT_(sr_test_or_, __LINE__), lhs, expr)

#endif  // STRONGROOM_BASE_TESTING_STATUS_MATCHERS_H_
