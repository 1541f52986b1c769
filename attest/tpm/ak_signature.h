// AkSignatureChecker: checks quote signatures under one attestation key
// (AK), the part of TpmVerifier's per-quote work that is a public-key
// operation (internal to attest_tpm).
//
// Why not EVP_DigestVerify: in OpenSSL 3 every EVP_DigestVerifyInit (and
// every EVP_PKEY_CTX_new_from_pkey + EVP_PKEY_verify_init) looks the
// signature algorithm and the digest up in the provider store and builds a
// provider context: a few microseconds, a tenth of an RSA-2048 check. Here
// the quote is hashed with a digest fetched once (TpmHashMd) and the digest
// is checked with EVP_PKEY_verify on a context set up once per (AK, scheme,
// hash) and then reused.
//
// Thread-safety: an EVP_PKEY_CTX must not be used by two threads at once, so
// contexts are never shared: a call takes an idle one out of the pool (or
// makes one), uses it alone, and puts it back afterwards; a context whose
// check failed is freed instead of put back. The pool is guarded by a mutex
// held only to take or put; it keeps at most kMaxIdle contexts (about the
// number of threads that verify quotes of one AK at the same moment).
// AkSignatureChecker itself is immutable apart from the pool, so it may be
// shared (TpmVerifier keeps one per cached AK).
#ifndef STRONGROOM_ATTEST_TPM_AK_SIGNATURE_H_
#define STRONGROOM_ATTEST_TPM_AK_SIGNATURE_H_

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "attest/signature_check.h"

namespace strongroom::attest::tpm_internal {

class AkSignatureChecker {
 public:
  static constexpr size_t kMaxIdle = 16;

  // `key` is the AK's public key (RSA or EC); it is kept alive here.
  explicit AkSignatureChecker(std::shared_ptr<EVP_PKEY> key);
  ~AkSignatureChecker();
  AkSignatureChecker(const AkSignatureChecker&) = delete;
  AkSignatureChecker& operator=(const AkSignatureChecker&) = delete;

  EVP_PKEY* key() const { return key_.get(); }
  bool is_rsa() const { return is_rsa_; }
  bool is_ec() const { return is_ec_; }
  int bits() const { return bits_; }

  // Whether `signature` over `message` verifies under the key with
  // `sig_alg` (kTpmAlgRsassa, kTpmAlgRsapss with any salt length, or
  // kTpmAlgEcdsa with r and s big-endian) and `hash_alg` (a TPM hash with
  // TpmHashMd). false for anything else, including a scheme that does not
  // fit the key type. The caller checks scheme policy (TPMT_PUBLIC's fixed
  // scheme, no SHA-1, RSA size) first: this is only the mathematics.
  bool VerifyRsa(uint16_t sig_alg, uint16_t hash_alg,
                 std::span<const uint8_t> message,
                 std::span<const uint8_t> signature) const;
  bool VerifyEcdsa(uint16_t hash_alg, std::span<const uint8_t> message,
                   std::span<const uint8_t> r, std::span<const uint8_t> s) const;

  // Idle contexts now (for tests).
  size_t idle_contexts() const;

 private:
  struct Idle {
    uint16_t sig_alg;
    uint16_t hash_alg;
    EVP_PKEY_CTX* ctx;
  };

  // A context ready for EVP_PKEY_verify with this scheme: from the pool,
  // else new. nullptr when OpenSSL refuses the set-up.
  EVP_PKEY_CTX* Take(uint16_t sig_alg, uint16_t hash_alg) const;
  void PutBack(uint16_t sig_alg, uint16_t hash_alg, EVP_PKEY_CTX* ctx) const;
  bool VerifyDigestOf(uint16_t sig_alg, uint16_t hash_alg,
                      std::span<const uint8_t> message,
                      std::span<const uint8_t> signature) const;

  const std::shared_ptr<EVP_PKEY> key_;
  const bool is_rsa_;
  const bool is_ec_;
  const int bits_;
  mutable std::mutex mu_;
  mutable std::vector<Idle> idle_;  // guarded by mu_
};

// A hash computation on this thread's spare EVP_MD_CTX: OpenSSL keeps the
// provider's digest state in the context, so re-initializing one costs no
// allocation, where a new one (or EVP_Digest) allocates three. A second
// ThreadDigest alive on the same thread gets a context of its own. Not to
// be shared between threads.
class ThreadDigest {
 public:
  explicit ThreadDigest(const EVP_MD* md);
  ~ThreadDigest();
  ThreadDigest(const ThreadDigest&) = delete;
  ThreadDigest& operator=(const ThreadDigest&) = delete;

  void Update(std::span<const uint8_t> data);
  // The digest into `out` (EVP_MAX_MD_SIZE bytes); its length, 0 when any
  // step failed.
  size_t Final(uint8_t* out);

 private:
  EVP_MD_CTX* ctx_;
  bool ok_;
};

// DER encoding of raw r and s (shared with VerifyEcdsaRaw).
using ::strongroom::attest::EncodeEcdsaSignatureDer;
using ::strongroom::attest::kMaxEcdsaSignatureDer;

}  // namespace strongroom::attest::tpm_internal

#endif  // STRONGROOM_ATTEST_TPM_AK_SIGNATURE_H_
