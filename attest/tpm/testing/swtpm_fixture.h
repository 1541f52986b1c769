// Test support: a private swtpm per test, driven through TSS2 ESYS.
//
// Swtpm::Start() manufactures a fresh vTPM in a temp directory with
// swtpm_setup (EK certificates for RSA-2048 and ECC P-256 signed by a
// swtpm-localca whose CA lives in the same temp directory, so tests never
// touch /var/lib/swtpm-localca), then runs `swtpm socket` on 127.0.0.1 on two
// free ports (the swtpm TCTI of tpm2-tss 3.x speaks TCP only, control port =
// server port + 1). The destructor stops swtpm and removes the directory.
//
// TpmSession is one ESYS context on that TPM with the few commands the
// tests (and, later, the workload-side attester) need. The swtpm TCTI has
// no resource manager: flush what you create; three transient objects fit.
// Neither class is thread-safe. Errors are Internal/Unavailable naming the
// command and the decoded TSS2 return code.
#ifndef STRONGROOM_ATTEST_TPM_TESTING_SWTPM_FIXTURE_H_
#define STRONGROOM_ATTEST_TPM_TESTING_SWTPM_FIXTURE_H_

#include <sys/types.h>
#include <tss2/tss2_esys.h>

#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"

namespace strongroom::attest::testing {

class Swtpm {
 public:
  // True when swtpm, swtpm_setup and swtpm_localca are installed.
  static bool Installed();
  static absl::StatusOr<std::unique_ptr<Swtpm>> Start();
  ~Swtpm();

  // "swtpm:host=127.0.0.1,port=N" for Tss2_TctiLdr_Initialize.
  std::string tcti() const;
  // The test-local EK CA: root and intermediate certificate PEM.
  absl::StatusOr<std::string> EkCaRootPem() const;
  absl::StatusOr<std::string> EkCaIssuerPem() const;

 private:
  Swtpm(std::string dir) : dir_(std::move(dir)) {}
  absl::Status Launch();

  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

enum class TpmKeyKind { kRsa, kEcc };
inline void PrintTo(TpmKeyKind k, std::ostream* os) {
  *os << (k == TpmKeyKind::kRsa ? "rsa" : "ecc");
}

struct TpmKey {
  ESYS_TR handle = ESYS_TR_NONE;
  Bytes public_area;  // marshalled TPMT_PUBLIC
  Bytes name;         // as the TSS computes it (Esys_TR_GetName)
};

struct TpmQuoteOutput {
  Bytes attest;     // TPMS_ATTEST
  Bytes signature;  // marshalled TPMT_SIGNATURE
};

class TpmSession {
 public:
  static absl::StatusOr<std::unique_ptr<TpmSession>> Connect(const std::string& tcti);
  ~TpmSession();

  // The TCG default EK (templates L-1 / L-2) in the endorsement hierarchy.
  absl::StatusOr<TpmKey> CreateEk(TpmKeyKind kind);
  // A restricted signing primary key in the endorsement hierarchy
  // (RSASSA-SHA256 or ECDSA-P256-SHA256); `unique` varies the key.
  absl::StatusOr<TpmKey> CreateAk(TpmKeyKind kind, absl::string_view unique = "");
  // A persistent key (swtpm_setup leaves the RSA EK at 0x81010001 and the
  // ECC P-384 EK at 0x81010016). Not to be flushed.
  absl::StatusOr<TpmKey> Persistent(uint32_t handle);
  absl::Status Flush(ESYS_TR handle);

  absl::StatusOr<Bytes> ReadNv(uint32_t nv_index);
  absl::Status ExtendPcrSha256(uint32_t pcr, const Bytes& digest);
  absl::StatusOr<std::map<uint32_t, Bytes>> ReadPcrsSha256(const std::vector<uint32_t>& pcrs);
  absl::StatusOr<TpmQuoteOutput> QuoteSha256(ESYS_TR ak, const Bytes& nonce,
                                             const std::vector<uint32_t>& pcrs);
  // TPM2_ActivateCredential(ak, ek). The EK is authorized with its password
  // when its userWithAuth is set, else with PolicySecret(TPM_RH_ENDORSEMENT)
  // (template L-1); blob and secret are the TPM2B forms (size-prefixed).
  absl::StatusOr<SecretBytes> ActivateCredential(ESYS_TR ak, const TpmKey& ek,
                                                 const Bytes& credential_blob,
                                                 const Bytes& encrypted_secret);

 private:
  TpmSession(TSS2_TCTI_CONTEXT* tcti, ESYS_CONTEXT* esys) : tcti_(tcti), esys_(esys) {}
  // The ESYS object for a TPM handle (a persistent key, an NV index).
  absl::StatusOr<ESYS_TR> FromTpmHandle(uint32_t tpm_handle);
  absl::StatusOr<TpmKey> CreatePrimary(const TPM2B_PUBLIC& in);
  absl::StatusOr<TpmKey> Describe(ESYS_TR handle, const TPM2B_PUBLIC& pub);

  TSS2_TCTI_CONTEXT* tcti_;
  ESYS_CONTEXT* esys_;
};

}  // namespace strongroom::attest::testing

#endif  // STRONGROOM_ATTEST_TPM_TESTING_SWTPM_FIXTURE_H_
