// WorkloadClient end to end: the real strongroomd server object on
// 127.0.0.1 port 0 (mutual TLS, SoftHSM, RocksDB in a temp dir), a key whose
// release policy requires an attested measurement, and a workload principal
// that attests with the dev attester (or a live swtpm) and opens what the
// broker seals to it. Then the refusals: wrong measurement, a replayed nonce,
// evidence for another public key, a token presented with another key or by
// another principal.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "attest/binding.h"
#include "attest/tpm/testing/swtpm_fixture.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "base/testing/status_matchers.h"
#include "client/connection.h"
#include "client/dev_attester.h"
#include "client/tpm_attester.h"
#include "client/workload.h"
#include "kms/audit/export_verifier.h"
#include "kms/hpke/keys.h"
#include "nlohmann/json.hpp"
#include "strongroom/v1/key_broker.grpc.pb.h"
#include "tests/client/loopback_server.h"
#include "tests/client/workload_fixture.h"

namespace strongroom::client {
namespace {

namespace v1 = ::strongroom::v1;
namespace hpke = ::strongroom::kms::hpke;
using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

class WorkloadE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(
        local_, testing::LoopbackServer::Provision(
                    "workload-test",
                    {{"admin", "admin"}, {"workload", "workload"}, {"workload2", "workload"}}));
    ASSERT_OK_AND_ASSIGN(dev_key_pem_, testing::TrustNewDevKey(local_->dir()));
    ExtraSetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    ASSERT_OK(local_->Start(absl::StrCat(testing::kDevAttestationYaml, tpm_config_)));
    ASSERT_OK_AND_ASSIGN(admin_, Connection::Open(As("admin")));
    ASSERT_OK_AND_ASSIGN(workload_, Connection::Open(As("workload")));
  }
  virtual void ExtraSetUp() {}

  ConnectionOptions As(const std::string& client) { return local_->As(client); }

  // keys/{id}, released only under `policy_json`.
  void CreateKeyWithPolicy(const std::string& id, const std::string& policy_json) {
    v1::CreateKeyRequest create;
    create.set_key_id(id);
    ASSERT_OK(admin_->CreateKey(create).status());
    v1::PutPolicyRequest policy;
    policy.set_name(absl::StrCat("policies/", id));
    policy.set_policy_json(policy_json);
    ASSERT_OK(admin_->PutPolicy(policy).status());
    v1::UpdateKeyRequest update;
    update.set_name(absl::StrCat("keys/", id));
    update.add_update_mask("release_policy");
    update.set_release_policy(absl::StrCat("policies/", id));
    ASSERT_OK(admin_->UpdateKey(update).status());
  }

  std::string MeasurementPolicy(const Bytes& m) {
    return absl::StrCat(R"({"version": 1, "require": {"allOf": [)",
                        R"({"claim": "dev.measurement", "equals": ")", HexEncode(m), R"("},)",
                        R"({"claim": "dev.debug", "equals": false}]}})");
  }

  std::unique_ptr<DevAttester> Dev(const Bytes& measurement) {
    return testing::NewDevAttester(dev_key_pem_, measurement);
  }

  // Attest for key "model" by hand: a fresh challenge, evidence from
  // `attester` bound to (nonce, `bound`), `presented` as the P-256 public key
  // the key is to be sealed to.
  absl::StatusOr<v1::AttestRequest> AttestRequestFrom(Attester& attester,
                                                      const hpke::PublicKey& bound,
                                                      const hpke::PublicKey& presented) {
    v1::GetChallengeRequest challenge_req;
    challenge_req.set_key("model");
    ASSIGN_OR_RETURN(v1::GetChallengeResponse challenge, workload_->GetChallenge(challenge_req));
    Bytes binding =
        attest::AttestationBinding(0x0010, AsBytes(challenge.nonce()), bound.Serialize());
    ASSIGN_OR_RETURN(auto evidence, attester.Attest(binding));
    v1::AttestRequest req;
    req.set_key("model");
    req.set_nonce(challenge.nonce());
    for (const v1::EvidenceItem& item : evidence) *req.add_evidence() = item;
    req.set_kem(v1::HPKE_KEM_P256_SHA256);
    req.set_public_key(std::string(AsStringView(presented.Serialize())));
    return req;
  }
  // The same with dev evidence of the good measurement.
  absl::StatusOr<v1::AttestRequest> AttestRequest(const hpke::PublicKey& bound,
                                                  const hpke::PublicKey& presented) {
    return AttestRequestFrom(*Dev(kGood), bound, presented);
  }

