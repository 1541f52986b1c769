#include "client/workload.h"

#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "attest/binding.h"
#include "base/status_macros.h"
#include "client/workload_internal.h"
#include "kms/hpke/hpke.h"
#include "kms/hpke/suite.h"
#include "nlohmann/json.hpp"
#include "storage/sealed/sealed_header.h"

namespace strongroom::client {
namespace {

namespace v1 = ::strongroom::v1;
namespace hpke = ::strongroom::kms::hpke;

constexpr char kReleaseLabel[] = "strongroom-release-v1";

std::string FullName(absl::string_view key) {
  return absl::StartsWith(key, "keys/") ? std::string(key) : absl::StrCat("keys/", key);
}

// "keys/k/versions/3" -> "keys/k".
std::string KeyIdOf(absl::string_view full_name) {
  size_t pos = full_name.find("/versions/");
  return std::string(pos == absl::string_view::npos ? full_name : full_name.substr(0, pos));
}

// What a token is for: "datasets/{id}" as given, a key as "keys/{key}".
std::string TokenResource(absl::string_view key) {
  if (absl::StartsWith(key, "datasets/")) return std::string(key);
  return KeyIdOf(FullName(key));
}

v1::HpkeKem ProtoKem(hpke::Kem kem) {
  return kem == hpke::Kem::kDhkemX25519HkdfSha256 ? v1::HPKE_KEM_X25519_SHA256
                                                  : v1::HPKE_KEM_P256_SHA256;
}

absl::Status Corrupt(absl::string_view field, absl::string_view why) {
  return absl::DataLossError(absl::StrCat("sealed key: ", field, ": ", why));
}

}  // namespace

namespace internal {

bool ParseCanonicalVersion(absl::string_view digits, uint32_t* version) {
  if (digits.empty() || digits.size() > 10 || digits[0] == '0' ||
      digits.find_first_not_of("0123456789") != absl::string_view::npos) {
    return false;
  }
  uint64_t v = 0;
  for (char c : digits) v = v * 10 + static_cast<uint64_t>(c - '0');
  if (v > UINT32_MAX) return false;
  *version = static_cast<uint32_t>(v);
  return true;
}

bool IsStaleToken(const absl::Status& s) {
  return absl::IsPermissionDenied(s) &&
         (absl::StrContains(s.message(), "refused: token_expired") ||
          absl::StrContains(s.message(), "refused: token_revoked") ||
          absl::StrContains(s.message(), "refused: token_invalid"));
}

}  // namespace internal

using internal::IsStaleToken;

Bytes ReleaseInfo(absl::string_view key_version, absl::string_view token_id) {
  Bytes info(kReleaseLabel, kReleaseLabel + sizeof(kReleaseLabel) - 1);
  info.push_back(0);
  info.insert(info.end(), key_version.begin(), key_version.end());
  info.push_back(0);
  info.insert(info.end(), token_id.begin(), token_id.end());
  return info;
}

absl::StatusOr<SecretBytes> OpenSealedKey(const hpke::PrivateKey& private_key,
                                          const v1::SealedKey& sealed,
                                          absl::string_view requested_key,
                                          absl::string_view token_id) {
  const hpke::Kem kem = private_key.kem();
  const v1::HpkeKem got_kem =
      sealed.kem() == v1::HPKE_KEM_UNSPECIFIED ? v1::HPKE_KEM_P256_SHA256 : sealed.kem();
  if (got_kem != ProtoKem(kem)) {
    return Corrupt("kem", absl::StrCat(v1::HpkeKem_Name(sealed.kem()), " is not ",
                                       v1::HpkeKem_Name(ProtoKem(kem))));
  }
  if (token_id.empty() || sealed.token_id() != token_id) {
    return Corrupt("token_id", absl::StrCat("'", sealed.token_id(), "' is not the token's '",
                                            token_id, "'"));
  }
  const std::string requested = FullName(requested_key);
  const std::string prefix = absl::StrCat(KeyIdOf(requested), "/versions/");
  uint32_t version = 0;
  if (!absl::StartsWith(sealed.key_version(), prefix) ||
      !internal::ParseCanonicalVersion(
          absl::string_view(sealed.key_version()).substr(prefix.size()), &version) ||
      (requested != KeyIdOf(requested) && sealed.key_version() != requested)) {
    return Corrupt("key_version", absl::StrCat("'", sealed.key_version(),
                                               "' is not a version of the key asked for ('",
                                               requested, "')"));
  }
  const Bytes info = ReleaseInfo(sealed.key_version(), sealed.token_id());
  if (AsStringView(info) != sealed.info()) {
    return Corrupt("info", "is not \"strongroom-release-v1\" 0 key_version 0 token_id");
  }
  ASSIGN_OR_RETURN(hpke::Suite suite,
                   hpke::Suite::Create(kem, hpke::Kdf::kHkdfSha256, hpke::Aead::kAes256Gcm));
  absl::StatusOr<SecretBytes> opened =
      hpke::Open(suite, private_key, AsBytes(sealed.enc()), info, info,
                 AsBytes(sealed.ciphertext()));
  if (!opened.ok()) return Corrupt("ciphertext", opened.status().message());
  return opened;
}

absl::StatusOr<std::string> TokenId(absl::string_view token) {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("token: ", parts.size(), " dot-separated parts, expected 3"));
  }
  ASSIGN_OR_RETURN(Bytes payload, Base64UrlDecode(parts[1], "token payload"));
  nlohmann::json j = nlohmann::json::parse(payload.begin(), payload.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("jti") || !j["jti"].is_string() ||
      j["jti"].get<std::string>().empty()) {
    return absl::InvalidArgumentError("token: payload has no \"jti\" string");
  }
  return j["jti"].get<std::string>();
}

