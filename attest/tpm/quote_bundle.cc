#include "attest/tpm/quote_bundle.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "attest/fast_json.h"
#include "attest/tpm/quote_bundle_internal.h"
#include "attest/unique_json.h"
#include "base/simd_text.h"
#include "base/status_macros.h"
#include "nlohmann/json.hpp"

namespace strongroom::attest {
namespace {

constexpr uint32_t kMaxPcrIndex = 31;

absl::Status BundleError(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("tpm quote bundle: ", field, ": ", why));
}

absl::StatusOr<uint32_t> ParsePcrIndex(absl::string_view s,
                                       absl::string_view field) {
  uint32_t index = 0;
  bool digits = !s.empty() && s.size() <= 2 &&
                absl::c_all_of(s, [](char c) { return absl::ascii_isdigit(c); });
  if (!digits || (s.size() > 1 && s[0] == '0') || !absl::SimpleAtoi(s, &index) ||
      index > kMaxPcrIndex) {
    return BundleError(field, absl::StrCat("PCR index '", s,
                                           "' is not a decimal 0..31"));
  }
  return index;
}

absl::StatusOr<Bytes> ParsePcrValue(uint16_t bank, absl::string_view hex,
                                    absl::string_view field) {
  ASSIGN_OR_RETURN(Bytes value, HexDecode(hex, field));
  if (value.size() != TpmHashSize(bank)) {
    return BundleError(field, absl::StrCat(value.size(), " bytes for a ",
                                           TpmAlgName(bank), " PCR (want ",
                                           TpmHashSize(bank), ")"));
  }
  return value;
}

// Strict decoders for the fast reader: they accept a subset of what the DOM
// reader's Base64Decode / HexDecode accept, decode it to the same bytes, and
// refuse (false) everything else, including every byte that is not ASCII
// alphanumeric or '+', '/', '=' (so also '\\', '"', controls, non-ASCII).
// Tables, and writing straight into the output: the generic decoders went
// through a std::string and a per-character lambda.
constexpr uint8_t kBad = 0xff;

// Each character's base64 value, kBad for anything outside the alphabet.
constexpr std::array<uint8_t, 256> kBase64Values = [] {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kBad;
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(alphabet[i])] = static_cast<uint8_t>(i);
  return t;
}();

// Canonical base64: the standard alphabet, padded to a multiple of 4 with
// '=' only at the end, and zero pad bits (the one encoding of its bytes).
bool DecodeCanonicalBase64(absl::string_view in, Bytes* out) {
  if (in.empty() || in.size() % 4 != 0) return false;
  const size_t pad = in.back() != '=' ? 0 : in[in.size() - 2] != '=' ? 1 : 2;
  const size_t groups = in.size() / 4;
  out->resize(groups * 3 - pad);
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  uint8_t* o = out->data();
  const auto& t = kBase64Values;
  const size_t full = pad == 0 ? groups : groups - 1;
  // Whole 64-character blocks vectorized where the CPU allows; the rest here.
  const long vectorized = DecodeBase64Blocks(in.data(), full * 4, o);
  if (vectorized < 0) return false;
  p += vectorized;
  o += vectorized / 4 * 3;
  for (size_t g = static_cast<size_t>(vectorized) / 4; g < full; ++g, p += 4, o += 3) {
    const uint32_t a = t[p[0]], b = t[p[1]], c = t[p[2]], d = t[p[3]];
    if (((a | b | c | d) & 0x80) != 0) return false;
    const uint32_t v = a << 18 | b << 12 | c << 6 | d;
    o[0] = static_cast<uint8_t>(v >> 16);
    o[1] = static_cast<uint8_t>(v >> 8);
    o[2] = static_cast<uint8_t>(v);
  }
  if (pad == 1) {
    const uint32_t a = t[p[0]], b = t[p[1]], c = t[p[2]];
    if (((a | b | c) & 0x80) != 0 || (c & 0x3) != 0) return false;
    const uint32_t v = a << 18 | b << 12 | c << 6;
    o[0] = static_cast<uint8_t>(v >> 16);
    o[1] = static_cast<uint8_t>(v >> 8);
  } else if (pad == 2) {
    const uint32_t a = t[p[0]], b = t[p[1]];
    if (((a | b) & 0x80) != 0 || (b & 0xf) != 0) return false;
    o[0] = static_cast<uint8_t>(a << 2 | b >> 4);
  }
  return true;
}