  std::unique_ptr<WorkloadClient> Client(std::unique_ptr<Attester> attester, Connection* conn,
                                         hpke::Kem kem = hpke::Kem::kDhkemP256HkdfSha256) {
    return testing::NewWorkloadClient(conn, std::move(attester), kem);
  }

  const Bytes kGood = Bytes(48, 0x11);
  std::unique_ptr<testing::LoopbackServer> local_;
  std::string dev_key_pem_, tpm_config_;
  std::unique_ptr<Connection> admin_, workload_;
};

class WorkloadKemTest : public WorkloadE2eTest,
                        public ::testing::WithParamInterface<hpke::Kem> {};

TEST_P(WorkloadKemTest, ApprovedMeasurementGetsTheKeyAndReusesItsToken) {
  CreateKeyWithPolicy("model", MeasurementPolicy(kGood));
  auto wl = Client(Dev(kGood), workload_.get(), GetParam());
  ASSERT_OK_AND_ASSIGN(ReleasedKey first, wl->GetKey("model"));
  EXPECT_TRUE(first.attested);
  EXPECT_EQ(first.key_version, "keys/model/versions/1");
  EXPECT_EQ(first.material.size(), 32u);
  ASSERT_TRUE(wl->token("model").has_value());
  ASSERT_OK_AND_ASSIGN(std::string jti, TokenId(*wl->token("model")));
  EXPECT_EQ(first.sealed.token_id(), jti);

  // The same token serves a second release, of the same material.
  ASSERT_OK_AND_ASSIGN(ReleasedKey second, wl->GetKey("keys/model/versions/1"));
  EXPECT_FALSE(second.attested);
  EXPECT_TRUE(second.material == first.material);

  // Interop: the exported ephemeral key opens the sealed response on its own.
  ASSERT_OK_AND_ASSIGN(SecretBytes pem, wl->ExportEphemeralPrivateKeyPem());
  ASSERT_OK_AND_ASSIGN(hpke::PrivateKey sk, hpke::PrivateKey::FromPkcs8Pem(pem));
  EXPECT_TRUE(sk.public_key() == wl->public_key());
  ASSERT_OK_AND_ASSIGN(SecretBytes reopened, OpenSealedKey(sk, first.sealed, "model", jti));
  EXPECT_TRUE(reopened == first.material);

  // A data key under the same token: fresh, and wrapped under the key.
  const std::string aad = "dataset=train";
  ASSERT_OK_AND_ASSIGN(DataKey dk, wl->GetDataKey("model", AsBytes(aad)));
  EXPECT_FALSE(dk.attested);
  EXPECT_EQ(dk.plaintext.size(), 32u);
  EXPECT_FALSE(dk.plaintext == first.material);
  EXPECT_FALSE(dk.wrapped.empty());
}

INSTANTIATE_TEST_SUITE_P(Kems, WorkloadKemTest,
                         ::testing::Values(hpke::Kem::kDhkemP256HkdfSha256,
                                           hpke::Kem::kDhkemX25519HkdfSha256),
                         [](const auto& info) {
                           return info.param == hpke::Kem::kDhkemP256HkdfSha256 ? "P256"
                                                                                : "X25519";
                         });

