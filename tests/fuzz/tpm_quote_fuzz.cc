// Fuzz target for the TPM 2.0 quote parsers: the same bytes go to the
// TPMS_ATTEST, TPMT_SIGNATURE and TPMT_PUBLIC / TPM2B_PUBLIC decoders (and,
// when they parse, to Name and public-key derivation), to the PCR listing
// parser, and, as a JSON quote bundle, through TpmVerifier::Verify with no
// trusted AK (everything up to and including the signature check runs
// before the trust decision).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "absl/time/time.h"
#include "attest/tpm/quote_bundle.h"
#include "attest/tpm/tpm_structures.h"
#include "attest/tpm/tpm_verifier.h"

namespace {

const strongroom::attest::TpmVerifier& NoTrustVerifier() {
  static const auto* verifier =
      strongroom::attest::TpmVerifier::Create({}).value().release();
  return *verifier;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strongroom::attest;
  std::span<const uint8_t> bytes(data, size);
  (void)ParseTpmsAttest(bytes);
  (void)ParseTpmtSignature(bytes);
  (void)ParseTpmtPublic(bytes);
  if (auto pub = ParseTpmPublicBlob(bytes); pub.ok()) {
    (void)TpmName(*pub);
    (void)TpmPublicKey(*pub);
  }
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ParsePcrListing(text);
  if (auto bundle = ParseTpmQuoteBundle(text); bundle.ok()) {
    (void)BuildTpmQuoteBundle(*bundle);
    Evidence evidence;
    evidence.type = EvidenceType::kTpm;
    evidence.payload = std::string(text);
    VerifyContext ctx;
    ctx.at = absl::FromUnixSeconds(1700000000);
    (void)NoTrustVerifier().Verify(evidence, ctx);
  }
  return 0;
}
