#include "kms/broker/key_broker.h"

#include <openssl/rand.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "attest/binding.h"
#include "attest/x509.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/broker/key_broker_internal.h"
#include "kms/broker/pinned_reference_values.h"
#include "kms/hpke/hpke.h"
#include "kms/hpke/keys.h"
#include "kms/hpke/suite.h"
#include "kms/resource_names.h"
#include "storage/sealed/object_names.h"

namespace strongroom::kms {
namespace {

absl::StatusOr<hpke::Kem> KemOf(v1::HpkeKem kem) {
  switch (kem) {
    case v1::HPKE_KEM_UNSPECIFIED:
    case v1::HPKE_KEM_P256_SHA256:
      return hpke::Kem::kDhkemP256HkdfSha256;
    case v1::HPKE_KEM_X25519_SHA256:
      return hpke::Kem::kDhkemX25519HkdfSha256;
    default:
      return absl::InvalidArgumentError(absl::StrCat("kem: ", static_cast<int>(kem),
                                                     " is not a supported HPKE KEM"));
  }
}

// A token id. Ids must not repeat (a revocation names one), so a failed
// RAND_bytes is an error, never stack bytes.
absl::StatusOr<std::string> RandomId() {
  uint8_t id[16];
  if (RAND_bytes(id, sizeof(id)) != 1) {
    return absl::InternalError("RAND_bytes failed while making a token id");
  }
  return HexEncode(id);
}

// The key name without a version, for comparisons.
std::string KeyOf(absl::string_view name) {
  size_t pos = name.find("/versions/");
  return std::string(pos == absl::string_view::npos ? name : name.substr(0, pos));
}

// Audit records name digests with their algorithm.
std::string PolicyDigest(const attest::Policy& p) { return absl::StrCat("sha256:", p.Digest()); }

bool IsDataset(absl::string_view resource) { return absl::StartsWith(resource, "datasets/"); }

// What a challenge or token is for: "keys/{key}" or "datasets/{id}".
absl::StatusOr<std::string> ParseResource(absl::string_view name) {
  const std::string normalized = NormalizeKey(name);
  if (IsDataset(normalized)) {
    ASSIGN_OR_RETURN(std::string id, storage::sealed::ParseDatasetName(normalized, "key"));
    return storage::sealed::DatasetResourceName(id);
  }
  ASSIGN_OR_RETURN(std::string key_id, ParseKeyName(normalized, "key"));
  return KeyName(key_id);
}

// A refusal before any decision (rate limit, not a workload, too many
// challenges): logged, not audited one by one (a caller could otherwise
// flood the synced audit log). Returns `s`.
absl::Status Refused(const Caller& c, absl::Status s) {
  LogInfo("broker.refused", {{"principal", c.principal},
                             {"code", absl::StatusCodeToString(s.code())},
                             {"reason", std::string(s.message())}});
  return s;
}

}  // namespace

// The cnf JWK of a workload's HPKE public key (RFC 7800 / 8037).
nlohmann::json PublicKeyJwk(hpke::Kem kem, const Bytes& pk) {
  if (kem == hpke::Kem::kDhkemX25519HkdfSha256) {
    return {{"kty", "OKP"}, {"crv", "X25519"}, {"x", Base64UrlEncode(pk)}};
  }
  return P256Jwk(pk);
}

std::string NormalizeKey(absl::string_view name) {
  if (absl::StartsWith(name, "datasets/")) return std::string(name);
  return absl::StartsWith(name, "keys/") ? std::string(name) : absl::StrCat("keys/", name);
}

KeyBroker::KeyBroker(KeyManager& keys, AttestationAdmin& admin,
                     const attest::VerifierSet& verifiers, const EarTokenSigner& signer,
                     AuditLog& audit, const Clock& clock, BrokerOptions options)
    : keys_(keys),
      admin_(admin),
      verifiers_(verifiers),
      signer_(signer),
      audit_(audit),
      clock_(clock),
      options_(std::move(options)),
      challenges_(clock, options_.challenge_ttl, options_.max_challenges,
                  options_.max_challenges_per_principal),
      limiter_(clock, options_.rate_per_second, options_.rate_burst) {
  // Revocations survive a restart (until their tokens would have expired).
  absl::StatusOr<std::map<std::string, absl::Time>> kept =
      admin_.ActiveRevocations(clock_.Now(), options_.kept_revocations);
  if (kept.ok()) {
    revoked_ = *std::move(kept);
  } else {
    revocations_unread_ = true;
    LogError("broker.revocations_unreadable",
             {{"error", std::string(kept.status().message())},
              {"effect", "tokens are refused until they are read"}});
  }
}

absl::Status KeyBroker::Admit(const Caller& c) {
  if (absl::Status s = limiter_.Acquire(c.principal); !s.ok()) return Refused(c, std::move(s));
  if (c.role != Role::kWorkload) {
    return Refused(c, absl::PermissionDeniedError(absl::StrCat(
                          "principal '", c.principal, "' (role ", RoleName(c.role),
                          ") is not a workload; only workloads attest and receive keys")));
  }
  return absl::OkStatus();
}

absl::StatusOr<hpke::PublicKey> KeyBroker::ParsePublicKey(hpke::Kem kem,
                                                          absl::string_view bytes) {
  const std::string key = absl::StrCat(static_cast<int>(kem), ":", bytes);
  if (std::optional<hpke::PublicKey> known = public_keys_.Find(key); known.has_value()) {
    return *std::move(known);
  }
  ASSIGN_OR_RETURN(hpke::PublicKey pk, hpke::PublicKey::Create(kem, AsBytes(bytes)));
  public_keys_.Insert(key, pk);
  return pk;
}

absl::Status KeyBroker::DenyWithCode(absl::StatusCode code, const Caller& c,
                                     absl::string_view action, absl::string_view resource,
                                     absl::string_view reason_id, absl::string_view detail,
                                     absl::string_view evidence_digest,
                                     const AuditLog::Ticket* after) {
  absl::Status s = Deny(c, action, resource, reason_id, detail, evidence_digest, "", after);
  return absl::IsPermissionDenied(s) ? absl::Status(code, s.message()) : s;
}

absl::Status KeyBroker::Deny(const Caller& c, absl::string_view action, absl::string_view resource,
                             absl::string_view reason_id, absl::string_view detail,
                             absl::string_view evidence_digest, absl::string_view policy_digest,
                             const AuditLog::Ticket* after) {
  AuditEntry e;
  e.principal = c.principal;
  e.action = std::string(action);
  e.resource = std::string(resource);
  e.decision = AuditDecision::kDeny;
  e.reason_id = std::string(reason_id);
  e.reason_detail = AuditSafeDetail(detail);
  e.evidence_digest = std::string(evidence_digest);
  e.policy_digest = std::string(policy_digest);
  absl::StatusOr<AuditRecord> rec = audit_.Append(std::move(e), after);
  LogInfo("broker.denied", {{"action", std::string(action)},
                            {"principal", c.principal},
                            {"reason", std::string(reason_id)}});
  if (!rec.ok()) {
    return absl::UnavailableError(
        absl::StrCat("refused: ", reason_id, " (audit log unavailable)"));
  }
  return absl::PermissionDeniedError(
      absl::StrCat("refused: ", reason_id, " (audit ", rec->sequence, ")"));
}

absl::StatusOr<v1::GetChallengeResponse> KeyBroker::GetChallenge(
    const Caller& c, const v1::GetChallengeRequest& r) {
  RETURN_IF_ERROR(Admit(c));
  ASSIGN_OR_RETURN(const std::string key, ParseResource(r.key()));
  absl::StatusOr<Challenge> issued = challenges_.Issue(c.principal, key);
  if (!issued.ok()) return Refused(c, issued.status());
  Challenge& ch = *issued;
  // Not waited for: the nonce does nothing until Attest redeems it, and
  // Attest's record, synced, follows this one (and is refused if this one's
  // write failed); a crash before the write loses the in-memory nonce too.
  AuditEntry e{.principal = c.principal, .action = "challenge", .resource = key,
               .decision = AuditDecision::kAllow};
  absl::StatusOr<AuditLog::Ticket> record = audit_.AppendUnsynced(std::move(e));
  if (!record.ok()) {
    challenges_.Withdraw(ch.nonce);  // never handed out: not left holding a place
    return record.status();
  }
  challenges_.Attach(ch.nonce, *std::move(record));
  v1::GetChallengeResponse out;
  out.set_nonce(std::string(AsStringView(ch.nonce)));
  out.set_expire_time_unix(absl::ToUnixSeconds(ch.expires_at));
  return out;
}

absl::StatusOr<v1::AttestResponse> KeyBroker::Attest(const Caller& c,
                                                     const v1::AttestRequest& r) {
  RETURN_IF_ERROR(Admit(c));
  ASSIGN_OR_RETURN(const std::string key, ParseResource(r.key()));
  if (r.nonce().size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("nonce: ", r.nonce().size(), " bytes, expected 32"));
  }
  // A release in the same call: a version (or the primary) of this very key.
  std::string release;
  if (!r.release().empty()) {
    if (IsDataset(key)) {
      return absl::InvalidArgumentError(
          "release: only for keys; a dataset's object keys come from GetObjectKey");
    }
    // Parsed names are canonical: the normalized name is the one to use.
    release = NormalizeKey(r.release());
    RETURN_IF_ERROR(ParseKeyOrVersionName(release, "release").status());
    if (KeyOf(release) != key) {
      return absl::InvalidArgumentError(
          absl::StrCat("release: '", r.release(), "' is not a version of ", key));
    }
  }
  ASSIGN_OR_RETURN(hpke::Kem kem, KemOf(r.kem()));
  absl::StatusOr<hpke::PublicKey> pk = ParsePublicKey(kem, r.public_key());
  if (!pk.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("public_key: ", pk.status().message()));
  }
  RETURN_IF_ERROR(CheckEvidenceSizes(r.evidence()));
  std::vector<attest::Evidence> evidence;
  std::string digest_input;
  std::set<attest::EvidenceType> types;
  for (int i = 0; i < r.evidence_size(); ++i) {
    const v1::EvidenceItem& item = r.evidence(i);
    ASSIGN_OR_RETURN(attest::Evidence e,
                     EvidenceFromProto(item, absl::StrCat("evidence[", i, "]")));
    // Shapes the appraisal would refuse anyway, refused while the nonce is
    // still unused (a caller's mistake should not cost a challenge).
    if (!types.insert(e.type).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("evidence[", i, "]: a second '", item.type(), "' item (one per type)"));
    }
    if (!verifiers_.Has(e.type)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "evidence[", i, "].type: '", item.type(), "' evidence is not verified by this server"));
    }
    if (e.collateral_dir.empty()) e.collateral_dir = options_.collateral_dir;
    absl::StrAppend(&digest_input, item.type(), ":", attest::Sha256Hex(AsBytes(item.payload())),
                    ";");
    evidence.push_back(std::move(e));
  }
  const std::string evidence_digest =
      absl::StrCat("sha256:", attest::Sha256Hex(AsBytes(digest_input)));

  // A server without the sealed store cannot weigh a dataset at all: said
  // before the nonce is spent.
  if (IsDataset(key)) RETURN_IF_ERROR(Directory().status());
  // The nonce is consumed first: whatever happens next, it cannot be replayed.
  std::optional<AuditLog::Ticket> challenge_record;
  if (absl::Status s = challenges_.Redeem(AsBytes(r.nonce()), c.principal, key, &challenge_record);
      !s.ok()) {
    std::string id(s.message().substr(0, s.message().find(':')));
    return Deny(c, "attest", key, id, s.message(), evidence_digest);
  }
  // Denials from here on follow the challenge's record: if its write failed,
  // they are refused (Unavailable) and nothing is recorded for this nonce.
  const AuditLog::Ticket* after_redeem = challenge_record ? &*challenge_record : nullptr;
  std::string policy_name;
  int64_t policy_version = 0;
  bool dual_control = false;
  std::vector<std::string> pins;  // dual_control keys: Key.release_reference_sets
  // A dataset under a dual_control key: that key's binding, which must allow too.
  std::string dataset_key;
  std::optional<KeyManager::ReleaseBinding> key_binding;
  if (IsDataset(key)) {
    ASSIGN_OR_RETURN(DatasetPolicy dp, DatasetPolicyFor(c, key, evidence_digest, after_redeem));
    policy_name = std::move(dp.name);
    policy_version = dp.version;
    dataset_key = std::move(dp.key);
    key_binding = std::move(dp.dual_control_binding);
  } else {
    absl::StatusOr<KeyManager::ReleaseTarget> target = keys_.FindReleaseTarget(key);
    if (!target.ok()) {
      return Deny(c, "attest", key,
                  absl::IsNotFound(target.status()) ? "key_not_found" : "key_not_releasable",
                  target.status().message(), evidence_digest, "", after_redeem);
    }
    policy_name = target->key.release_policy();
    policy_version = target->key.release_policy_version();
    dual_control = target->key.dual_control();
    pins.assign(target->key.release_reference_sets().begin(),
                target->key.release_reference_sets().end());
  }
  absl::StatusOr<attest::Policy> policy = admin_.LoadPolicy(policy_name, policy_version);
  if (!policy.ok()) {
    return Deny(c, "attest", key, "policy_unavailable", policy.status().message(), evidence_digest,
                "", after_redeem);
  }

  const absl::Time now = clock_.Now();
  const Bytes binding = attest::AttestationBinding(static_cast<uint16_t>(kem),
                                                   AsBytes(r.nonce()), pk->Serialize());
  std::vector<attest::VerifyContext> contexts(evidence.size());
  for (auto& ctx : contexts) {
    ctx.at = now;
    ctx.expected_report_data = binding;
  }
  absl::StatusOr<attest::CompositeAppraisal> appraisal = verifiers_.Appraise(evidence, contexts);
  if (!appraisal.ok()) {
    return Deny(c, "attest", key, "evidence_rejected", appraisal.status().message(),
                evidence_digest, PolicyDigest(*policy), after_redeem);
  }
  // Every decision below weighs the same claims at the same time.
  auto evaluate = [&](const attest::Policy& p, const attest::ReferenceValueResolver& values) {
    return p.Evaluate(appraisal->claims, values, now,
                      attest::EvaluationContext::FromAppraisals(appraisal->submodules));
  };
  attest::PolicyDecision decision = evaluate(*policy, admin_);
  if (!decision.allow) {
    return Deny(c, "attest", key, "policy_denied",
                absl::StrCat(decision.failed_path, ": ", decision.reason), evidence_digest,
                PolicyDigest(*policy), after_redeem);
  }
  if (dual_control) {
    // The same evidence under the reference values pinned when two admins
    // bound the policy: a set changed since by one admin can only tighten.
    attest::PolicyDecision at_binding = evaluate(*policy, PinnedReferenceValues(admin_, pins, key));
    if (!at_binding.allow) {
      return Deny(c, "attest", key, "policy_denied",
                  absl::StrCat(at_binding.failed_path, ": ", at_binding.reason,
                               " (under the reference values pinned at the key's dual-control "
                               "binding)"),
                  evidence_digest, PolicyDigest(*policy), after_redeem);
    }
  }

  if (key_binding.has_value()) {
    // The dataset's key is dual_control: its own binding decides as well, as
    // it would for a release of the key (current and pinned reference
    // values), so one admin widening the dataset's policy releases nothing
    // the key's two admins did not approve.
    absl::StatusOr<attest::Policy> key_policy =
        admin_.LoadPolicy(key_binding->policy, key_binding->policy_version);
    if (!key_policy.ok()) {
      return Deny(c, "attest", key, "policy_unavailable",
                  absl::StrCat(dataset_key, "'s binding: ", key_policy.status().message()),
                  evidence_digest, PolicyDigest(*policy), after_redeem);
    }
    auto deny_by_key = [&](const attest::PolicyDecision& d, absl::string_view values) {
      return Deny(c, "attest", key, "policy_denied",
                  absl::StrCat(d.failed_path, ": ", d.reason, " (under ", dataset_key,
                               "'s dual-control binding ", key_binding->policy, " v",
                               key_binding->policy_version, values, ")"),
                  evidence_digest, PolicyDigest(*policy), after_redeem);
    };
    attest::PolicyDecision by_key = evaluate(*key_policy, admin_);
    if (!by_key.allow) return deny_by_key(by_key, "");
    attest::PolicyDecision by_pins =
        evaluate(*key_policy, PinnedReferenceValues(admin_, key_binding->pins, dataset_key));
    if (!by_pins.allow) return deny_by_key(by_pins, " and the reference values it pinned");
    // The token also stands on the sets the key's policy consulted now.
    for (auto& consulted : by_key.consulted_sets) {
      if (std::find(decision.consulted_sets.begin(), decision.consulted_sets.end(), consulted) ==
          decision.consulted_sets.end()) {
        decision.consulted_sets.push_back(std::move(consulted));
      }
    }
  }

  ASSIGN_OR_RETURN(const std::string token_id, RandomId());
  const absl::Time exp = now + options_.token_ttl;
  nlohmann::json payload = appraisal->ToEar(options_.verifier_id, now);
  payload["exp"] = absl::ToUnixSeconds(exp);
  payload["jti"] = token_id;
  payload["sub"] = c.principal;
  payload["ear.status"] = std::string(attest::TrustTierName(appraisal->status()));
  payload["cnf"] = {{"jwk", PublicKeyJwk(kem, pk->Serialize())}};
  nlohmann::json refs = nlohmann::json::array();
  for (const auto& [name, version] : decision.consulted_sets) {
    refs.push_back(absl::StrCat(name, "@", version));
  }
  payload["strongroom"] = {{IsDataset(key) ? "dataset" : "key", key},
                           {"policy", policy_name},
                           {"policy_version", policy_version},
                           {"policy_digest", policy->Digest()},
                           {"reference_values", refs},
                           {"evidence_digest", evidence_digest}};
  if (key_binding.has_value()) {
    payload["strongroom"]["key_policy"] = key_binding->policy;
    payload["strongroom"]["key_policy_version"] = key_binding->policy_version;
    payload["strongroom"]["key_policy_pins"] = key_binding->pins;
  }
  ASSIGN_OR_RETURN(std::string token, signer_.Sign(payload));
  AuditEntry e{.principal = c.principal, .action = "attest", .resource = key,
               .decision = AuditDecision::kAllow, .reason_id = "",
               .reason_detail = absl::StrCat("token ", token_id),
               .evidence_digest = evidence_digest, .policy_digest = PolicyDigest(*policy)};
  const AuditLog::Ticket* after_challenge = challenge_record ? &*challenge_record : nullptr;
  v1::AttestResponse out;
  if (release.empty()) {
    RETURN_IF_ERROR(audit_.Append(std::move(e), after_challenge).status());
  } else {
    // Exactly what ReleaseKey does with this token (its checks, audit record
    // and sealing; the call was admitted once); a refusal fails the whole
    // call, so no token without it. The token leaves only with the release,
    // so the attest record need not be waited for on its own: the release
    // record's synced write follows it and carries it.
    ASSIGN_OR_RETURN(AuditLog::Ticket attest_record,
                     audit_.AppendUnsynced(std::move(e), after_challenge));
    v1::ReleaseKeyRequest rk;
    rk.set_token(token);
    rk.set_key(release);
    rk.set_public_key(r.public_key());
    ASSIGN_OR_RETURN(v1::ReleaseKeyResponse released, ReleaseAdmitted(c, rk, &attest_record));
    *out.mutable_sealed() = std::move(*released.mutable_sealed());
  }
  out.set_token(std::move(token));
  out.set_expire_time_unix(absl::ToUnixSeconds(exp));
  out.set_ear_status(std::string(attest::TrustTierName(appraisal->status())));
  return out;
}

