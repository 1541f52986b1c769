#include "kms/broker/ear_token.h"

#include <openssl/sha.h>

#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "attest/x509.h"
#include "base/bytes.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/pkcs11/ecdsa_der.h"

namespace strongroom::kms {
namespace {

constexpr size_t kMaxTokenBytes = 16 * 1024;

absl::StatusOr<nlohmann::json> DecodeJsonPart(absl::string_view part,
                                              absl::string_view what) {
  absl::StatusOr<Bytes> raw = Base64UrlDecode(part, what);
  if (!raw.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("token ", what, ": not base64url"));
  }
  nlohmann::json j = nlohmann::json::parse(raw->begin(), raw->end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("token ", what, ": not a JSON object"));
  }
  return j;
}

// iat - leeway <= now < exp, or PermissionDenied naming the defect.
absl::Status CheckTokenTimes(absl::Time iat, absl::Time exp, absl::Time now) {
  if (now >= exp) {
    return absl::PermissionDeniedError(absl::StrCat(
        "token expired at ",
        absl::FormatTime(absl::RFC3339_sec, exp, absl::UTCTimeZone())));
  }
  if (iat > now + kTokenIatLeeway) {
    return absl::PermissionDeniedError("token issued in the future");
  }
  return absl::OkStatus();
}

// The payload's iat and exp; InvalidArgument when either is missing.
absl::Status ReadTokenTimes(const nlohmann::json& payload, absl::Time* iat, absl::Time* exp) {
  if (!payload.contains("exp") || !payload["exp"].is_number_integer() ||
      !payload.contains("iat") || !payload["iat"].is_number_integer()) {
    return absl::InvalidArgumentError("token payload: iat and exp required");
  }
  *exp = absl::FromUnixSeconds(payload["exp"].get<int64_t>());
  *iat = absl::FromUnixSeconds(payload["iat"].get<int64_t>());
  return absl::OkStatus();
}

}  // namespace

nlohmann::json P256Jwk(std::span<const uint8_t> point) {
  std::span<const uint8_t> xy = point.subspan(point.size() == 65 ? 1 : 0);
  size_t half = xy.size() / 2;
  return nlohmann::json{{"kty", "EC"},
                        {"crv", "P-256"},
                        {"x", Base64UrlEncode(xy.subspan(0, half))},
                        {"y", Base64UrlEncode(xy.subspan(half))}};
}

std::string JwkThumbprint(const nlohmann::json& jwk) {
  // RFC 7638: required members only, lexicographic order, no whitespace.
  std::string canonical = absl::StrCat(
      R"({"crv":")", jwk.value("crv", ""), R"(","kty":")", jwk.value("kty", ""),
      R"(","x":")", jwk.value("x", ""), R"(","y":")", jwk.value("y", ""),
      R"("})");
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(canonical.data()), canonical.size(), md);
  return Base64UrlEncode(md);
}

EarTokenSigner::EarTokenSigner(pkcs11::Hsm& hsm, pkcs11::KeyHandle private_key,
                               Bytes public_point, EVP_PKEY* public_key,
                               std::string kid)
    : hsm_(hsm),
      private_key_(std::move(private_key)),
      public_point_(std::move(public_point)),
      public_key_(public_key),
      kid_(std::move(kid)) {}

EarTokenSigner::~EarTokenSigner() {
  EVP_PKEY_free(public_key_);
  // Best effort: the copy goes with the Hsm's session in any case.
  if (session_key_.has_value()) hsm_.DestroyKey(*session_key_).IgnoreError();
}

absl::StatusOr<std::unique_ptr<EarTokenSigner>> EarTokenSigner::Create(
    pkcs11::Hsm& hsm, absl::string_view label) {
  pkcs11::KeyHandle priv;
  Bytes point;
  absl::StatusOr<pkcs11::KeyHandle> found =
      hsm.FindKey(pkcs11::KeyKind::kEcPrivate, label);
  if (found.ok()) {
    priv = *found;
    ASSIGN_OR_RETURN(pkcs11::KeyHandle pub,
                     hsm.FindKey(pkcs11::KeyKind::kEcPublic, label));
    ASSIGN_OR_RETURN(point, hsm.GetEcPublicPoint(pub));
  } else if (absl::IsNotFound(found.status())) {
    pkcs11::KeyOptions opts;
    opts.label = std::string(label);
    opts.persistent = true;
    opts.usage = pkcs11::kUsageSign | pkcs11::kUsageVerify;
    ASSIGN_OR_RETURN(pkcs11::EcKeyPair pair,
                     hsm.GenerateEcKeyPair(pkcs11::EcCurve::kP256, opts));
    priv = pair.private_key;
    point = pair.public_point;
  } else {
    return found.status();
  }
  ASSIGN_OR_RETURN(std::shared_ptr<EVP_PKEY> pub,
                   attest::EcPublicKeyFromPoint(NID_X9_62_prime256v1, point,
                                                "token signing key"));
  EVP_PKEY_up_ref(pub.get());
  std::string kid = JwkThumbprint(P256Jwk(point));
  auto signer =
      std::unique_ptr<EarTokenSigner>(new EarTokenSigner(hsm, priv, point, pub.get(), kid));
  signer->RenewSessionKey(0);
  return signer;
}

pkcs11::KeyHandle EarTokenSigner::SigningKey() const {
  std::lock_guard<std::mutex> lock(session_key_mu_);
  return session_key_.has_value() ? *session_key_ : private_key_;
}

