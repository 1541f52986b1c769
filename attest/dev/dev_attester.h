// DevAttester: the signing side of development evidence
// (attest/dev/dev_evidence.h). Stands in for a TEE in demos, tests and the
// bench: it signs whatever measurement it is told with a software P-256 key,
// so its evidence proves nothing about the platform and a server accepts it
// only when its dev verifier is enabled with this key trusted.
//
// A value type; copies share the parsed key. Attest() is const and
// thread-safe (each call uses its own signing context). The key is parsed
// once in Create(); the private key never appears in an error message.
#ifndef STRONGROOM_ATTEST_DEV_DEV_ATTESTER_H_
#define STRONGROOM_ATTEST_DEV_DEV_ATTESTER_H_

#include <openssl/evp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "attest/dev/dev_evidence.h"
#include "base/bytes.h"
#include "base/clock.h"

namespace strongroom::attest {

struct DevClaims {
  Bytes measurement;  // 1..64 bytes, e.g. a SHA-384 of the workload
  bool debug = false;
  int64_t svn = 0;
  std::map<std::string, std::string> claims;  // become dev.claims.<name>
  // When unset, the attester's clock at the time of Attest().
  std::optional<absl::Time> issued_at;
};

class DevAttester {
 public:
  // `private_key_pem`: an unencrypted PEM EC P-256 private key (PKCS#8 or
  // SEC1). InvalidArgument when it does not parse or is another key type.
  static absl::StatusOr<DevAttester> Create(
      absl::string_view private_key_pem,
      const Clock& clock = SystemClock::Default());
  // An EC P-256 key pair already loaded (shared, not copied).
  static absl::StatusOr<DevAttester> Create(
      std::shared_ptr<EVP_PKEY> private_key,
      const Clock& clock = SystemClock::Default());
  // A fresh random key, for demos and tests that trust public_key_pem().
  static absl::StatusOr<DevAttester> Generate(
      const Clock& clock = SystemClock::Default());

  // The evidence payload (envelope JSON) for `claims` bound to
  // `report_data` (0..64 bytes, e.g. the relying party's nonce or a hash of
  // a key the workload will receive). InvalidArgument for claims outside the
  // format's limits; Internal if signing fails.
  absl::StatusOr<std::string> Attest(
      const DevClaims& claims, std::span<const uint8_t> report_data) const;

  // SHA-256 hex of the DER SubjectPublicKeyInfo: the envelope's key_id.
  const std::string& key_id() const { return key_id_; }
  // The public key as PEM SubjectPublicKeyInfo, for DevVerifierOptions.
  const std::string& public_key_pem() const { return public_key_pem_; }

 private:
  DevAttester(std::shared_ptr<EVP_PKEY> key, std::string key_id,
              std::string public_key_pem, const Clock* clock)
      : key_(std::move(key)),
        key_id_(std::move(key_id)),
        public_key_pem_(std::move(public_key_pem)),
        clock_(clock) {}

  std::shared_ptr<EVP_PKEY> key_;
  std::string key_id_;
  std::string public_key_pem_;
  const Clock* clock_;  // not owned; outlives the attester
};

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_DEV_DEV_ATTESTER_H_
