// strongroomd's audit chain through the whole server (LoopbackServer: real
// mutual TLS, SoftHSM, RocksDB in a temp dir): checkpoints on a timer under
// the published key, maintenance's and admins' changes with their outcomes,
// records still pending at a clean stop, a broken or rolled-back chain at
// start, interrupted HSM creations resolved on the record, and exports past
// one gRPC message.
#include "server/server.h"
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/file.h"
#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"
#include "client/connection.h"
#include "hsm-sim/testing/softhsm_token.h"
#include "kms/audit/audit_json.h"
#include "kms/audit/audit_log.h"
#include "kms/audit/audit_storage.h"
#include "kms/audit/export_verifier.h"
#include "kms/key_manager_internal.h"
#include "server/config.h"
#include "storage/database.h"
#include "tests/client/loopback_server.h"

namespace strongroom::server {
namespace {

namespace v1 = ::strongroom::v1;
using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// A quiet server signs its audit head on a timer, not only every
// checkpoint_every records, and publishes the checkpoint key so an auditor
// can pin it: the export then verifies with that key pinned.
TEST(ServerAuditTest, QuietHeadIsCheckpointedAndVerifiesUnderThePublishedKey) {
  ASSERT_OK_AND_ASSIGN(
      auto local, client::testing::LoopbackServer::Provision("audit-test", {{"admin", "admin"}}));
  ASSERT_OK(
      local->Start("kms: {maintenance_interval: 20ms}\n"
                   "audit: {checkpoint_interval: 50ms, key_file: audit-key.pem}\n"));
  ASSERT_OK_AND_ASSIGN(std::string key_pem,
                       ReadFileToString(local->dir() + "/audit-key.pem", "audit key"));
  EXPECT_THAT(key_pem, HasSubstr("BEGIN PUBLIC KEY"));
  ASSERT_OK_AND_ASSIGN(auto admin, client::Connection::Open(local->As("admin")));
  v1::CreateKeyRequest create;
  create.set_key_id("k1");
  ASSERT_OK(admin->CreateKey(create).status());  // one record, far below 1000

  // Within a few maintenance rounds the head is signed as a checkpoint.
  std::string jsonl;
  for (int i = 0; i < 200 && jsonl.find("\"type\":\"checkpoint\"") == std::string::npos; ++i) {
    absl::SleepFor(absl::Milliseconds(25));
    ASSERT_OK_AND_ASSIGN(v1::ExportAuditResponse exported,
                         admin->ExportAudit(v1::ExportAuditRequest()));
    jsonl = exported.jsonl();
  }
  EXPECT_THAT(jsonl, HasSubstr("\"type\":\"checkpoint\""));
  std::istringstream in(jsonl);
  kms::VerifyExportOptions pinned;
  pinned.trusted_public_keys_pem.push_back(key_pem);
  const kms::AuditVerifyResult r = kms::VerifyExport(in, pinned);
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_TRUE(r.keys_pinned);
  EXPECT_GE(r.checkpoints, 1u);
  EXPECT_EQ(r.verified_through, r.last_sequence);
}

// A destruction maintenance carries out when its wait runs out is in the
// audit chain, by the destroy timer, like the admin change that scheduled it.
TEST(ServerAuditTest, AScheduledDestructionCarriedOutIsAudited) {
  ASSERT_OK_AND_ASSIGN(
      auto local, client::testing::LoopbackServer::Provision("audit-timer", {{"admin", "admin"}}));
  ASSERT_OK(local->Start("kms: {maintenance_interval: 20ms}\n"));
  ASSERT_OK_AND_ASSIGN(auto admin, client::Connection::Open(local->As("admin")));
  v1::CreateKeyRequest create;
  create.set_key_id("k1");
  create.set_destroy_wait_seconds(1);
  ASSERT_OK(admin->CreateKey(create).status());
  v1::RotateKeyRequest rotate;
  rotate.set_name("keys/k1");
  ASSERT_OK(admin->RotateKey(rotate).status());
  v1::DestroyKeyVersionRequest destroy;
  destroy.set_name("keys/k1/versions/1");
  ASSERT_OK(admin->DestroyKeyVersion(destroy).status());
  std::string jsonl;
  for (int i = 0; i < 200 && jsonl.find("state DESTROYED (") == std::string::npos; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    ASSERT_OK_AND_ASSIGN(v1::ExportAuditResponse exported,
                         admin->ExportAudit(v1::ExportAuditRequest()));
    jsonl = exported.jsonl();
  }
  // (Members in name order.) The admin's applied destroy says what it left.
  EXPECT_THAT(jsonl, ::testing::ContainsRegex(
                         "\"action\":\"destroy_key_version\"[^\n]*\"principal\":\"spiffe://"
                         "strongroom/admin\",\"reason_detail\":\"state DESTROY_SCHEDULED\""));
  EXPECT_THAT(jsonl, ::testing::ContainsRegex(
                         "\"action\":\"destroy_key_version\"[^\n]*\"principal\":\"system:"
                         "destroy-timer\",\"reason_detail\":\"state DESTROYED [^\n]*\"resource\":"
                         "\"keys/k1/versions/1\""));
}

// The server audits each admin change around the call: an admin's CreateKey
// leaves its request and what it made, an owner's refused RotateKey its
// request and the refusal, in that order, and the chain verifies.
TEST(ServerAuditTest, AdminChangesLeaveTheirRequestAndTheirOutcome) {
  ASSERT_OK_AND_ASSIGN(auto local, client::testing::LoopbackServer::Provision(
                                       "audit-admin", {{"admin", "admin"}, {"owner1", "owner"}}));
  ASSERT_OK(local->Start("kms: {maintenance_interval: 1h}\n"));
  ASSERT_OK_AND_ASSIGN(auto admin, client::Connection::Open(local->As("admin")));
  ASSERT_OK_AND_ASSIGN(auto owner, client::Connection::Open(local->As("owner1")));
  v1::CreateKeyRequest create;
  create.set_key_id("k1");
  ASSERT_OK(admin->CreateKey(create).status());
  v1::RotateKeyRequest rotate;
  rotate.set_name("keys/k1");
  EXPECT_THAT(owner->RotateKey(rotate), StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_OK_AND_ASSIGN(v1::ExportAuditResponse exported,
                       admin->ExportAudit(v1::ExportAuditRequest()));
  std::vector<std::string> changes;
  std::istringstream lines(exported.jsonl());
  for (std::string l; std::getline(lines, l);) {
    if (l.find("_key\"") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(l);
    changes.push_back(absl::StrCat(
        j["principal"].get<std::string>().substr(sizeof("spiffe://strongroom/") - 1), " ",
        j["action"].get<std::string>(), " ", j["decision"].get<std::string>(), " ",
        j["reason_id"].get<std::string>(), " ", j["resource"].get<std::string>()));
  }
  EXPECT_THAT(changes,
              ::testing::ElementsAre(
                  "admin create_key info admin.requested keys/k1", "admin create_key info  keys/k1",
                  "owner1 rotate_key info admin.requested keys/k1",
                  "owner1 rotate_key deny admin.refused.permission_denied keys/k1"));
  std::istringstream in(exported.jsonl());
  const kms::AuditVerifyResult r = kms::VerifyExport(in, {});
  EXPECT_TRUE(r.ok) << r.reason;
}

// A challenge's audit record is appended unsynced and goes out with the
// next write; a clean stop writes it (the maintenance loop, which would
// otherwise, runs hourly here), so it is in the chain after a restart.
TEST(ServerAuditTest, ACleanStopWritesTheRecordsStillPending) {
  ASSERT_OK_AND_ASSIGN(auto local, client::testing::LoopbackServer::Provision(
                                       "audit-stop", {{"admin", "admin"}, {"worker", "workload"}}));
  const std::string yaml = "kms: {maintenance_interval: 1h}\n";
  ASSERT_OK(local->Start(yaml));
  {
    ASSERT_OK_AND_ASSIGN(auto worker, client::Connection::Open(local->As("worker")));
    v1::GetChallengeRequest challenge;
    challenge.set_key("keys/k1");
    ASSERT_OK(worker->GetChallenge(challenge).status());
  }
  local->Stop();
  ASSERT_OK(local->Start(yaml));
  ASSERT_OK_AND_ASSIGN(auto admin, client::Connection::Open(local->As("admin")));
  ASSERT_OK_AND_ASSIGN(v1::ExportAuditResponse exported,
                       admin->ExportAudit(v1::ExportAuditRequest()));
  EXPECT_THAT(exported.jsonl(), HasSubstr("\"action\":\"challenge\""));
  std::istringstream in(exported.jsonl());
  const kms::AuditVerifyResult r = kms::VerifyExport(in, {});
  EXPECT_TRUE(r.ok) << r.reason;
  // The stop also signed its head (the interval is an hour, the count 1000):
  // a stored checkpoint vouches for the challenge's record (the export's
  // trailer signs whatever the database holds when it is taken; stored
  // checkpoints are what make an edit of the database in between show).
  const std::string& text = exported.jsonl();
  const size_t line = text.find("\"action\":\"challenge\"");
  ASSERT_NE(line, std::string::npos);
  const size_t seq = text.find("\"sequence\":", line);
  ASSERT_NE(seq, std::string::npos);
  const uint64_t challenge_sequence = std::stoull(text.substr(seq + 11, 20));
  EXPECT_GT(challenge_sequence, 0u);
  uint64_t last_checkpoint = 0;
  std::istringstream lines(text);
  for (std::string l; std::getline(lines, l);) {
    if (l.find("\"type\":\"checkpoint\"") == std::string::npos) continue;
    const size_t at = l.find("\"sequence\":");
    ASSERT_NE(at, std::string::npos);
    last_checkpoint = std::max<uint64_t>(last_checkpoint, std::stoull(l.substr(at + 11, 20)));
  }
  EXPECT_GE(last_checkpoint, challenge_sequence);
}

// Creates key `id` as "admin": one audited admin change.
void CreateKeyAsAdmin(client::testing::LoopbackServer& local, const std::string& id) {
  ASSERT_OK_AND_ASSIGN(auto admin, client::Connection::Open(local.As("admin")));
  v1::CreateKeyRequest create;
  create.set_key_id(id);
  ASSERT_OK(admin->CreateKey(create).status());
}

// A record edited in the database while the server was down stops the next
// start; audit.open_despite_broken_chain starts anyway (forensics), and the
// chain says so after the records found.
TEST(ServerAuditTest, ABrokenChainStopsTheStartUnlessOpenedForForensics) {
  ASSERT_OK_AND_ASSIGN(
      auto local, client::testing::LoopbackServer::Provision("audit-broken", {{"admin", "admin"}}));
  ASSERT_OK(local->Start());
  CreateKeyAsAdmin(*local, "k1");
  local->Stop();
  {
    ASSERT_OK_AND_ASSIGN(auto db, storage::Database::Open(local->dir() + "/db"));
    const std::string key = kms::audit_internal::RecordKey(1);
    ASSERT_OK_AND_ASSIGN(std::string v, db->Get(key));
    ASSERT_OK_AND_ASSIGN(kms::AuditRecord r, kms::audit_internal::ParseRecordLine(v));
    r.entry.resource += "-edited";  // the stored hash no longer matches
    ASSERT_OK(db->Put(key, kms::audit_internal::RecordLine(r)));
  }
  EXPECT_THAT(local->Start(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("sequence 1")));
  ASSERT_OK(local->Start("audit: {open_despite_broken_chain: true}\n"));
  ASSERT_OK_AND_ASSIGN(auto admin, client::Connection::Open(local->As("admin")));
  ASSERT_OK_AND_ASSIGN(v1::ExportAuditResponse exported,
                       admin->ExportAudit(v1::ExportAuditRequest()));
  EXPECT_THAT(exported.jsonl(), HasSubstr("\"reason_id\":\"audit.opened_despite_broken_chain\""));
  std::istringstream in(exported.jsonl());
  const kms::AuditVerifyResult verified = kms::VerifyExport(in, {});
  EXPECT_FALSE(verified.ok);
  EXPECT_EQ(verified.first_bad_sequence, 1u);
}

// An HSM object whose key creation was interrupted before its record (here:
// the intent of one the HSM never made) is resolved at the next start once
// the audit log takes records: a system change, requested and applied, in
// the chain, and the intent gone.
TEST(ServerAuditTest, AnInterruptedCreationsHsmObjectIsDestroyedOnTheRecord) {
  ASSERT_OK_AND_ASSIGN(auto local, client::testing::LoopbackServer::Provision(
                                       "audit-intent", {{"admin", "admin"}}));
  ASSERT_OK(local->Start());
  local->Stop();
  const std::string id(16, '\x3c');
  {
    ASSERT_OK_AND_ASSIGN(auto db, storage::Database::Open(local->dir() + "/db"));
    kms::records::HsmObjectIntent intent;
    intent.set_hsm_object_id(id);
    intent.set_hsm_label("strongroom-lost-v1");
    intent.set_purpose("keys/lost/versions/1");
    ASSERT_OK(db->Put(kms::internal::HsmIntentKey(AsBytes(id)), intent.SerializeAsString()));
  }
  ASSERT_OK(local->Start());
  ASSERT_OK_AND_ASSIGN(auto admin, client::Connection::Open(local->As("admin")));
  ASSERT_OK_AND_ASSIGN(v1::ExportAuditResponse exported,
                       admin->ExportAudit(v1::ExportAuditRequest()));
  std::vector<std::string> records;
  std::istringstream lines(exported.jsonl());
  for (std::string l; std::getline(lines, l);) {
    if (l.find("destroy_unrecorded_hsm_object") != std::string::npos) records.push_back(l);
  }
  ASSERT_EQ(records.size(), 2u) << exported.jsonl();
  for (const std::string& r : records) {
    EXPECT_THAT(r, HasSubstr("\"principal\":\"system:start-up\""));
    EXPECT_THAT(r, HasSubstr("\"resource\":\"keys/lost/versions/1\""));
  }
  EXPECT_THAT(records[1], HasSubstr("3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c (strongroom-lost-v1) was not "
                                    "in the HSM"));
  local->Stop();
  ASSERT_OK_AND_ASSIGN(auto db, storage::Database::Open(local->dir() + "/db"));
  EXPECT_THAT(db->Get(kms::internal::HsmIntentKey(AsBytes(id))),
              StatusIs(absl::StatusCode::kNotFound));
}

// A copy of the database taken earlier and put back while the server is down
// (a restore from backup, or a rollback of the disk) stops the next start:
// the clean stop anchored the audit head in the HSM, which the copy does not
// reach. The head MAC alone would not see it: the copy's head and MAC agree.
TEST(ServerAuditTest, ARestoredEarlierDatabaseStopsTheStart) {
  ASSERT_OK_AND_ASSIGN(auto local, client::testing::LoopbackServer::Provision(
                                       "audit-rollback", {{"admin", "admin"}}));
  ASSERT_OK(local->Start());
  local->Stop();
  const std::string db = local->dir() + "/db";
  const std::string copy = local->dir() + "/db-copy";
  std::filesystem::copy(db, copy, std::filesystem::copy_options::recursive);
  ASSERT_OK(local->Start());
  CreateKeyAsAdmin(*local, "k1");
  local->Stop();
  std::filesystem::remove_all(db);
  std::filesystem::rename(copy, db);
  EXPECT_THAT(local->Start(), StatusIs(absl::StatusCode::kDataLoss,
                                       HasSubstr("the HSM's audit anchor names record")));
}

// An export has no size bound: it comes in pieces, so a log past gRPC's 4 MiB
// message limit exports whole and verifies (it failed RESOURCE_EXHAUSTED when
// it was one reply).
TEST(ServerAuditTest, AnExportLargerThanOneMessageArrivesWhole) {
  ASSERT_OK_AND_ASSIGN(auto local, client::testing::LoopbackServer::Provision(
                                       "audit-big", {{"auditor", "auditor"}}));
  ASSERT_OK(local->Start(""));
  kms::AuditLog& log = local->server().audit_log();
  const std::string detail(400, 'd');
  for (int i = 0; i < 12000; ++i) {
    kms::AuditEntry e;
    e.principal = "spiffe://strongroom/test";
    e.action = "test.filler";
    e.resource = absl::StrCat("keys/k", i);
    e.reason_detail = detail;
    ASSERT_OK(log.AppendUnsynced(std::move(e)).status());
  }
  ASSERT_OK(log.Flush());
  ASSERT_OK_AND_ASSIGN(auto auditor, client::Connection::Open(local->As("auditor")));
  ASSERT_OK_AND_ASSIGN(v1::ExportAuditResponse exported,
                       auditor->ExportAudit(v1::ExportAuditRequest()));
  EXPECT_GT(exported.jsonl().size(), size_t{5} << 20);
  std::istringstream in(exported.jsonl());
  const kms::AuditVerifyResult r = kms::VerifyExport(in, {});
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_GE(r.last_sequence, 12000u);
}

}  // namespace
}  // namespace strongroom::server
