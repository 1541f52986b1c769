// The four operations of `strongroom-bench hsm`, each in two forms: through
// the PKCS#11 layer (kms::pkcs11::Hsm) and as the bare PKCS#11 calls that the
// layer makes for it, on a DirectSession of the same module and token.
//
// The direct forms do exactly the module calls the layer does (same
// mechanisms, parameters and templates) and nothing else: no allocation, no
// Status built on success, output into caller buffers. What a layer op costs
// beyond its direct form is therefore the layer's own overhead.
//
// HsmFixture holds the keys and inputs; it is created once through the layer
// and then only read, so the op factories may share it between threads.
#ifndef STRONGROOM_BENCH_HSM_OPS_H_
#define STRONGROOM_BENCH_HSM_OPS_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "bench/direct_pkcs11.h"
#include "bench/harness.h"
#include "kms/pkcs11/hsm.h"
#include "kms/pkcs11/key_handle.h"

namespace strongroom::bench {

inline constexpr size_t kWrappedKeyBytes = 40;  // a 32-byte key under RFC 3394
inline constexpr size_t kGcmPlaintextBytes = 4096;
inline constexpr size_t kGcmOutputBytes = kGcmPlaintextBytes + 16;
inline constexpr size_t kSignedMessageBytes = 64;
inline constexpr size_t kEcdsaP256RawBytes = 64;  // r || s

struct HsmFixture {
  kms::pkcs11::KeyHandle root;    // AES-256, wrap/unwrap, non-extractable
  kms::pkcs11::KeyHandle target;  // AES-256, extractable: the key that is wrapped
  kms::pkcs11::KeyHandle gcm;     // AES-256, encrypt/decrypt, non-extractable
  kms::pkcs11::EcKeyPair ec;      // P-256, sign
  Bytes wrapped;                  // `target` wrapped under `root` (40 bytes)
  Bytes plaintext;                // 4096 random bytes
  Bytes message;                  // 64 random bytes
};

// Session keys (lost with the Hsm) and random inputs.
absl::StatusOr<HsmFixture> CreateHsmFixture(kms::pkcs11::Hsm& hsm);

// The ops HsmOps() returns, in its order.
inline constexpr const char* kHsmOpNames[] = {"wrap", "unwrap", "aes_gcm_4k", "ecdsa_p256_sign"};

struct HsmOp {
  std::string name;  // one of kHsmOpNames
  OpFactory layer;
  OpFactory direct;  // each thread opens its own DirectSession
};

// All four, in report order. `hsm`, `direct` and `fixture` must outlive them.
std::vector<HsmOp> HsmOps(kms::pkcs11::Hsm& hsm, const DirectPkcs11& direct,
                          const HsmFixture& fixture);

// Runs each op once both ways on one direct session and checks that the
// results agree (same wrapped bytes, same unwrapped secret, same ciphertext
// for the same IV, a direct signature the layer verifies). FailedPrecondition
// naming the op on a mismatch: the comparison would be meaningless.
absl::Status CheckLayerMatchesDirect(kms::pkcs11::Hsm& hsm, const DirectPkcs11& direct,
                                     const HsmFixture& fixture);

}  // namespace strongroom::bench

#endif  // STRONGROOM_BENCH_HSM_OPS_H_