// A first call for a named version attests and releases that version in
// one Attest call.
TEST_F(WorkloadE2eTest, FirstCallForANamedVersionAttestsAndReleasesIt) {
  CreateKeyWithPolicy("model", MeasurementPolicy(kGood));
  auto wl = Client(Dev(kGood), workload_.get());
  ASSERT_OK_AND_ASSIGN(ReleasedKey k, wl->GetKey("keys/model/versions/1"));
  EXPECT_TRUE(k.attested);
  EXPECT_EQ(k.key_version, "keys/model/versions/1");
  ASSERT_TRUE(wl->token("model").has_value());
  ASSERT_OK_AND_ASSIGN(std::string jti, TokenId(*wl->token("model")));
  EXPECT_EQ(k.sealed.token_id(), jti);
  EXPECT_THAT(wl->GetKey("keys/model/versions/2"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("key_not_releasable")));
}

// A broker that predates AttestRequest.release, for the client: a proxy in
// front of the real one (as the same workload) that drops the field, as an
// older server ignores it, and counts what it forwards. It can also spoil a
// reply the way a faulty or hostile server might.
class BrokerProxy final : public v1::KeyBroker::Service {
 public:
  explicit BrokerProxy(const std::shared_ptr<grpc::Channel>& upstream)
      : upstream_(v1::KeyBroker::NewStub(upstream)) {}
  grpc::Status GetChallenge(grpc::ServerContext*, const v1::GetChallengeRequest* r,
                            v1::GetChallengeResponse* out) override {
    grpc::ClientContext c;
    return upstream_->GetChallenge(&c, *r, out);
  }
  grpc::Status Attest(grpc::ServerContext*, const v1::AttestRequest* r,
                      v1::AttestResponse* out) override {
    ++attests;
    v1::AttestRequest old = *r;
    old.clear_release();
    grpc::ClientContext c;
    return upstream_->Attest(&c, old, out);
  }
  grpc::Status ReleaseKey(grpc::ServerContext*, const v1::ReleaseKeyRequest* r,
                          v1::ReleaseKeyResponse* out) override {
    ++releases;
    grpc::ClientContext c;
    grpc::Status s = upstream_->ReleaseKey(&c, *r, out);
    if (drop_sealed) out->clear_sealed();
    return s;
  }
  grpc::Status GetDataKey(grpc::ServerContext*, const v1::GetDataKeyRequest* r,
                          v1::GetDataKeyResponse* out) override {
    grpc::ClientContext c;
    grpc::Status s = upstream_->GetDataKey(&c, *r, out);
    if (s.ok() && spoil_data_key) spoil_data_key(*out);
    return s;
  }
  std::atomic<int> attests{0}, releases{0};
  bool drop_sealed = false;
  std::function<void(v1::GetDataKeyResponse&)> spoil_data_key;

 private:
  std::unique_ptr<v1::KeyBroker::Stub> upstream_;
};

TEST_F(WorkloadE2eTest, ABrokerThatSendsNoSealedKeyWithTheTokenGetsAReleaseKey) {
  CreateKeyWithPolicy("model", MeasurementPolicy(kGood));
  BrokerProxy proxy(local_->UpstreamChannel("workload"));
  ConnectionOptions via_proxy;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<grpc::Server> server,
                       local_->ServeProxy(&proxy, "workload", &via_proxy));
  ASSERT_OK_AND_ASSIGN(auto conn, Connection::Open(via_proxy));

  auto wl = Client(Dev(kGood), conn.get());
  ASSERT_OK_AND_ASSIGN(ReleasedKey k, wl->GetKey("model"));
  EXPECT_TRUE(k.attested);
  EXPECT_EQ(k.key_version, "keys/model/versions/1");
  EXPECT_EQ(proxy.attests.load(), 1);
  EXPECT_EQ(proxy.releases.load(), 1);  // the fallback: a ReleaseKey with the token
  ASSERT_OK_AND_ASSIGN(std::string jti, TokenId(*wl->token("model")));
  EXPECT_EQ(k.sealed.token_id(), jti);
  // The same material as from the broker itself, in one Attest call there.
  auto direct = Client(Dev(kGood), workload_.get());
  ASSERT_OK_AND_ASSIGN(ReleasedKey d, direct->GetKey("model"));
  EXPECT_TRUE(d.material == k.material);
  conn.reset();
  server->Shutdown();
}

