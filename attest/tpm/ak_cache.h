// What TpmVerifier works out once per attestation key (AK) and then reuses
// for every quote signed by the same AK (internal to attest_tpm).
//
// A broker sees many quotes from few AKs, and per quote most of the cost
// outside the signature check was the AK's: parsing its public area,
// building an EVP_PKEY from it (and, in OpenSSL 3, the provider export the
// first signature check on a new key does, and the verify context every
// check sets up: see ak_signature.h), DER-encoding it for the SPKI
// hash, comparing it with every configured key, hashing its Name and
// Qualified Names, parsing and chain-checking its certificates.
//
// Soundness: every cached value is a pure function of the exact bytes in
// its key and of the verifier's trust configuration, which is fixed when
// the verifier is created (a new configuration means a new TpmVerifier
// with empty caches). The one time-dependent answer, "this certificate
// chain verifies", is stored with the window [latest notBefore, earliest
// notAfter] of the verified chain and used only for verification times
// inside it. Only successes are stored: anything that fails is recomputed
// (and fails again) on the next call.
//
// Thread-safety: each cache has its own mutex, held only for the map
// operation; values are immutable (shared_ptr to const). A cache that
// reaches its capacity is emptied, so input chosen to miss cannot grow it.
#ifndef STRONGROOM_ATTEST_TPM_AK_CACHE_H_
#define STRONGROOM_ATTEST_TPM_AK_CACHE_H_

#include <openssl/evp.h>

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "attest/tpm/ak_signature.h"
#include "attest/tpm/tpm_structures.h"
#include "attest/x509.h"
#include "base/bounded_cache.h"
#include "base/bytes.h"

namespace strongroom::attest::tpm_internal {

using ::strongroom::BoundedCache;

// The parts, each prefixed by its 8-byte length: distinct part lists give
// distinct keys (the exact bytes, not a digest of them).
std::string CacheKey(std::initializer_list<std::span<const uint8_t>> parts);
// The same into `key`, reusing its buffer.
void AssignCacheKey(std::string* key,
                    std::initializer_list<std::span<const uint8_t>> parts);

// An AK as Verify() needs it, from its public area (`pub` set) or from the
// key of its certificate when the bundle has no ak_public.
struct AkFacts {
  std::optional<TpmtPublic> pub;  // passed CheckAkAttributes
  std::shared_ptr<EVP_PKEY> key;
  // Checks signatures under `key`, with verify contexts it sets up once.
  std::unique_ptr<const AkSignatureChecker> checker;
  std::string alg;          // "rsa" or "ecc"
  std::string spki_sha256;  // lowercase hex
  Bytes name;               // TPM Name; empty without `pub`
  bool pinned = false;      // equal to one of the configured trusted keys
};

// A verified AK certificate chain, good for verification times in
// [valid_from, valid_until] (both inclusive, as VerifyChain checks them).
struct VerifiedChainWindow {
  absl::Time valid_from;
  absl::Time valid_until;
};

// The window in which every certificate of `chain` is valid.
VerifiedChainWindow WindowOf(std::span<const Certificate> chain);

// A MatchQualifiedSigner answer (a label, or nullopt for "none of them": an
// answer, not a failure) with the AK and EK it was computed for. It holds
// both, so while it is cached neither address can be reused by another
// object: the key's pointers name exactly these immutable values.
struct QualifiedSignerAnswer {
  std::shared_ptr<const AkFacts> ak;
  std::shared_ptr<const TpmtPublic> ek;  // null: no ek_public
  std::optional<std::string> match;
};

// The qualified_signers key into `key` (its buffer reused): the AK's and
// the EK's addresses and the qualifiedSigner bytes (see
// QualifiedSignerAnswer).
void AssignQualifiedSignerKey(std::string* key, const AkFacts* ak,
                              const TpmtPublic* ek,
                              std::span<const uint8_t> qualified_signer);

// Every cache one TpmVerifier owns.
struct TpmVerifierCaches {
  explicit TpmVerifierCaches(size_t capacity)
      : aks(capacity),
        ek_publics(capacity),
        qualified_signers(capacity),
        certificates(capacity),
        chains(capacity) {}

  // By CacheKey("p", ak_public) or CacheKey("c", certificate DER), or, for
  // a bundle the fast reader read, CacheKey("t", ak_public's base64 text)
  // (canonical base64: one text per byte string, so as exact as the bytes,
  // and the text is stored only once it decoded and the AK was accepted).
  BoundedCache<std::shared_ptr<const AkFacts>> aks;
  // Parsed ek_public, by CacheKey("p", bytes) or CacheKey("t", base64 text)
  // likewise.
  BoundedCache<std::shared_ptr<const TpmtPublic>> ek_publics;
  // By QualifiedSignerKey(AK, EK, qualifiedSigner).
  BoundedCache<QualifiedSignerAnswer> qualified_signers;
  // By the exact text of one Evidence.certificates entry.
  BoundedCache<std::shared_ptr<const std::vector<Certificate>>> certificates;
  // By CacheKey(DER of every presented certificate, in order).
  BoundedCache<VerifiedChainWindow> chains;
};

}  // namespace strongroom::attest::tpm_internal

#endif  // STRONGROOM_ATTEST_TPM_AK_CACHE_H_
