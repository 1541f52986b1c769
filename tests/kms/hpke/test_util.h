// Helpers shared by the HPKE tests: vector files read in place from
// STRONGROOM_VECTORS_DIR, hex fields as Bytes or SecretBytes.
#ifndef STRONGROOM_TESTS_KMS_HPKE_TEST_UTIL_H_
#define STRONGROOM_TESTS_KMS_HPKE_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "base/bytes.h"
#include "base/file.h"
#include "base/secret_bytes.h"

namespace strongroom::kms::hpke::testutil {

inline std::string VectorPath(const std::string& rel) {
  return std::string(STRONGROOM_VECTORS_DIR) + "/" + rel;
}

// The parsed JSON file, or null (with a test failure) when unreadable.
inline nlohmann::json ReadJson(const std::string& rel) {
  auto text = ReadFileToString(VectorPath(rel), "vector");
  if (!text.ok()) {
    ADD_FAILURE() << text.status();
    return nullptr;
  }
  return nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
}

inline Bytes Hex(const nlohmann::json& j) {
  auto b = HexDecode(j.get<std::string>());
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? *b : Bytes();
}

inline SecretBytes SecretHex(const nlohmann::json& j) { return SecretBytes::CopyFrom(Hex(j)); }

inline std::string HexOf(const SecretBytes& s) { return HexEncode(s.Reveal()); }

}  // namespace strongroom::kms::hpke::testutil

#endif  // STRONGROOM_TESTS_KMS_HPKE_TEST_UTIL_H_