// A PCR value of exactly the bank's digest size, in hex (either case), into
// `out` (FlatPcrs::kMaxDigest bytes).
bool DecodePcrHex(uint16_t bank, absl::string_view hex, uint8_t* out) {
  const size_t size = TpmHashSize(bank);
  if (size == 0 || size > tpm_internal::FlatPcrs::kMaxDigest ||
      hex.size() != 2 * size) {
    return false;
  }
  return DecodeHexInto(hex.data(), hex.size(), out);
}

// The bank named `name` (sha1, sha256, sha384, sha512), as TpmHashFromName
// reads it: its FlatPcrs slot, or -1.
int BankSlotOfName(absl::string_view name) {
  if (name == "sha1") return 0;
  if (name == "sha256") return 1;
  if (name == "sha384") return 2;
  if (name == "sha512") return 3;
  return -1;
}

// A PCR index as ParsePcrIndex accepts it (decimal 0..31, no leading zero);
// -1 for anything else.
int PcrIndexOf(absl::string_view s) {
  if (s.empty() || s.size() > 2) return -1;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
  }
  if (s.size() == 2 && s[0] == '0') return -1;
  const int index = s.size() == 1 ? s[0] - '0' : (s[0] - '0') * 10 + (s[1] - '0');
  return index <= static_cast<int>(kMaxPcrIndex) ? index : -1;
}

// See quote_bundle_internal.h. Every method returns false at the first byte
// it does not handle; nothing here produces an error message. Strings are
// compared with fixed names or decoded by the strict decoders above, which
// refuse anything but printable ASCII (see attest/fast_json.h).
class FastBundleReader {
 public:
  explicit FastBundleReader(absl::string_view in) : json_(in) {}

  bool Read(tpm_internal::FastBundleView* out) {
    absl::string_view format, quote, signature;
    bool has_format = false, has_quote = false, has_signature = false;
    bool has_pcrs = false;
    out->has_ak_public = out->has_ek_public = false;
    out->ak_public_base64 = out->ek_public_base64 = absl::string_view();
    out->pcrs.Clear();
    auto string_member = [&](bool* seen, absl::string_view* value) {
      if (*seen) return false;
      *seen = true;
      return json_.String(value);
    };
    bool ok = json_.Object([&](absl::string_view key) {
      if (key == "format") return string_member(&has_format, &format);
      if (key == "quote") return string_member(&has_quote, &quote);
      if (key == "signature") return string_member(&has_signature, &signature);
      if (key == "ak_public") {
        return string_member(&out->has_ak_public, &out->ak_public_base64);
      }
      if (key == "ek_public") {
        return string_member(&out->has_ek_public, &out->ek_public_base64);
      }
      if (key == "pcrs" && !has_pcrs) {
        has_pcrs = true;
        return Pcrs(&out->pcrs);
      }
      return false;
    });
    return ok && json_.AtEnd() && has_format && has_quote &&
           has_signature && has_pcrs && format == kTpmQuoteBundleFormat &&
           tpm_internal::DecodeCanonicalBase64NonEmpty(quote, &out->quote) &&
           tpm_internal::DecodeCanonicalBase64NonEmpty(signature,
                                                       &out->signature);
  }

