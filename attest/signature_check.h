// Signature checks without OpenSSL 3's per-call set-up (internal to the
// attest libraries; VerifyEcdsaRaw in attest/x509.h is the public form).
//
// Why not EVP_DigestVerifyInit + EVP_DigestVerify: in OpenSSL 3 every
// EVP_DigestVerifyInit (and every EVP_PKEY_CTX_new_from_pkey +
// EVP_PKEY_verify_init) looks the signature algorithm and the digest up in
// the provider store and builds a provider context, and a legacy
// EVP_sha256() is fetched again on each use: together a few microseconds, a
// large share of an ECDSA P-256 check. Here the message is hashed with a
// digest fetched once, and the digest is checked with EVP_PKEY_verify on a
// context kept per (key, digest) on the calling thread. The outcome is the
// same as EVP_DigestVerify's: OpenSSL's digest-verify is this hash followed
// by this verify (ECDSA signatures must be canonical DER either way).
//
// Thread-safety: all functions may be called from any thread. Verify
// contexts are never shared between threads: each thread keeps at most
// kVerifyContextsPerThread of them (least recently used dropped first),
// freed when the thread ends. A context holds a reference to its key, so a
// cached key cannot be freed and its address reused by another key while
// the context lives: the pointer identifies the key exactly. A context whose
// check failed is freed, not kept. Keys must not be modified after their
// first check (EVP_PKEY public keys here never are).
#ifndef STRONGROOM_ATTEST_SIGNATURE_CHECK_H_
#define STRONGROOM_ATTEST_SIGNATURE_CHECK_H_

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace strongroom::attest {

inline constexpr size_t kVerifyContextsPerThread = 16;

// SHA-256 / SHA-384 / SHA-512 fetched from the default provider once (kept
// for the process).
const EVP_MD* FetchedSha256();
const EVP_MD* FetchedSha384();
const EVP_MD* FetchedSha512();

// The fetched digest for `md` when it is SHA-256, SHA-384 or SHA-512
// (legacy EVP_sha256() & co. or already fetched); `md` itself otherwise.
const EVP_MD* FetchedDigestFor(const EVP_MD* md);

// Whether `signature` over `message` hashed with `md` verifies under `key`
// with the key type's default scheme (ECDSA: DER ECDSA-Sig-Value; RSA:
// PKCS#1 v1.5). false for a null key or digest and for any OpenSSL
// failure; the thread's OpenSSL error queue is left empty.
bool VerifyMessageSignature(EVP_PKEY* key, const EVP_MD* md,
                            std::span<const uint8_t> message,
                            std::span<const uint8_t> signature);

// The DER ECDSA-Sig-Value of big-endian r and s into `out`; returns the
// length, 0 when r or s is empty, is longer than 66 bytes once leading
// zeros are dropped, or `out` is shorter than the encoding (never with
// kMaxEcdsaSignatureDer bytes). Integers are minimal (leading zeros
// dropped, a 0x00 in front of a set high bit), as i2d_ECDSA_SIG writes them.
inline constexpr size_t kMaxEcdsaSignatureDer = 2 * (66 + 3) + 3;
size_t EncodeEcdsaSignatureDer(std::span<const uint8_t> r,
                               std::span<const uint8_t> s,
                               std::span<uint8_t> out);

// Verify contexts cached on this thread now (for tests).
size_t ThreadVerifyContextCount();

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_SIGNATURE_CHECK_H_
