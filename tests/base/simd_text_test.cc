// base/simd_text: the vectorized hex encoder and base64 block decoder give
// exactly what the plain definitions give, at every length and alignment
// around their 32- and 64-character steps, and the decoder refuses every
// character outside the alphabet wherever it sits in a block.
#include "base/simd_text.h"

#include <openssl/evp.h>

#include <cctype>
#include <random>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "gtest/gtest.h"

namespace strongroom {
namespace {

std::string ReferenceHex(std::span<const uint8_t> data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : data) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

Bytes RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

// Standard base64 with padding, by OpenSSL.
std::string OpenSslBase64(std::span<const uint8_t> data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                                static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

TEST(SimdTextTest, HexMatchesTheScalarDefinitionAtEveryLength) {
  for (size_t n = 0; n <= 200; ++n) {
    const Bytes data = RandomBytes(n + 1, static_cast<uint32_t>(n));
    // Unaligned as well: start one byte in.
    for (size_t offset : {size_t{0}, size_t{1}}) {
      std::span<const uint8_t> in(data.data() + offset, n);
      std::string out(2 * n + 2, '#');  // the guard bytes must survive
      HexEncodeInto(in, out.data());
      ASSERT_EQ(out.substr(0, 2 * n), ReferenceHex(in)) << "n=" << n << " offset=" << offset;
      ASSERT_EQ(out.substr(2 * n), "##") << "n=" << n;
      std::string scalar(2 * n, '#');
      simd_text_internal::HexEncodeScalar(in, scalar.data());
      ASSERT_EQ(scalar, ReferenceHex(in)) << "n=" << n;
    }
  }
  Bytes all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(HexEncode(all), ReferenceHex(all));
}

TEST(SimdTextTest, HexDecodingTakesEitherCaseAndRefusesEverythingElse) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{20}, size_t{31}, size_t{32}, size_t{33},
                   size_t{48}, size_t{64}, size_t{100}}) {
    const Bytes data = RandomBytes(n, static_cast<uint32_t>(n) + 11);
    std::string hex = ReferenceHex(data);
    for (size_t i = 0; i < hex.size(); i += 3) hex[i] = static_cast<char>(std::toupper(hex[i]));
    Bytes out(n + 1, 0xEE), scalar(n + 1, 0xEE);
    ASSERT_TRUE(DecodeHexInto(hex.data(), hex.size(), out.data())) << "n=" << n;
    ASSERT_TRUE(simd_text_internal::DecodeHexScalar(hex.data(), hex.size(), scalar.data()));
    EXPECT_EQ(Bytes(out.begin(), out.begin() + n), data) << "n=" << n;
    EXPECT_EQ(scalar, out) << "n=" << n;
    EXPECT_EQ(out[n], 0xEE) << "wrote past the output, n=" << n;
    // Every character that is not a hex digit, at the first, a middle and
    // the last position.
    for (int c = 0; c < 256; ++c) {
      if (std::isxdigit(c) || hex.empty()) continue;
      for (size_t at : {size_t{0}, hex.size() / 2, hex.size() - 1}) {
        std::string bad = hex;
        bad[at] = static_cast<char>(c);
        ASSERT_FALSE(DecodeHexInto(bad.data(), bad.size(), out.data()))
            << "n=" << n << " char " << c << " at " << at;
        ASSERT_FALSE(simd_text_internal::DecodeHexScalar(bad.data(), bad.size(), out.data()))
            << "n=" << n << " char " << c << " at " << at;
      }
    }
  }
}

TEST(SimdTextTest, Base64BlocksDecodeAsOpenSslEncodes) {
  for (size_t n : {size_t{0}, size_t{47}, size_t{48}, size_t{96}, size_t{200}, size_t{1000}}) {
    SCOPED_TRACE(n);
    const Bytes data = RandomBytes(n, static_cast<uint32_t>(n) + 7);
    const std::string text = OpenSslBase64(data);
    Bytes out(n + 64, 0xEE);
    // As DecodeCanonicalBase64 calls it: the groups before a padded one.
    const size_t unpadded = !text.empty() && text.back() == '=' ? text.size() - 4 : text.size();
    const long used = DecodeBase64Blocks(text.data(), unpadded, out.data());
    ASSERT_GE(used, 0);
    ASSERT_EQ(used % 64, 0);
    ASSERT_LE(static_cast<size_t>(used), unpadded / 64 * 64);
    const size_t bytes = static_cast<size_t>(used) / 4 * 3;
    EXPECT_EQ(Bytes(out.begin(), out.begin() + bytes), Bytes(data.begin(), data.begin() + bytes))
        << "n=" << n;
    const bool vbmi = __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl");
    if (n >= 96 && vbmi) EXPECT_GT(used, 0) << "the vector path did not run";
    EXPECT_EQ(out[bytes], 0xEE) << "wrote past the blocks it decoded, n=" << n;
  }
}

TEST(SimdTextTest, Base64BlocksRefuseEveryCharacterOutsideTheAlphabet) {
  const std::string good = OpenSslBase64(RandomBytes(96, 3));  // 128 characters
  ASSERT_EQ(good.size(), 128u);
  Bytes out(96);
  const long whole = DecodeBase64Blocks(good.data(), good.size(), out.data());
  if (whole == 0) GTEST_SKIP() << "no AVX-512 VBMI here: the scalar decoder does all of it";
  ASSERT_EQ(whole, 128);
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int c = 0; c < 256; ++c) {
    const bool valid = alphabet.find(static_cast<char>(c)) != std::string::npos;
    for (size_t pos : {size_t{0}, size_t{31}, size_t{63}, size_t{64}, size_t{127}}) {
      std::string bad = good;
      bad[pos] = static_cast<char>(c);
      const long r = DecodeBase64Blocks(bad.data(), bad.size(), out.data());
      if (valid) {
        EXPECT_EQ(r, 128) << "char " << c << " at " << pos;
      } else {
        EXPECT_EQ(r, -1) << "char " << c << " at " << pos;
      }
    }
  }
}

TEST(SimdTextTest, FindJsonStringEndFindsQuoteBackslashOrControlByte) {
  for (size_t n = 0; n <= 150; ++n) {
    std::string text(n + 8, 'x');
    for (size_t i = 0; i < n; ++i) text[i] = static_cast<char>(0x20 + (i * 7) % 0x60);
    for (size_t i = 0; i < n; ++i) {
      if (text[i] == '"' || text[i] == '\\') text[i] = 'y';
    }
    text[n / 2] = static_cast<char>(0xC3);  // high bytes are plain
    EXPECT_EQ(FindJsonStringEnd(text.data(), n), n) << "n=" << n;
    for (size_t at = 0; at < n; ++at) {
      for (char first : {'"', '\\', '\n', '\x1f', '\0'}) {
        std::string t = text;
        t[at] = first;
        if (at + 1 < n) t[n - 1] = first == '"' ? '\\' : '"';  // a later decoy
        t[n] = '"';  // past the end: must not be seen
        ASSERT_EQ(FindJsonStringEnd(t.data(), n), at)
            << "n=" << n << " at=" << at << " byte=" << int(first);
        ASSERT_EQ(simd_text_internal::FindJsonStringEndScalar(t.data(), n), at) << "n=" << n;
      }
    }
  }
}

}  // namespace
}  // namespace strongroom
