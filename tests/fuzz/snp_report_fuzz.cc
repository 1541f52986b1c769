// Fuzzes the SEV-SNP report parser and claim decoding, and the VCEK
// extension decoder (the same bytes tried as a DER certificate).
#include <cstddef>
#include <cstdint>
#include <span>

#include "attest/snp/snp_report.h"
#include "attest/snp/vcek.h"
#include "attest/x509.h"

using namespace strongroom::attest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  auto report = ParseSnpReport(in);
  if (report.ok()) {
    for (SnpProduct p :
         {SnpProduct::kMilan, SnpProduct::kGenoa, SnpProduct::kTurin}) {
      Claims c = SnpReportClaims(*report, p);
      (void)c.size();
    }
    (void)SnpProductFromCpuid(*report);
    (void)report->chip_id_masked();
  }
  auto cert = Certificate::FromDer(in, "fuzz");
  if (cert.ok()) {
    (void)SnpLeafKindOf(*cert);
    auto key = DecodeSnpEndorsementKey(*cert);
    if (key.ok() && report.ok()) {
      (void)CheckReportedTcb(*report, *key);
      (void)CheckChipId(*report, *key);
    }
  }
  return 0;
}
