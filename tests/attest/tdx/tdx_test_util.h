// Shared helpers for the TDX tests: reading vectors in place, pinned times.
#ifndef STRONGROOM_TESTS_ATTEST_TDX_TDX_TEST_UTIL_H_
#define STRONGROOM_TESTS_ATTEST_TDX_TDX_TEST_UTIL_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/bytes.h"
#include "base/file.h"
#include "gtest/gtest.h"

namespace strongroom::attest::testing_tdx {

inline std::string VecPath(absl::string_view rel) {
  return std::string(STRONGROOM_VECTORS_DIR) + "/tdx/" + std::string(rel);
}

inline std::string Vec(absl::string_view rel) {
  auto s = ReadFileToString(VecPath(rel), "vector");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

inline Bytes VecBytes(absl::string_view rel) {
  std::string s = Vec(rel);
  return Bytes(s.begin(), s.end());
}

inline absl::Time At(absl::string_view rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return t;
}

}  // namespace strongroom::attest::testing_tdx

#endif  // STRONGROOM_TESTS_ATTEST_TDX_TDX_TEST_UTIL_H_
