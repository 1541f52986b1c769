#include "base/secret_bytes.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <type_traits>

namespace strongroom {
namespace {

static_assert(!std::is_copy_constructible_v<SecretBytes>);
static_assert(!std::is_copy_assignable_v<SecretBytes>);
static_assert(std::is_nothrow_move_constructible_v<SecretBytes>);
static_assert(!std::is_convertible_v<SecretBytes, std::string>);

TEST(SecretBytesTest, CopyFromHoldsTheBytes) {
  const uint8_t data[] = {1, 2, 3, 4, 5};
  SecretBytes s = SecretBytes::CopyFrom(data);
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(std::vector<uint8_t>(s.Reveal().begin(), s.Reveal().end()),
            std::vector<uint8_t>(data, data + 5));
}

TEST(SecretBytesTest, MoveLeavesSourceEmpty) {
  SecretBytes a = SecretBytes::Random(32);
  SecretBytes copy = a.Clone();
  SecretBytes b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): checking the contract
  EXPECT_EQ(b.size(), 32u);
  EXPECT_TRUE(b == copy);
}

TEST(SecretBytesTest, EqualityIsByContentAndLength) {
  const uint8_t x[] = {9, 9, 9};
  const uint8_t y[] = {9, 9, 8};
  EXPECT_TRUE(SecretBytes::CopyFrom(x) == SecretBytes::CopyFrom(x));
  EXPECT_FALSE(SecretBytes::CopyFrom(x) == SecretBytes::CopyFrom(y));
  EXPECT_FALSE(SecretBytes::CopyFrom(x) == SecretBytes::CopyFrom(std::span(x, 2)));
  EXPECT_TRUE(SecretBytes() == SecretBytes());
}

TEST(SecretBytesTest, LargeSecretsGetTheirOwnLockedMapping) {
  SecretBytes big = SecretBytes::Random(64 * 1024);
  SecretBytes copy = big.Clone();
  EXPECT_TRUE(big == copy);
  if (geteuid() == 0) {
    EXPECT_TRUE(big.locked());
  }
  big.Shrink(10);
  EXPECT_EQ(big.size(), 10u);
}

TEST(SecretBytesTest, AReleasedMappingIsReusedWipedAndLocked) {
  const size_t size = (1 << 20) - 100;
  const uint8_t* first = nullptr;
  {
    SecretBytes s(size);
    std::memset(s.RevealMutable().data(), 0xAB, size);
    first = s.Reveal().data();
  }
  // Same page-rounded size: the mapping comes back, every byte zero.
  SecretBytes again(size - 50);
  EXPECT_EQ(again.Reveal().data(), first);
  for (uint8_t b : again.Reveal()) ASSERT_EQ(b, 0);
  if (geteuid() == 0) {
    EXPECT_TRUE(again.locked());
  }
  // What Shrink dropped is zero when the mapping is handed out again.
  std::memset(again.RevealMutable().data(), 0xCD, again.size());
  again.Shrink(10);
  again = SecretBytes();
  SecretBytes third(size);
  EXPECT_EQ(third.Reveal().data(), first);
  for (uint8_t b : third.Reveal()) ASSERT_EQ(b, 0);
}

// A caller that wrote past size() (an overrun inside the page-rounded
// mapping) leaves nothing for the next secret that gets the mapping.
TEST(SecretBytesTest, BytesPastTheSizeAreWipedBeforeReuse) {
  const size_t size = 5000;  // mapped as 8192 bytes (4 KiB pages)
  const long page = sysconf(_SC_PAGESIZE);
  ASSERT_EQ(page, 4096);
  uint8_t* first = nullptr;
  {
    SecretBytes s(size);
    first = s.RevealMutable().data();
    std::memset(first, 0xEE, 8192);  // the secret and the rest of its mapping
  }
  SecretBytes again(8000);
  ASSERT_EQ(again.Reveal().data(), first) << "the mapping was not reused";
  for (size_t i = 0; i < again.size(); ++i) ASSERT_EQ(again.Reveal()[i], 0) << "byte " << i;
}

TEST(SecretBytesTest, AForkedChildDoesNotReuseTheParentsMappings) {
  const size_t size = 1 << 20;
  { SecretBytes cached(size); }  // now kept for reuse in this process
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The kept mapping is not in the child (MADV_DONTFORK): using it would
    // fault. A fresh one must come back, zeroed and writable.
    SecretBytes s(size);
    bool zero = true;
    for (uint8_t b : s.Reveal()) zero = zero && b == 0;
    std::memset(s.RevealMutable().data(), 0x5A, size);
    _exit(zero && s.Reveal()[size - 1] == 0x5A ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died: status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(SecretBytesTest, RandomValuesDiffer) {
  EXPECT_FALSE(SecretBytes::Random(32) == SecretBytes::Random(32));
}

TEST(SecretBytesTest, ShrinkWipesTheTail) {
  const uint8_t data[] = {1, 2, 3, 4};
  SecretBytes s = SecretBytes::CopyFrom(data);
  const uint8_t* p = s.Reveal().data();
  s.Shrink(2);
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(p[2], 0);
  EXPECT_EQ(p[3], 0);
  EXPECT_EQ(p[0], 1);
}

TEST(SecretBytesTest, MemoryIsLockedWhenTheLimitAllows) {
  SecretBytes s = SecretBytes::Random(64);
  // mincore-style check: a locked mapping is resident; mlock either succeeded
  // (locked() true) or the RLIMIT refused it. Under root in CI it succeeds.
  if (geteuid() == 0) {
    EXPECT_TRUE(s.locked());
  }
  unsigned char vec = 0;
  uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  auto* start = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(s.Reveal().data()) & ~(page - 1));
  ASSERT_EQ(mincore(start, 1, &vec), 0);
  EXPECT_TRUE(vec & 1);
}

}  // namespace
}  // namespace strongroom
