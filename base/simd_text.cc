#include "base/simd_text.h"

#include <immintrin.h>

#include <array>
#include <cstring>

namespace strongroom {

bool CpuHasAvx512BwVl() {
  static const bool have = __builtin_cpu_supports("avx512f") &&
                           __builtin_cpu_supports("avx512bw") &&
                           __builtin_cpu_supports("avx512vl");
  return have;
}

namespace {

// "00" "01" ... "ff": one two-character copy per byte.
constexpr std::array<char, 512> kHexPairs = [] {
  constexpr char kDigits[] = "0123456789abcdef";
  std::array<char, 512> t{};
  for (int b = 0; b < 256; ++b) {
    t[2 * b] = kDigits[b >> 4];
    t[2 * b + 1] = kDigits[b & 0xf];
  }
  return t;
}();

bool HaveAvx512Vbmi() {
  static const bool have = CpuHasAvx512BwVl() && __builtin_cpu_supports("avx512vbmi");
  return have;
}

// 32 bytes per step: each byte widened to a 16-bit lane holding its high
// nibble in the low byte and its low nibble in the high byte, so that the
// lanes' bytes are the digits in output order; one in-lane table lookup
// turns nibbles into digits. The tail goes through masked loads and stores.
__attribute__((target("avx512f,avx512bw,avx512vl"))) void HexEncodeAvx512(const uint8_t* in,
                                                                           size_t n, char* out) {
  const __m512i digits = _mm512_broadcast_i32x4(
      _mm_setr_epi8('0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e',
                    'f'));
  const __m512i low_nibble = _mm512_set1_epi16(0x000f);
  for (size_t i = 0; i < n; i += 32) {
    const size_t left = n - i;
    const __mmask32 in_mask = left >= 32 ? ~__mmask32{0} : (__mmask32{1} << left) - 1;
    const __m512i b = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(in_mask, in + i));
    const __m512i nibbles = _mm512_or_si512(_mm512_srli_epi16(b, 4),
                                            _mm512_slli_epi16(_mm512_and_si512(b, low_nibble), 8));
    const __m512i text = _mm512_shuffle_epi8(digits, nibbles);
    const __mmask64 out_mask = left >= 32 ? ~__mmask64{0} : (__mmask64{1} << (2 * left)) - 1;
    _mm512_mask_storeu_epi8(out + 2 * i, out_mask, text);
  }
}

// `chars` (an even count) hex digits of either case at p into chars / 2
// bytes at out, 64 digits per step; false on any other character (out then
// holds garbage). Digits 0-9 are c - '0' < 10, letters (c | 0x20) - 'a' < 6;
// each pair becomes hi * 16 + lo by one multiply-add of byte pairs.
__attribute__((target("avx512f,avx512bw,avx512vl"))) bool DecodeHexAvx512(const uint8_t* p,
                                                                          size_t chars,
                                                                          uint8_t* out) {
  const __m512i zero_char = _mm512_set1_epi8('0'), ten = _mm512_set1_epi8(10);
  const __m512i lower_bit = _mm512_set1_epi8(0x20), a_char = _mm512_set1_epi8('a');
  const __m512i six = _mm512_set1_epi8(6), weights = _mm512_set1_epi16(0x0110);
  for (size_t i = 0; i < chars; i += 64) {
    const size_t left = chars - i;
    const __mmask64 in = left >= 64 ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
    const __m512i c = _mm512_maskz_loadu_epi8(in, p + i);
    const __m512i digit = _mm512_sub_epi8(c, zero_char);
    const __m512i letter = _mm512_sub_epi8(_mm512_or_si512(c, lower_bit), a_char);
    const __mmask64 is_digit = _mm512_cmplt_epu8_mask(digit, ten);
    const __mmask64 is_letter = _mm512_cmplt_epu8_mask(letter, six);
    if (((is_digit | is_letter) & in) != in) return false;
    const __m512i value = _mm512_mask_blend_epi8(is_digit, _mm512_add_epi8(letter, ten), digit);
    // Little-endian words of (16, 1): first digit * 16 + second.
    const __m256i bytes =
        _mm512_maskz_cvtepi16_epi8(~__mmask32{0}, _mm512_maddubs_epi16(value, weights));
    const __mmask32 out_mask =
        left >= 64 ? ~__mmask32{0} : static_cast<__mmask32>((uint64_t{1} << (left / 2)) - 1);
    _mm256_mask_storeu_epi8(out + i / 2, out_mask, bytes);
  }
  return true;
}

// 64 characters to 48 bytes per step: each character's 6-bit value from a
// 128-entry table (two registers, one byte permute), 0x80 for anything
// outside the alphabet (and the input's own high bit caught by the same
// test); pairs and then quads of values merged by multiply-adds into
// 24-bit lanes; one byte permute gathers their bytes, most significant
// first.
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) long DecodeBase64Avx512(const char* in,
                                                                              size_t blocks,
                                                                              uint8_t* out) {
  alignas(64) static constexpr std::array<uint8_t, 128> kValues = [] {
    std::array<uint8_t, 128> t{};
    for (auto& v : t) v = 0x80;
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(alphabet[i])] = static_cast<uint8_t>(i);
    return t;
  }();
  alignas(64) static constexpr std::array<uint8_t, 64> kGather = [] {
    std::array<uint8_t, 64> t{};
    for (int j = 0; j < 48; ++j) t[j] = static_cast<uint8_t>(4 * (j / 3) + (2 - j % 3));
    return t;
  }();
  const __m512i lo = _mm512_load_si512(kValues.data());
  const __m512i hi = _mm512_load_si512(kValues.data() + 64);
  const __m512i gather = _mm512_load_si512(kGather.data());
  const __m512i high_bit = _mm512_set1_epi8(static_cast<char>(0x80));
  const __m512i pair_weights = _mm512_set1_epi32(0x01400140);
  const __m512i quad_weights = _mm512_set1_epi32(0x00011000);
  const __mmask64 out_mask = (__mmask64{1} << 48) - 1;
  for (size_t k = 0; k < blocks; ++k) {
    const __m512i c = _mm512_loadu_si512(in + 64 * k);
    const __m512i v = _mm512_permutex2var_epi8(lo, c, hi);
    if (_mm512_test_epi8_mask(_mm512_or_si512(c, v), high_bit) != 0) return -1;
    const __m512i pairs = _mm512_maddubs_epi16(v, pair_weights);
    const __m512i quads = _mm512_madd_epi16(pairs, quad_weights);
    _mm512_mask_storeu_epi8(out + 48 * k, out_mask, _mm512_permutexvar_epi8(gather, quads));
  }
  return static_cast<long>(64 * blocks);
}

