// The whole key broker in-process: KeyManager on a real SoftHSM token and
// RocksDB, the verifiers with the development attester enabled and trusting a
// fresh dev key, AttestationAdmin, the HSM-signed audit log and EAR token
// signer, and a KeyBroker on a pinned clock. Helpers run the workload side of
// the protocol by hand so each step can be bent in a test.
#ifndef STRONGROOM_TESTS_KMS_BROKER_BROKER_FIXTURE_H_
#define STRONGROOM_TESTS_KMS_BROKER_BROKER_FIXTURE_H_

#include <initializer_list>
#include <memory>
#include <string>

#include "attest/binding.h"
#include "attest/dev/dev_attester.h"
#include "attest/verifiers.h"
#include "kms/audit/audit_log.h"
#include "kms/audit/hsm_checkpoint_signer.h"
#include "kms/broker/attestation_admin.h"
#include "kms/broker/ear_token.h"
#include "kms/broker/key_broker.h"
#include "kms/hpke/hpke.h"
#include "tests/kms/key_manager_fixture.h"

namespace strongroom::kms {

inline const Caller kWorkload2{"spiffe://strongroom/worker2", Role::kWorkload};
inline const Bytes kGoodMeasurement(48, 0xA1);
inline const Bytes kBadMeasurement(48, 0xB2);
inline const Bytes kOtherMeasurement(48, 0xC3);

class BrokerFixture : public KeyManagerFixture {
 protected:
  void SetUp() override {
    KeyManagerFixture::SetUp();
    ASSERT_OK_AND_ASSIGN(attester_, attest::DevAttester::Generate(clock_));
    attest::AttestationOptions ao;
    ao.dev_enabled = true;
    ao.dev_trusted_keys_pem = {attester_->public_key_pem()};
    ASSERT_OK_AND_ASSIGN(verifiers_, attest::CreateVerifierSet(ao));
    admin_ = std::make_unique<AttestationAdmin>(*db_, *verifiers_, clock_, "test");
    km_->SetPolicyVersionLookup([this](absl::string_view name, int64_t version) {
      return admin_->ResolvePolicyVersion(name, version);
    });
    km_->SetReferencePinLookup([this](absl::string_view name, int64_t version) {
      return admin_->PinReferenceSets(name, version);
    });
    ASSERT_OK_AND_ASSIGN(checkpoint_signer_, HsmCheckpointSigner::Create(*hsm_));
    ASSERT_OK_AND_ASSIGN(audit_, AuditLog::Create(*db_, checkpoint_signer_.get(), clock_,
                                                  AuditOptions{.checkpoint_every = 5}));
    ASSERT_OK_AND_ASSIGN(token_signer_, EarTokenSigner::Create(*hsm_, "ear-test"));
    MakeBroker(BrokerOptions{});
  }
  void TearDown() override {
    broker_.reset();
    token_signer_.reset();
    audit_.reset();
    checkpoint_signer_.reset();
    admin_.reset();
    KeyManagerFixture::TearDown();
  }
  void MakeBroker(BrokerOptions options) {
    options.verifier_id = "broker-test";
    broker_ = std::make_unique<KeyBroker>(*km_, *admin_, *verifiers_, *token_signer_, *audit_,
                                          clock_, options);
  }

  // Reference-value set "approved" (a new version of it) holding `values`.
  void PutApprovedValues(std::initializer_list<Bytes> values = {kGoodMeasurement}) {
    v1::PutReferenceValuesRequest rv;
    rv.set_name("approved");
    for (const Bytes& v : values) rv.add_values(HexEncode(v));
    ASSERT_OK(admin_->PutReferenceValues(kAdmin, rv).status());
  }

