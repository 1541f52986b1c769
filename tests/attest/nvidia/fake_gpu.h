// A made-up GPU for tests of what the one real report cannot show (SPDM 1.2
// signing, expired certificates, FWID mismatch): a P-384 root and device
// certificate made here, and signed GET_MEASUREMENTS reports built byte by
// byte from the DSP0274 layout, independently of the parser under test.
#ifndef STRONGROOM_TESTS_ATTEST_NVIDIA_FAKE_GPU_H_
#define STRONGROOM_TESTS_ATTEST_NVIDIA_FAKE_GPU_H_

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "base/bytes.h"

namespace strongroom::attest::testing {

struct FakeGpuOptions {
  absl::Time leaf_not_before = absl::FromUnixSeconds(1600000000);  // 2020
  absl::Time leaf_not_after = absl::FromUnixSeconds(2000000000);   // 2033
  std::optional<Bytes> cert_fwid;  // 48 B, in a DICE-style extension
};

struct FakeReport {
  uint8_t version = 0x12;
  Bytes nonce = Bytes(32, 0xA5);
  int blocks = 3;                    // indices 1..blocks, SHA-384-sized values
  std::optional<Bytes> opaque_fwid;  // opaque field 20
  std::string driver_version = "550.90.07";
  // Sign SPDM 1.2 as if it were 1.1 (no signing prefix): must not verify.
  bool omit_signing_prefix = false;
};

class FakeGpu {
 public:
  explicit FakeGpu(const FakeGpuOptions& options = {});
  const std::string& chain_pem() const { return chain_pem_; }  // leaf, root
  const std::string& root_spki_sha256() const { return root_spki_; }
  Bytes BuildReport(const FakeReport& report) const;

 private:
  std::shared_ptr<EVP_PKEY> root_key_, leaf_key_;
  std::string chain_pem_, root_spki_;
};

}  // namespace strongroom::attest::testing

#endif  // STRONGROOM_TESTS_ATTEST_NVIDIA_FAKE_GPU_H_