TEST_F(WorkloadE2eTest, ARepliedKeyIsCheckedBeforeItIsHandedOut) {
  CreateKeyWithPolicy("model", MeasurementPolicy(kGood));
  CreateKeyWithPolicy("other", MeasurementPolicy(kGood));
  BrokerProxy proxy(local_->UpstreamChannel("workload"));
  ConnectionOptions via_proxy;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<grpc::Server> server,
                       local_->ServeProxy(&proxy, "workload", &via_proxy));
  ASSERT_OK_AND_ASSIGN(auto conn, Connection::Open(via_proxy));
  auto wl = Client(Dev(kGood), conn.get());

  proxy.drop_sealed = true;
  EXPECT_THAT(wl->GetKey("model"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("ReleaseKey: the response carries no "
                                                              "sealed key")));
  proxy.drop_sealed = false;
  ASSERT_OK(wl->GetDataKey("model", {}).status());

  // The wrapped copy of a data key must be an SRC1 ciphertext under the
  // version the data key was sealed for.
  proxy.spoil_data_key = [](v1::GetDataKeyResponse& r) { r.set_wrapped("not a ciphertext"); };
  EXPECT_THAT(wl->GetDataKey("model", {}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("GetDataKey: wrapped")));
  auto direct = Client(Dev(kGood), workload_.get());
  ASSERT_OK_AND_ASSIGN(DataKey of_other, direct->GetDataKey("other", {}));
  proxy.spoil_data_key = [&of_other](v1::GetDataKeyResponse& r) {
    r.set_wrapped(std::string(of_other.wrapped.begin(), of_other.wrapped.end()));
  };
  EXPECT_THAT(wl->GetDataKey("model", {}),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("wrapped: under keys/other/versions/1, not the sealed key's "
                                 "keys/model/versions/1")));
  proxy.spoil_data_key = [](v1::GetDataKeyResponse& r) { r.clear_sealed(); };
  EXPECT_THAT(wl->GetDataKey("model", {}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("no sealed key")));
  conn.reset();
  server->Shutdown();
}

TEST_F(WorkloadE2eTest, WrongMeasurementIsRefused) {
  CreateKeyWithPolicy("model", MeasurementPolicy(kGood));
  auto wl = Client(Dev(Bytes(48, 0x22)), workload_.get());
  EXPECT_THAT(wl->GetKey("model"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("refused: policy_denied")));
  EXPECT_FALSE(wl->token("model").has_value());
}

TEST_F(WorkloadE2eTest, ReplayedNonceIsRefused) {
  CreateKeyWithPolicy("model", MeasurementPolicy(kGood));
  ASSERT_OK_AND_ASSIGN(hpke::KeyPair pair, hpke::GenerateKeyPair(hpke::Kem::kDhkemP256HkdfSha256));
  ASSERT_OK_AND_ASSIGN(v1::AttestRequest req, AttestRequest(pair.public_key, pair.public_key));
  ASSERT_OK(workload_->Attest(req).status());
  EXPECT_THAT(workload_->Attest(req),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("refused: nonce")));
}

TEST_F(WorkloadE2eTest, EvidenceBoundToAnotherPublicKeyIsRefused) {
  CreateKeyWithPolicy("model", MeasurementPolicy(kGood));
  ASSERT_OK_AND_ASSIGN(hpke::KeyPair mine, hpke::GenerateKeyPair(hpke::Kem::kDhkemP256HkdfSha256));
  ASSERT_OK_AND_ASSIGN(hpke::KeyPair other, hpke::GenerateKeyPair(hpke::Kem::kDhkemP256HkdfSha256));
  ASSERT_OK_AND_ASSIGN(v1::AttestRequest req, AttestRequest(other.public_key, mine.public_key));
  EXPECT_THAT(workload_->Attest(req), StatusIs(absl::StatusCode::kPermissionDenied,
                                               HasSubstr("refused: evidence_rejected")));
}

