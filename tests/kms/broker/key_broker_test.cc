#include "kms/broker/key_broker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <sstream>

#include "absl/strings/str_split.h"
#include "kms/audit/export_verifier.h"
#include "nlohmann/json.hpp"
#include "tests/kms/broker/broker_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class KeyBrokerTest : public BrokerFixture {};


TEST_F(KeyBrokerTest, ReleaseOpensOnlyWithTheWorkloadsPrivateKey) {
  MakeReleasableKey();
  for (hpke::Kem kem : {hpke::Kem::kDhkemP256HkdfSha256, hpke::Kem::kDhkemX25519HkdfSha256}) {
    ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload(kem));
    ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
    ASSERT_OK_AND_ASSIGN(auto released, Release(kWorkload, token, w.keys.public_key));
    EXPECT_EQ(released.sealed().key_version(), "keys/k/versions/1");
    ASSERT_OK_AND_ASSIGN(SecretBytes material, Open(released.sealed(), w.keys.private_key));
    EXPECT_EQ(material.size(), 32u);
    // Anyone else's private key opens nothing.
    ASSERT_OK_AND_ASSIGN(hpke::KeyPair other, hpke::GenerateKeyPair(kem));
    EXPECT_THAT(Open(released.sealed(), other.private_key),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("authenticate")));
    // The info binds key version and token id.
    EXPECT_THAT(released.sealed().info(), HasSubstr("keys/k/versions/1"));
    EXPECT_THAT(released.sealed().info(), HasSubstr(released.sealed().token_id()));
  }
}

// The token check's key lookup stands in for the release's only when the
// key is asked for without a version: a named version is looked up, and a
// rotation is seen by the next release with the same token.
TEST_F(KeyBrokerTest, ReleaseOfANamedVersionAndOfThePrimaryAfterRotation) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  ASSERT_OK_AND_ASSIGN(auto v1_release, Release(kWorkload, token, w.keys.public_key));
  ASSERT_EQ(v1_release.sealed().key_version(), "keys/k/versions/1");
  ASSERT_OK_AND_ASSIGN(SecretBytes v1_material, Open(v1_release.sealed(), w.keys.private_key));
  v1::RotateKeyRequest rotate;
  rotate.set_name("keys/k");
  ASSERT_OK(km_->RotateKey(kAdmin, rotate).status());

  ASSERT_OK_AND_ASSIGN(auto primary, Release(kWorkload, token, w.keys.public_key));
  EXPECT_EQ(primary.sealed().key_version(), "keys/k/versions/2");
  ASSERT_OK_AND_ASSIGN(SecretBytes v2_material, Open(primary.sealed(), w.keys.private_key));
  EXPECT_FALSE(v2_material.Equals(v1_material));

  ASSERT_OK_AND_ASSIGN(auto named,
                       Release(kWorkload, token, w.keys.public_key, "keys/k/versions/1"));
  EXPECT_EQ(named.sealed().key_version(), "keys/k/versions/1");
  ASSERT_OK_AND_ASSIGN(SecretBytes named_material, Open(named.sealed(), w.keys.private_key));
  EXPECT_TRUE(named_material.Equals(v1_material));
  EXPECT_THAT(Release(kWorkload, token, w.keys.public_key, "keys/k/versions/9"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("key_not_releasable")));
}

