// KeyManager: envelope encryption (Encrypt, Decrypt, GenerateDataKey, ReEncrypt).
#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "kms/aead.h"
#include "kms/ciphertext.h"
#include "kms/key_manager.h"
#include "kms/key_manager_internal.h"
#include "kms/lifecycle.h"
#include "kms/resource_names.h"

namespace strongroom::kms {

using namespace internal;  // NOLINT

namespace {

using Context = std::map<std::string, std::string>;

absl::StatusOr<Context> ToContext(const google::protobuf::Map<std::string, std::string>& m,
                                  absl::string_view field) {
  if (m.size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": more than 64 entries"));
  }
  Context c;
  size_t total = 0;
  for (const auto& [k, v] : m) {
    if (k.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": empty key"));
    total += k.size() + v.size();
    c.emplace(k, v);
  }
  if (total > 8192) return absl::InvalidArgumentError(absl::StrCat(field, ": larger than 8 KiB"));
  return c;
}

}  // namespace

absl::StatusOr<Bytes> KeyManager::SealWith(const KeyView& view, uint32_t version,
                                           const Context& context,
                                           std::span<const uint8_t> plaintext) {
  const std::string id = view.key.key().name().substr(5);
  Bytes header = EncodeHeader({id, version, kAlgorithmAes256Gcm});
  ASSIGN_OR_RETURN(Bytes aad, BuildAad(header, context));
  Bytes iv(kGcmIvBytes);
  if (RAND_bytes(iv.data(), static_cast<int>(iv.size())) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Material> m, GetMaterial(view, version));
  if (options_.before_seal_for_testing) options_.before_seal_for_testing();
  absl::StatusOr<Bytes> sealed = m->in_hsm ? hsm_.AesGcmEncrypt(m->hsm_key, iv, aad, plaintext)
                                           : AesGcmSeal(m->key, iv, aad, plaintext);
  RETURN_IF_ERROR(sealed.status());
  Bytes out = std::move(header);
  out.insert(out.end(), iv.begin(), iv.end());
  out.insert(out.end(), sealed->begin(), sealed->end());
  return out;
}

// The view is a snapshot: between reading its primary version and sealing, an
// admin may rotate the key and destroy that version (at once when the key's
// destroy wait is 0), or raise min_decryption_version above it. A ciphertext
// sealed then would be one nobody can ever open, returned as a success. So
// after sealing, the version is checked against the key as it is now: if it
// would still decrypt, the seal stands (it happened before the change);
// otherwise it is discarded and redone under the key's new primary.
absl::StatusOr<std::pair<Bytes, std::string>> KeyManager::SealWithPrimary(
    const Caller& c, ViewPtr view, absl::string_view what, const Context& context,
    std::span<const uint8_t> plaintext) {
  const std::string id = view->key.key().name().substr(5);
  for (int attempt = 0;; ++attempt) {
    const uint32_t primary = view->key.key().primary_version();
    const v1::KeyVersion& v = view->versions.at(primary).version();
    if (!AllowsEncrypt(v.state())) {
      return absl::FailedPreconditionError(absl::StrCat(
          v.name(), " (the primary version) is ", StateName(v.state()), ": encrypt needs ENABLED"));
    }
    ASSIGN_OR_RETURN(Bytes ct, SealWith(*view, primary, context, plaintext));
    ViewPtr now = FindView(id);
    if (now == nullptr) return absl::NotFoundError(absl::StrCat("keys/", id, " not found"));
    auto it = now->versions.find(primary);
    if (it != now->versions.end() && AllowsDecrypt(it->second.version().state()) &&
        primary >= now->key.key().min_decryption_version()) {
      return std::make_pair(std::move(ct), v.name());
    }
    if (attempt == 2) {
      return absl::AbortedError(absl::StrCat(
          what, ": keys/", id, "'s primary version changed while sealing, three times; retry"));
    }
    RETURN_IF_ERROR(Authorize(c, Action::kUse, &now->key.key(), what));
    view = std::move(now);
  }
}

absl::StatusOr<v1::EncryptResponse> KeyManager::Encrypt(const Caller& c,
                                                        const v1::EncryptRequest& r) {
  ASSIGN_OR_RETURN(std::string id, ParseKeyName(r.name(), "name"));
  if (r.plaintext().size() > options_.max_plaintext_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("plaintext: ", r.plaintext().size(),
                                                   " bytes exceeds the limit of ",
                                                   options_.max_plaintext_bytes));
  }
  ASSIGN_OR_RETURN(Context context, ToContext(r.encryption_context(), "encryption_context"));
  ASSIGN_OR_RETURN(ViewPtr view, AuthorizedView(c, id, Action::kUse, "Encrypt"));
  ASSIGN_OR_RETURN(auto sealed,
                   SealWithPrimary(c, std::move(view), "Encrypt", context, AsBytes(r.plaintext())));
  v1::EncryptResponse out;
  out.set_ciphertext(std::string(sealed.first.begin(), sealed.first.end()));
  out.set_key_version(std::move(sealed.second));
  return out;
}

