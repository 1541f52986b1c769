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

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "attest/tpm/quote_bundle.h"
#include "base/bytes.h"

namespace strongroom::attest::tpm_internal {

std::optional<TpmQuoteBundle> ReadTpmQuoteBundleFast(absl::string_view json);
absl::StatusOr<TpmQuoteBundle> ParseTpmQuoteBundleDom(absl::string_view json);

// TpmPcrValues without a heap allocation: the four banks a bundle may carry
// (sha1, sha256, sha384, sha512: TPM_ALG_ID order, as std::map orders them)
// with PCRs 0..31 each, in fixed storage (~8 KB; TpmVerifier keeps one per
// thread). Holds exactly what a TpmPcrValues of those banks and indices
// holds, including a bank present with no PCRs.
struct FlatPcrs {
  static constexpr size_t kBanks = 4;
  static constexpr uint32_t kPcrs = 32;
  static constexpr size_t kMaxDigest = 64;
  struct Bank {
    bool present = false;
    uint32_t supplied = 0;  // bit i: PCR i supplied
    uint8_t values[kPcrs][kMaxDigest];
  };

  // The bank's slot, or -1 for any other algorithm.
  static int Slot(uint16_t alg);
  static uint16_t AlgOfSlot(int slot);

  void Clear();
  // The value of PCR `index` in bank `alg`; an empty span when not supplied.
  std::span<const uint8_t> Find(uint16_t alg, uint32_t index) const;
  // From a map whose banks and indices all fit (as ParseTpmQuoteBundleDom
  // and ParsePcrListing produce); false otherwise.
  bool AssignFrom(const TpmPcrValues& pcrs);
  TpmPcrValues ToMap() const;

  Bank banks[kBanks];
};

// The fast reader's result with the optional public areas left as their
// base64 text (pointing into the JSON), so that TpmVerifier can look the AK
// and EK up by text and decode them only on a cache miss. The text is not
// checked here: DecodeCanonicalBase64 decides, and where it refuses (or the
// decoded area is empty) ReadTpmQuoteBundleFast would have returned nullopt,
// so the caller must then use ParseTpmQuoteBundleDom. Canonical base64 is
// one text per byte string, so the text identifies the bytes exactly.
struct FastBundleView {
  Bytes quote;
  Bytes signature;
  FlatPcrs pcrs;
  bool has_ak_public = false;
  absl::string_view ak_public_base64;
  bool has_ek_public = false;
  absl::string_view ek_public_base64;
};

// false where ReadTpmQuoteBundleFast returns nullopt for any reason other
// than the two public areas' text. Reuses `out`'s buffers.
bool ReadTpmQuoteBundleFastView(absl::string_view json, FastBundleView* out);

// Canonical base64 (standard alphabet, '=' padding, zero pad bits) of a
// non-empty byte string into `out`; false for anything else.
bool DecodeCanonicalBase64NonEmpty(absl::string_view text, Bytes* out);

}  // namespace strongroom::attest::tpm_internal

#endif  // STRONGROOM_ATTEST_TPM_QUOTE_BUNDLE_INTERNAL_H_
