// Shared helpers for the TPM tests: vector file access and bundle assembly
// from the recorded tpm2-tools / go-tpm-tools files in shared/vectors/tpm.
#ifndef STRONGROOM_TESTS_ATTEST_TPM_TPM_TEST_UTIL_H_
#define STRONGROOM_TESTS_ATTEST_TPM_TPM_TEST_UTIL_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "attest/evidence.h"
#include "attest/tpm/quote_bundle.h"
#include "base/bytes.h"
#include "base/file.h"
#include "gtest/gtest.h"

namespace strongroom::attest::testing {

inline std::string TpmVec(absl::string_view rel) {
  auto s = ReadFileToString(
      absl::StrCat(STRONGROOM_VECTORS_DIR, "/tpm/", rel), "vector");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

inline Bytes TpmVecBytes(absl::string_view rel) {
  std::string s = TpmVec(rel);
  return Bytes(s.begin(), s.end());
}

inline absl::Time PinnedTime() {
  // Inside the GCE AK certificate's validity (2021-08-31 .. 2051-08-24).
  return absl::FromCivil(absl::CivilSecond(2024, 6, 1, 0, 0, 0),
                         absl::UTCTimeZone());
}

// The recorded swtpm quote ("ecc" or "rsa") as tpm2-tools left it.
inline TpmQuoteBundle SwtpmBundle(absl::string_view alg) {
  TpmQuoteBundle b;
  b.quote = TpmVecBytes(absl::StrCat("swtpm/quote_", alg, ".attest"));
  b.signature = TpmVecBytes(absl::StrCat("swtpm/quote_", alg, ".sig"));
  auto pcrs = ParsePcrListing(TpmVec("swtpm/pcrs_sha256.txt"));
  EXPECT_TRUE(pcrs.ok()) << pcrs.status();
  if (pcrs.ok()) b.pcrs = *pcrs;
  b.ak_public = TpmVecBytes(absl::StrCat("swtpm/ak_", alg, ".pub"));
  b.ek_public = TpmVecBytes("swtpm/ek.pub");
  return b;
}

inline Bytes SwtpmNonce() {
  auto hex = TpmVec("swtpm/nonce.hex");
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' ')) hex.pop_back();
  auto b = HexDecode(hex);
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? *b : Bytes{};
}

inline Evidence TpmEvidence(const std::string& payload,
                            std::vector<std::string> certs = {}) {
  Evidence e;
  e.type = EvidenceType::kTpm;
  e.payload = payload;
  e.certificates = std::move(certs);
  return e;
}

}  // namespace strongroom::attest::testing

#endif  // STRONGROOM_TESTS_ATTEST_TPM_TPM_TEST_UTIL_H_