const nlohmann::json& JsonMember(const nlohmann::json& object, absl::string_view name) {
  static const nlohmann::json* const kNull = new nlohmann::json();
  if (!object.is_object()) return *kNull;
  auto it = object.find(std::string_view(name.data(), name.size()));
  return it == object.end() ? *kNull : *it;
}

std::string JsonString(const nlohmann::json& object, absl::string_view name) {
  const nlohmann::json& v = JsonMember(object, name);
  return v.is_string() ? v.get<std::string>() : std::string();
}

absl::StatusOr<KeyBroker::CheckedToken> KeyBroker::CheckTokenFor(const Caller& c,
                                                                 absl::string_view action,
                                                                 absl::string_view token,
                                                                 absl::string_view key_name) {
  const absl::Time now = clock_.Now();
  absl::StatusOr<std::shared_ptr<const nlohmann::json>> payload =
      signer_.VerifyShared(token, now);
  if (!payload.ok()) {
    absl::string_view id = absl::StrContains(payload.status().message(), "expired")
                               ? "token_expired"
                               : "token_invalid";
    return Deny(c, action, key_name, id, payload.status().message());
  }
  CheckedToken t;
  t.payload = *std::move(payload);
  const nlohmann::json& sr = JsonMember(*t.payload, "strongroom");
  t.token_id = JsonString(*t.payload, "jti");
  // A token names a key or a dataset, never both.
  t.key = sr.contains("dataset") ? JsonString(sr, "dataset") : JsonString(sr, "key");
  t.policy = JsonString(sr, "policy");
  if (const nlohmann::json& v = JsonMember(sr, "policy_version"); v.is_number_integer()) {
    t.policy_version = v.get<int64_t>();
  }
  t.policy_digest = absl::StrCat("sha256:", JsonString(sr, "policy_digest"));
  t.evidence_digest = JsonString(sr, "evidence_digest");
  t.key_policy = JsonString(sr, "key_policy");
  if (const nlohmann::json& v = JsonMember(sr, "key_policy_version"); v.is_number_integer()) {
    t.key_policy_version = v.get<int64_t>();
  }
  for (const nlohmann::json& pin : JsonMember(sr, "key_policy_pins")) {
    if (const std::string* s = pin.get_ptr<const std::string*>(); s != nullptr) {
      t.key_policy_pins.push_back(*s);
    }
  }
  // A token that lives longer than tokens are issued for now was made under
  // a longer token_ttl: a revocation is kept only that long, so it is not
  // honoured past it either. `iat` and `exp` are whole seconds, each rounded
  // down, so a token_ttl with a fraction of a second gives tokens of its
  // rounded-up length.
  if (const nlohmann::json& exp = JsonMember(*t.payload, "exp"),
      &iat = JsonMember(*t.payload, "iat");
      exp.is_number_integer() && iat.is_number_integer() &&
      exp.get<int64_t>() - iat.get<int64_t>() >
          absl::ToInt64Seconds(absl::Ceil(options_.token_ttl, absl::Seconds(1)))) {
    return Deny(c, action, key_name, "token_invalid",
                absl::StrCat("token ", t.token_id, " lives longer than token_ttl ",
                             absl::FormatDuration(options_.token_ttl)));
  }
  bool revoked = false;
  bool unread = false;
  {
    std::lock_guard<std::mutex> lock(revoked_mu_);
    if (revocations_unread_ && now >= revocations_retry_after_) {
      absl::StatusOr<std::map<std::string, absl::Time>> kept =
          admin_.ActiveRevocations(now, options_.kept_revocations);
      if (kept.ok()) {
        revoked_ = *std::move(kept);
        revocations_unread_ = false;
      } else {
        revocations_retry_after_ = now + absl::Seconds(1);
      }
    }
    unread = revocations_unread_;
    // An entry stays while its token may pass (so whatever the clock did
    // since it was judged expired) up to kept_revocations entries.
    revoked = revoked_.contains(t.token_id);
  }
  // Denied (an audited, synced write) after the lock: every token check
  // takes it, and one replayed revoked token must not stall them all.
  if (revoked) {
    return Deny(c, action, key_name, "token_revoked",
                absl::StrCat("token ", t.token_id, " was revoked"));
  }
  if (unread) {
    return Deny(c, action, key_name, "token_revocations_unreadable",
                "the stored token revocations cannot be read; no token is accepted until they are");
  }
  if (JsonString(*t.payload, "sub") != c.principal) {
    return Deny(c, action, key_name, "token_wrong_principal",
                absl::StrCat("token ", t.token_id, " was issued to another principal"));
  }
  if (KeyOf(key_name) != t.key) {
    return Deny(c, action, key_name,
                IsDataset(key_name) ? "token_wrong_dataset" : "token_wrong_key",
                absl::StrCat("token ", t.token_id, " is for ", t.key.empty() ? "nothing" : t.key));
  }
  // Revocation by change: the token stands only while the key's (or the
  // dataset's) policy binding and every reference-value set it relied on
  // are unchanged.
  if (IsDataset(t.key)) {
    RETURN_IF_ERROR(CheckDatasetUnchanged(c, action, key_name, t));
  } else {
    absl::StatusOr<KeyManager::ReleaseTarget> target = keys_.FindReleaseTarget(t.key);
    if (!target.ok()) {
      return Deny(c, action, key_name, "key_not_releasable", target.status().message());
    }
    // The binding unchanged, and the policy it names still there: deleting a
    // policy stops releases under it at once, as it does for datasets.
    if (target->key.release_policy() != t.policy ||
        target->key.release_policy_version() != t.policy_version ||
        !admin_.CheckPolicyExists(t.policy, t.policy_version).ok()) {
      return Deny(c, action, key_name, "token_revoked_policy_changed",
                  absl::StrCat("token ", t.token_id, " was issued under ", t.policy, " v",
                               std::max<int64_t>(t.policy_version, 0)));
    }
    t.target = *std::move(target);
  }
  const nlohmann::json& refs = JsonMember(sr, "reference_values");
  if (!refs.is_null() && !refs.is_array()) {
    return Deny(c, action, key_name, "token_invalid",
                absl::StrCat("token ", t.token_id, ": reference_values is not an array"));
  }
  for (const nlohmann::json& ref : refs) {
    const std::string* s = ref.get_ptr<const std::string*>();
    const size_t at = s == nullptr ? std::string::npos : s->rfind('@');
    if (at == std::string::npos) {
      return Deny(c, action, key_name, "token_revoked_reference_values_changed",
                  absl::StrCat("token ", t.token_id, " relied on ", ref.dump()));
    }
    const absl::string_view name = absl::string_view(*s).substr(0, at);
    absl::StatusOr<attest::ReferenceValueSet> set = admin_.Resolve(name);
    if (!set.ok() || absl::StrCat(name, "@", set->version) != *s) {
      return Deny(c, action, key_name, "token_revoked_reference_values_changed",
                  absl::StrCat("token ", t.token_id, " relied on ", *s));
    }
  }
  return t;
}

absl::StatusOr<TokenGrant> KeyBroker::CheckToken(const Caller& c, absl::string_view token,
                                                 absl::string_view key) {
  RETURN_IF_ERROR(Admit(c));
  ASSIGN_OR_RETURN(CheckedToken t, CheckTokenFor(c, "read", token, NormalizeKey(key)));
  return TokenGrant{t.token_id, c.principal, t.key};
}

}  // namespace strongroom::kms