TEST_F(WorkloadE2eTest, TokenForAnotherPublicKeyOrPrincipalIsRefused) {
  CreateKeyWithPolicy("model", MeasurementPolicy(kGood));
  auto wl = Client(Dev(kGood), workload_.get());
  ASSERT_OK_AND_ASSIGN(std::string token, wl->Attest("model"));
  ASSERT_OK_AND_ASSIGN(hpke::KeyPair other, hpke::GenerateKeyPair(hpke::Kem::kDhkemP256HkdfSha256));
  v1::ReleaseKeyRequest req;
  req.set_token(token);
  req.set_key("model");
  req.set_public_key(std::string(AsStringView(other.public_key.Serialize())));
  EXPECT_THAT(workload_->ReleaseKey(req),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("refused: token_wrong_public_key")));

  ASSERT_OK_AND_ASSIGN(auto stranger, Connection::Open(As("workload2")));
  req.set_public_key(std::string(AsStringView(wl->public_key().Serialize())));
  EXPECT_THAT(stranger->ReleaseKey(req),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("refused: token_wrong_principal")));
  // The holder itself still gets the key with it.
  ASSERT_OK_AND_ASSIGN(ReleasedKey k, wl->GetKey("model"));
  EXPECT_FALSE(k.attested);
}

TEST_F(WorkloadE2eTest, RevokedTokenIsReplacedByFreshEvidence) {
  CreateKeyWithPolicy("model", MeasurementPolicy(kGood));
  auto wl = Client(Dev(kGood), workload_.get());
  ASSERT_OK_AND_ASSIGN(ReleasedKey first, wl->GetKey("model"));
  v1::RevokeTokenRequest revoke;
  revoke.set_token_id(first.sealed.token_id());
  ASSERT_OK(admin_->RevokeToken(revoke).status());
  ASSERT_OK_AND_ASSIGN(ReleasedKey second, wl->GetKey("model"));
  EXPECT_TRUE(second.attested);
  EXPECT_NE(second.sealed.token_id(), first.sealed.token_id());
  EXPECT_TRUE(second.material == first.material);
}

TEST_F(WorkloadE2eTest, OnlyWorkloadsAttest) {
  CreateKeyWithPolicy("model", MeasurementPolicy(kGood));
  auto wl = Client(Dev(kGood), admin_.get());
  EXPECT_THAT(wl->GetKey("model"), StatusIs(absl::StatusCode::kPermissionDenied,
                                            HasSubstr("not a workload")));
}

// The same flow with a TPM quote from a live swtpm; the server trusts the
// AK by its public key and the policy pins PCR 16.
class WorkloadTpmE2eTest : public WorkloadE2eTest {
 protected:
  void ExtraSetUp() override {
    if (!attest::testing::Swtpm::Installed()) GTEST_SKIP() << "swtpm is not installed";
    ASSERT_OK_AND_ASSIGN(tpm_, attest::testing::Swtpm::Start());
    TpmAttesterOptions o;
    o.tcti = tpm_->tcti();
    ASSERT_OK_AND_ASSIGN(auto attester, TpmAttester::Create(o));
    WriteFile(local_->dir() + "/ak.pem", attester->ak_public_key_pem());
    tpm_config_ = "  tpm: {trusted_ak_keys: [ak.pem]}\n";
  }

  std::unique_ptr<TpmAttester> Tpm() {
    TpmAttesterOptions o;
    o.tcti = tpm_->tcti();
    auto a = TpmAttester::Create(o);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *std::move(a) : nullptr;
  }

  // PCR 16 after extending SHA-256(`text`) into it from zero.
  static std::string Pcr16After(const std::string& text, Bytes* digest) {
    digest->resize(SHA256_DIGEST_LENGTH);
    SHA256(reinterpret_cast<const uint8_t*>(text.data()), text.size(), digest->data());
    Bytes concat(32, 0);
    concat.insert(concat.end(), digest->begin(), digest->end());
    Bytes pcr(SHA256_DIGEST_LENGTH);
    SHA256(concat.data(), concat.size(), pcr.data());
    return HexEncode(pcr);
  }

