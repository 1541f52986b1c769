// The sealed store end to end in one process (SealedStoreServerTest):
// strongroomd's server object on 127.0.0.1 port 0 over mutual TLS with a real
// SoftHSM token and RocksDB, a dataset under a releasable key, connections
// as owner, admin, auditor and workload, and helpers that put and get through
// the client SDK (client/sealed_object.h).
#ifndef STRONGROOM_TESTS_STORAGE_SEALED_SEALED_STORE_SERVER_FIXTURE_H_
#define STRONGROOM_TESTS_STORAGE_SEALED_SEALED_STORE_SERVER_FIXTURE_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/testing/status_matchers.h"
#include "client/connection.h"
#include "client/sealed_object.h"
#include "server/sealed_store_service.h"
#include "server/server.h"
#include "tests/client/loopback_server.h"

namespace strongroom::server {

namespace v1 = ::strongroom::v1;
using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

inline constexpr char kP[] = "spiffe://strongroom/";

// n deterministic pseudo-random bytes (xorshift32 from `seed`).
inline std::string Pattern(size_t n, int seed = 0) {
  std::string s(n, '\0');
  uint32_t x = 2463534242u + seed;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = static_cast<char>(x);
  }
  return s;
}

class SealedStoreServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(local_, client::testing::LoopbackServer::Provision(
                                     "sealed-test", {{"admin", "admin"},
                                                     {"owner", "owner"},
                                                     {"owner2", "owner"},
                                                     {"auditor", "auditor"},
                                                     {"workload", "workload"}}));
    ASSERT_OK(local_->Start("store: {maintenance_interval: 50ms}\nlogging: {level: warning}\n"));
    for (const char* who : {"admin", "owner", "owner2", "auditor", "workload"}) {
      ASSERT_OK_AND_ASSIGN(conn_[who],
                           client::Connection::Open(local_->As(who, absl::Seconds(30))));
    }
    v1::CreateKeyRequest k;
    k.set_key_id("k1");
    k.set_owner(absl::StrCat(kP, "owner"));
    k.set_destroy_wait_seconds(0);
    ASSERT_OK(conn_["admin"]->CreateKey(k).status());
    v1::CreateDatasetRequest d;
    d.set_dataset_id("ds");
    d.set_key("k1");
    d.set_release_policy("inference");
    // Only a policy that exists can be named.
    EXPECT_THAT(conn_["owner"]->CreateDataset(d),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("release_policy: policies/inference does not exist")));
    v1::PutPolicyRequest pol;
    pol.set_name("inference");
    pol.set_policy_json(R"({"version": 1, "tee": ["dev"], "require": {"claim": "dev.debug",
        "equals": false}})");
    ASSERT_OK(conn_["admin"]->PutPolicy(pol).status());
    ASSERT_OK(conn_["owner"]->CreateDataset(d).status());
  }

  void TearDown() override {
    conn_.clear();
    local_.reset();
  }

  client::Connection& As(const std::string& who) { return *conn_.at(who); }

  absl::StatusOr<v1::ObjectInfo> Put(const std::string& name, const std::string& data,
                                     uint32_t segment_size = 64 << 10) {
    client::PutObjectOptions o;
    o.dataset = "ds";
    o.name = name;
    o.segment_size = segment_size;
    storage::StringSource source(data);
    return client::PutSealedObject(As("owner"), o, source);
  }

  absl::StatusOr<std::string> Get(const std::string& name, uint64_t version = 0, uint64_t start = 0,
                                  std::optional<uint64_t> end = {},
                                  const std::string& who = "owner", bool raw = false) {
    client::GetObjectOptions o;
    o.dataset = "ds";
    o.name = name;
    o.version = version;
    o.range_start = start;
    o.range_end = end;
    o.raw = raw;
    storage::StringSink sink;
    RETURN_IF_ERROR(client::GetSealedObject(As(who), o, sink).status());
    return sink.Release();
  }

  storage::sealed::ObjectStore& Store() { return local_->server().sealed_store().store(); }

  void ExpectConsistent() {
    ASSERT_OK_AND_ASSIGN(v1::StoreCheck c, As("auditor").CheckStore(v1::CheckStoreRequest()));
    EXPECT_TRUE(c.ok()) << c.DebugString();
    EXPECT_EQ(c.orphaned_segments(), 0u);
    EXPECT_EQ(c.open_uploads(), 0u);
  }

  v1::StoreJob WaitForJob(const std::string& id) {
    v1::GetJobRequest r;
    r.set_id(id);
    for (int i = 0; i < 200; ++i) {
      absl::StatusOr<v1::StoreJob> job = As("owner").GetJob(r);
      EXPECT_OK(job.status());
      if (!job.ok() || job->state() != v1::RUNNING) return job.value_or(v1::StoreJob());
      absl::SleepFor(absl::Milliseconds(50));
    }
    ADD_FAILURE() << "job " << id << " still running";
    return v1::StoreJob();
  }

  std::unique_ptr<client::testing::LoopbackServer> local_;
  std::map<std::string, std::unique_ptr<client::Connection>> conn_;
};

}  // namespace strongroom::server

#endif  // STRONGROOM_TESTS_STORAGE_SEALED_SEALED_STORE_SERVER_FIXTURE_H_
