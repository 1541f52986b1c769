// BoundedCache<V>: a map from a key string to a value that is emptied when it
// reaches its capacity. For results that are cheap to rebuild (parsed keys,
// verified chains): clearing, rather than evicting one entry, keeps inputs
// chosen to miss from growing it, with no bookkeeping per hit. Capacity 0
// stores nothing (every lookup misses).
//
// Callers store only successes; the key must name everything the value was
// derived from (the exact bytes, or a collision-resistant digest of them).
//
// Thread-safe: one mutex per cache, held only for the map operation.
#ifndef STRONGROOM_BASE_BOUNDED_CACHE_H_
#define STRONGROOM_BASE_BOUNDED_CACHE_H_

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace strongroom {

template <typename V>
class BoundedCache {
 public:
  explicit BoundedCache(size_t capacity) : capacity_(capacity) {}

  std::optional<V> Find(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }

  void Insert(const std::string& key, V value) {
    if (capacity_ == 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (map_.size() >= capacity_ && !map_.contains(key)) map_.clear();
    map_.insert_or_assign(key, std::move(value));
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return map_.size();
  }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, V> map_;  // guarded by mu_
};

}  // namespace strongroom

#endif  // STRONGROOM_BASE_BOUNDED_CACHE_H_
