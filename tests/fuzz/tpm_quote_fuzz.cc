// Fuzz target for the TPM 2.0 quote parsers: the same bytes go to the
// TPMS_ATTEST, TPMT_SIGNATURE and TPMT_PUBLIC / TPM2B_PUBLIC decoders (and,
// when they parse, to Name and public-key derivation), to the PCR listing
// parser, and, as a JSON quote bundle, through TpmVerifier::Verify with no
// trusted AK (everything up to and including the signature check runs
// before the trust decision). The bundle's fast reader must agree with the
// DOM reader wherever it answers (a disagreement aborts).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>

#include "absl/time/time.h"
#include "attest/tpm/quote_bundle.h"
#include "attest/tpm/quote_bundle_internal.h"
#include "attest/tpm/tpm_structures.h"
#include "attest/tpm/tpm_verifier.h"

namespace {

const strongroom::attest::TpmVerifier& NoTrustVerifier() {
  static const auto* verifier =
      strongroom::attest::TpmVerifier::Create({}).value().release();
  return *verifier;
}

bool SameBundle(const strongroom::attest::TpmQuoteBundle& a,
                const strongroom::attest::TpmQuoteBundle& b) {
  return a.quote == b.quote && a.signature == b.signature &&
         a.pcrs == b.pcrs && a.ak_public == b.ak_public &&
         a.ek_public == b.ek_public;
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
  if (auto fast = tpm_internal::ReadTpmQuoteBundleFast(text)) {
    auto dom = tpm_internal::ParseTpmQuoteBundleDom(text);
    if (!dom.ok() || !SameBundle(*fast, *dom)) {
      std::fprintf(stderr, "tpm_quote_fuzz: the fast bundle reader accepted "
                           "what the DOM reader %s\n",
                   dom.ok() ? "reads differently" : "refuses");
      std::abort();
    }
  }
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
