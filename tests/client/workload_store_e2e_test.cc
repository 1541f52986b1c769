// Workload reads and writes of the sealed store, end to end: the real
// strongroomd server object on 127.0.0.1 port 0 (mutual TLS, SoftHSM,
// RocksDB in a temp dir), a data owner who uploads with the ordinary owner
// path, and workload principals that attest with the dev attester for
// "datasets/{id}" and read (GetObject + GetObjectKey) and upload
// (BeginUpload + GetUploadKey + PutObject) through WorkloadClient.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/testing/status_matchers.h"
#include "client/connection.h"
#include "client/dev_attester.h"
#include "client/sealed_object.h"
#include "client/workload.h"
#include "kms/hpke/keys.h"
#include "nlohmann/json.hpp"
#include "storage/streaming/byte_stream.h"
#include "tests/client/loopback_server.h"
#include "tests/client/workload_fixture.h"
#include "tests/storage/streaming/lending_sink.h"

namespace strongroom::client {
namespace {

namespace v1 = ::strongroom::v1;
namespace hpke = ::strongroom::kms::hpke;
using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kOwnerPrincipal[] = "spiffe://strongroom/owner";
constexpr char kWorkloadPrincipal[] = "spiffe://strongroom/workload";

// Bytes that differ at every offset, so a shifted range cannot pass.
std::string Pattern(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 12345;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>(x >> 16);
  }
  return s;
}


class WorkloadStoreE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(local_, testing::LoopbackServer::Provision("workload-store-test",
                                                                    {{"admin", "admin"},
                                                                     {"owner", "owner"},
                                                                     {"workload", "workload"},
                                                                     {"workload2", "workload"}}));
    ASSERT_OK_AND_ASSIGN(dev_key_pem_, testing::TrustNewDevKey(local_->dir()));
    ASSERT_OK(local_->Start(testing::kDevAttestationYaml));
    ASSERT_OK_AND_ASSIGN(admin_, Connection::Open(As("admin")));
    ASSERT_OK_AND_ASSIGN(owner_, Connection::Open(As("owner")));
    ASSERT_OK_AND_ASSIGN(workload_, Connection::Open(As("workload")));

    // The owner's key, a policy that wants the good measurement, and two
    // datasets under it plus one without a release policy.
    v1::CreateKeyRequest key;
    key.set_key_id("dk");
    key.set_owner(kOwnerPrincipal);
    ASSERT_OK(admin_->CreateKey(key).status());
    PutPolicy();
    for (const char* id : {"ds", "ds2"}) CreateDataset(id, "approved");
    CreateDataset("nopolicy", "");
  }

  ConnectionOptions As(const std::string& client) { return local_->As(client); }

  void PutPolicy() {
    v1::PutPolicyRequest policy;
    policy.set_name("policies/approved");
    policy.set_policy_json(absl::StrCat(
        R"({"version": 1, "require": {"allOf": [)", R"({"claim": "dev.measurement", "equals": ")",
        HexEncode(kGood), R"("}, {"claim": "dev.debug", "equals": false}]}})"));
    ASSERT_OK(admin_->PutPolicy(policy).status());
  }

  void CreateDataset(const std::string& id, const std::string& policy) {
    v1::CreateDatasetRequest r;
    r.set_dataset_id(id);
    r.set_key("dk");
    r.set_release_policy(policy);
    ASSERT_OK(owner_->CreateDataset(r).status());
  }

  absl::StatusOr<v1::ObjectInfo> OwnerPut(const std::string& ds, const std::string& name,
                                          const std::string& data) {
    PutObjectOptions o;
    o.dataset = ds;
    o.name = name;
    o.segment_size = 16 << 10;
    storage::StringSource in(data);
    return PutSealedObject(*owner_, o, in);
  }

  absl::StatusOr<std::string> OwnerGet(const std::string& ds, const std::string& name) {
    GetObjectOptions o;
    o.dataset = ds;
    o.name = name;
    storage::StringSink sink;
    RETURN_IF_ERROR(GetSealedObject(*owner_, o, sink).status());
    return sink.Release();
  }

  std::unique_ptr<WorkloadClient> Client(const Bytes& measurement, Connection* conn,
                                         hpke::Kem kem = hpke::Kem::kDhkemP256HkdfSha256) {
    return testing::NewWorkloadClient(conn, testing::NewDevAttester(dev_key_pem_, measurement),
                                      kem);
  }

  static absl::StatusOr<std::string> Read(WorkloadClient& wl, const std::string& ds,
                                          const std::string& name, uint64_t start = 0,
                                          std::optional<uint64_t> end = std::nullopt) {
    GetObjectOptions o;
    o.dataset = ds;
    o.name = name;
    o.range_start = start;
    o.range_end = end;
    storage::StringSink sink;
    RETURN_IF_ERROR(wl.GetObject(o, sink).status());
    return sink.Release();
  }

  // GetObject with a token given by hand (no broker key: a refusal comes
  // with the stream's head).
  absl::Status ReadWithToken(const std::string& ds, const std::string& name,
                             const std::string& token) {
    GetObjectOptions o;
    o.dataset = ds;
    o.name = name;
    o.token = token;
    o.open_key = [](const storage::sealed::SealedHeader&) -> absl::StatusOr<SecretBytes> {
      return absl::InternalError("the store should have refused before any key is needed");
    };
    storage::StringSink sink;
    return GetSealedObject(*workload_, o, sink).status();
  }

  absl::StatusOr<v1::GetObjectKeyResponse> ObjectKey(const std::string& token,
                                                     const hpke::PublicKey& pk,
                                                     const std::string& ds,
                                                     const std::string& name) {
    v1::GetObjectKeyRequest r;
    r.set_token(token);
    r.set_dataset(ds);
    r.set_name(name);
    r.set_public_key(std::string(AsStringView(pk.Serialize())));
    return workload_->GetObjectKey(r);
  }

  // With `token` (and `pk` for the key), neither the stream of ds/name nor
  // its object key is given: both are refused for `reason`.
  void ExpectRefused(const std::string& token, const hpke::PublicKey& pk, const std::string& ds,
                     const std::string& name, const std::string& reason) {
    SCOPED_TRACE(absl::StrCat(ds, "/", name, " refused for ", reason));
    const auto refused =
        StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr(absl::StrCat("refused: ", reason)));
    EXPECT_THAT(ReadWithToken(ds, name, token), refused);
    EXPECT_THAT(ObjectKey(token, pk, ds, name), refused);
  }

  const Bytes kGood = Bytes(48, 0x11);
  std::unique_ptr<testing::LoopbackServer> local_;
  std::string dev_key_pem_;
  std::unique_ptr<Connection> admin_, owner_, workload_;
};

