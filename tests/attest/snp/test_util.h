// Shared helpers for the SEV-SNP tests: vector files, pinned times, report
// surgery, and a small certificate factory for chains AMD did not sign (a
// look-alike root, a VLEK) so that refusals can be tested end to end.
#ifndef STRONGROOM_TESTS_ATTEST_SNP_TEST_UTIL_H_
#define STRONGROOM_TESTS_ATTEST_SNP_TEST_UTIL_H_

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "attest/x509.h"
#include "base/bytes.h"

namespace strongroom::attest::snp_test {

// Contents of STRONGROOM_VECTORS_DIR/sev-snp/<rel>.
std::string Vec(absl::string_view rel);
std::string VecPath(absl::string_view rel);
absl::Time At(absl::string_view rfc3339);

// Inside every certificate's validity for both Milan reports (VCEKs from
// 2022-09-24 / 2023-04-03 to 2029 / 2030; ASK/ARK 2020..2045).
absl::Time PinnedTime();

// Little-endian field writers for report surgery.
void PutLe32(std::string& report, size_t off, uint32_t v);
void PutLe64(std::string& report, size_t off, uint64_t v);

using KeyPtr = std::shared_ptr<EVP_PKEY>;
KeyPtr NewP384Key();

struct FakeCert {
  std::string subject_cn;
  std::string issuer_cn;
  EVP_PKEY* subject_key = nullptr;
  EVP_PKEY* issuer_key = nullptr;  // signs the certificate
  bool ca = false;
  // (dotted OID, extension value bytes)
  std::vector<std::pair<std::string, Bytes>> extensions;
  absl::Time not_before = absl::FromUnixSeconds(1577836800);  // 2020-01-01
  absl::Time not_after = absl::FromUnixSeconds(2524608000);   // 2050-01-01
};
Certificate MakeCert(const FakeCert& spec);

// DER INTEGER / IA5String encodings for extension values.
Bytes DerInt(uint8_t v);
Bytes DerIa5(absl::string_view s);

// Signs report bytes 0..0x29F with `key` (P-384) and stores r, s
// little-endian at 0x2A0 / 0x2E8, as the PSP does.
void SignReport(std::string& report, EVP_PKEY* key);

}  // namespace strongroom::attest::snp_test

#endif  // STRONGROOM_TESTS_ATTEST_SNP_TEST_UTIL_H_
