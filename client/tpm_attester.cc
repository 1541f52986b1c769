#include "client/tpm_attester.h"

#include <fcntl.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "attest/tpm/quote_bundle.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "client/tpm_session.h"

namespace strongroom::client {
namespace {

using internal::ScopedTpmKey;
using internal::TpmKeyHandle;
using internal::TpmSession;

absl::Status BadPcrs(absl::string_view part, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("pcrs: '", part, "': ", why));
}

absl::StatusOr<uint32_t> ParsePcrIndex(absl::string_view s, absl::string_view part) {
  uint32_t v = 0;
  if (!absl::SimpleAtoi(s, &v) || v > 23) return BadPcrs(part, "PCR indices are 0..23");
  return v;
}

// The AK must be usable for quotes; anything else would produce evidence the
// server refuses anyway, with a less helpful message.
absl::Status CheckAk(const Bytes& public_area, absl::string_view where) {
  absl::StatusOr<attest::TpmtPublic> pub = attest::ParseTpmtPublic(public_area);
  if (!pub.ok()) return pub.status();
  const uint32_t need = attest::kTpmaRestricted | attest::kTpmaSign;
  if ((pub->object_attributes & need) != need || (pub->object_attributes & attest::kTpmaDecrypt)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tpm: ", where, ": not a restricted signing key (attributes 0x",
        absl::Hex(pub->object_attributes), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PublicKeyPem(const Bytes& public_area) {
  ASSIGN_OR_RETURN(attest::TpmtPublic pub, attest::ParseTpmtPublic(public_area));
  ASSIGN_OR_RETURN(std::shared_ptr<EVP_PKEY> key, attest::TpmPublicKey(pub));
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio, key.get()) != 1) {
    BIO_free(bio);
    return absl::InternalError("tpm: cannot encode the AK public key");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

// Whole or not at all (a temp file renamed over `path`), 0600.
absl::Status WritePrivateFile(const std::string& path, const Bytes& data) {
  return WriteFileAtomically(path, AsStringView(data), 0600, "tpm");
}

// The AK the options name, loaded in `session`; `ek_public` gets the EK's
// public area for an EK child.
absl::StatusOr<TpmKeyHandle> LoadAk(TpmSession& session, const TpmAttesterOptions& o,
                                    const Bytes& public_2b, const Bytes& private_2b,
                                    Bytes* ek_public) {
  switch (o.ak_source) {
    case TpmAkSource::kEndorsementPrimary:
      return session.CreatePrimaryAk(/*endorsement=*/true);
    case TpmAkSource::kOwnerPrimary:
      return session.CreatePrimaryAk(/*endorsement=*/false);
    case TpmAkSource::kPersistent:
      return session.Persistent(o.ak_handle);
    case TpmAkSource::kEkChild: {
      ASSIGN_OR_RETURN(TpmKeyHandle ek_key, session.CreateEk(o.ek_kind));
      ScopedTpmKey ek(session, std::move(ek_key));
      if (ek_public != nullptr) *ek_public = ek.get().public_area;
      return session.LoadUnderEk(ek.get(), public_2b, private_2b);
    }
  }
  return absl::InvalidArgumentError("tpm: unknown AK source");
}

// H_alg(the PCR values in the quote's selection order) == pcrDigest.
absl::StatusOr<bool> PcrsMatchQuote(const attest::TpmsAttest& quote, uint16_t hash_alg,
                                    const attest::TpmPcrValues& values) {
  Bytes concat;
  for (const attest::TpmsPcrSelection& sel : quote.pcr_select) {
    for (uint32_t pcr : sel.pcrs) {
      auto bank = values.find(sel.hash_alg);
      if (bank == values.end() || !bank->second.count(pcr)) return false;
      const Bytes& v = bank->second.at(pcr);
      concat.insert(concat.end(), v.begin(), v.end());
    }
  }
  ASSIGN_OR_RETURN(Bytes digest, attest::TpmHash(hash_alg, concat));
  return digest == quote.pcr_digest;
}

}  // namespace

std::vector<TpmPcrBank> DefaultTpmPcrSelection() {
  return {TpmPcrBank{attest::kTpmAlgSha256, {0, 1, 2, 3, 4, 5, 6, 7, 16}}};
}

absl::StatusOr<std::vector<TpmPcrBank>> ParseTpmPcrSelection(absl::string_view text) {
  std::vector<TpmPcrBank> banks;
  for (absl::string_view part : absl::StrSplit(text, '+')) {
    size_t colon = part.find(':');
    if (colon == absl::string_view::npos) return BadPcrs(part, "expected BANK:LIST");
    TpmPcrBank bank;
    absl::StatusOr<uint16_t> alg = attest::TpmHashFromName(part.substr(0, colon));
    if (!alg.ok()) return BadPcrs(part, "bank is not sha1, sha256, sha384 or sha512");
    bank.hash_alg = *alg;
    for (const TpmPcrBank& b : banks) {
      if (b.hash_alg == bank.hash_alg) return BadPcrs(part, "bank given twice");
    }
    std::set<uint32_t> pcrs;
    for (absl::string_view item : absl::StrSplit(part.substr(colon + 1), ',')) {
      size_t dash = item.find('-');
      ASSIGN_OR_RETURN(uint32_t first, ParsePcrIndex(item.substr(0, dash), part));
      uint32_t last = first;
      if (dash != absl::string_view::npos) {
        ASSIGN_OR_RETURN(last, ParsePcrIndex(item.substr(dash + 1), part));
        if (last < first) return BadPcrs(part, "a range must ascend");
      }
      for (uint32_t p = first; p <= last; ++p) pcrs.insert(p);
    }
    bank.pcrs.assign(pcrs.begin(), pcrs.end());
    banks.push_back(std::move(bank));
  }
  if (banks.empty() || banks.size() > 4) return BadPcrs(text, "expected 1..4 banks");
  return banks;
}

std::string FormatTpmPcrSelection(const std::vector<TpmPcrBank>& banks) {
  std::vector<std::string> parts;
  for (const TpmPcrBank& b : banks) {
    parts.push_back(absl::StrCat(attest::TpmAlgName(b.hash_alg), ":", absl::StrJoin(b.pcrs, ",")));
  }
  return absl::StrJoin(parts, "+");
}

absl::StatusOr<std::unique_ptr<TpmAttester>> TpmAttester::Create(TpmAttesterOptions options) {
  if (options.pcrs.empty()) return absl::InvalidArgumentError("pcrs: no PCRs selected");
  for (const TpmPcrBank& b : options.pcrs) {
    if (b.pcrs.empty() || attest::TpmHashSize(b.hash_alg) == 0 ||
        std::any_of(b.pcrs.begin(), b.pcrs.end(), [](uint32_t p) { return p > 23; })) {
      return absl::InvalidArgumentError(
          absl::StrCat("pcrs: '", FormatTpmPcrSelection({b}), "' is not a valid bank selection"));
    }
  }
  if (options.max_attempts < 1) options.max_attempts = 1;
  Bytes public_2b, private_2b;
  switch (options.ak_source) {
    case TpmAkSource::kPersistent:
      if (options.ak_handle < 0x81000000u || options.ak_handle > 0x81ffffffu) {
        return absl::InvalidArgumentError(absl::StrCat(
            "ak_handle: 0x", absl::Hex(options.ak_handle), " is not a persistent handle"));
      }
      break;
    case TpmAkSource::kEkChild: {
      ASSIGN_OR_RETURN(std::string pub, ReadFileToString(options.ak_public_file, "ak public file"));
      ASSIGN_OR_RETURN(std::string priv,
                       ReadFileToString(options.ak_private_file, "ak private file"));
      public_2b.assign(pub.begin(), pub.end());
      private_2b.assign(priv.begin(), priv.end());
      break;
    }
    default:
      break;
  }
  std::unique_ptr<TpmAttester> a(
      new TpmAttester(std::move(options), std::move(private_2b), std::move(public_2b)));
  ASSIGN_OR_RETURN(std::unique_ptr<TpmSession> session, TpmSession::Connect(a->options_.tcti));
  ASSIGN_OR_RETURN(TpmKeyHandle ak_key, LoadAk(*session, a->options_, a->ak_public_2b_,
                                               a->ak_private_2b_, &a->ek_public_));
  ScopedTpmKey ak(*session, std::move(ak_key));
  RETURN_IF_ERROR(CheckAk(ak.get().public_area, "attestation key"));
  a->ak_public_ = ak.get().public_area;
  ASSIGN_OR_RETURN(a->ak_pem_, PublicKeyPem(a->ak_public_));
  return a;
}

absl::StatusOr<std::vector<strongroom::v1::EvidenceItem>> TpmAttester::Attest(
    std::span<const uint8_t> binding) {
  ASSIGN_OR_RETURN(std::unique_ptr<TpmSession> session, TpmSession::Connect(options_.tcti));
  ASSIGN_OR_RETURN(TpmKeyHandle ak_key,
                   LoadAk(*session, options_, ak_public_2b_, ak_private_2b_, nullptr));
  ScopedTpmKey ak(*session, std::move(ak_key));
  if (ak.get().public_area != ak_public_) {
    return absl::FailedPreconditionError(
        "tpm: the attestation key changed since the attester was created");
  }
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    ASSIGN_OR_RETURN(internal::TpmQuote quote, session->Quote(ak.get(), binding, options_.pcrs));
    ASSIGN_OR_RETURN(attest::TpmPcrValues values, session->ReadPcrs(options_.pcrs));
    ASSIGN_OR_RETURN(attest::TpmsAttest parsed, attest::ParseTpmsAttest(quote.attest));
    ASSIGN_OR_RETURN(attest::TpmtSignature sig, attest::ParseTpmtSignature(quote.signature));
    ASSIGN_OR_RETURN(bool match, PcrsMatchQuote(parsed, sig.hash_alg, values));
    if (!match) continue;  // a PCR was extended between quote and read
    attest::TpmQuoteBundle bundle;
    bundle.quote = std::move(quote.attest);
    bundle.signature = std::move(quote.signature);
    bundle.pcrs = std::move(values);
    bundle.ak_public = ak_public_;
    bundle.ek_public = ek_public_;
    strongroom::v1::EvidenceItem item;
    item.set_type("tpm");
    item.set_payload(attest::BuildTpmQuoteBundle(bundle));
    return std::vector<strongroom::v1::EvidenceItem>{std::move(item)};
  }
  return absl::AbortedError(absl::StrCat("tpm: PCRs ", FormatTpmPcrSelection(options_.pcrs),
                                         " changed during each of ", options_.max_attempts,
                                         " quotes"));
}

std::optional<uint32_t> TpmAttester::ParseHandle(absl::string_view text) {
  uint32_t v = 0;
  absl::string_view hex = text;
  if (!absl::ConsumePrefix(&hex, "0x") || hex.empty() || hex.size() > 8 ||
      hex.find_first_not_of("0123456789abcdefABCDEF") != absl::string_view::npos ||
      !absl::SimpleHexAtoi(hex, &v)) {
    return std::nullopt;
  }
  return v;
}

absl::Status TpmAttester::CheckPersistentHandle(uint32_t handle) {
  if (handle < 0x81000000u || handle > 0x817fffffu) {
    return absl::InvalidArgumentError(absl::StrCat(
        "persist handle: 0x", absl::Hex(handle), " is not in the owner range 0x81000000..0x817fffff"));
  }
  return absl::OkStatus();
}

absl::Status TpmAttester::PersistAk(uint32_t handle) {
  RETURN_IF_ERROR(CheckPersistentHandle(handle));
  if (options_.ak_source == TpmAkSource::kPersistent) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tpm: the AK is already persistent at 0x", absl::Hex(options_.ak_handle)));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<TpmSession> session, TpmSession::Connect(options_.tcti));
  ASSIGN_OR_RETURN(TpmKeyHandle ak_key,
                   LoadAk(*session, options_, ak_public_2b_, ak_private_2b_, nullptr));
  ScopedTpmKey ak(*session, std::move(ak_key));
  return session->Persist(ak.get(), handle);
}

absl::Status CreateEkChildAk(const std::string& tcti, TpmEkKind ek_kind,
                             const std::string& public_file, const std::string& private_file) {
  // The two files are one key: the public half written over an old pair
  // whose private half then failed to be replaced would leave neither AK
  // loadable. Checked before the TPM makes anything.
  {
    std::error_code ea, eb;
    const auto a = std::filesystem::absolute(public_file, ea).lexically_normal();
    const auto b = std::filesystem::absolute(private_file, eb).lexically_normal();
    struct stat sa = {}, sb = {};
    const bool same_inode = stat(public_file.c_str(), &sa) == 0 &&
                            stat(private_file.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
                            sa.st_ino == sb.st_ino;
    if (public_file == private_file || (!ea && !eb && a == b) || same_inode) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tpm: the AK's public and private files are the same file ('", private_file, "')"));
    }
  }
  std::optional<std::string> old_public;
  if (std::ifstream in(public_file, std::ios::binary); in) {
    old_public.emplace(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSIGN_OR_RETURN(std::unique_ptr<TpmSession> session, TpmSession::Connect(tcti));
  ASSIGN_OR_RETURN(TpmKeyHandle ek_key, session->CreateEk(ek_kind));
  ScopedTpmKey ek(*session, std::move(ek_key));
  ASSIGN_OR_RETURN(auto blobs, session->CreateAkUnderEk(ek.get()));
  RETURN_IF_ERROR(WritePrivateFile(public_file, blobs.first));
  if (absl::Status s = WritePrivateFile(private_file, blobs.second); !s.ok()) {
    // Put the old public half back (or take the new one away), so that the
    // files on disk are the old pair, or nothing, as before the call.
    absl::Status undo =
        old_public.has_value()
            ? WriteFileAtomically(public_file, *old_public, 0600, "tpm")
            : (std::remove(public_file.c_str()) == 0 ? absl::OkStatus()
                                                     : absl::UnavailableError("cannot remove it"));
    if (!undo.ok()) {
      return absl::DataLossError(absl::StrCat(s.message(), "; and the new public half in '",
                                              public_file, "' could not be undone (",
                                              undo.message(), "): the pair no longer matches"));
    }
    return s;
  }
  return absl::OkStatus();
}

}  // namespace strongroom::client