// Attest with `release` seals the key in the same call, exactly as a
// ReleaseKey with the new token would; a bad `release` is refused before
// the nonce is spent, and a refusal returns no token.
TEST_F(KeyBrokerTest, AttestReleasesTheKeyInTheSameCall) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string nonce, Challenge(kWorkload));
  ASSERT_OK_AND_ASSIGN(auto item, Evidence(w, nonce, kGoodMeasurement));
  for (const char* bad : {"keys/other", "other", "keys/k/versions/x", "keys/k/versions/0"}) {
    EXPECT_THAT(AttestWith(kWorkload, w, nonce, item, "keys/k", bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("release")))
        << bad;
  }
  ASSERT_OK_AND_ASSIGN(auto both, AttestWith(kWorkload, w, nonce, item, "keys/k", "k"));
  ASSERT_FALSE(both.token().empty());
  ASSERT_TRUE(both.has_sealed());
  EXPECT_EQ(both.sealed().key_version(), "keys/k/versions/1");
  ASSERT_OK_AND_ASSIGN(SecretBytes material, Open(both.sealed(), w.keys.private_key));
  // The same token releases the same material, and its id is in the seal.
  ASSERT_OK_AND_ASSIGN(auto again, Release(kWorkload, both.token(), w.keys.public_key));
  EXPECT_EQ(again.sealed().token_id(), both.sealed().token_id());
  ASSERT_OK_AND_ASSIGN(SecretBytes material2, Open(again.sealed(), w.keys.private_key));
  EXPECT_TRUE(material.Equals(material2));
  ASSERT_OK_AND_ASSIGN(hpke::KeyPair other, hpke::GenerateKeyPair(w.keys.public_key.kem()));
  EXPECT_FALSE(Open(both.sealed(), other.private_key).ok());

  // A named version; one that does not exist fails the call (no token).
  ASSERT_OK_AND_ASSIGN(nonce, Challenge(kWorkload));
  ASSERT_OK_AND_ASSIGN(item, Evidence(w, nonce, kGoodMeasurement));
  ASSERT_OK_AND_ASSIGN(auto named,
                       AttestWith(kWorkload, w, nonce, item, "keys/k", "keys/k/versions/1"));
  EXPECT_EQ(named.sealed().key_version(), "keys/k/versions/1");
  ASSERT_OK_AND_ASSIGN(nonce, Challenge(kWorkload));
  ASSERT_OK_AND_ASSIGN(item, Evidence(w, nonce, kGoodMeasurement));
  EXPECT_THAT(AttestWith(kWorkload, w, nonce, item, "keys/k", "keys/k/versions/9"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("key_not_releasable")));
  // Evidence the policy refuses releases nothing.
  ASSERT_OK_AND_ASSIGN(nonce, Challenge(kWorkload));
  ASSERT_OK_AND_ASSIGN(item, Evidence(w, nonce, kBadMeasurement));
  EXPECT_THAT(AttestWith(kWorkload, w, nonce, item, "keys/k", "keys/k"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("policy_denied")));

  // The log: each combined call's attest record is followed at once by its
  // release record (allowed, with the same token) or denial.
  std::ostringstream out;
  ASSERT_OK(audit_->Export(1, out));
  std::vector<nlohmann::json> records;
  for (absl::string_view line : absl::StrSplit(out.str(), '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j["type"] == "record") records.push_back(std::move(j));
  }
  auto after_attest_of = [&](const std::string& token_id) -> const nlohmann::json* {
    for (size_t i = 0; i + 1 < records.size(); ++i) {
      if (records[i]["action"] == "attest" &&
          records[i]["reason_detail"] == absl::StrCat("token ", token_id)) {
        return &records[i + 1];
      }
    }
    return nullptr;
  };
  const nlohmann::json* first = after_attest_of(both.sealed().token_id());
  ASSERT_NE(first, nullptr) << out.str();
  EXPECT_EQ((*first)["action"], "release");
  EXPECT_EQ((*first)["decision"], "allow");
  EXPECT_EQ((*first)["resource"], "keys/k/versions/1");
  EXPECT_EQ((*first)["reason_detail"], absl::StrCat("token ", both.sealed().token_id()));
  size_t denied = 0;
  for (size_t i = 0; i + 1 < records.size(); ++i) {
    if (records[i]["action"] == "attest" && records[i]["decision"] == "allow" &&
        records[i + 1]["action"] == "release" && records[i + 1]["decision"] == "deny" &&
        records[i + 1]["reason_id"] == "key_not_releasable") {
      ++denied;
    }
  }
  EXPECT_EQ(denied, 1u) << out.str();
}

