// DevAttester (client side): development evidence for the key broker, signed
// with a software P-256 key (attest/dev/dev_attester.h). It proves nothing
// about the platform: a server accepts it only when its dev verifier is
// enabled with this key trusted (attestation.dev_attester in the server
// config). For demos, tests and CI without TEE hardware.
//
// Attest(binding) signs {measurement, debug, svn, claims} with
// report_data = binding (0..64 bytes) and returns one "dev" EvidenceItem.
// Errors: Create() is InvalidArgument for a key that is not an unencrypted
// P-256 PEM private key or a measurement outside 1..64 bytes; Attest() is
// InvalidArgument for a binding over 64 bytes. Not thread-safe (Attester).
#ifndef STRONGROOM_CLIENT_DEV_ATTESTER_H_
#define STRONGROOM_CLIENT_DEV_ATTESTER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "attest/dev/dev_attester.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "client/attester.h"

namespace strongroom::client {

struct DevAttesterOptions {
  std::string private_key_pem;  // unencrypted PEM EC P-256 private key
  Bytes measurement;            // 1..64 bytes
  bool debug = false;
  int64_t svn = 0;
  std::map<std::string, std::string> claims;  // become dev.claims.<name>
};

// A fresh EC P-256 private key as unencrypted PEM (PKCS#8), for a dev
// attester made for one run (demos, benchmarks, tests). Internal when
// OpenSSL fails.
absl::StatusOr<std::string> GenerateDevAttesterKeyPem();

class DevAttester final : public Attester {
 public:
  // `clock` must outlive the attester.
  static absl::StatusOr<std::unique_ptr<DevAttester>> Create(
      DevAttesterOptions options, const Clock& clock = SystemClock::Default());

  std::string type() const override { return "dev"; }
  absl::StatusOr<std::vector<strongroom::v1::EvidenceItem>> Attest(
      std::span<const uint8_t> binding) override;

  // The signer's public key (PEM SubjectPublicKeyInfo), to list in the
  // server's attestation.dev_attester.trusted_keys.
  const std::string& public_key_pem() const { return signer_.public_key_pem(); }

 private:
  DevAttester(attest::DevAttester signer, attest::DevClaims claims)
      : signer_(std::move(signer)), claims_(std::move(claims)) {}

  attest::DevAttester signer_;
  attest::DevClaims claims_;
};

}  // namespace strongroom::client

#endif  // STRONGROOM_CLIENT_DEV_ATTESTER_H_