 private:
  bool Pcrs(tpm_internal::FlatPcrs* pcrs) {
    return json_.Object([&](absl::string_view bank_name) {
      const int slot = BankSlotOfName(bank_name);
      if (slot < 0) return false;
      tpm_internal::FlatPcrs::Bank& bank = pcrs->banks[slot];
      if (bank.present) return false;
      bank.present = true;
      const uint16_t alg = tpm_internal::FlatPcrs::AlgOfSlot(slot);
      return json_.Object([&](absl::string_view index_text) {
        absl::string_view hex;
        if (!json_.String(&hex)) return false;
        const int index = PcrIndexOf(index_text);
        if (index < 0 || (bank.supplied >> index & 1) != 0) return false;
        bank.supplied |= uint32_t{1} << index;
        return DecodePcrHex(alg, hex, bank.values[index]);
      });
    });
  }

  FastJsonScanner json_;
};

absl::StatusOr<Bytes> Base64Member(const nlohmann::json& j,
                                   absl::string_view name, bool required) {
  auto it = j.find(std::string(name));
  if (it == j.end()) {
    if (required) return BundleError(name, "missing");
    return Bytes{};
  }
  if (!it->is_string()) return BundleError(name, "not a string");
  ASSIGN_OR_RETURN(Bytes out,
                   Base64Decode(it->get_ref<const std::string&>(),
                                absl::StrCat("tpm quote bundle: ", name)));
  if (out.empty()) return BundleError(name, "empty");
  return out;
}

}  // namespace

std::string BuildTpmQuoteBundle(const TpmQuoteBundle& bundle) {
  nlohmann::json j;
  j["format"] = std::string(kTpmQuoteBundleFormat);
  j["quote"] = Base64Encode(bundle.quote);
  j["signature"] = Base64Encode(bundle.signature);
  nlohmann::json pcrs = nlohmann::json::object();
  for (const auto& [bank, values] : bundle.pcrs) {
    nlohmann::json b = nlohmann::json::object();
    for (const auto& [index, value] : values) {
      b[std::to_string(index)] = HexEncode(value);
    }
    pcrs[TpmAlgName(bank)] = std::move(b);
  }
  j["pcrs"] = std::move(pcrs);
  if (!bundle.ak_public.empty()) j["ak_public"] = Base64Encode(bundle.ak_public);
  if (!bundle.ek_public.empty()) j["ek_public"] = Base64Encode(bundle.ek_public);
  return j.dump();
}

absl::StatusOr<TpmQuoteBundle> ParseTpmQuoteBundle(absl::string_view json) {
  if (std::optional<TpmQuoteBundle> fast =
          tpm_internal::ReadTpmQuoteBundleFast(json)) {
    return *std::move(fast);
  }
  return tpm_internal::ParseTpmQuoteBundleDom(json);
}