TEST_F(KeyBrokerTest, AttestWithReleaseIsOnlyForKeys) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string nonce, Challenge(kWorkload, "datasets/d1"));
  ASSERT_OK_AND_ASSIGN(auto item, Evidence(w, nonce, kGoodMeasurement));
  EXPECT_THAT(AttestWith(kWorkload, w, nonce, item, "datasets/d1", "keys/k"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("GetObjectKey")));
}

TEST_F(KeyBrokerTest, DataKeySealedToWorkloadEqualsTheWrappedCopy) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  v1::GetDataKeyRequest r;
  r.set_token(token);
  r.set_key("keys/k");
  r.set_public_key(std::string(AsStringView(w.keys.public_key.Serialize())));
  r.set_associated_data("dataset=d1");
  ASSERT_OK_AND_ASSIGN(auto resp, broker_->GetDataKey(kWorkload, r));
  ASSERT_OK_AND_ASSIGN(SecretBytes dk, Open(resp.sealed(), w.keys.private_key));
  // The owner unwraps the stored copy through the KMS: the same 32 bytes.
  v1::DecryptRequest d;
  d.set_ciphertext(resp.wrapped());
  (*d.mutable_encryption_context())["aad"] = "dataset=d1";
  ASSERT_OK_AND_ASSIGN(auto plain, km_->Decrypt(kOwner, d));
  EXPECT_EQ(plain.plaintext(), std::string(AsStringView(dk.Reveal())));
}

TEST_F(KeyBrokerTest, PolicyThatDeniesRefusesWithReasonId) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  EXPECT_THAT(Token(kWorkload, w, kBadMeasurement),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("policy_denied")));
  // The caller learns the reason id and the audit sequence, never the detail.
  absl::Status s = Token(kWorkload, w, kBadMeasurement).status();
  EXPECT_THAT(s.message(), HasSubstr("(audit "));
  EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("dev.measurement")));
}

TEST_F(KeyBrokerTest, ReusedNonceIsRefused) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string nonce, Challenge(kWorkload));
  ASSERT_OK_AND_ASSIGN(auto item, Evidence(w, nonce, kGoodMeasurement));
  ASSERT_OK(AttestWith(kWorkload, w, nonce, item).status());
  EXPECT_THAT(AttestWith(kWorkload, w, nonce, item),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("nonce_unknown")));
}

TEST_F(KeyBrokerTest, ExpiredNonceAndNonceOfAnotherPrincipalOrKeyAreRefused) {
  MakeReleasableKey();
  MakeReleasableKey("k2");
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string nonce, Challenge(kWorkload));
  ASSERT_OK_AND_ASSIGN(auto item, Evidence(w, nonce, kGoodMeasurement));
  clock_.Set(clock_.Now() + absl::Seconds(61));
  EXPECT_THAT(AttestWith(kWorkload, w, nonce, item),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("nonce_expired")));
  ASSERT_OK_AND_ASSIGN(nonce, Challenge(kWorkload));
  ASSERT_OK_AND_ASSIGN(item, Evidence(w, nonce, kGoodMeasurement));
  EXPECT_THAT(AttestWith(kWorkload2, w, nonce, item),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("nonce_wrong_principal")));
  ASSERT_OK_AND_ASSIGN(nonce, Challenge(kWorkload));
  ASSERT_OK_AND_ASSIGN(item, Evidence(w, nonce, kGoodMeasurement));
  EXPECT_THAT(AttestWith(kWorkload, w, nonce, item, "keys/k2"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("nonce_wrong_binding")));
}

