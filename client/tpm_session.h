// Internal to client_workload: one TSS2 ESYS connection with the commands
// TpmAttester needs. Keys it creates or loads are transient; the caller
// flushes them (ScopedTpmKey) because swtpm has no resource manager and holds
// only three. Errors: Unavailable when the TCTI cannot be opened, Internal
// naming the ESYS call and the decoded return code otherwise. Not
// thread-safe; one session per connection.
#ifndef STRONGROOM_CLIENT_TPM_SESSION_H_
#define STRONGROOM_CLIENT_TPM_SESSION_H_

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tcti.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "attest/tpm/quote_bundle.h"
#include "base/bytes.h"
#include "client/tpm_attester.h"

namespace strongroom::client::internal {

struct TpmKeyHandle {
  ESYS_TR handle = ESYS_TR_NONE;
  bool transient = true;
  Bytes public_area;  // marshalled TPMT_PUBLIC
};

struct TpmQuote {
  Bytes attest;     // TPMS_ATTEST
  Bytes signature;  // TPMT_SIGNATURE
};

class TpmSession {
 public:
  static absl::StatusOr<std::unique_ptr<TpmSession>> Connect(const std::string& tcti);
  ~TpmSession();
  TpmSession(const TpmSession&) = delete;
  TpmSession& operator=(const TpmSession&) = delete;

  // The AK template (ECDSA P-256 SHA-256, restricted signing) as a primary
  // key of the endorsement or owner hierarchy.
  absl::StatusOr<TpmKeyHandle> CreatePrimaryAk(bool endorsement);
  // The TCG default EK (EK Credential Profile templates L-1 / L-2).
  absl::StatusOr<TpmKeyHandle> CreateEk(TpmEkKind kind);
  absl::StatusOr<TpmKeyHandle> Persistent(uint32_t handle);
  // A new AK under `ek`: {TPM2B_PUBLIC, TPM2B_PRIVATE}, marshalled.
  absl::StatusOr<std::pair<Bytes, Bytes>> CreateAkUnderEk(const TpmKeyHandle& ek);
  absl::StatusOr<TpmKeyHandle> LoadUnderEk(const TpmKeyHandle& ek, const Bytes& public_2b,
                                           const Bytes& private_2b);
  absl::StatusOr<TpmQuote> Quote(const TpmKeyHandle& ak, std::span<const uint8_t> nonce,
                                 const std::vector<TpmPcrBank>& pcrs);
  absl::StatusOr<attest::TpmPcrValues> ReadPcrs(const std::vector<TpmPcrBank>& pcrs);
  absl::Status Persist(const TpmKeyHandle& key, uint32_t handle);
  // Flushes a transient key; persistent ones are only released from ESYS.
  void Release(TpmKeyHandle& key);

 private:
  TpmSession(TSS2_TCTI_CONTEXT* tcti, ESYS_CONTEXT* esys) : tcti_(tcti), esys_(esys) {}
  absl::StatusOr<TpmKeyHandle> CreatePrimary(ESYS_TR hierarchy, const TPM2B_PUBLIC& in);
  // A policy session satisfying the EK's PolicySecret(TPM_RH_ENDORSEMENT).
  absl::StatusOr<ESYS_TR> EkPolicySession();

  TSS2_TCTI_CONTEXT* tcti_;
  ESYS_CONTEXT* esys_;
};

// Flushes the key when it goes out of scope.
class ScopedTpmKey {
 public:
  ScopedTpmKey(TpmSession& session, TpmKeyHandle key) : session_(session), key_(std::move(key)) {}
  ~ScopedTpmKey() { session_.Release(key_); }
  ScopedTpmKey(const ScopedTpmKey&) = delete;
  ScopedTpmKey& operator=(const ScopedTpmKey&) = delete;
  const TpmKeyHandle& get() const { return key_; }

 private:
  TpmSession& session_;
  TpmKeyHandle key_;
};

}  // namespace strongroom::client::internal

#endif  // STRONGROOM_CLIENT_TPM_SESSION_H_