absl::StatusOr<std::unique_ptr<WorkloadClient>> WorkloadClient::Create(
    Connection* connection, std::unique_ptr<Attester> attester, WorkloadOptions options) {
  if (connection == nullptr) return absl::InvalidArgumentError("workload: no connection");
  if (attester == nullptr) return absl::InvalidArgumentError("workload: no attester");
  if (options.clock == nullptr) options.clock = &SystemClock::Default();
  ASSIGN_OR_RETURN(hpke::KeyPair pair, hpke::GenerateKeyPair(options.kem));
  return std::unique_ptr<WorkloadClient>(
      new WorkloadClient(connection, std::move(attester), options, std::move(pair)));
}

absl::StatusOr<WorkloadClient::HeldToken> WorkloadClient::AttestFor(
    const std::string& key_id, const std::string& release, std::optional<v1::SealedKey>* sealed) {
  tokens_.erase(key_id);
  v1::GetChallengeRequest challenge_req;
  challenge_req.set_key(key_id);
  ASSIGN_OR_RETURN(v1::GetChallengeResponse challenge, connection_->GetChallenge(challenge_req));
  const Bytes& pk = key_pair_.public_key.Serialize();
  const Bytes binding = attest::AttestationBinding(static_cast<uint16_t>(options_.kem),
                                                   AsBytes(challenge.nonce()), pk);
  ASSIGN_OR_RETURN(std::vector<v1::EvidenceItem> evidence, attester_->Attest(binding));
  v1::AttestRequest req;
  req.set_key(key_id);
  req.set_nonce(challenge.nonce());
  for (v1::EvidenceItem& item : evidence) *req.add_evidence() = std::move(item);
  req.set_kem(ProtoKem(options_.kem));
  req.set_public_key(std::string(AsStringView(pk)));
  req.set_release(release);
  ASSIGN_OR_RETURN(v1::AttestResponse resp, connection_->Attest(req));
  // A broker that predates AttestRequest.release answers with the token
  // alone: the caller then releases with it as before.
  if (!release.empty() && resp.has_sealed()) *sealed = std::move(*resp.mutable_sealed());
  HeldToken held;
  ASSIGN_OR_RETURN(held.token_id, TokenId(resp.token()));
  held.token = std::move(*resp.mutable_token());
  held.expires = absl::FromUnixSeconds(resp.expire_time_unix());
  tokens_[key_id] = held;
  return held;
}

const WorkloadClient::HeldToken* WorkloadClient::UsableToken(const std::string& key_id) const {
  auto it = tokens_.find(key_id);
  if (it == tokens_.end() || it->second.expires - options_.token_margin <= options_.clock->Now()) {
    return nullptr;
  }
  return &it->second;
}

absl::StatusOr<WorkloadClient::HeldToken> WorkloadClient::TokenFor(const std::string& key_id,
                                                                   bool* attested) {
  if (const HeldToken* held = UsableToken(key_id); held != nullptr) {
    *attested = false;
    return *held;
  }
  *attested = true;
  return AttestFor(key_id);
}

template <typename Call>
auto WorkloadClient::WithToken(const std::string& key_id, bool* attested, Call call)
    -> decltype(call(std::declval<const HeldToken&>())) {
  ASSIGN_OR_RETURN(HeldToken held, TokenFor(key_id, attested));
  auto result = call(held);
  if (result.ok() || *attested || !IsStaleToken(result.status())) return result;
  *attested = true;
  ASSIGN_OR_RETURN(held, AttestFor(key_id));
  return call(held);
}