TEST_F(KeyBrokerTest, EvidenceForAnotherNonceOrAnotherKeyIsRefused) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(Workload other, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string nonce1, Challenge(kWorkload));
  ASSERT_OK_AND_ASSIGN(std::string nonce2, Challenge(kWorkload));
  ASSERT_OK_AND_ASSIGN(auto for_nonce1, Evidence(w, nonce1, kGoodMeasurement));
  EXPECT_THAT(AttestWith(kWorkload, w, nonce2, for_nonce1),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("evidence_rejected")));
  ASSERT_OK_AND_ASSIGN(std::string nonce3, Challenge(kWorkload));
  ASSERT_OK_AND_ASSIGN(auto for_other_key, Evidence(other, nonce3, kGoodMeasurement));
  EXPECT_THAT(AttestWith(kWorkload, w, nonce3, for_other_key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("evidence_rejected")));
}

// Evidence whose rejection message quotes hostile text (a PEM marker, an
// overlong field name) is still refused as PERMISSION_DENIED and audited:
// the reason's wording cannot cost the denial its record.
TEST_F(KeyBrokerTest, HostileEvidenceTextIsDeniedAndAudited) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  for (const std::string& field : {std::string("-----BEGIN x"), std::string(6000, 'f')}) {
    ASSERT_OK_AND_ASSIGN(std::string nonce, Challenge(kWorkload));
    v1::EvidenceItem item;
    item.set_type("dev");
    item.set_payload(absl::StrCat(R"({"format": "strongroom-dev-evidence/1", ")", field,
                                  R"(": 1, "body": "", "signature": ""})"));
    const uint64_t before = audit_->head().sequence;
    absl::StatusOr<v1::AttestResponse> got = AttestWith(kWorkload, w, nonce, item);
    EXPECT_THAT(got, StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("(audit ")))
        << field.substr(0, 20);
    EXPECT_GT(audit_->head().sequence, before);
  }
}

// Certificate lists are bounded in count and hold no empty entries (a byte
// limit alone lets a million empty ones through); refused before the nonce
// is spent, so the same nonce still works.
TEST_F(KeyBrokerTest, CertificateListsAreBounded) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string nonce, Challenge(kWorkload));
  ASSERT_OK_AND_ASSIGN(v1::EvidenceItem item, Evidence(w, nonce, kGoodMeasurement));
  v1::EvidenceItem many = item;
  for (int i = 0; i < 17; ++i) many.add_certificates("x");
  EXPECT_THAT(AttestWith(kWorkload, w, nonce, many),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("evidence[0].certificates: 17 entries")));
  v1::EvidenceItem empty = item;
  empty.add_certificates("");
  EXPECT_THAT(AttestWith(kWorkload, w, nonce, empty),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("evidence[0].certificates[0]: empty")));
  EXPECT_OK(AttestWith(kWorkload, w, nonce, item).status());
}

// Two items of one type, or a type this server does not verify, are refused
// by shape, before the nonce is spent.
TEST_F(KeyBrokerTest, EvidenceShapesTheAppraisalWouldRefuseKeepTheNonce) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string nonce, Challenge(kWorkload));
  ASSERT_OK_AND_ASSIGN(v1::EvidenceItem item, Evidence(w, nonce, kGoodMeasurement));
  v1::AttestRequest r;
  r.set_key("keys/k");
  r.set_nonce(nonce);
  *r.add_evidence() = item;
  *r.add_evidence() = item;
  r.set_kem(ProtoKem(w));
  r.set_public_key(std::string(AsStringView(w.keys.public_key.Serialize())));
  EXPECT_THAT(
      broker_->Attest(kWorkload, r),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("evidence[1]: a second 'dev' item")));
  EXPECT_OK(AttestWith(kWorkload, w, nonce, item).status());
  // A broker whose server verifies dev evidence only.
  attest::AttestationOptions ao;
  ao.enabled = {};
  ao.dev_enabled = true;
  ao.dev_trusted_keys_pem = {attester_->public_key_pem()};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<attest::VerifierSet> dev_only,
                       attest::CreateVerifierSet(ao));
  BrokerOptions options;
  options.verifier_id = "broker-test";
  KeyBroker narrow(*km_, *admin_, *dev_only, *token_signer_, *audit_, clock_, options);
  v1::GetChallengeRequest g;
  g.set_key("keys/k");
  ASSERT_OK_AND_ASSIGN(v1::GetChallengeResponse ch, narrow.GetChallenge(kWorkload, g));
  ASSERT_OK_AND_ASSIGN(item, Evidence(w, ch.nonce(), kGoodMeasurement));
  r.clear_evidence();
  *r.add_evidence() = item;
  r.mutable_evidence(0)->set_type("tdx");
  r.set_nonce(ch.nonce());
  EXPECT_THAT(narrow.Attest(kWorkload, r),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("evidence[0].type: 'tdx' evidence is not verified")));
  r.mutable_evidence(0)->set_type("dev");
  EXPECT_OK(narrow.Attest(kWorkload, r).status());
}

