#include "attest/binding.h"

#include <openssl/evp.h>

#include <cstring>

namespace strongroom::attest {

Bytes AttestationBinding(uint16_t kem_id, std::span<const uint8_t> nonce,
                         std::span<const uint8_t> public_key) {
  Bytes input(kBindingLabel, kBindingLabel + std::strlen(kBindingLabel));
  input.push_back(static_cast<uint8_t>(kem_id >> 8));
  input.push_back(static_cast<uint8_t>(kem_id & 0xff));
  input.insert(input.end(), nonce.begin(), nonce.end());
  input.insert(input.end(), public_key.begin(), public_key.end());
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), out.data(), &len, EVP_sha256(), nullptr);
  out.resize(len);
  return out;
}

}  // namespace strongroom::attest