// 64 bytes per step: the quote, the backslash and unsigned "less than 0x20"
// compared at once; the tail through a masked load.
__attribute__((target("avx512f,avx512bw"))) size_t FindJsonStringEndAvx512(const char* p,
                                                                           size_t n) {
  const __m512i quote = _mm512_set1_epi8('"'), backslash = _mm512_set1_epi8('\\');
  const __m512i space = _mm512_set1_epi8(0x20);
  for (size_t i = 0; i < n; i += 64) {
    const size_t left = n - i;
    const __mmask64 in = left >= 64 ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
    const __m512i c = _mm512_maskz_loadu_epi8(in, p + i);
    const __mmask64 hit = (_mm512_cmpeq_epi8_mask(c, quote) | _mm512_cmpeq_epi8_mask(c, backslash) |
                           _mm512_cmplt_epu8_mask(c, space)) &
                          in;
    if (hit != 0) return i + static_cast<size_t>(__builtin_ctzll(hit));
  }
  return n;
}

}  // namespace

size_t FindJsonStringEnd(const char* p, size_t n) {
  if (n >= 32 && CpuHasAvx512BwVl()) return FindJsonStringEndAvx512(p, n);
  return simd_text_internal::FindJsonStringEndScalar(p, n);
}

void HexEncodeInto(std::span<const uint8_t> data, char* out) {
  if (data.size() >= 16 && CpuHasAvx512BwVl()) {
    HexEncodeAvx512(data.data(), data.size(), out);
    return;
  }
  simd_text_internal::HexEncodeScalar(data, out);
}

bool DecodeHexInto(const char* in, size_t chars, uint8_t* out) {
  if (CpuHasAvx512BwVl()) {
    return DecodeHexAvx512(reinterpret_cast<const uint8_t*>(in), chars, out);
  }
  return simd_text_internal::DecodeHexScalar(in, chars, out);
}

long DecodeBase64Blocks(const char* in, size_t chars, uint8_t* out) {
  const size_t blocks = chars / 64;
  if (blocks == 0 || !HaveAvx512Vbmi()) return 0;
  return DecodeBase64Avx512(in, blocks, out);
}

namespace simd_text_internal {

void HexEncodeScalar(std::span<const uint8_t> data, char* out) {
  for (uint8_t b : data) {
    std::memcpy(out, &kHexPairs[2 * b], 2);
    out += 2;
  }
}

size_t FindJsonStringEndScalar(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c == '"' || c == '\\' || c < 0x20) return i;
  }
  return n;
}

bool DecodeHexScalar(const char* in, size_t chars, uint8_t* out) {
  static constexpr std::array<uint8_t, 256> kValues = [] {
    std::array<uint8_t, 256> t{};
    for (auto& v : t) v = 0xff;
    for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<uint8_t>(i);
    for (int i = 0; i < 6; ++i) t['a' + i] = t['A' + i] = static_cast<uint8_t>(10 + i);
    return t;
  }();
  const auto* p = reinterpret_cast<const uint8_t*>(in);
  uint8_t bad = 0;
  for (size_t i = 0; i < chars / 2; ++i) {
    const uint8_t hi = kValues[p[2 * i]], lo = kValues[p[2 * i + 1]];
    bad |= hi | lo;
    out[i] = static_cast<uint8_t>(hi << 4 | (lo & 0xf));
  }
  return (bad & 0x80) == 0;
}

}  // namespace simd_text_internal
}  // namespace strongroom
