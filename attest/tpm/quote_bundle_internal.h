// The two readers behind ParseTpmQuoteBundle (internal to attest_tpm; the
// fuzz target compares them).
//
// ReadTpmQuoteBundleFast is a single pass over the bundle as
// BuildTpmQuoteBundle writes it, and over any JSON of the same shape whose
// strings are plain printable ASCII without escapes: about ten times faster
// than building the nlohmann DOM, which cost as much as an RSA-2048 quote
// signature check. It returns a bundle only where ParseTpmQuoteBundleDom
// returns the same one; for anything else (escapes, non-ASCII, another value
// type, a duplicate or unknown member, a value the checks refuse) it returns
// nullopt, and ParseTpmQuoteBundle then runs the DOM reader, so what is
// accepted and every error message are the DOM reader's. Thread-safe.
#ifndef STRONGROOM_ATTEST_TPM_QUOTE_BUNDLE_INTERNAL_H_
#define STRONGROOM_ATTEST_TPM_QUOTE_BUNDLE_INTERNAL_H_

#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "attest/tpm/quote_bundle.h"

namespace strongroom::attest::tpm_internal {

std::optional<TpmQuoteBundle> ReadTpmQuoteBundleFast(absl::string_view json);
absl::StatusOr<TpmQuoteBundle> ParseTpmQuoteBundleDom(absl::string_view json);

}  // namespace strongroom::attest::tpm_internal

#endif  // STRONGROOM_ATTEST_TPM_QUOTE_BUNDLE_INTERNAL_H_
