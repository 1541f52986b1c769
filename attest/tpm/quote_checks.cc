#include "attest/tpm/quote_checks.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "attest/x509.h"
#include "base/status_macros.h"

namespace strongroom::attest::tpm_checks {
namespace {

absl::Status Denied(absl::string_view why) {
  return absl::PermissionDeniedError(absl::StrCat("tpm quote: ", why));
}

}  // namespace

absl::StatusOr<std::string> KeyAlgName(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      return std::string("rsa");
    case EVP_PKEY_EC:
      return std::string("ecc");
    default:
      return absl::InvalidArgumentError(
          "tpm quote: AK is neither an RSA nor an EC key");
  }
}

std::string SpkiSha256Hex(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  if (len <= 0) {
    ERR_clear_error();
    return "";
  }
  std::string out = Sha256Hex({der, static_cast<size_t>(len)});
  OPENSSL_free(der);
  return out;
}

absl::StatusOr<std::vector<std::shared_ptr<EVP_PKEY>>> ParsePublicKeysPem(
    absl::string_view pem, absl::string_view field) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::vector<std::shared_ptr<EVP_PKEY>> keys;
  while (true) {
    EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
    if (key == nullptr) break;
    keys.emplace_back(key, EVP_PKEY_free);
  }
  ERR_clear_error();
  // Every PEM block must have been a key: count the blocks.
  size_t blocks = 0;
  for (size_t at = pem.find("-----BEGIN "); at != absl::string_view::npos;
       at = pem.find("-----BEGIN ", at + 1)) {
    ++blocks;
  }
  if (keys.empty() || keys.size() != blocks) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not a list of PEM public keys (", keys.size(),
                     " of ", blocks, " blocks parsed)"));
  }
  return keys;
}

absl::Status CheckAkAttributes(const TpmtPublic& ak) {
  std::vector<std::string> missing;
  if (!(ak.object_attributes & kTpmaFixedTpm)) missing.push_back("fixedTPM");
  if (!(ak.object_attributes & kTpmaRestricted)) {
    missing.push_back("restricted");
  }
  if (!(ak.object_attributes & kTpmaSign)) missing.push_back("sign");
  if (!missing.empty()) {
    return Denied(absl::StrCat(
        "ak_public: objectAttributes 0x", absl::Hex(ak.object_attributes),
        " lack ", absl::StrJoin(missing, ", "),
        ": not a restricted signing key of this TPM"));
  }
  return absl::OkStatus();
}

absl::Status VerifyQuoteSignature(const tpm_internal::AkSignatureChecker& ak,
                                  const TpmtPublic* ak_public,
                                  const TpmtSignature& sig,
                                  std::span<const uint8_t> quote) {
  if (!ak.is_rsa() && !ak.is_ec()) {
    return absl::InvalidArgumentError(
        "tpm quote: AK is neither an RSA nor an EC key");
  }
  const bool rsa_sig =
      sig.sig_alg == kTpmAlgRsassa || sig.sig_alg == kTpmAlgRsapss;
  if (ak.is_rsa() != rsa_sig) {
    return Denied(absl::StrCat("signature algorithm ", TpmAlgName(sig.sig_alg),
                               " does not match the AK's ",
                               ak.is_rsa() ? "rsa" : "ecc", " key"));
  }
  if (ak_public != nullptr && ak_public->scheme != kTpmAlgNull &&
      (ak_public->scheme != sig.sig_alg ||
       ak_public->scheme_hash != sig.hash_alg)) {
    return Denied(absl::StrCat(
        "signature scheme ", TpmAlgName(sig.sig_alg), "/",
        TpmAlgName(sig.hash_alg), " is not the AK's fixed scheme ",
        TpmAlgName(ak_public->scheme), "/", TpmAlgName(ak_public->scheme_hash)));
  }
  if (sig.hash_alg == kTpmAlgSha1) {
    return Denied("SHA-1 signatures are not accepted");
  }
  if (TpmHashMd(sig.hash_alg) == nullptr) {
    return Denied(absl::StrCat("unsupported signature hash ",
                               TpmAlgName(sig.hash_alg)));
  }
  if (rsa_sig) {
    if (ak.bits() < 2048) {
      return Denied(
          absl::StrCat("RSA AK of ", ak.bits(), " bits is below 2048"));
    }
    if (!ak.VerifyRsa(sig.sig_alg, sig.hash_alg, quote, sig.rsa_signature)) {
      return Denied("signature does not verify under the AK");
    }
    return absl::OkStatus();
  }
  if (!ak.VerifyEcdsa(sig.hash_alg, quote, sig.ecdsa_r, sig.ecdsa_s)) {
    return Denied("signature does not verify under the AK");
  }
  return absl::OkStatus();
}