namespace tpm_internal {

bool ReadTpmQuoteBundleFastView(absl::string_view json, FastBundleView* out) {
  return FastBundleReader(json).Read(out);
}

bool DecodeCanonicalBase64NonEmpty(absl::string_view text, Bytes* out) {
  return DecodeCanonicalBase64(text, out) && !out->empty();
}

std::optional<TpmQuoteBundle> ReadTpmQuoteBundleFast(absl::string_view json) {
  auto view = std::make_unique<FastBundleView>();
  if (!ReadTpmQuoteBundleFastView(json, view.get())) return std::nullopt;
  TpmQuoteBundle bundle;
  if ((view->has_ak_public &&
       !DecodeCanonicalBase64NonEmpty(view->ak_public_base64,
                                      &bundle.ak_public)) ||
      (view->has_ek_public &&
       !DecodeCanonicalBase64NonEmpty(view->ek_public_base64,
                                      &bundle.ek_public))) {
    return std::nullopt;
  }
  bundle.quote = std::move(view->quote);
  bundle.signature = std::move(view->signature);
  bundle.pcrs = view->pcrs.ToMap();
  return bundle;
}

int FlatPcrs::Slot(uint16_t alg) {
  switch (alg) {
    case kTpmAlgSha1:
      return 0;
    case kTpmAlgSha256:
      return 1;
    case kTpmAlgSha384:
      return 2;
    case kTpmAlgSha512:
      return 3;
    default:
      return -1;
  }
}

uint16_t FlatPcrs::AlgOfSlot(int slot) {
  static constexpr uint16_t kAlgs[kBanks] = {kTpmAlgSha1, kTpmAlgSha256,
                                             kTpmAlgSha384, kTpmAlgSha512};
  return kAlgs[slot];
}

void FlatPcrs::Clear() {
  for (Bank& bank : banks) {
    bank.present = false;
    bank.supplied = 0;
  }
}

std::span<const uint8_t> FlatPcrs::Find(uint16_t alg, uint32_t index) const {
  const int slot = Slot(alg);
  if (slot < 0 || index >= kPcrs) return {};
  const Bank& bank = banks[slot];
  if ((bank.supplied >> index & 1) == 0) return {};
  return {bank.values[index], TpmHashSize(alg)};
}

bool FlatPcrs::AssignFrom(const TpmPcrValues& pcrs) {
  Clear();
  for (const auto& [alg, values] : pcrs) {
    const int slot = Slot(alg);
    if (slot < 0) return false;
    Bank& bank = banks[slot];
    bank.present = true;
    for (const auto& [index, value] : values) {
      if (index >= kPcrs || value.size() != TpmHashSize(alg)) return false;
      bank.supplied |= uint32_t{1} << index;
      std::memcpy(bank.values[index], value.data(), value.size());
    }
  }
  return true;
}

TpmPcrValues FlatPcrs::ToMap() const {
  TpmPcrValues out;
  for (int slot = 0; slot < static_cast<int>(kBanks); ++slot) {
    const Bank& bank = banks[slot];
    if (!bank.present) continue;
    const uint16_t alg = AlgOfSlot(slot);
    auto& values = out[alg];
    for (uint32_t index = 0; index < kPcrs; ++index) {
      if ((bank.supplied >> index & 1) == 0) continue;
      values[index].assign(bank.values[index],
                           bank.values[index] + TpmHashSize(alg));
    }
  }
  return out;
}

absl::StatusOr<TpmQuoteBundle> ParseTpmQuoteBundleDom(absl::string_view json) {
  // A repeated member is refused as the one-pass reader refuses it: which
  // copy counted would otherwise depend on the parser.
  std::string duplicate;
  nlohmann::json j = ParseJsonWithUniqueNames(json, &duplicate);
  if (j.is_discarded()) return BundleError("json", "not valid JSON");
  if (!duplicate.empty()) return BundleError(duplicate, "appears twice");
  if (!j.is_object()) return BundleError("json", "not a JSON object");
  for (const auto& [key, unused] : j.items()) {
    if (key != "format" && key != "quote" && key != "signature" &&
        key != "pcrs" && key != "ak_public" && key != "ek_public") {
      return BundleError(key, "unknown member");
    }
  }
  auto format = j.find("format");
  if (format == j.end() || !format->is_string()) {
    return BundleError("format", "missing or not a string");
  }
  if (format->get_ref<const std::string&>() != kTpmQuoteBundleFormat) {
    return BundleError("format",
                       absl::StrCat("'", format->get_ref<const std::string&>(),
                                    "' is not '", kTpmQuoteBundleFormat, "'"));
  }
  TpmQuoteBundle bundle;
  ASSIGN_OR_RETURN(bundle.quote, Base64Member(j, "quote", true));
  ASSIGN_OR_RETURN(bundle.signature, Base64Member(j, "signature", true));
  ASSIGN_OR_RETURN(bundle.ak_public, Base64Member(j, "ak_public", false));
  ASSIGN_OR_RETURN(bundle.ek_public, Base64Member(j, "ek_public", false));
  auto pcrs = j.find("pcrs");
  if (pcrs == j.end() || !pcrs->is_object()) {
    return BundleError("pcrs", "missing or not an object");
  }
  for (const auto& [bank_name, values] : pcrs->items()) {
    std::string field = absl::StrCat("pcrs.", bank_name);
    auto bank = TpmHashFromName(bank_name);
    if (!bank.ok()) {
      return BundleError(field, "not a PCR bank (sha1, sha256, sha384, sha512)");
    }
    if (!values.is_object()) return BundleError(field, "not an object");
    auto& out = bundle.pcrs[*bank];
    for (const auto& [index_text, value] : values.items()) {
      std::string pcr_field = absl::StrCat(field, ".", index_text);
      ASSIGN_OR_RETURN(uint32_t index, ParsePcrIndex(index_text, pcr_field));
      if (!value.is_string()) return BundleError(pcr_field, "not a string");
      ASSIGN_OR_RETURN(out[index],
                       ParsePcrValue(*bank, value.get_ref<const std::string&>(),
                                     absl::StrCat("tpm quote bundle: ",
                                                  pcr_field)));
    }
  }
  return bundle;
}

}  // namespace tpm_internal

