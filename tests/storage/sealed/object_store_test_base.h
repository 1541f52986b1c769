// ObjectStoreTest: the ObjectStore tests' fixture (a real RocksDB in a temp
// dir, a fake key directory) and their callers and helpers; shared by
// object_store_test.cc and object_store_jobs_test.cc.
#ifndef STRONGROOM_TESTS_STORAGE_SEALED_OBJECT_STORE_TEST_BASE_H_
#define STRONGROOM_TESTS_STORAGE_SEALED_OBJECT_STORE_TEST_BASE_H_

#include "storage/sealed/object_store.h"

#include <rocksdb/write_batch.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/storage/sealed/object_store_fixture.h"
#include "tests/storage/sealed/sealed_test_util.h"

namespace strongroom::storage::sealed {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using Segment = SegmentStreamReader::Segment;

using testing::kOwner;

inline const kms::Caller kAdmin{"spiffe://t/admin", kms::Role::kAdmin};
inline const kms::Caller kOther{"spiffe://t/other", kms::Role::kOwner};
inline const kms::Caller kAuditor{"spiffe://t/auditor", kms::Role::kAuditor};
inline const kms::Caller kWorkload{"spiffe://t/workload", kms::Role::kWorkload};

inline std::string Pattern(size_t n, int seed = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 13 + seed) % 253);
  return s;
}

class ObjectStoreTest : public testing::ObjectStoreFixture {
 protected:
  ObjectStoreTest() : ObjectStoreFixture("object-store-") {}

  void SetUp() override {
    keys_.AddKey("keys/k2", kOther.principal, 1);
    ObjectStoreFixture::SetUp();
  }

  // Uploads `plain` as a new version of ds1/name; returns its info.
  absl::StatusOr<v1::ObjectInfo> Put(const std::string& name, const std::string& plain,
                                     const kms::Caller& who = kOwner) {
    v1::BeginUploadRequest b;
    b.set_dataset("ds1");
    b.set_name(name);
    // Several labels: map order in serialized records is not stable.
    for (const char* k : {"stage", "team", "source", "format", "split"}) {
      (*b.mutable_labels())[k] = absl::StrCat(k, "-", name);
    }
    ASSIGN_OR_RETURN(v1::Upload up, store_->BeginUpload(who, b));
    return SealAndUpload(who, up, "ds1", plain);
  }

  // An admin's dataset `id` of kOwner under keys/k1 with a quota of `bytes`.
  absl::Status CreateQuotaDataset(const std::string& id, uint64_t bytes) {
    v1::CreateDatasetRequest r;
    r.set_dataset_id(id);
    r.set_key("k1");
    r.set_owner(kOwner.principal);
    r.set_quota_bytes(bytes);
    return store_->CreateDataset(kAdmin, r).status();
  }

  // BeginUpload of dataset/name as kOwner, without labels.
  absl::StatusOr<v1::Upload> Begin(const std::string& dataset, const std::string& name) {
    v1::BeginUploadRequest b;
    b.set_dataset(dataset);
    b.set_name(name);
    return store_->BeginUpload(kOwner, b);
  }

  // Reads ds1/name@version [start, end) and decrypts it (under `key`, or
  // the fixture's data key when null).
  absl::StatusOr<std::string> Get(const std::string& name, uint64_t version = 0, uint64_t start = 0,
                                  std::optional<uint64_t> end = {}, const kms::Caller& who = kOwner,
                                  const std::string& token = "", const SecretBytes* key = nullptr) {
    v1::GetObjectRequest r;
    r.set_dataset("ds1");
    r.set_name(name);
    r.set_version(version);
    r.set_range_start(start);
    if (end) r.set_range_end(*end);
    r.set_token(token);
    ASSIGN_OR_RETURN(auto read, store_->OpenRead(who, r));
    ASSIGN_OR_RETURN(SealedHeader h, ParseSealedHeader(AsBytes(read->head().header())));
    std::vector<Segment> segments;
    v1::ObjectSegment s;
    for (;;) {
      ASSIGN_OR_RETURN(bool more, read->Next(&s));
      if (!more) break;
      segments.push_back({s.index(), s.data()});
    }
    EXPECT_EQ(segments.size(), read->head().end_segment() - read->head().first_segment());
    return testing::Open(key != nullptr ? *key : data_key_, h, read->head().stream_bytes(),
                         segments, start, end.value_or(UINT64_MAX));
  }

  // Runs maintenance until job `id` is DONE (at most `passes` times); the
  // job as it then stands.
  absl::StatusOr<v1::StoreJob> RunJobUntilDone(const std::string& id, int passes = 8) {
    v1::GetJobRequest g;
    g.set_id(id);
    ASSIGN_OR_RETURN(v1::StoreJob job, store_->GetJob(kOwner, g));
    for (int i = 0; i < passes && job.state() != v1::DONE; ++i) {
      RETURN_IF_ERROR(store_->RunMaintenance());
      ASSIGN_OR_RETURN(job, store_->GetJob(kOwner, g));
    }
    return job;
  }

  // The key version ds1/name's latest version is wrapped under.
  absl::StatusOr<uint32_t> KeyVersionOf(const std::string& name) {
    v1::StatObjectRequest st;
    st.set_dataset("ds1");
    st.set_name(name);
    ASSIGN_OR_RETURN(v1::ObjectInfo info, store_->StatObject(kOwner, st));
    return info.key_version();
  }

  // A rekey job begun for ds1/name (whose plaintext is `plain`) by kOwner,
  // and what its client would send: the object sealed again under a fresh
  // key, and the RekeyStart carrying the new header.
  struct RekeyPlan {
    v1::StoreJob job;
    SecretBytes new_key;
    testing::SealedParts next;
    v1::RekeyStart start;
  };
  absl::StatusOr<RekeyPlan> BeginRekeyOf(const std::string& name, const std::string& plain) {
    v1::BeginRekeyRequest b;
    b.set_dataset("ds1");
    b.set_name(name);
    RekeyPlan p;
    ASSIGN_OR_RETURN(p.job, store_->BeginRekey(kOwner, b));
    p.new_key = SecretBytes::Random(32);
    ASSIGN_OR_RETURN(p.next, testing::Seal(p.new_key, "ds1", name, p.job.version(), plain));
    p.start.set_job_id(p.job.id());
    p.start.set_header(std::string(AsStringView(p.next.header_bytes)));
    return p;
  }

  void ExpectConsistent() {
    absl::StatusOr<v1::StoreCheck> c = store_->Check();
    ASSERT_OK(c.status());
    EXPECT_TRUE(c->ok()) << c->DebugString();
    EXPECT_EQ(c->orphaned_segments(), 0u);
  }

  uint64_t SegmentCount() {
    uint64_t n = 0;
    EXPECT_OK(store_->db().Scan(keys::kSegments, "", [&](absl::string_view, absl::string_view) {
      ++n;
      return true;
    }));
    return n;
  }
};

}  // namespace strongroom::storage::sealed

#endif  // STRONGROOM_TESTS_STORAGE_SEALED_OBJECT_STORE_TEST_BASE_H_