namespace {

// CheckPcrDigest over any PCR store: `find(bank, index)` gives a supplied
// value or nullopt, `for_each_supplied(f)` calls f(bank, index) for every
// supplied PCR in (bank, index) order.
template <typename Find, typename ForEachSupplied>
absl::Status CheckPcrDigestOver(const TpmsAttest& attest, uint16_t hash_alg,
                                const Find& find,
                                const ForEachSupplied& for_each_supplied,
                                std::vector<std::string>* unused) {
  const EVP_MD* md = TpmHashMd(hash_alg);
  if (md == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("tpm quote: signature.hash: unsupported hash algorithm 0x",
                     absl::Hex(hash_alg, absl::kZeroPad4), " for the PCR digest"));
  }
  // H(selected values in selection order), gathered into a buffer that is
  // hashed when full and at the end: one digest update for a usual quote
  // instead of one per PCR (each update has a fixed cost in OpenSSL 3).
  tpm_internal::ThreadDigest hash(md);
  uint8_t gathered[2048];
  size_t used = 0;
  for (const TpmsPcrSelection& sel : attest.pcr_select) {
    for (uint32_t index : sel.pcrs) {
      const std::optional<std::span<const uint8_t>> value =
          find(sel.hash_alg, index);
      if (!value.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "tpm quote: pcrs.", TpmAlgName(sel.hash_alg), ".", index,
            ": selected by the quote but not supplied"));
      }
      if (value->size() > sizeof(gathered) - used) {
        hash.Update(std::span<const uint8_t>(gathered, used));
        used = 0;
      }
      if (value->size() > sizeof(gathered)) {
        hash.Update(*value);
        continue;
      }
      std::memcpy(gathered + used, value->data(), value->size());
      used += value->size();
    }
  }
  hash.Update(std::span<const uint8_t>(gathered, used));
  uint8_t digest[EVP_MAX_MD_SIZE];
  const size_t digest_len = hash.Final(digest);
  if (digest_len == 0) {
    return absl::InternalError("tpm quote: PCR digest failed");
  }
  const std::span<const uint8_t> computed(digest, digest_len);
  if (!std::equal(computed.begin(), computed.end(), attest.pcr_digest.begin(),
                  attest.pcr_digest.end())) {
    return Denied(absl::StrCat("pcrDigest mismatch: the quote has ",
                               HexEncode(attest.pcr_digest),
                               ", the supplied PCR values hash to ",
                               HexEncode(computed)));
  }
  if (unused != nullptr) {
    for_each_supplied([&](uint16_t bank, uint32_t index) {
      bool selected = false;  // (as a 64-bit mask did: 64 and up never)
      for (const TpmsPcrSelection& sel : attest.pcr_select) {
        if (sel.hash_alg != bank) continue;
        for (uint32_t i : sel.pcrs) selected = selected || (i == index && i < 64);
      }
      if (!selected) {
        unused->push_back(absl::StrCat("pcrs.", TpmAlgName(bank), ".", index));
      }
    });
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckPcrDigest(const TpmsAttest& attest, const TpmPcrValues& pcrs,
                            uint16_t hash_alg,
                            std::vector<std::string>* unused) {
  auto find = [&](uint16_t alg, uint32_t index)
      -> std::optional<std::span<const uint8_t>> {
    auto bank = pcrs.find(alg);
    if (bank == pcrs.end()) return std::nullopt;
    auto it = bank->second.find(index);
    if (it == bank->second.end()) return std::nullopt;
    return std::span<const uint8_t>(it->second);
  };
  auto for_each_supplied = [&](const auto& f) {
    for (const auto& [bank, values] : pcrs) {
      for (const auto& [index, unused_value] : values) f(bank, index);
    }
  };
  return CheckPcrDigestOver(attest, hash_alg, find, for_each_supplied, unused);
}

absl::Status CheckPcrDigest(const TpmsAttest& attest,
                            const tpm_internal::FlatPcrs& pcrs,
                            uint16_t hash_alg,
                            std::vector<std::string>* unused) {
  auto find = [&](uint16_t alg, uint32_t index)
      -> std::optional<std::span<const uint8_t>> {
    std::span<const uint8_t> value = pcrs.Find(alg, index);
    if (value.empty()) return std::nullopt;
    return value;
  };
  auto for_each_supplied = [&](const auto& f) {
    for (int slot = 0; slot < static_cast<int>(pcrs.kBanks); ++slot) {
      const uint32_t supplied = pcrs.banks[slot].supplied;
      for (uint32_t index = 0; index < pcrs.kPcrs; ++index) {
        if ((supplied >> index & 1) != 0) {
          f(tpm_internal::FlatPcrs::AlgOfSlot(slot), index);
        }
      }
    }
  };
  return CheckPcrDigestOver(attest, hash_alg, find, for_each_supplied, unused);
}

absl::StatusOr<std::optional<std::string>> MatchQualifiedSigner(
    std::span<const uint8_t> qualified_signer, const TpmtPublic& ak,
    const TpmtPublic* ek) {
  uint16_t qs_alg = qualified_signer.size() >= 2
                        ? static_cast<uint16_t>((qualified_signer[0] << 8) |
                                                qualified_signer[1])
                        : 0;
  if (qs_alg != ak.name_alg) {
    return Denied(absl::StrCat("qualifiedSigner uses name algorithm ",
                               TpmAlgName(qs_alg), ", the AK's is ",
                               TpmAlgName(ak.name_alg)));
  }
  Bytes qs(qualified_signer.begin(), qualified_signer.end());
  ASSIGN_OR_RETURN(Bytes name, TpmName(ak));
  if (qs == name) return std::optional<std::string>("name");
  const std::pair<uint32_t, const char*> hierarchies[] = {
      {kTpmRhEndorsement, "endorsement-primary"},
      {kTpmRhOwner, "owner-primary"},
      {kTpmRhPlatform, "platform-primary"},
      {kTpmRhNull, "null-primary"}};
  for (const auto& [handle, label] : hierarchies) {
    ASSIGN_OR_RETURN(Bytes qn, TpmQualifiedName(TpmHandleName(handle), name));
    if (qs == qn) return std::optional<std::string>(label);
  }
  if (ek != nullptr) {
    ASSIGN_OR_RETURN(Bytes ek_name, TpmName(*ek));
    ASSIGN_OR_RETURN(Bytes ek_qn, TpmQualifiedName(
                                      TpmHandleName(kTpmRhEndorsement), ek_name));
    ASSIGN_OR_RETURN(Bytes qn, TpmQualifiedName(ek_qn, name));
    if (qs == qn) return std::optional<std::string>("ek-child");
  }
  return std::optional<std::string>();
}

}  // namespace strongroom::attest::tpm_checks
