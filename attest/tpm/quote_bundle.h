// The TPM evidence payload: a JSON "quote bundle" (docs/attestation-tpm.md)
//
//   {"format": "strongroom-tpm-quote/1",
//    "quote": base64 TPMS_ATTEST (the TPM2B_ATTEST contents),
//    "signature": base64 TPMT_SIGNATURE,
//    "pcrs": {"sha256": {"0": "<hex>", "16": "<hex>"}, "sha1": {...}},
//    "ak_public": base64 TPMT_PUBLIC or TPM2B_PUBLIC   (optional),
//    "ek_public": base64 TPMT_PUBLIC or TPM2B_PUBLIC   (optional)}
//
// Builders for clients (BuildTpmQuoteBundle) and for files written by
// tpm2-tools (tpm2_quote -m/-s, tpm2_pcrread, tpm2_createak -u), and the
// strict parser the verifier uses. The bundle only carries bytes; nothing is
// trusted until TpmVerifier checks it. Free functions; thread-safe.
// Errors are InvalidArgument "tpm quote bundle: <field>: <why>".
#ifndef STRONGROOM_ATTEST_TPM_QUOTE_BUNDLE_H_
#define STRONGROOM_ATTEST_TPM_QUOTE_BUNDLE_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "attest/tpm/tpm_structures.h"
#include "base/bytes.h"

namespace strongroom::attest {

inline constexpr absl::string_view kTpmQuoteBundleFormat =
    "strongroom-tpm-quote/1";

// PCR values by bank (TPM_ALG_ID of the hash) then PCR index.
using TpmPcrValues = std::map<uint16_t, std::map<uint32_t, Bytes>>;

struct TpmQuoteBundle {
  Bytes quote;       // TPMS_ATTEST
  Bytes signature;   // TPMT_SIGNATURE
  TpmPcrValues pcrs;
  Bytes ak_public;   // TPMT_PUBLIC or TPM2B_PUBLIC; empty = absent
  Bytes ek_public;   // optional: lets the verifier check an AK created
                     // under the EK (qualifiedSigner); empty = absent
};

// The JSON text of `bundle` (compact, keys sorted).
std::string BuildTpmQuoteBundle(const TpmQuoteBundle& bundle);

// Parses and checks the JSON shape: format string, base64 fields, bank
// names (sha1/sha256/sha384/sha512), PCR indices 0..31 in decimal, PCR
// values of the bank's digest size; unknown members are refused. The TPM
// structures inside are not parsed here.
absl::StatusOr<TpmQuoteBundle> ParseTpmQuoteBundle(absl::string_view json);

// PCR values from text: tpm2_pcrread output ("  sha256:" then
// "    16: 0x61..."), or "<index> <hex>" lines under an optional
// "# hash alg TPM_ALG_ID 0xb" header (else `default_bank`). Blank lines and
// other "#" comments are skipped; anything else is an error naming the line.
absl::StatusOr<TpmPcrValues> ParsePcrListing(
    absl::string_view text, uint16_t default_bank = kTpmAlgSha256);

// The raw file contents tpm2-tools writes (or the go-tpm-tools extracts in
// shared/vectors): attest = tpm2_quote -m, signature = tpm2_quote -s
// (TPMT_SIGNATURE), pcr_listing = see ParsePcrListing, ak_public =
// tpm2_createak -u (TPM2B_PUBLIC) or a TPMT_PUBLIC, ek_public likewise.
struct Tpm2ToolsQuoteFiles {
  absl::string_view attest;
  absl::string_view signature;
  absl::string_view pcr_listing;
  absl::string_view ak_public;  // may be empty
  absl::string_view ek_public;  // may be empty
};

// A bundle from tpm2-tools outputs. The quote, signature and public areas
// are parsed first so that a wrong file is reported here, by name.
absl::StatusOr<std::string> BuildTpmQuoteBundleFromTpm2Tools(
    const Tpm2ToolsQuoteFiles& files);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_TPM_QUOTE_BUNDLE_H_
