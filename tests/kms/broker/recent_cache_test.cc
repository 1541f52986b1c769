// RecentCache: bounded size, least-recently-used eviction by generations,
// and concurrent use.
#include "kms/broker/recent_cache.h"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace strongroom::kms {
namespace {

TEST(RecentCacheTest, FindsWhatWasInserted) {
  RecentCache<int> cache(8);
  EXPECT_FALSE(cache.Find("a").has_value());
  cache.Insert("a", 1);
  cache.Insert(std::string("b\0c", 3), 2);
  EXPECT_EQ(cache.Find("a"), 1);
  EXPECT_EQ(cache.Find(std::string("b\0c", 3)), 2);
  EXPECT_FALSE(cache.Find("b").has_value());  // keys are exact bytes
  cache.Insert("a", 3);
  EXPECT_EQ(cache.Find("a"), 3);
}

TEST(RecentCacheTest, HoldsAtMostCapacityAndKeepsWhatIsUsed) {
  RecentCache<int> cache(8);
  cache.Insert("used", 0);
  cache.Insert("unused", 0);
  for (int i = 0; i < 100; ++i) {
    cache.Insert(absl::StrCat("k", i), i);
    EXPECT_LE(cache.size(), 8u);
    // Used once per insertion: never evicted.
    ASSERT_TRUE(cache.Find("used").has_value()) << "after " << i << " insertions";
  }
  EXPECT_FALSE(cache.Find("unused").has_value());
  EXPECT_FALSE(cache.Find("k0").has_value());
  EXPECT_EQ(cache.Find("k99"), 99);
}

TEST(RecentCacheTest, ConcurrentUseKeepsValuesIntact) {
  RecentCache<std::string> cache(64);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string key = absl::StrCat(t, ":", i % 50);
        cache.Insert(key, key);
        std::optional<std::string> v = cache.Find(key);
        if (v.has_value()) {
          EXPECT_EQ(*v, key);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LE(cache.size(), 64u);
}

}  // namespace
}  // namespace strongroom::kms
