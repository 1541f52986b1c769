#include "attest/tpm/ak_cache.h"

#include <algorithm>
#include <cstdint>

namespace strongroom::attest::tpm_internal {

std::string CacheKey(std::initializer_list<std::span<const uint8_t>> parts) {
  size_t total = 0;
  for (const auto& p : parts) total += 8 + p.size();
  std::string key;
  key.reserve(total);
  for (const auto& p : parts) {
    uint64_t n = p.size();
    for (int i = 0; i < 8; ++i) key.push_back(static_cast<char>(n >> (8 * i)));
    key.append(reinterpret_cast<const char*>(p.data()), p.size());
  }
  return key;
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
