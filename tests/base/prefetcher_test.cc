#include "base/prefetcher.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace strongroom {
namespace {

using ::strongroom::testing::StatusIs;

TEST(PrefetcherTest, HandsOverEveryItemInOrderThenTheEndAgainAndAgain) {
  int n = 0;
  Prefetcher<std::unique_ptr<int>> p(
      [&]() -> absl::StatusOr<std::optional<std::unique_ptr<int>>> {
        if (n == 100) return std::optional<std::unique_ptr<int>>();
        return std::optional<std::unique_ptr<int>>(std::make_unique<int>(n++));
      },
      3);
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK_AND_ASSIGN(std::optional<std::unique_ptr<int>> item, p.Next());
    ASSERT_TRUE(item.has_value()) << i;
    EXPECT_EQ(**item, i);
  }
  for (int k = 0; k < 2; ++k) {
    ASSERT_OK_AND_ASSIGN(std::optional<std::unique_ptr<int>> end, p.Next());
    EXPECT_FALSE(end.has_value());
  }
  EXPECT_EQ(n, 100);  // not called after the end
}

TEST(PrefetcherTest, AnErrorComesAfterTheItemsBeforeIt) {
  int calls = 0;
  Prefetcher<std::string> p(
      [&]() -> absl::StatusOr<std::optional<std::string>> {
        if (++calls == 3) return absl::DataLossError("segment 2: bad tag");
        return std::optional<std::string>(std::to_string(calls));
      },
      8);
  ASSERT_OK_AND_ASSIGN(auto a, p.Next());
  ASSERT_OK_AND_ASSIGN(auto b, p.Next());
  EXPECT_EQ(*a, "1");
  EXPECT_EQ(*b, "2");
  EXPECT_THAT(p.Next(), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(p.Next(), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(calls, 3);
}

TEST(PrefetcherTest, ProducesNoMoreThanDepthAheadOfTheConsumer) {
  std::atomic<int> calls{0};
  Prefetcher<int> p(
      [&]() -> absl::StatusOr<std::optional<int>> { return std::optional<int>(calls++); }, 2);
  while (calls.load() < 2) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(calls.load(), 2);
  ASSERT_OK_AND_ASSIGN(auto first, p.Next());
  EXPECT_EQ(*first, 0);
  while (calls.load() < 3) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(calls.load(), 3);
}

TEST(PrefetcherTest, DestructionCancelsAProducerBlockedInACall) {
  std::mutex mu;
  std::condition_variable cv;
  bool cancelled = false, entered = false;
  {
    Prefetcher<int> p(
        [&]() -> absl::StatusOr<std::optional<int>> {
          std::unique_lock<std::mutex> lock(mu);
          entered = true;
          cv.notify_all();
          cv.wait(lock, [&] { return cancelled; });
          return absl::CancelledError("call cancelled");
        },
        1, [&] {
          std::lock_guard<std::mutex> lock(mu);
          cancelled = true;
          cv.notify_all();
        });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return entered; });
  }  // returns only once the producer returned
  EXPECT_TRUE(cancelled);
}

}  // namespace
}  // namespace strongroom