absl::StatusOr<ReleasedKey> WorkloadClient::GetKey(absl::string_view key) {
  const std::string name = FullName(key);
  const std::string key_id = KeyIdOf(name);
  ReleasedKey out;
  auto open = [&](const HeldToken& held, v1::SealedKey sealed) -> absl::StatusOr<ReleasedKey> {
    ASSIGN_OR_RETURN(out.material,
                     OpenSealedKey(key_pair_.private_key, sealed, name, held.token_id));
    out.key_version = sealed.key_version();
    out.sealed = std::move(sealed);
    out.token = held.token;
    return std::move(out);
  };
  auto release = [&](const HeldToken& held) {
    v1::ReleaseKeyRequest req;
    req.set_token(held.token);
    req.set_key(name);
    req.set_public_key(std::string(AsStringView(key_pair_.public_key.Serialize())));
    return connection_->ReleaseKey(req);
  };
  if (const HeldToken* usable = UsableToken(key_id); usable != nullptr) {
    const HeldToken held = *usable;
    absl::StatusOr<v1::ReleaseKeyResponse> resp = release(held);
    if (resp.ok() && !resp->has_sealed()) {
      return absl::DataLossError("ReleaseKey: the response carries no sealed key");
    }
    if (resp.ok()) return open(held, std::move(*resp->mutable_sealed()));
    if (!IsStaleToken(resp.status())) return resp.status();
  }
  // No usable token: attest and release in one call.
  out.attested = true;
  std::optional<v1::SealedKey> sealed;
  ASSIGN_OR_RETURN(HeldToken held, AttestFor(key_id, name, &sealed));
  if (sealed.has_value()) return open(held, *std::move(sealed));
  ASSIGN_OR_RETURN(v1::ReleaseKeyResponse resp, release(held));
  if (!resp.has_sealed())
    return absl::DataLossError("ReleaseKey: the response carries no sealed key");
  return open(held, std::move(*resp.mutable_sealed()));
}

absl::StatusOr<DataKey> WorkloadClient::GetDataKey(absl::string_view key,
                                                   std::span<const uint8_t> aad) {
  const std::string name = FullName(key);
  DataKey out;
  return WithToken(
      KeyIdOf(name), &out.attested,
      [&](const HeldToken& held) -> absl::StatusOr<DataKey> {
        v1::GetDataKeyRequest req;
        req.set_token(held.token);
        req.set_key(name);
        req.set_public_key(std::string(AsStringView(key_pair_.public_key.Serialize())));
        req.set_associated_data(std::string(AsStringView(aad)));
        ASSIGN_OR_RETURN(v1::GetDataKeyResponse resp, connection_->GetDataKey(req));
        if (!resp.has_sealed()) {
          return absl::DataLossError("GetDataKey: the response carries no sealed key");
        }
        ASSIGN_OR_RETURN(out.plaintext,
                         OpenSealedKey(key_pair_.private_key, resp.sealed(), name, held.token_id));
        out.key_version = resp.sealed().key_version();
        out.wrapped.assign(resp.wrapped().begin(), resp.wrapped().end());
        // The wrapped copy is what decrypts this data key later: it must be
        // an SRC1 ciphertext under the very key version the data key came
        // sealed for.
        absl::StatusOr<storage::sealed::WrappedKeyReference> ref =
            storage::sealed::ParseWrappedKeyReference(out.wrapped, "wrapped");
        if (!ref.ok()) {
          return absl::DataLossError(absl::StrCat("GetDataKey: ", ref.status().message()));
        }
        if (absl::StrCat("keys/", ref->key_id, "/versions/", ref->version) != out.key_version) {
          return absl::DataLossError(absl::StrCat("GetDataKey: wrapped: under keys/", ref->key_id,
                                                  "/versions/", ref->version,
                                                  ", not the sealed key's ", out.key_version));
        }
        out.sealed = std::move(*resp.mutable_sealed());
        out.token = held.token;
        return std::move(out);
      });
}

absl::StatusOr<std::string> WorkloadClient::Attest(absl::string_view key) {
  ASSIGN_OR_RETURN(HeldToken held, AttestFor(TokenResource(key)));
  return held.token;
}

std::optional<std::string> WorkloadClient::token(absl::string_view key) const {
  auto it = tokens_.find(TokenResource(key));
  if (it == tokens_.end()) return std::nullopt;
  return it->second.token;
}

absl::StatusOr<SecretBytes> WorkloadClient::ExportEphemeralPrivateKeyPem() const {
  return key_pair_.private_key.ToPkcs8Pem();
}

}  // namespace strongroom::client
