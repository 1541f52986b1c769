// AMD SEV-SNP endorsement keys (VCEK, VLEK) and their chains to AMD's roots.
//
// A VCEK is issued per chip and TCB by the product's ASK ("SEV-Milan"), a
// VLEK per cloud provider by the ASVK ("SEV-VLEK-Milan"); both chain to the
// product's self-signed ARK ("ARK-Milan"). The VCEK carries its TCB and the
// chip's hwID as extensions (AMD "VCEK Certificate and KDS Interface
// Specification"): 1.3.6.1.4.1.3704.1.2 product name (IA5String), .1.3.1 bl,
// .1.3.2 tee, .1.3.3 snp, .1.3.8 ucode, .1.3.9 fmc (Turin) (DER INTEGER), and
// .1.4 hwID (the raw chip id, or the same wrapped in a DER OCTET STRING).
//
// Everything here is a pure function of its inputs and thread-compatible.
// Errors: InvalidArgument for a certificate whose SNP extensions do not
// decode; PermissionDenied for a certificate or chain that does not match or
// verify; FailedPrecondition when a certificate the chain needs is missing.
#ifndef STRONGROOM_ATTEST_SNP_VCEK_H_
#define STRONGROOM_ATTEST_SNP_VCEK_H_

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "attest/snp/snp_report.h"
#include "attest/x509.h"
#include "base/bytes.h"

namespace strongroom::attest {

// SHA-256 of the DER SubjectPublicKeyInfo of AMD's ARK for `product` (the
// trust anchors; see vcek.cc for how they were obtained).
absl::string_view PinnedArkSpkiSha256(SnpProduct product);

// What a VCEK or VLEK certificate says about the platform.
struct SnpEndorsementKey {
  Certificate cert;
  SnpSigningKey kind = SnpSigningKey::kVcek;  // kVcek or kVlek
  SnpProduct product = SnpProduct::kMilan;
  std::string product_name;   // extension value ("Milan-B0"), "" if absent
  SnpTcb tcb;                 // from the TCB extensions
  std::optional<Bytes> hwid;  // the chip id it was issued for (VCEK)
};

// Whether `cert` is shaped like an SNP leaf: not a CA, issued by "SEV-<P>"
// (VCEK) or "SEV-VLEK-<P>" (VLEK) for a known product. Cheap, no decoding.
std::optional<SnpSigningKey> SnpLeafKindOf(const Certificate& cert);

// Classifies `cert` and decodes its SNP extensions. The product comes from
// the issuer name and must agree with the product-name extension if present.
absl::StatusOr<SnpEndorsementKey> DecodeSnpEndorsementKey(
    const Certificate& cert);

// The report's reported_tcb (decoded per the key's product) must equal the
// key's TCB extensions, component by component. PermissionDenied naming the
// first component that differs.
absl::Status CheckReportedTcb(const SnpReport& report,
                              const SnpEndorsementKey& key);

// A VCEK's hwID must equal the report's chip_id (Turin: its first 8 bytes).
// Skipped when the report's chip_id is all zero (the host set MASK_CHIP_ID)
// or the key is a VLEK (not chip-bound). PermissionDenied on mismatch;
// a VCEK without hwID is InvalidArgument.
absl::Status CheckChipId(const SnpReport& report, const SnpEndorsementKey& key);

// A verified leaf -> ASK/ASVK -> ARK chain and the interval in which every
// certificate in it is valid.
struct SnpChain {
  std::vector<Certificate> certs;
  absl::Time valid_from;
  absl::Time valid_until;
};

// Picks the intermediate ("SEV-<P>" for a VCEK, "SEV-VLEK-<P>" for a VLEK)
// and the root ("ARK-<P>") for the key's product from `pool` and verifies
// the chain at `at` with the root pinned to `ark_spki_sha256`. A pool that
// only holds another product's (or key type's) intermediate or root is
// PermissionDenied naming both; one holding none is FailedPrecondition.
absl::StatusOr<SnpChain> VerifySnpChain(const SnpEndorsementKey& key,
                                        std::span<const Certificate> pool,
                                        absl::Time at,
                                        absl::string_view ark_spki_sha256);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_SNP_VCEK_H_