TEST_F(WorkloadStoreE2eTest, SegmentsDecryptOnSeveralThreadsIntoALendingSink) {
  const std::string data = Pattern(300000);  // 19 segments of 16 KiB
  ASSERT_OK(OwnerPut("ds", "train/part-9", data).status());
  auto wl = Client(kGood, workload_.get());
  for (int threads : {1, 2, 4}) {
    SCOPED_TRACE(threads);
    for (auto [start, end] : {std::pair<uint64_t, std::optional<uint64_t>>{0, std::nullopt},
                              {20000, 250001}}) {
      GetObjectOptions o;
      o.dataset = "ds";
      o.name = "train/part-9";
      o.range_start = start;
      o.range_end = end;
      o.decrypt_threads = threads;
      storage::testing::LendingSink sink;
      ASSERT_OK(wl->GetObject(o, sink).status());
      EXPECT_TRUE(sink.committed() == data.substr(start, end.value_or(data.size()) - start))
          << "[" << start << ", " << end.value_or(0) << ") differs";
      // One loan for the whole segments on several threads, one per segment on one.
      if (threads > 1) {
        EXPECT_EQ(sink.lends(), 1);
      } else {
        EXPECT_GE(sink.lends(), 13);
      }
    }
  }
}

TEST_F(WorkloadStoreE2eTest, AttestedWorkloadReadsBitExactWholeAndRange) {
  const std::string data = Pattern(100000);  // several 16 KiB segments
  ASSERT_OK(OwnerPut("ds", "train/part-0", data).status());
  for (hpke::Kem kem : {hpke::Kem::kDhkemP256HkdfSha256, hpke::Kem::kDhkemX25519HkdfSha256}) {
    auto wl = Client(kGood, workload_.get(), kem);
    ASSERT_OK_AND_ASSIGN(std::string all, Read(*wl, "ds", "train/part-0"));
    EXPECT_TRUE(all == data) << "whole object differs";
    ASSERT_TRUE(wl->token("datasets/ds").has_value());
    const std::string token = *wl->token("datasets/ds");
    // A range across segment boundaries, with the held token.
    ASSERT_OK_AND_ASSIGN(std::string part, Read(*wl, "ds", "train/part-0", 16000, 50001));
    EXPECT_TRUE(part == data.substr(16000, 34001)) << "range differs";
    EXPECT_EQ(*wl->token("datasets/ds"), token);  // reused, not re-attested
    ASSERT_OK_AND_ASSIGN(std::string jti, TokenId(token));

    // The object key is sealed to this client only, under the documented info.
    ASSERT_OK_AND_ASSIGN(auto key, ObjectKey(token, wl->public_key(), "ds", "train/part-0"));
    EXPECT_EQ(key.sealed().info(), AsStringView(ObjectKeyInfo(kObjectKeyLabel, "ds", "train/part-0",
                                                              1, "keys/dk/versions/1", jti)));
    ASSERT_OK_AND_ASSIGN(SecretBytes pem, wl->ExportEphemeralPrivateKeyPem());
    ASSERT_OK_AND_ASSIGN(hpke::PrivateKey sk, hpke::PrivateKey::FromPkcs8Pem(pem));
    EXPECT_OK(OpenSealedObjectKey(sk, key.sealed(), kObjectKeyLabel, "ds", "train/part-0", 1,
                                  "keys/dk", jti)
                  .status());
    // Bound to the object: the same sealed key checked as another object's fails.
    EXPECT_THAT(OpenSealedObjectKey(sk, key.sealed(), kObjectKeyLabel, "ds", "train/part-1", 1,
                                    "keys/dk", jti),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("info")));
  }
}