  // Extends PCR 16 with SHA-256("approved workload") and binds key "model"
  // to a policy that requires the result.
  void MeasureAndCreateModelKey() {
    Bytes digest;
    const std::string pcr16 = Pcr16After("approved workload", &digest);
    CreateKeyWithPolicy(
        "model", absl::StrCat(R"({"version": 1, "require": {"claim": "tpm.pcrs.sha256.16", )",
                              R"("equals": ")", pcr16, R"("}})"));
    ASSERT_OK_AND_ASSIGN(auto session, attest::testing::TpmSession::Connect(tpm_->tcti()));
    ASSERT_OK(session->ExtendPcrSha256(16, digest));
  }

  // AttestRequestFrom with a TPM quote from the swtpm, released in the same
  // call.
  absl::StatusOr<v1::AttestRequest> TpmAttestRequest(const hpke::PublicKey& bound,
                                                     const hpke::PublicKey& presented) {
    std::unique_ptr<TpmAttester> tpm = Tpm();
    if (tpm == nullptr) return absl::InternalError("no TPM attester");
    ASSIGN_OR_RETURN(v1::AttestRequest req, AttestRequestFrom(*tpm, bound, presented));
    req.set_release("model");
    return req;
  }

  std::unique_ptr<attest::testing::Swtpm> tpm_;
};

TEST_F(WorkloadTpmE2eTest, MeasuredWorkloadGetsTheKeyAndAnotherDoesNot) {
  Bytes digest;
  const std::string pcr16 = Pcr16After("approved workload", &digest);
  CreateKeyWithPolicy(
      "model", absl::StrCat(R"({"version": 1, "require": {"claim": "tpm.pcrs.sha256.16", )",
                            R"("equals": ")", pcr16, R"("}})"));
  // Before the measurement, PCR 16 is zero: refused.
  auto wl = Client(Tpm(), workload_.get());
  EXPECT_THAT(wl->GetKey("model"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("refused: policy_denied")));
  {
    ASSERT_OK_AND_ASSIGN(auto session, attest::testing::TpmSession::Connect(tpm_->tcti()));
    ASSERT_OK(session->ExtendPcrSha256(16, digest));
  }
  ASSERT_OK_AND_ASSIGN(ReleasedKey k, wl->GetKey("model"));
  EXPECT_TRUE(k.attested);
  EXPECT_EQ(k.material.size(), 32u);
}

