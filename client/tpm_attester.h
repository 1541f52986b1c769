// TpmAttester: TPM 2.0 quotes for the key broker, through TSS2 ESYS on any
// TCTI ("swtpm:host=127.0.0.1,port=2321", "device:/dev/tpmrm0", "" for the
// TSS default).
//
// Attest(binding) connects, gets the attestation key (AK), runs
// TPM2_Quote(AK, qualifyingData = binding, the configured PCRs), reads the
// PCR values, checks that they hash to the quote's pcrDigest (else a PCR was
// extended in between: it tries again), and returns one "tpm" EvidenceItem
// whose payload is the quote bundle attest/tpm/quote_bundle.h defines (with
// ak_public, and ek_public for an AK under the EK). Transient objects are
// flushed before it returns, so it also works without a resource manager
// (swtpm); it holds no connection between calls.
//
// The AK is an ECDSA P-256 / SHA-256 restricted signing key, one of:
//   kEndorsementPrimary  a primary key in the endorsement hierarchy, made
//                        from a fixed template: the same key on every call
//                        on the same TPM, with nothing stored (default);
//   kOwnerPrimary        the same in the owner (storage) hierarchy;
//   kPersistent          whatever AK lives at ak_handle (TPM2_EvictControl,
//                        e.g. PersistAk() or tpm2_evictcontrol);
//   kEkChild             a child of the EK loaded from TPM2B_PUBLIC /
//                        TPM2B_PRIVATE files (CreateEkChildAk(), or
//                        tpm2_createak -C ek -u ak.pub -r ak.priv).
// Hierarchy authorizations are assumed empty. The server trusts an AK by its
// public key (attestation.tpm.trusted_ak_keys: ak_public_key_pem()) or by a
// certificate chain; see docs/workload.md.
//
// Errors: Unavailable when the TCTI cannot be opened; Internal naming the
// ESYS call and decoded TPM return code when a command fails;
// FailedPrecondition when a persistent or loaded key is not a restricted
// signing key; Aborted when the PCRs kept changing; InvalidArgument for
// bad options. Not thread-safe.
#ifndef STRONGROOM_CLIENT_TPM_ATTESTER_H_
#define STRONGROOM_CLIENT_TPM_ATTESTER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "attest/tpm/tpm_structures.h"
#include "base/bytes.h"
#include "client/attester.h"

namespace strongroom::client {

// One PCR bank and the PCRs quoted from it.
struct TpmPcrBank {
  uint16_t hash_alg = attest::kTpmAlgSha256;
  std::vector<uint32_t> pcrs;  // ascending, 0..23
};

// sha256:0-7,16
std::vector<TpmPcrBank> DefaultTpmPcrSelection();
// "sha256:0-7,16" or several banks joined by '+' ("sha1:0+sha256:0,16");
// banks sha1, sha256, sha384, sha512; PCRs 0..23, ranges a-b. InvalidArgument
// naming "pcrs" and the part at fault.
absl::StatusOr<std::vector<TpmPcrBank>> ParseTpmPcrSelection(absl::string_view text);
std::string FormatTpmPcrSelection(const std::vector<TpmPcrBank>& banks);

enum class TpmAkSource { kEndorsementPrimary, kOwnerPrimary, kPersistent, kEkChild };
// The TCG EK template a kEkChild AK was created under: L-2 (ECC NIST P-256)
// or L-1 (RSA 2048).
enum class TpmEkKind { kEcc, kRsa };

struct TpmAttesterOptions {
  std::string tcti;
  std::vector<TpmPcrBank> pcrs = DefaultTpmPcrSelection();
  TpmAkSource ak_source = TpmAkSource::kEndorsementPrimary;
  uint32_t ak_handle = 0;        // kPersistent: 0x81000000..0x81ffffff
  std::string ak_public_file;    // kEkChild: TPM2B_PUBLIC
  std::string ak_private_file;   // kEkChild: TPM2B_PRIVATE
  TpmEkKind ek_kind = TpmEkKind::kEcc;  // kEkChild
  int max_attempts = 3;          // quotes tried while PCRs change
};

class TpmAttester final : public Attester {
 public:
  // Checks the options, connects once and reads the AK's public area.
  static absl::StatusOr<std::unique_ptr<TpmAttester>> Create(TpmAttesterOptions options);

  std::string type() const override { return "tpm"; }
  absl::StatusOr<std::vector<strongroom::v1::EvidenceItem>> Attest(
      std::span<const uint8_t> binding) override;

  // The AK as PEM SubjectPublicKeyInfo (for attestation.tpm.trusted_ak_keys)
  // and as the marshalled TPMT_PUBLIC.
  const std::string& ak_public_key_pem() const { return ak_pem_; }
  const Bytes& ak_public_area() const { return ak_public_; }

  // Makes the AK persistent at `handle` (owner range 0x81000000..0x817fffff)
  // with TPM2_EvictControl under the owner hierarchy. Later attesters can
  // use kPersistent with that handle.
  absl::Status PersistAk(uint32_t handle);
  // OK when `handle` is in that range (PersistAk's first check, for callers
  // that check their flags before they change anything).
  static absl::Status CheckPersistentHandle(uint32_t handle);
  // A handle as the CLI and the worker take it: "0x" and 1 to 8 hex digits,
  // nothing else (no second 0x, sign or space); nullopt otherwise.
  static std::optional<uint32_t> ParseHandle(absl::string_view text);

 private:
  TpmAttester(TpmAttesterOptions options, Bytes ak_private, Bytes ak_public_2b)
      : options_(std::move(options)),
        ak_private_2b_(std::move(ak_private)),
        ak_public_2b_(std::move(ak_public_2b)) {}

  TpmAttesterOptions options_;
  Bytes ak_private_2b_;  // kEkChild: the file contents
  Bytes ak_public_2b_;
  Bytes ak_public_;      // TPMT_PUBLIC
  Bytes ek_public_;      // TPMT_PUBLIC, kEkChild only
  std::string ak_pem_;
};

// Creates a fresh ECDSA P-256 AK under the EK of `ek_kind` and writes its
// TPM2B_PUBLIC and TPM2B_PRIVATE to the two files (mode 0600), for
// TpmAkSource::kEkChild. The private blob is wrapped by the EK: it is useless
// off this TPM.
absl::Status CreateEkChildAk(const std::string& tcti, TpmEkKind ek_kind,
                             const std::string& public_file, const std::string& private_file);

}  // namespace strongroom::client

#endif  // STRONGROOM_CLIENT_TPM_ATTESTER_H_