void EarTokenSigner::RenewSessionKey(uint64_t generation) const {
  std::lock_guard<std::mutex> lock(session_key_mu_);
  // Another caller may have renewed it already.
  if (session_key_.has_value() && session_key_->generation != generation) return;
  absl::StatusOr<pkcs11::KeyHandle> copy = hsm_.CopyToSession(private_key_);
  if (copy.ok()) {
    session_key_ = *std::move(copy);
    return;
  }
  session_key_.reset();
  LogInfo("broker.token_key_not_copied", {{"error", std::string(copy.status().message())}});
}

absl::StatusOr<std::string> EarTokenSigner::Sign(
    const nlohmann::json& payload) const {
  nlohmann::json header = {{"alg", "ES256"}, {"typ", "JWT"}, {"kid", kid_}};
  const std::string body = payload.dump();
  std::string signing_input =
      absl::StrCat(Base64UrlEncode(AsBytes(header.dump())), ".", Base64UrlEncode(AsBytes(body)));
  const pkcs11::KeyHandle key = SigningKey();
  absl::StatusOr<Bytes> signed_der =
      hsm_.EcdsaSign(key, pkcs11::HashAlg::kSha256, AsBytes(signing_input));
  if (!signed_der.ok() && !key.persistent && absl::IsFailedPrecondition(signed_der.status())) {
    // The module was re-initialized and took the session copy with it.
    RenewSessionKey(key.generation);
    signed_der = hsm_.EcdsaSign(SigningKey(), pkcs11::HashAlg::kSha256, AsBytes(signing_input));
  }
  ASSIGN_OR_RETURN(Bytes der, std::move(signed_der));
  ASSIGN_OR_RETURN(Bytes raw, pkcs11::EcdsaDerToRaw(der, 32));
  std::string token = absl::StrCat(signing_input, ".", Base64UrlEncode(raw));
  // Remembered as Verify() would parse it, so a later use gets the same
  // payload without verifying our own signature.
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  Verified v;
  if (!parsed.is_discarded() && ReadTokenTimes(parsed, &v.iat, &v.exp).ok()) {
    v.payload = std::make_shared<const nlohmann::json>(std::move(parsed));
    verified_.Insert(token, std::move(v));
  }
  return token;
}

absl::StatusOr<nlohmann::json> EarTokenSigner::Verify(absl::string_view jwt,
                                                      absl::Time now) const {
  ASSIGN_OR_RETURN(std::shared_ptr<const nlohmann::json> payload, VerifyShared(jwt, now));
  return *payload;
}

absl::StatusOr<std::shared_ptr<const nlohmann::json>> EarTokenSigner::VerifyShared(
    absl::string_view jwt, absl::Time now) const {
  if (jwt.size() > kMaxTokenBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("token: ", jwt.size(), " bytes, at most ", kMaxTokenBytes));
  }
  if (std::optional<Verified> known = verified_.Find(jwt); known.has_value()) {
    RETURN_IF_ERROR(CheckTokenTimes(known->iat, known->exp, now));
    return std::move(known->payload);
  }
  std::vector<absl::string_view> parts = absl::StrSplit(jwt, '.');
  if (parts.size() != 3) {
    return absl::InvalidArgumentError(
        "token: not a JWS compact serialization (header.payload.signature)");
  }
  ASSIGN_OR_RETURN(nlohmann::json header, DecodeJsonPart(parts[0], "header"));
  // By type first: json::value() throws when the member is there with
  // another type ({"alg": 1}), and nothing may throw on a caller's token.
  const auto string_member = [&](const char* name) -> const std::string* {
    auto it = header.find(name);
    return it == header.end() ? nullptr : it->get_ptr<const std::string*>();
  };
  const std::string* alg = string_member("alg");
  if (alg == nullptr || *alg != "ES256") {
    return absl::PermissionDeniedError("token header: alg must be ES256");
  }
  const std::string* kid = string_member("kid");
  if (kid == nullptr || *kid != kid_) {
    return absl::PermissionDeniedError("token header: unknown kid");
  }
  absl::StatusOr<Bytes> sig = Base64UrlDecode(parts[2], "signature");
  if (!sig.ok() || sig->size() != 64) {
    return absl::InvalidArgumentError("token signature: not 64 bytes of base64url");
  }
  size_t signed_len = parts[0].size() + 1 + parts[1].size();
  RETURN_IF_ERROR(attest::VerifyEcdsaRaw(
      public_key_, EVP_sha256(), AsBytes(jwt.substr(0, signed_len)),
      std::span<const uint8_t>(*sig).subspan(0, 32),
      std::span<const uint8_t>(*sig).subspan(32), "token"));
  ASSIGN_OR_RETURN(nlohmann::json payload, DecodeJsonPart(parts[1], "payload"));
  Verified v;
  RETURN_IF_ERROR(ReadTokenTimes(payload, &v.iat, &v.exp));
  RETURN_IF_ERROR(CheckTokenTimes(v.iat, v.exp, now));
  v.payload = std::make_shared<const nlohmann::json>(std::move(payload));
  std::shared_ptr<const nlohmann::json> out = v.payload;
  verified_.Insert(jwt, std::move(v));
  return out;
}

nlohmann::json EarTokenSigner::Jwks() const {
  nlohmann::json jwk = P256Jwk(public_point_);
  jwk["kid"] = kid_;
  jwk["alg"] = "ES256";
  jwk["use"] = "sig";
  return nlohmann::json{{"keys", nlohmann::json::array({jwk})}};
}

}  // namespace strongroom::kms
