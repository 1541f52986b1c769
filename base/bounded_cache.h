// BoundedCache<V>: a map from a key string to a value that is emptied when it
// reaches its capacity. For results that are cheap to rebuild (parsed keys,
// verified chains): clearing, rather than evicting one entry, keeps inputs
// chosen to miss from growing it, with no bookkeeping per hit. Capacity 0
// stores nothing (every lookup misses).
//
// Callers store only successes; the key must name everything the value was
// derived from (the exact bytes, or a collision-resistant digest of them).
// Keys are hashed with absl::Hash and compared in full on a hit, so a key
// may be the bytes themselves: for a few KB that is cheaper than a SHA-256
// of them (what a verifier pays per piece of evidence).
//
// Thread-safe: one mutex per cache, held only for the map operation.
#ifndef STRONGROOM_BASE_BOUNDED_CACHE_H_
#define STRONGROOM_BASE_BOUNDED_CACHE_H_

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace strongroom {

template <typename V>
class BoundedCache {
 public:
  explicit BoundedCache(size_t capacity) : capacity_(capacity) {}

  std::optional<V> Find(absl::string_view key) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }

  void Insert(absl::string_view key, V value) {
    if (capacity_ == 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (map_.size() >= capacity_ && !map_.contains(key)) map_.clear();
    map_.insert_or_assign(std::string(key), std::move(value));
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return map_.size();
  }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, V> map_;  // guarded by mu_
};

}  // namespace strongroom

#endif  // STRONGROOM_BASE_BOUNDED_CACHE_H_