TEST_F(KeyBrokerTest, ExpiredTokenIsRefused) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  ASSERT_OK(Release(kWorkload, token, w.keys.public_key).status());
  clock_.Set(clock_.Now() + absl::Minutes(5));
  EXPECT_THAT(Release(kWorkload, token, w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_expired")));
}

TEST_F(KeyBrokerTest, TokenWithAnotherPublicKeyPrincipalOrKeyIsRefused) {
  MakeReleasableKey();
  MakeReleasableKey("k2");
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(Workload thief, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  EXPECT_THAT(Release(kWorkload, token, thief.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_wrong_public_key")));
  EXPECT_THAT(Release(kWorkload2, token, w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_wrong_principal")));
  EXPECT_THAT(Release(kWorkload, token, w.keys.public_key, "keys/k2"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_wrong_key")));
  // A tampered token fails its signature.
  std::string tampered = token;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_THAT(Release(kWorkload, tampered, w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_invalid")));
}

// Malformed fields are the caller's mistake, not a decision: INVALID_ARGUMENT
// naming the field, before the token is looked at, and nothing audited.
TEST_F(KeyBrokerTest, MalformedReleaseRequestsNameTheFieldAndAreNotDecisions) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  std::ostringstream before;
  ASSERT_OK(audit_->Export(1, before));
  EXPECT_THAT(Release(kWorkload, "", w.keys.public_key),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("token: empty")));
  EXPECT_THAT(Release(kWorkload, token, w.keys.public_key, "keys/k/versions/abc"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key")));
  EXPECT_THAT(Release(kWorkload, token, w.keys.public_key, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key")));
  v1::ReleaseKeyRequest r;
  r.set_token(token);
  r.set_key("keys/k");
  r.set_public_key("short");
  EXPECT_THAT(broker_->ReleaseKey(kWorkload, r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("public_key: 5 bytes")));
  v1::GetDataKeyRequest d;
  d.set_token(token);
  d.set_key("keys/k");
  EXPECT_THAT(broker_->GetDataKey(kWorkload, d),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("public_key: 0 bytes")));
  std::ostringstream after;
  ASSERT_OK(audit_->Export(1, after));
  const std::string a = after.str(), b = before.str();
  EXPECT_EQ(std::count(a.begin(), a.end(), '\n'), std::count(b.begin(), b.end(), '\n'));
  EXPECT_OK(Release(kWorkload, token, w.keys.public_key).status());
}

TEST_F(KeyBrokerTest, ReusedTokenIsCheckedInFullWhenAnyByteDiffers) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  ASSERT_OK(Release(kWorkload, token, w.keys.public_key).status());
  ASSERT_OK(Release(kWorkload, token, w.keys.public_key).status());
  // The same header and payload with another signature: refused, although
  // the genuine token was accepted (and remembered) just before.
  std::string forged = token;
  const size_t i = token.rfind('.') + 10;
  forged[i] = forged[i] == 'A' ? 'B' : 'A';
  EXPECT_THAT(Release(kWorkload, forged, w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_invalid")));
  EXPECT_OK(Release(kWorkload, token, w.keys.public_key).status());
}

TEST_F(KeyBrokerTest, OnlyWorkloadsAttestAndKeysWithoutPolicyAreNeverReleased) {
  MakeKey("plain");
  MakeKey("in-hsm", /*hsm=*/true);
  EXPECT_THAT(Challenge(kOwner), StatusIs(absl::StatusCode::kPermissionDenied,
                                          HasSubstr("not a workload")));
  EXPECT_THAT(Challenge(kAdmin), StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string nonce, Challenge(kWorkload, "keys/plain"));
  ASSERT_OK_AND_ASSIGN(auto item, Evidence(w, nonce, kGoodMeasurement));
  EXPECT_THAT(AttestWith(kWorkload, w, nonce, item, "keys/plain"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("key_not_releasable")));
  // An HSM-protected key cannot even be given a release policy (unless it
  // is dual_control: DatasetUnderADualControlKeyNeedsTheKeysBindingToo).
  v1::UpdateKeyRequest up;
  up.set_name("keys/in-hsm");
  up.add_update_mask("release_policy");
  up.set_release_policy("policies/p");
  EXPECT_THAT(km_->UpdateKey(kOwner, up), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(KeyBrokerTest, RateLimitPerPrincipal) {
  MakeReleasableKey();
  MakeBroker(BrokerOptions{.rate_per_second = 1, .rate_burst = 2});
  ASSERT_OK(Challenge(kWorkload).status());
  ASSERT_OK(Challenge(kWorkload).status());
  EXPECT_THAT(Challenge(kWorkload), StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_OK(Challenge(kWorkload2).status());  // another client is not affected
  clock_.Set(clock_.Now() + absl::Seconds(1));
  EXPECT_OK(Challenge(kWorkload).status());
}

// Outstanding challenges are bounded per principal too: one workload that
// never redeems its nonces cannot take every slot from the others.
TEST_F(KeyBrokerTest, OutstandingChallengesAreBoundedPerPrincipal) {
  MakeReleasableKey();
  MakeBroker(BrokerOptions{
      .rate_per_second = 0, .max_challenges = 100, .max_challenges_per_principal = 3});
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string first, Challenge(kWorkload));
  ASSERT_OK(Challenge(kWorkload).status());
  ASSERT_OK(Challenge(kWorkload).status());
  EXPECT_THAT(Challenge(kWorkload),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("for this principal")));
  ASSERT_OK(Challenge(kWorkload2).status());  // another principal is not affected
  // Redeeming one frees its slot; so does expiry.
  ASSERT_OK_AND_ASSIGN(auto item, Evidence(w, first, kGoodMeasurement));
  ASSERT_OK(AttestWith(kWorkload, w, first, item).status());
  ASSERT_OK(Challenge(kWorkload).status());
  EXPECT_THAT(Challenge(kWorkload), StatusIs(absl::StatusCode::kResourceExhausted));
  clock_.Set(clock_.Now() + absl::Seconds(61));
  EXPECT_OK(Challenge(kWorkload).status());
}

// Attest with `release` is one call: admitted once, not once per decision.
TEST_F(KeyBrokerTest, AttestWithReleaseIsAdmittedOnce) {
  MakeReleasableKey();
  MakeBroker(BrokerOptions{.rate_per_second = 1, .rate_burst = 2});
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string nonce, Challenge(kWorkload));
  ASSERT_OK_AND_ASSIGN(auto item, Evidence(w, nonce, kGoodMeasurement));
  ASSERT_OK_AND_ASSIGN(auto both, AttestWith(kWorkload, w, nonce, item, "keys/k", "keys/k"));
  EXPECT_TRUE(both.has_sealed());
  // The bucket (burst 2) is now empty: the next call is refused.
  EXPECT_THAT(Challenge(kWorkload), StatusIs(absl::StatusCode::kResourceExhausted));
}

}  // namespace
}  // namespace strongroom::kms
