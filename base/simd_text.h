// Vectorized text codecs for the hot paths of evidence verification: hex
// encoding of claim values, hex and strict base64 decoding of quote bundles.
// Each uses AVX-512 when the CPU has it (checked once) and plain C++
// otherwise; both give exactly the bytes of their scalar definitions.
#ifndef STRONGROOM_BASE_SIMD_TEXT_H_
#define STRONGROOM_BASE_SIMD_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <span>

namespace strongroom {

// Whether this CPU has AVX-512 F, BW and VL (checked once).
bool CpuHasAvx512BwVl();

// data.size() * 2 lowercase hex digits at `out` (not NUL-terminated).
void HexEncodeInto(std::span<const uint8_t> data, char* out);

// `chars` (even) hex digits of either case at `in` into chars / 2 bytes at
// `out`; false on any other character (`out` then holds garbage).
bool DecodeHexInto(const char* in, size_t chars, uint8_t* out);

// Decodes leading whole blocks of 64 base64 characters (standard alphabet,
// no padding or whitespace inside them) from the first `chars` characters
// at `in`, 48 bytes per block, to `out`. Returns how many characters it
// consumed (a multiple of 64, possibly 0: without AVX-512 VBMI, or fewer
// than 64 given), or -1 when a consumed block holds a character outside the
// alphabet; the caller decodes the rest.
long DecodeBase64Blocks(const char* in, size_t chars, uint8_t* out);

// Where a JSON string's body ends or stops being plain: the index of the
// first '"', '\\' or control byte (< 0x20) in [p, p + n); n when none.
size_t FindJsonStringEnd(const char* p, size_t n);

// The plain C++ definitions the vector paths must match, for tests.
namespace simd_text_internal {
void HexEncodeScalar(std::span<const uint8_t> data, char* out);
size_t FindJsonStringEndScalar(const char* p, size_t n);
bool DecodeHexScalar(const char* in, size_t chars, uint8_t* out);
}  // namespace simd_text_internal

}  // namespace strongroom

#endif  // STRONGROOM_BASE_SIMD_TEXT_H_