// The refusals of the protocol with TPM evidence from the live swtpm (the
// dev-attester tests above show the same with software evidence): a
// replayed nonce, a quote bound to another public key, a token presented
// with another public key; and the released key opens only with the
// workload's private key. Then the audit export holds each decision and
// verifies under the server's checkpoint key, and fails once a byte is
// edited.
TEST_F(WorkloadTpmE2eTest, RefusalsAndSealingWithTpmEvidence) {
  MeasureAndCreateModelKey();
  if (HasFatalFailure()) return;
  ASSERT_OK_AND_ASSIGN(hpke::KeyPair mine, hpke::GenerateKeyPair(hpke::Kem::kDhkemP256HkdfSha256));
  ASSERT_OK_AND_ASSIGN(hpke::KeyPair other, hpke::GenerateKeyPair(hpke::Kem::kDhkemP256HkdfSha256));

  ASSERT_OK_AND_ASSIGN(v1::AttestRequest req, TpmAttestRequest(mine.public_key, mine.public_key));
  ASSERT_OK_AND_ASSIGN(v1::AttestResponse granted, workload_->Attest(req));
  ASSERT_TRUE(granted.has_sealed());
  ASSERT_OK_AND_ASSIGN(std::string jti, TokenId(granted.token()));
  // Only the workload's private key opens what was sealed to it.
  ASSERT_OK_AND_ASSIGN(SecretBytes material,
                       OpenSealedKey(mine.private_key, granted.sealed(), "model", jti));
  EXPECT_EQ(material.size(), 32u);
  EXPECT_FALSE(OpenSealedKey(other.private_key, granted.sealed(), "model", jti).ok());

  // The same request again: its nonce is spent.
  EXPECT_THAT(workload_->Attest(req),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("refused: nonce")));

  // A quote bound to another public key than the one presented.
  ASSERT_OK_AND_ASSIGN(v1::AttestRequest swapped,
                       TpmAttestRequest(other.public_key, mine.public_key));
  EXPECT_THAT(workload_->Attest(swapped), StatusIs(absl::StatusCode::kPermissionDenied,
                                                   HasSubstr("refused: evidence_rejected")));

  // The token, presented with another public key.
  v1::ReleaseKeyRequest release;
  release.set_token(granted.token());
  release.set_key("model");
  release.set_public_key(std::string(AsStringView(other.public_key.Serialize())));
  EXPECT_THAT(
      workload_->ReleaseKey(release),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("refused: token_wrong_public_key")));
  // With its own key it still serves, for the same material.
  release.set_public_key(std::string(AsStringView(mine.public_key.Serialize())));
  ASSERT_OK_AND_ASSIGN(v1::ReleaseKeyResponse again, workload_->ReleaseKey(release));
  ASSERT_OK_AND_ASSIGN(SecretBytes material2,
                       OpenSealedKey(mine.private_key, again.sealed(), "model", jti));
  EXPECT_TRUE(material2 == material);

  // Every decision is in the audit log, which verifies under the server's
  // own checkpoint key and stops verifying once a byte is edited.
  ASSERT_OK_AND_ASSIGN(v1::ExportAuditResponse exported,
                       admin_->ExportAudit(v1::ExportAuditRequest()));
  const std::string& jsonl = exported.jsonl();
  for (const char* action : {"\"challenge\"", "\"attest\"", "\"release\""}) {
    EXPECT_THAT(jsonl, HasSubstr(action));
  }
  for (const char* reason : {"nonce_unknown", "evidence_rejected", "token_wrong_public_key"}) {
    EXPECT_THAT(jsonl, HasSubstr(absl::StrCat("\"reason_id\":\"", reason, "\"")));
  }
  std::istringstream intact(jsonl);
  const kms::AuditVerifyResult ok = kms::VerifyExport(intact);
  EXPECT_TRUE(ok.ok) << ok.reason;
  // One byte of the evidence_rejected record's reason id, edited: the
  // verifier names that record's sequence.
  const size_t at = jsonl.find("\"reason_id\":\"evidence_rejected\"");
  ASSERT_NE(at, std::string::npos);
  const size_t seq_at = jsonl.find("\"sequence\":", at);
  ASSERT_NE(seq_at, std::string::npos);
  const uint64_t edited_sequence = std::stoull(jsonl.substr(seq_at + 11));
  std::string edited = jsonl;
  edited[at + 13] = 'E';
  std::istringstream tampered(edited);
  const kms::AuditVerifyResult bad = kms::VerifyExport(tampered);
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.first_bad_sequence, edited_sequence);
}