  // Policy "p" (a new version of it, same text): dev evidence, not debug,
  // whose measurement is in reference-value set "approved".
  void PutApprovedPolicy() {
    v1::PutPolicyRequest pol;
    pol.set_name("p");
    pol.set_policy_json(R"({"version": 1, "tee": ["dev"], "require": {"allOf": [
        {"claim": "dev.measurement", "in": {"referenceValues": "approved"}},
        {"claim": "dev.debug", "equals": false}]}})");
    ASSERT_OK(admin_->PutPolicy(kAdmin, pol).status());
  }

  // A released key "k" (owner kOwner) bound to policy "p", which requires
  // dev evidence whose measurement is in reference-value set "approved".
  void MakeReleasableKey(const std::string& id = "k", bool dual = false) {
    MakeKey(id, /*hsm=*/false, dual);
    PutApprovedValues();
    PutApprovedPolicy();
    v1::UpdateKeyRequest up;
    up.set_name("keys/" + id);
    up.add_update_mask("release_policy");
    up.set_release_policy("policies/p");
    ASSERT_OK(km_->UpdateKey(kOwner, up).status());
  }

  struct Workload {
    hpke::KeyPair keys;
    std::string nonce;
    std::string token;
  };

  absl::StatusOr<Workload> NewWorkload(hpke::Kem kem = hpke::Kem::kDhkemP256HkdfSha256) {
    ASSIGN_OR_RETURN(hpke::KeyPair kp, hpke::GenerateKeyPair(kem));
    return Workload{std::move(kp), "", ""};
  }

  absl::StatusOr<std::string> Challenge(const Caller& c, const std::string& key = "keys/k") {
    v1::GetChallengeRequest r;
    r.set_key(key);
    ASSIGN_OR_RETURN(auto resp, broker_->GetChallenge(c, r));
    return resp.nonce();
  }

  // Dev evidence bound to (nonce, pk) with `measurement`.
  absl::StatusOr<v1::EvidenceItem> Evidence(const Workload& w, const std::string& nonce,
                                            const Bytes& measurement, bool debug = false) {
    Bytes binding = attest::AttestationBinding(static_cast<uint16_t>(w.keys.public_key.kem()),
                                               AsBytes(nonce), w.keys.public_key.Serialize());
    attest::DevClaims claims;
    claims.measurement = measurement;
    claims.debug = debug;
    ASSIGN_OR_RETURN(std::string payload, attester_->Attest(claims, binding));
    v1::EvidenceItem item;
    item.set_type("dev");
    item.set_payload(payload);
    return item;
  }

  static v1::HpkeKem ProtoKem(const Workload& w) {
    return w.keys.public_key.kem() == hpke::Kem::kDhkemX25519HkdfSha256
               ? v1::HPKE_KEM_X25519_SHA256
               : v1::HPKE_KEM_P256_SHA256;
  }

  absl::StatusOr<v1::AttestResponse> AttestWith(const Caller& c, const Workload& w,
                                                const std::string& nonce,
                                                const v1::EvidenceItem& item,
                                                const std::string& key = "keys/k",
                                                const std::string& release = "") {
    v1::AttestRequest r;
    r.set_key(key);
    r.set_release(release);
    r.set_nonce(nonce);
    *r.add_evidence() = item;
    r.set_kem(ProtoKem(w));
    r.set_public_key(std::string(AsStringView(w.keys.public_key.Serialize())));
    return broker_->Attest(c, r);
  }

  // The whole flow up to a token, with good evidence.
  absl::StatusOr<std::string> Token(const Caller& c, const Workload& w,
                                    const Bytes& measurement = kGoodMeasurement) {
    ASSIGN_OR_RETURN(std::string nonce, Challenge(c));
    ASSIGN_OR_RETURN(v1::EvidenceItem item, Evidence(w, nonce, measurement));
    ASSIGN_OR_RETURN(auto resp, AttestWith(c, w, nonce, item));
    return resp.token();
  }

  absl::StatusOr<v1::ReleaseKeyResponse> Release(const Caller& c, const std::string& token,
                                                 const hpke::PublicKey& pk,
                                                 const std::string& key = "keys/k") {
    v1::ReleaseKeyRequest r;
    r.set_token(token);
    r.set_key(key);
    r.set_public_key(std::string(AsStringView(pk.Serialize())));
    return broker_->ReleaseKey(c, r);
  }

  static absl::StatusOr<SecretBytes> Open(const v1::SealedKey& sealed,
                                          const hpke::PrivateKey& sk) {
    hpke::Kem kem = sealed.kem() == v1::HPKE_KEM_X25519_SHA256
                        ? hpke::Kem::kDhkemX25519HkdfSha256
                        : hpke::Kem::kDhkemP256HkdfSha256;
    ASSIGN_OR_RETURN(hpke::Suite suite,
                     hpke::Suite::Create(kem, hpke::Kdf::kHkdfSha256, hpke::Aead::kAes256Gcm));
    return hpke::Open(suite, sk, AsBytes(sealed.enc()), AsBytes(sealed.info()),
                      AsBytes(sealed.info()), AsBytes(sealed.ciphertext()));
  }

  std::optional<attest::DevAttester> attester_;
  std::unique_ptr<attest::VerifierSet> verifiers_;
  std::unique_ptr<AttestationAdmin> admin_;
  std::unique_ptr<HsmCheckpointSigner> checkpoint_signer_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<EarTokenSigner> token_signer_;
  std::unique_ptr<KeyBroker> broker_;
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_TESTS_KMS_BROKER_BROKER_FIXTURE_H_