// An owner's rekey that commits between a workload read's head and its
// key request: the broker refuses the new key for the old stream (ABORTED,
// not a key that would fail every segment as tampered) and the client reads
// the object again, under its new key.
TEST_F(WorkloadStoreE2eTest, AReadRacingARekeyStartsOverUnderTheNewKey) {
  const std::string data = Pattern(50000);
  ASSERT_OK(OwnerPut("ds", "rk", data).status());
  auto wl = Client(kGood, workload_.get());
  int asked = 0;
  GetObjectOptions o;
  o.dataset = "ds";
  o.name = "rk";
  o.before_key_for_testing = [&] {
    if (asked++ > 0) return;
    RekeyOptions rekey;
    rekey.dataset = "ds";
    rekey.name = "rk";
    ASSERT_OK_AND_ASSIGN(v1::StoreJob job, RekeySealedObject(*owner_, rekey));
    EXPECT_EQ(job.state(), v1::DONE);
  };
  storage::StringSink sink;
  ASSERT_OK(wl->GetObject(o, sink).status());
  EXPECT_EQ(asked, 2) << "the read did not start over";
  EXPECT_TRUE(sink.Release() == data) << "read differs";
}

TEST_F(WorkloadStoreE2eTest, RefusalsWithoutPolicyDeniedByPolicyOrWithAnotherToken) {
  ASSERT_OK(OwnerPut("ds", "a", "alpha").status());
  ASSERT_OK(OwnerPut("ds2", "b", "beta").status());
  ASSERT_OK(OwnerPut("nopolicy", "c", "gamma").status());

  // No release policy: refused before anything about the dataset is told.
  auto wl = Client(kGood, workload_.get());
  EXPECT_THAT(Read(*wl, "nopolicy", "c"), StatusIs(absl::StatusCode::kPermissionDenied,
                                                   HasSubstr("refused: dataset_not_releasable")));
  EXPECT_THAT(
      Read(*wl, "no-such-dataset", "c"),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("refused: dataset_not_releasable")));
  // The policy denies another measurement.
  auto bad = Client(Bytes(48, 0x22), workload_.get());
  EXPECT_THAT(Read(*bad, "ds", "a"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("refused: policy_denied")));

  // A token for dataset ds does not read ds2, neither the stream nor the key.
  ASSERT_OK_AND_ASSIGN(std::string ds_token, wl->Attest("datasets/ds"));
  // (The store accepts it: the hand-made key opener is reached.)
  EXPECT_THAT(ReadWithToken("ds", "a", ds_token),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("should have refused")));
  ExpectRefused(ds_token, wl->public_key(), "ds2", "b", "token_wrong_dataset");

  // A key's token reads no object.
  v1::CreateKeyRequest model;
  model.set_key_id("model");
  ASSERT_OK(admin_->CreateKey(model).status());
  v1::UpdateKeyRequest update;
  update.set_name("keys/model");
  update.add_update_mask("release_policy");
  update.set_release_policy("policies/approved");
  ASSERT_OK(admin_->UpdateKey(update).status());
  ASSERT_OK_AND_ASSIGN(std::string key_token, wl->Attest("model"));
  ExpectRefused(key_token, wl->public_key(), "ds", "a", "token_wrong_dataset");

  // The object key for a public key other than the token's.
  ASSERT_OK_AND_ASSIGN(hpke::KeyPair other, hpke::GenerateKeyPair(hpke::Kem::kDhkemP256HkdfSha256));
  EXPECT_THAT(
      ObjectKey(ds_token, other.public_key, "ds", "a"),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("refused: token_wrong_public_key")));
  // Another workload principal cannot present it.
  ASSERT_OK_AND_ASSIGN(auto stranger, Connection::Open(As("workload2")));
  v1::GetObjectKeyRequest r;
  r.set_token(ds_token);
  r.set_dataset("ds");
  r.set_name("a");
  r.set_public_key(std::string(AsStringView(wl->public_key().Serialize())));
  EXPECT_THAT(stranger->GetObjectKey(r), StatusIs(absl::StatusCode::kPermissionDenied,
                                                  HasSubstr("refused: token_wrong_principal")));
}