absl::StatusOr<TpmPcrValues> ParsePcrListing(absl::string_view text,
                                             uint16_t default_bank) {
  TpmPcrValues out;
  uint16_t bank = default_bank;
  int line_no = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++line_no;
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    std::string field = absl::StrCat("PCR listing line ", line_no);
    if (line.empty()) continue;
    if (absl::ConsumePrefix(&line, "#")) {
      line = absl::StripAsciiWhitespace(line);
      if (absl::ConsumePrefix(&line, "hash alg TPM_ALG_ID ")) {
        uint32_t alg = 0;
        if (!absl::SimpleHexAtoi(line, &alg) || TpmHashSize(alg) == 0) {
          return BundleError(field, absl::StrCat("unsupported bank '", line,
                                                 "'"));
        }
        bank = static_cast<uint16_t>(alg);
      }
      continue;
    }
    if (absl::EndsWith(line, ":")) {
      absl::string_view name = line.substr(0, line.size() - 1);
      auto named = TpmHashFromName(name);
      if (!named.ok()) {
        return BundleError(field, absl::StrCat("'", name, "' is not a PCR bank"));
      }
      bank = *named;
      continue;
    }
    std::vector<absl::string_view> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t:"), absl::SkipEmpty());
    if (parts.size() != 2) {
      return BundleError(field, "want '<index> <hex>' or '<index>: 0x<hex>'");
    }
    ASSIGN_OR_RETURN(uint32_t index, ParsePcrIndex(parts[0], field));
    absl::string_view hex = parts[1];
    if (!absl::ConsumePrefix(&hex, "0x")) absl::ConsumePrefix(&hex, "0X");
    if (out[bank].count(index) != 0) {
      return BundleError(field, absl::StrCat("PCR ", index, " listed twice"));
    }
    ASSIGN_OR_RETURN(out[bank][index], ParsePcrValue(bank, hex, field));
  }
  return out;
}

absl::StatusOr<std::string> BuildTpmQuoteBundleFromTpm2Tools(
    const Tpm2ToolsQuoteFiles& files) {
  TpmQuoteBundle bundle;
  bundle.quote.assign(files.attest.begin(), files.attest.end());
  bundle.signature.assign(files.signature.begin(), files.signature.end());
  RETURN_IF_ERROR(ParseTpmsAttest(bundle.quote).status());
  RETURN_IF_ERROR(ParseTpmtSignature(bundle.signature).status());
  ASSIGN_OR_RETURN(bundle.pcrs, ParsePcrListing(files.pcr_listing));
  if (!files.ak_public.empty()) {
    bundle.ak_public.assign(files.ak_public.begin(), files.ak_public.end());
    RETURN_IF_ERROR(ParseTpmPublicBlob(bundle.ak_public).status());
  }
  if (!files.ek_public.empty()) {
    bundle.ek_public.assign(files.ek_public.begin(), files.ek_public.end());
    RETURN_IF_ERROR(ParseTpmPublicBlob(bundle.ek_public).status());
  }
  return BuildTpmQuoteBundle(bundle);
}

}  // namespace strongroom::attest