absl::StatusOr<SecretBytes> KeyManager::OpenCiphertext(const Caller& c,
                                                       absl::string_view expected_name,
                                                       std::span<const uint8_t> blob,
                                                       const Context& context,
                                                       std::string* key_version_name) {
  if (blob.size() > options_.max_plaintext_bytes + 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("ciphertext: ", blob.size(), " bytes exceeds the limit"));
  }
  ASSIGN_OR_RETURN(ParsedCiphertext parsed, ParseCiphertext(blob));
  if (!expected_name.empty()) {
    ASSIGN_OR_RETURN(std::string expected, ParseKeyName(expected_name, "name"));
    if (expected != parsed.header.key_id) {
      return absl::InvalidArgumentError(absl::StrCat(
          "name: the ciphertext was made with keys/", parsed.header.key_id, ", not ", expected_name));
    }
  }
  ASSIGN_OR_RETURN(ViewPtr view, AuthorizedView(c, parsed.header.key_id, Action::kUse, "Decrypt"));
  auto it = view->versions.find(parsed.header.version);
  const std::string version_name = VersionResourceName(parsed.header.key_id, parsed.header.version);
  if (it == view->versions.end()) return absl::NotFoundError(absl::StrCat(version_name, " not found"));
  const v1::KeyVersion& v = it->second.version();
  if (v.version() < view->key.key().min_decryption_version()) {
    return absl::FailedPreconditionError(absl::StrCat(
        version_name, " is below the key's minimum decryption version ",
        view->key.key().min_decryption_version()));
  }
  if (!AllowsDecrypt(v.state())) {
    return absl::FailedPreconditionError(absl::StrCat(
        version_name, " is ", StateName(v.state()),
        ": decrypt needs ENABLED, SUSPENDED or COMPROMISED"));
  }
  ASSIGN_OR_RETURN(Bytes aad, BuildAad(parsed.header_bytes, context));
  ASSIGN_OR_RETURN(std::shared_ptr<const Material> m, GetMaterial(*view, v.version()));
  absl::StatusOr<SecretBytes> plain = m->in_hsm
                                          ? hsm_.AesGcmDecrypt(m->hsm_key, parsed.iv, aad, parsed.sealed)
                                          : AesGcmOpen(m->key, parsed.iv, aad, parsed.sealed);
  if (absl::IsInvalidArgument(plain.status())) {
    return absl::InvalidArgumentError(
        "ciphertext: does not authenticate (tampered, or the wrong encryption_context)");
  }
  RETURN_IF_ERROR(plain.status());
  *key_version_name = version_name;
  return plain;
}

absl::StatusOr<v1::DecryptResponse> KeyManager::Decrypt(const Caller& c,
                                                        const v1::DecryptRequest& r) {
  ASSIGN_OR_RETURN(Context context, ToContext(r.encryption_context(), "encryption_context"));
  v1::DecryptResponse out;
  std::string version_name;
  ASSIGN_OR_RETURN(SecretBytes plain, OpenCiphertext(c, r.name(), AsBytes(r.ciphertext()),
                                                     context, &version_name));
  // The response is the one place plaintext leaves: only over mutual TLS, to the owner.
  out.set_plaintext(std::string(AsStringView(plain.Reveal())));
  out.set_key_version(version_name);
  return out;
}

absl::StatusOr<v1::GenerateDataKeyResponse> KeyManager::GenerateDataKey(
    const Caller& c, const v1::GenerateDataKeyRequest& r) {
  const uint32_t length = r.length() == 0 ? 32 : r.length();
  if (length != 16 && length != 32) {
    return absl::InvalidArgumentError(absl::StrCat("length: ", r.length(), " is not 16 or 32"));
  }
  ASSIGN_OR_RETURN(std::string id, ParseKeyName(r.name(), "name"));
  ASSIGN_OR_RETURN(Context context, ToContext(r.encryption_context(), "encryption_context"));
  // Authorized before the HSM is asked for anything: a caller that may not
  // use the key costs no random draw.
  ASSIGN_OR_RETURN(ViewPtr view, AuthorizedView(c, id, Action::kUse, "GenerateDataKey"));
  ASSIGN_OR_RETURN(SecretBytes data_key, hsm_.GenerateRandom(length));
  ASSIGN_OR_RETURN(auto sealed, SealWithPrimary(c, std::move(view), "GenerateDataKey", context,
                                                data_key.Reveal()));
  v1::GenerateDataKeyResponse out;
  out.set_ciphertext(std::string(sealed.first.begin(), sealed.first.end()));
  out.set_key_version(std::move(sealed.second));
  if (!r.wrapped_only()) out.set_plaintext(std::string(AsStringView(data_key.Reveal())));
  return out;
}

absl::StatusOr<v1::ReEncryptResponse> KeyManager::ReEncrypt(const Caller& c,
                                                            const v1::ReEncryptRequest& r) {
  ASSIGN_OR_RETURN(Context context, ToContext(r.encryption_context(), "encryption_context"));
  Context dest_context = context;
  if (!r.destination_encryption_context().empty()) {
    ASSIGN_OR_RETURN(dest_context, ToContext(r.destination_encryption_context(),
                                             "destination_encryption_context"));
  }
  std::string source_version;
  ASSIGN_OR_RETURN(SecretBytes plain,
                   OpenCiphertext(c, "", AsBytes(r.ciphertext()), context, &source_version));
  std::string dest_name = r.destination_name();
  if (dest_name.empty()) dest_name = source_version.substr(0, source_version.find("/versions/"));
  ASSIGN_OR_RETURN(std::string dest_id, ParseKeyName(dest_name, "destination_name"));
  ASSIGN_OR_RETURN(ViewPtr view, AuthorizedView(c, dest_id, Action::kUse, "ReEncrypt"));
  ASSIGN_OR_RETURN(auto sealed,
                   SealWithPrimary(c, std::move(view), "ReEncrypt", dest_context, plain.Reveal()));
  v1::ReEncryptResponse out;
  out.set_ciphertext(std::string(sealed.first.begin(), sealed.first.end()));
  out.set_source_key_version(source_version);
  out.set_key_version(std::move(sealed.second));
  return out;
}

}  // namespace strongroom::kms
