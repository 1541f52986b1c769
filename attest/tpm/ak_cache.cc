#include "attest/tpm/ak_cache.h"

#include <algorithm>
#include <cstdint>

namespace strongroom::attest::tpm_internal {

void AssignCacheKey(std::string* key,
                    std::initializer_list<std::span<const uint8_t>> parts) {
  size_t total = 0;
  for (const auto& p : parts) total += 8 + p.size();
  key->clear();
  key->reserve(total);
  for (const auto& p : parts) {
    uint64_t n = p.size();
    char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<char>(n >> (8 * i));
    key->append(len, sizeof(len));
    key->append(reinterpret_cast<const char*>(p.data()), p.size());
  }
}

std::string CacheKey(std::initializer_list<std::span<const uint8_t>> parts) {
  std::string key;
  AssignCacheKey(&key, parts);
  return key;
}

void AssignQualifiedSignerKey(std::string* key, const AkFacts* ak,
                              const TpmtPublic* ek,
                              std::span<const uint8_t> qualified_signer) {
  key->clear();
  key->reserve(2 * sizeof(uintptr_t) + qualified_signer.size());
  for (uintptr_t p : {reinterpret_cast<uintptr_t>(ak),
                      reinterpret_cast<uintptr_t>(ek)}) {
    key->append(reinterpret_cast<const char*>(&p), sizeof(p));
  }
  key->append(reinterpret_cast<const char*>(qualified_signer.data()),
              qualified_signer.size());
}

VerifiedChainWindow WindowOf(std::span<const Certificate> chain) {
  VerifiedChainWindow w{absl::InfinitePast(), absl::InfiniteFuture()};
  for (const Certificate& c : chain) {
    w.valid_from = std::max(w.valid_from, c.not_before());
    w.valid_until = std::min(w.valid_until, c.not_after());
  }
  return w;
}

}  // namespace strongroom::attest::tpm_internal