TEST_F(WorkloadStoreE2eTest, PolicyChangeRevokesTheTokenAndTheClientAttestsAgain) {
  ASSERT_OK(OwnerPut("ds", "a", "alpha").status());
  auto wl = Client(kGood, workload_.get());
  ASSERT_OK_AND_ASSIGN(std::string first, Read(*wl, "ds", "a"));
  EXPECT_EQ(first, "alpha");
  const std::string old_token = *wl->token("datasets/ds");
  PutPolicy();  // version 2 of the dataset's policy
  ExpectRefused(old_token, wl->public_key(), "ds", "a", "token_revoked_policy_changed");
  // The client drops the stale token and attests once more.
  ASSERT_OK_AND_ASSIGN(std::string again, Read(*wl, "ds", "a"));
  EXPECT_EQ(again, "alpha");
  EXPECT_NE(*wl->token("datasets/ds"), old_token);
}

TEST_F(WorkloadStoreE2eTest, WorkloadUploadIsReadByTheOwnerAndNothingMoreIsAllowed) {
  const std::string data = Pattern(70000);
  auto wl = Client(kGood, workload_.get());
  PutObjectOptions put;
  put.dataset = "ds";
  put.name = "out/result.bin";
  put.segment_size = 16 << 10;
  put.labels = {{"run", "7"}};
  storage::StringSource in(data);
  ASSERT_OK_AND_ASSIGN(v1::ObjectInfo info, wl->PutObject(put, in));
  EXPECT_EQ(info.version(), 1u);
  EXPECT_EQ(info.creator(), kWorkloadPrincipal);
  EXPECT_EQ(info.key(), "keys/dk");
  EXPECT_EQ(info.size(), data.size());
  EXPECT_TRUE(info.written_by_workload());
  // The owner reads it with the ordinary owner path.
  ASSERT_OK_AND_ASSIGN(std::string back, OwnerGet("ds", "out/result.bin"));
  EXPECT_TRUE(back == data) << "owner read differs";
  // No workload does, not even the one that wrote it with the same token:
  // its data key is the owner's alone (a refusal on the audit record).
  EXPECT_THAT(Read(*wl, "ds", "out/result.bin"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("refused: object_written_by_workload (audit ")));
  // What the owner put there stays readable to workloads.
  ASSERT_OK(OwnerPut("ds", "in/owner.bin", "from the owner").status());
  ASSERT_OK_AND_ASSIGN(std::string owner_data, Read(*wl, "ds", "in/owner.bin"));
  EXPECT_EQ(owner_data, "from the owner");

  // No token, a token of another dataset: no upload.
  v1::BeginUploadRequest begin;
  begin.set_dataset("ds");
  begin.set_name("out/other");
  EXPECT_THAT(workload_->BeginUpload(begin),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token is empty")));
  ASSERT_OK_AND_ASSIGN(std::string ds2_token, wl->Attest("datasets/ds2"));
  begin.set_token(ds2_token);
  EXPECT_THAT(workload_->BeginUpload(begin),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_wrong_dataset")));
  // Nothing but reads and uploads: no delete, stat, listing or rewrap.
  v1::DeleteObjectRequest del;
  del.set_dataset("ds");
  del.set_name("out/result.bin");
  del.set_version(1);
  EXPECT_THAT(workload_->DeleteObject(del), StatusIs(absl::StatusCode::kPermissionDenied));
  v1::ListObjectsRequest ls;
  ls.set_dataset("ds");
  EXPECT_THAT(workload_->ListObjects(ls), StatusIs(absl::StatusCode::kPermissionDenied));
  v1::StartRewrapRequest rewrap;
  rewrap.set_dataset("ds");
  EXPECT_THAT(workload_->StartRewrap(rewrap), StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_OK(OwnerGet("ds", "out/result.bin").status());  // still there
}

// A workload's outputs stored together: staged with its dataset token,
// invisible until one commit; the commit takes that dataset's token only.
TEST_F(WorkloadStoreE2eTest, WorkloadStagesSeveralObjectsAndCommitsThemTogether) {
  auto wl = Client(kGood, workload_.get());
  std::vector<StagedObject> staged;
  for (int i = 0; i < 2; ++i) {
    PutObjectOptions put;
    put.dataset = "ds";
    put.name = absl::StrCat("out/set_", i);
    put.segment_size = 16 << 10;
    const std::string data = Pattern(40000 + i);
    storage::StringSource in(data);
    ASSERT_OK_AND_ASSIGN(StagedObject s, wl->StageObject(put, in));
    EXPECT_EQ(s.info.name(), put.name);
    staged.push_back(s);
  }
  EXPECT_THAT(OwnerGet("ds", "out/set_0"), StatusIs(absl::StatusCode::kNotFound));
  // Another dataset's token does not commit them; the owner cannot either.
  ASSERT_OK_AND_ASSIGN(std::string ds2_token, wl->Attest("datasets/ds2"));
  EXPECT_THAT(CommitStagedObjects(*workload_, staged, ds2_token),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_wrong_dataset")));
  EXPECT_THAT(CommitStagedObjects(*owner_, staged),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("another principal")));
  EXPECT_THAT(OwnerGet("ds", "out/set_1"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(std::vector<v1::ObjectInfo> done, wl->CommitObjects("ds", staged));
  ASSERT_EQ(done.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK_AND_ASSIGN(std::string back, OwnerGet("ds", absl::StrCat("out/set_", i)));
    EXPECT_TRUE(back == Pattern(40000 + i)) << i;
  }
}

TEST_F(WorkloadStoreE2eTest, AuditRecordsReadObjectKeyAndUploadDecisions) {
  ASSERT_OK(OwnerPut("ds", "a", "alpha").status());
  auto wl = Client(kGood, workload_.get());
  ASSERT_OK(Read(*wl, "ds", "a").status());
  PutObjectOptions put;
  put.dataset = "ds";
  put.name = "b";
  storage::StringSource in("beta");
  ASSERT_OK(wl->PutObject(put, in).status());
  ASSERT_OK_AND_ASSIGN(hpke::KeyPair other, hpke::GenerateKeyPair(hpke::Kem::kDhkemP256HkdfSha256));
  EXPECT_FALSE(ObjectKey(*wl->token("datasets/ds"), other.public_key, "ds", "a").ok());

  ASSERT_OK_AND_ASSIGN(v1::ExportAuditResponse audit,
                       admin_->ExportAudit(v1::ExportAuditRequest()));
  std::map<std::string, int> seen;  // "action decision" on datasets/ds by the workload
  std::vector<std::string> details;  // of the read and upload allows
  for (absl::string_view line : absl::StrSplit(audit.jsonl(), '\n')) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || j.value("type", "") != "record") continue;
    if (j.value("resource", "") != "datasets/ds" ||
        j.value("principal", "") != kWorkloadPrincipal) {
      continue;
    }
    ++seen[absl::StrCat(j.value("action", ""), " ", j.value("decision", ""))];
    if (j.value("action", "") == "read" || j.value("action", "") == "upload") {
      details.push_back(j.value("reason_detail", ""));
    }
  }
  // Each names the object it was for, beside the token.
  ASSERT_EQ(details.size(), 3u);
  EXPECT_THAT(details[0], HasSubstr("; GetObject a (latest)"));
  EXPECT_THAT(details[1], HasSubstr("; BeginUpload b"));
  EXPECT_THAT(details[2], HasSubstr("; PutObject b@1 (upload "));
  EXPECT_EQ(seen["attest allow"], 1);
  EXPECT_EQ(seen["read allow"], 1);
  EXPECT_EQ(seen["object_key allow"], 1);
  EXPECT_EQ(seen["object_key deny"], 1);
  EXPECT_EQ(seen["upload allow"], 2);  // BeginUpload, then the stream's start
  EXPECT_EQ(seen["upload_key allow"], 1);
}

}  // namespace
}  // namespace strongroom::client
