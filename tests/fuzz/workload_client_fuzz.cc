// The workload client's parsers of untrusted input: the SEV-SNP certificate
// table a host hands the guest (auxblob / SNP_GET_EXT_REPORT), the EAR token
// a server returns (only its jti is read), and a SealedKey response checked
// and opened under a fixed key. Errors are fine; crashes, leaks and UB not.
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "client/sev_guest_attester.h"
#include "client/workload.h"
#include "kms/hpke/keys.h"

namespace {

const strongroom::kms::hpke::PrivateKey& FixedKey() {
  static const auto* key = [] {
    strongroom::SecretBytes ikm(32);
    auto pair = strongroom::kms::hpke::DeriveKeyPair(
        strongroom::kms::hpke::Kem::kDhkemP256HkdfSha256, ikm);
    return new strongroom::kms::hpke::PrivateKey(pair->private_key);
  }();
  return *key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  (void)strongroom::client::ParseSnpCertTable(in);
  (void)strongroom::client::TokenId(strongroom::AsStringView(in));
  strongroom::v1::SealedKey sealed;
  if (sealed.ParseFromArray(data, static_cast<int>(size))) {
    (void)strongroom::client::OpenSealedKey(FixedKey(), sealed, "model", sealed.token_id());
  }
  return 0;
}
