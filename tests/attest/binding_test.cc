// The report-data binding (attest/binding.h) against known answers computed
// outside this code (Python's hashlib over the documented layout:
// "strongroom-attest-v1" || kem_id big-endian || nonce || public key), so a
// change of label, byte order or field order fails here even though the
// broker and the client library, sharing the function, would still agree.
#include "attest/binding.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "base/bytes.h"

namespace strongroom::attest {
namespace {

Bytes Range(uint8_t first, size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(first + i);
  return out;
}

TEST(AttestationBindingTest, MatchesTheDocumentedLayout) {
  const Bytes nonce = Range(0, 32);
  Bytes p256 = {0x04};
  const Bytes point = Range(1, 64);
  p256.insert(p256.end(), point.begin(), point.end());
  EXPECT_EQ(HexEncode(AttestationBinding(0x0010, nonce, p256)),
            "17c56431b97230dbffbfccd6cd0348f83fd9c80800e43de6f5ffcda6a4845cf2");
  EXPECT_EQ(HexEncode(AttestationBinding(0x0020, nonce, Range(100, 32))),
            "d4ad892d1917b92f83e21a41de771876b59da909f55197793e3e3da8d5b4668c");
  // Every input counts.
  EXPECT_NE(AttestationBinding(0x0011, nonce, p256), AttestationBinding(0x0010, nonce, p256));
  EXPECT_NE(AttestationBinding(0x0010, Range(1, 32), p256),
            AttestationBinding(0x0010, nonce, p256));
}

}  // namespace
}  // namespace strongroom::attest
