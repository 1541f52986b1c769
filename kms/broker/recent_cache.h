// RecentCache: a small, bounded, thread-safe map from byte-string keys to
// immutable values, for results that are pure functions of their key (a
// token's verified payload, a parsed public key), so that a hit can stand in
// for recomputing them.
//
// Eviction approximates least-recently-used with two generations: inserts
// and hits go to the current generation; when it holds capacity / 2 entries
// it becomes the previous one and the old previous one is dropped. So at most
// `capacity` entries are held, and an entry used at least once per
// capacity / 2 insertions stays.
//
// Thread-safe: one mutex; values are copied out under it, so V should be
// cheap to copy (a shared_ptr, a small value type).
#ifndef STRONGROOM_KMS_BROKER_RECENT_CACHE_H_
#define STRONGROOM_KMS_BROKER_RECENT_CACHE_H_

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "absl/strings/string_view.h"

namespace strongroom::kms {

template <typename V>
class RecentCache {
 public:
  // REQUIRES: capacity >= 2.
  explicit RecentCache(size_t capacity) : half_(capacity / 2) {}

  std::optional<V> Find(absl::string_view key) {
    const std::string k(key);
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = current_.find(k); it != current_.end()) return it->second;
    auto it = previous_.find(k);
    if (it == previous_.end()) return std::nullopt;
    V v = std::move(it->second);
    previous_.erase(it);
    InsertLocked(k, v);
    return v;
  }

  void Insert(absl::string_view key, V value) {
    std::lock_guard<std::mutex> lock(mu_);
    InsertLocked(std::string(key), std::move(value));
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_.size() + previous_.size();
  }

 private:
  void InsertLocked(const std::string& key, V value) {
    if (current_.size() >= half_ && !current_.contains(key)) {
      previous_ = std::move(current_);
      current_.clear();
    }
    current_.insert_or_assign(key, std::move(value));
  }

  const size_t half_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, V> current_;   // guarded by mu_
  std::unordered_map<std::string, V> previous_;  // guarded by mu_
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_BROKER_RECENT_CACHE_H_
