// The outcome of appraising one piece of evidence, in the shape of an IETF
// RATS EAR (draft-ietf-rats-ear, ../shared/vectors/ear): an overall status
// (affirming / warning / contraindicated / none) derived from an AR4SI
// trustworthiness vector, plus the normalized claims.
//
// A verifier that cannot trust the evidence at all (bad signature, broken
// chain, wrong nonce, malformed input) returns an error Status instead of an
// Appraisal; an Appraisal with kContraindicated is produced when the
// evidence is authentic but says something disqualifying (e.g. TDX TCB
// status Revoked). Value type.
#ifndef STRONGROOM_ATTEST_APPRAISAL_H_
#define STRONGROOM_ATTEST_APPRAISAL_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "attest/claims.h"
#include "nlohmann/json_fwd.hpp"

namespace strongroom::attest {

// AR4SI trust tiers; the numeric values are the EAR encodings' tier bounds.
enum class TrustTier { kNone = 0, kAffirming = 2, kWarning = 32,
                       kContraindicated = 96 };

absl::string_view TrustTierName(TrustTier tier);  // "affirming", ...

// AR4SI trustworthiness claims (draft-ietf-rats-ar4si section 2.3). Each is
// an int8 in the EAR; 0 = no claim. Common codes: 2 affirming, 32 warning,
// 96 contraindicated, plus the claim-specific ones below.
struct TrustVector {
  int8_t instance_identity = 0;  // 2 trustworthy instance (signed by HW key)
  int8_t configuration = 0;      // 2 approved config; 32 unsafe (debug); 36 ...
  int8_t executables = 0;        // 2 approved runtime; 3 approved boot only
  int8_t file_system = 0;
  int8_t hardware = 0;           // 2 genuine; 32 TCB out of date; 96 revoked
  int8_t runtime_opaque = 0;     // 2 encrypted memory (TEE)
  int8_t storage_opaque = 0;
  int8_t sourced_data = 0;

  // The worst tier among the claims (none when all are 0).
  TrustTier Tier() const;
  nlohmann::json ToJson() const;  // {"instance-identity": 2, ...} non-zero only
};

TrustTier TierOf(int8_t claim);

struct Appraisal {
  std::string tee;  // "snp", "tdx", "tpm", "nvidia", "dev"
  Claims claims;
  TrustVector trust;
  std::vector<std::string> warnings;  // e.g. "trailing bytes after quote"
  TrustTier status() const { return trust.Tier(); }
  // EAR submodule appraisal: {"ear.status": "...", "ear.trustworthiness-vector": {...}}
  nlohmann::json ToEarSubmodule() const;
};

// The overall status of several appraisals: contraindicated if any is,
// else none if any is none (or there are none), else warning if any is,
// else affirming. Not the numeric maximum: none (0) ranks below affirming.
TrustTier OverallTier(std::span<const Appraisal> appraisals);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_APPRAISAL_H_