// Several pieces of evidence in one Attest (a CPU TEE plus another, as with a
// GPU): a TPM quote from swtpm and dev evidence, both bound to the same nonce
// and key. A policy that needs claims from both allows only with both; the
// token's EAR has a submodule per piece; one piece bound to another key
// refuses the whole request.
TEST_F(WorkloadTpmE2eTest, TwoPiecesOfEvidenceInOneAttest) {
  Bytes digest;
  const std::string pcr16 = Pcr16After("approved workload", &digest);
  CreateKeyWithPolicy("model", absl::StrCat(R"({"version": 1, "require": {"allOf": [)",
                                            R"({"claim": "tpm.pcrs.sha256.16", "equals": ")", pcr16,
                                            R"("},)", R"({"claim": "dev.measurement", "equals": ")",
                                            HexEncode(kGood), R"("}]}})"));
  {
    ASSERT_OK_AND_ASSIGN(auto session, attest::testing::TpmSession::Connect(tpm_->tcti()));
    ASSERT_OK(session->ExtendPcrSha256(16, digest));
  }
  ASSERT_OK_AND_ASSIGN(hpke::KeyPair mine, hpke::GenerateKeyPair(hpke::Kem::kDhkemP256HkdfSha256));
  ASSERT_OK_AND_ASSIGN(hpke::KeyPair other, hpke::GenerateKeyPair(hpke::Kem::kDhkemP256HkdfSha256));
  // TPM evidence alone: the dev claim is missing.
  ASSERT_OK_AND_ASSIGN(v1::AttestRequest tpm_only,
                       TpmAttestRequest(mine.public_key, mine.public_key));
  tpm_only.clear_release();
  EXPECT_THAT(workload_->Attest(tpm_only),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("refused: policy_denied")));
  // Both, each bound to this request's nonce and key.
  auto with_dev = [&](const hpke::PublicKey& dev_bound) -> absl::StatusOr<v1::AttestRequest> {
    ASSIGN_OR_RETURN(v1::AttestRequest req, TpmAttestRequest(mine.public_key, mine.public_key));
    req.clear_release();
    Bytes binding = attest::AttestationBinding(0x0010, AsBytes(req.nonce()), dev_bound.Serialize());
    ASSIGN_OR_RETURN(auto dev, Dev(kGood)->Attest(binding));
    *req.add_evidence() = dev[0];
    return req;
  };
  ASSERT_OK_AND_ASSIGN(v1::AttestRequest both, with_dev(mine.public_key));
  ASSERT_EQ(both.evidence_size(), 2);
  ASSERT_OK_AND_ASSIGN(v1::AttestResponse granted, workload_->Attest(both));
  const std::string payload_b64 = granted.token().substr(
      granted.token().find('.') + 1, granted.token().rfind('.') - granted.token().find('.') - 1);
  std::string payload_json;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(payload_b64, &payload_json));
  const nlohmann::json payload = nlohmann::json::parse(payload_json);
  ASSERT_TRUE(payload.contains("submods"));
  EXPECT_TRUE(payload["submods"].contains("tpm")) << payload.dump();
  EXPECT_TRUE(payload["submods"].contains("dev")) << payload.dump();
  // The dev piece bound to another key: the whole request is refused.
  ASSERT_OK_AND_ASSIGN(v1::AttestRequest mixed, with_dev(other.public_key));
  EXPECT_THAT(workload_->Attest(mixed), StatusIs(absl::StatusCode::kPermissionDenied,
                                                 HasSubstr("refused: evidence_rejected")));
}

// Tokens that live one second, to see one expire.
class WorkloadTpmShortTokenE2eTest : public WorkloadTpmE2eTest {
 protected:
  void ExtraSetUp() override {
    WorkloadTpmE2eTest::ExtraSetUp();
    absl::StrAppend(&tpm_config_, "broker: {token_ttl: 1s}\n");
  }
};

TEST_F(WorkloadTpmShortTokenE2eTest, ExpiredTokenIsRefused) {
  MeasureAndCreateModelKey();
  if (HasFatalFailure()) return;
  ASSERT_OK_AND_ASSIGN(hpke::KeyPair mine, hpke::GenerateKeyPair(hpke::Kem::kDhkemP256HkdfSha256));
  ASSERT_OK_AND_ASSIGN(v1::AttestRequest req, TpmAttestRequest(mine.public_key, mine.public_key));
  req.clear_release();
  ASSERT_OK_AND_ASSIGN(v1::AttestResponse granted, workload_->Attest(req));
  // The token's exp is in whole seconds: past it for certain after 2.1 s.
  absl::SleepFor(absl::Milliseconds(2100));
  v1::ReleaseKeyRequest release;
  release.set_token(granted.token());
  release.set_key("model");
  release.set_public_key(std::string(AsStringView(mine.public_key.Serialize())));
  EXPECT_THAT(workload_->ReleaseKey(release),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("refused: token_expired")));
}

}  // namespace
}  // namespace strongroom::client
