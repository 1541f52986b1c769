// ObjectStore on a real RocksDB in a temp dir, with a fake key directory:
// datasets and authorization, upload/commit visibility, structure checks,
// quotas, failed uploads leave nothing, ranged reads, listing, deletion,
// reopening after an interruption, re-wrap and rekey jobs, workload reads.
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
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using Segment = SegmentStreamReader::Segment;

using testing::kOwner;

const kms::Caller kAdmin{"spiffe://t/admin", kms::Role::kAdmin};
const kms::Caller kOther{"spiffe://t/other", kms::Role::kOwner};
const kms::Caller kAuditor{"spiffe://t/auditor", kms::Role::kAuditor};
const kms::Caller kWorkload{"spiffe://t/workload", kms::Role::kWorkload};

std::string Pattern(size_t n, int seed = 0) {
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

  // BeginUpload of dataset/name as kOwner, without labels.
  absl::StatusOr<v1::Upload> Begin(const std::string& dataset, const std::string& name) {
    v1::BeginUploadRequest b;
    b.set_dataset(dataset);
    b.set_name(name);
    return store_->BeginUpload(kOwner, b);
  }

  // Reads ds1/name@version [start, end) and decrypts it.
  absl::StatusOr<std::string> Get(const std::string& name, uint64_t version = 0, uint64_t start = 0,
                                  std::optional<uint64_t> end = {}, const kms::Caller& who = kOwner,
                                  const std::string& token = "") {
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
    return testing::Open(data_key_, h, read->head().stream_bytes(), segments, start,
                         end.value_or(UINT64_MAX));
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

// A caller that names the key it expects is refused before anything is
// reserved when the dataset is under another key: the next upload still
// gets version 1. Label keys follow the dataset rules (1..63 bytes).
TEST_F(ObjectStoreTest, BeginUploadChecksTheExpectedKeyAndLabelsFirst) {
  v1::BeginUploadRequest b;
  b.set_dataset("ds1");
  b.set_name("m.bin");
  b.set_expected_key("keys/k2");
  EXPECT_THAT(
      store_->BeginUpload(kOwner, b),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("expected_key: keys/k2 is not the key of datasets/ds1 (keys/k1)")));
  b.set_expected_key("k2");  // the short form too
  EXPECT_THAT(store_->BeginUpload(kOwner, b), StatusIs(absl::StatusCode::kInvalidArgument));
  b.set_expected_key("");
  (*b.mutable_labels())[std::string(64, 'x')] = "v";
  EXPECT_THAT(store_->BeginUpload(kOwner, b),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be 1..63 bytes")));
  b.clear_labels();
  b.set_expected_key("k1");
  ASSERT_OK_AND_ASSIGN(v1::Upload up, store_->BeginUpload(kOwner, b));
  EXPECT_EQ(up.version(), 1u);
}

TEST_F(ObjectStoreTest, DatasetsNameOwnerKeyAndPolicy) {
  ASSERT_OK_AND_ASSIGN(v1::Dataset d, store_->LookupDataset("ds1"));
  EXPECT_EQ(d.name(), "datasets/ds1");
  EXPECT_EQ(d.owner(), kOwner.principal);
  EXPECT_EQ(d.key(), "keys/k1");
  EXPECT_EQ(d.release_policy(), "policies/train-only");
  v1::CreateDatasetRequest r;
  r.set_dataset_id("ds2");
  r.set_key("k1");
  // Owners only for themselves, only with their own key; admins for anyone.
  r.set_owner(kOther.principal);
  EXPECT_THAT(store_->CreateDataset(kOwner, r), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(store_->CreateDataset(kAdmin, r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is owned by")));
  r.set_key("k2");
  EXPECT_OK(store_->CreateDataset(kAdmin, r).status());
  EXPECT_THAT(store_->CreateDataset(kAdmin, r), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store_->CreateDataset(kAuditor, r), StatusIs(absl::StatusCode::kPermissionDenied));
  r.set_dataset_id("ds3");
  r.set_owner("");
  r.set_quota_bytes(5);
  EXPECT_THAT(store_->CreateDataset(kOther, r),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("quota")));
  // Listing: owners see their own; auditors all.
  ASSERT_OK_AND_ASSIGN(auto mine, store_->ListDatasets(kOwner, {}));
  ASSERT_EQ(mine.datasets_size(), 1);
  ASSERT_OK_AND_ASSIGN(auto all, store_->ListDatasets(kAuditor, {}));
  EXPECT_EQ(all.datasets_size(), 2);
  EXPECT_THAT(store_->GetDataset(kOther,
                                 [] {
                                   v1::GetDatasetRequest g;
                                   g.set_name("ds1");
                                   return g;
                                 }()),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(ObjectStoreTest, PutThenGetIsBitExactAndCounted) {
  const std::string plain = Pattern(50000);
  ASSERT_OK_AND_ASSIGN(v1::ObjectInfo info, Put("m/a.bin", plain));
  EXPECT_EQ(info.version(), 1u);
  EXPECT_EQ(info.size(), plain.size());
  EXPECT_EQ(info.key_version(), 1u);
  EXPECT_EQ(Get("m/a.bin").value_or("FAILED"), plain);
  ASSERT_OK_AND_ASSIGN(v1::ObjectInfo v2, Put("m/a.bin", "second"));
  EXPECT_EQ(v2.version(), 2u);
  EXPECT_EQ(Get("m/a.bin").value_or("FAILED"), "second");  // latest
  EXPECT_EQ(Get("m/a.bin", 1).value_or("FAILED"), plain);  // by version
  ASSERT_OK_AND_ASSIGN(v1::Dataset d, store_->LookupDataset("ds1"));
  EXPECT_EQ(d.object_count(), 2u);
  EXPECT_EQ(d.used_bytes(), info.stored_bytes() + v2.stored_bytes());
  ExpectConsistent();
}

TEST_F(ObjectStoreTest, RangesAreSegmentAligned) {
  const std::string plain = Pattern(30000);  // 4 KiB segments: 8 of them
  ASSERT_OK(Put("r", plain).status());
  for (auto [a, b] : {std::pair<uint64_t, uint64_t>{0, 1},
                      {4039, 4041},
                      {5000, 30000},
                      {29999, 30000},
                      {12345, 23456},
                      {30000, 30000}}) {
    EXPECT_EQ(Get("r", 0, a, b).value_or("FAILED"), plain.substr(a, b - a)) << a << "-" << b;
  }
  v1::GetObjectRequest r;
  r.set_dataset("ds1");
  r.set_name("r");
  r.set_range_start(5000);
  r.set_range_end(9000);
  ASSERT_OK_AND_ASSIGN(auto read, store_->OpenRead(kOwner, r));
  EXPECT_EQ(read->head().first_segment(), 1u);
  EXPECT_EQ(read->head().end_segment(), 3u);
  r.set_range_start(40000);
  EXPECT_THAT(store_->OpenRead(kOwner, r), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST_F(ObjectStoreTest, NothingIsVisibleBeforeCommitAndAbandonedUploadsLeaveNothing) {
  ASSERT_OK_AND_ASSIGN(v1::Upload up, Begin("ds1", "x"));
  ASSERT_OK_AND_ASSIGN(testing::SealedParts parts,
                       testing::Seal(data_key_, "ds1", "x", up.version(), Pattern(20000)));
  v1::PutObjectStart start;
  start.set_upload_id(up.upload_id());
  start.set_header(std::string(AsStringView(parts.header_bytes)));
  {
    ASSERT_OK_AND_ASSIGN(auto upload, store_->OpenUpload(kOwner, start));
    for (const std::string& s : parts.segments) ASSERT_OK(upload->AppendSegment(AsBytes(s)));
    EXPECT_GT(SegmentCount(), 0u);
    EXPECT_THAT(Get("x"), StatusIs(absl::StatusCode::kNotFound));
    // No finish: the stream ends.
  }
  EXPECT_EQ(SegmentCount(), 0u);
  EXPECT_THAT(store_->OpenUpload(kOwner, start), StatusIs(absl::StatusCode::kNotFound));
  ExpectConsistent();
}

TEST_F(ObjectStoreTest, UploadsOfAnEarlierProcessAreDiscardedAtOpen) {
  ASSERT_OK_AND_ASSIGN(v1::Upload up, Begin("ds1", "x"));
  ASSERT_OK_AND_ASSIGN(testing::SealedParts parts,
                       testing::Seal(data_key_, "ds1", "x", up.version(), Pattern(20000)));
  // Segments written as a live upload would, then the process "dies": the
  // records stay in the database as they were.
  rocksdb::WriteBatch batch;
  for (size_t i = 0; i < parts.segments.size(); ++i) {
    batch.Put(keys::Segment(up.upload_id(), i), parts.segments[i]);
  }
  ASSERT_OK(store_->db().Write(batch, true));
  ASSERT_OK_AND_ASSIGN(v1::StoreCheck before, store_->Check());
  EXPECT_EQ(before.open_uploads(), 1u);
  Reopen();
  EXPECT_EQ(SegmentCount(), 0u);
  ASSERT_OK_AND_ASSIGN(v1::StoreCheck after, store_->Check());
  EXPECT_EQ(after.open_uploads(), 0u);
  EXPECT_TRUE(after.ok());
  // The version number is not reused.
  ASSERT_OK_AND_ASSIGN(v1::ObjectInfo info, Put("x", "y"));
  EXPECT_EQ(info.version(), up.version() + 1);
}

TEST_F(ObjectStoreTest, IdleUploadsAreCollected) {
  ASSERT_OK(Begin("ds1", "idle").status());
  ASSERT_OK(store_->RunMaintenance());
  EXPECT_EQ(store_->Check()->open_uploads(), 1u);
  clock_.Advance(options_.upload_idle_timeout + absl::Seconds(1));
  ASSERT_OK(store_->RunMaintenance());
  EXPECT_EQ(store_->Check()->open_uploads(), 0u);
}

TEST_F(ObjectStoreTest, StructureChecksRefuseBadUploadsAndKeepTheStoredObject) {
  const std::string plain = Pattern(20000);
  ASSERT_OK(Put("obj", plain).status());
  auto begin = [&]() { return Begin("ds1", "obj").value(); };
  // Oversized segment.
  v1::Upload up = begin();
  ASSERT_OK_AND_ASSIGN(testing::SealedParts parts,
                       testing::Seal(data_key_, "ds1", "obj", up.version(), plain));
  v1::PutObjectStart start;
  start.set_upload_id(up.upload_id());
  start.set_header(std::string(AsStringView(parts.header_bytes)));
  {
    ASSERT_OK_AND_ASSIGN(auto upload, store_->OpenUpload(kOwner, start));
    EXPECT_THAT(upload->AppendSegment(AsBytes(parts.segments[0] + "x")),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("larger than")));
  }
  // A header for another object, another key, or an unknown format version.
  up = begin();
  start.set_upload_id(up.upload_id());
  ASSERT_OK_AND_ASSIGN(testing::SealedParts wrong_version,
                       testing::Seal(data_key_, "ds1", "obj", up.version() + 5, plain));
  start.set_header(std::string(AsStringView(wrong_version.header_bytes)));
  EXPECT_THAT(store_->OpenUpload(kOwner, start),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("but the upload is for")));
  ASSERT_OK_AND_ASSIGN(testing::SealedParts other_key,
                       testing::Seal(data_key_, "ds1", "obj", up.version(), plain, 4096, "k2"));
  start.set_header(std::string(AsStringView(other_key.header_bytes)));
  EXPECT_THAT(store_->OpenUpload(kOwner, start),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset's key")));
  Bytes v2 = parts.header_bytes;
  v2[4] = 2;
  start.set_header(std::string(AsStringView(v2)));
  EXPECT_THAT(store_->OpenUpload(kOwner, start),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("format_version: 2")));
  // A finish that disagrees with what arrived.
  ASSERT_OK_AND_ASSIGN(testing::SealedParts good,
                       testing::Seal(data_key_, "ds1", "obj", up.version(), plain));
  start.set_header(std::string(AsStringView(good.header_bytes)));
  {
    ASSERT_OK_AND_ASSIGN(auto upload, store_->OpenUpload(kOwner, start));
    for (size_t i = 0; i + 1 < good.segments.size(); ++i) {
      ASSERT_OK(upload->AppendSegment(AsBytes(good.segments[i])));
    }
    v1::PutObjectFinish f;
    f.set_segment_count(good.segments.size());
    f.set_stream_bytes(good.stream_bytes);
    EXPECT_THAT(upload->Commit(f),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("segment_count")));
  }
  // Another principal cannot stream into the owner's upload.
  up = begin();
  start.set_upload_id(up.upload_id());
  EXPECT_THAT(store_->OpenUpload(kOther, start), StatusIs(absl::StatusCode::kPermissionDenied));
  // Through all this, the committed object is untouched.
  EXPECT_EQ(Get("obj").value_or("FAILED"), plain);
  ASSERT_OK(store_->RunMaintenance());
  clock_.Advance(absl::Hours(1));
  ASSERT_OK(store_->RunMaintenance());
  ExpectConsistent();
}

TEST_F(ObjectStoreTest, QuotaIsEnforcedAndFailedUploadsAreDiscarded) {
  v1::CreateDatasetRequest r;
  r.set_dataset_id("small");
  r.set_key("k1");
  r.set_owner(kOwner.principal);
  r.set_quota_bytes(30000);
  ASSERT_OK(store_->CreateDataset(kAdmin, r).status());
  auto put = [&](const std::string& name, size_t n) -> absl::StatusOr<v1::ObjectInfo> {
    ASSIGN_OR_RETURN(v1::Upload up, Begin("small", name));
    return SealAndUpload(kOwner, up, "small", Pattern(n));
  };
  ASSERT_OK(put("a", 20000).status());
  EXPECT_THAT(put("b", 20000), StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("quota")));
  ASSERT_OK_AND_ASSIGN(v1::Dataset d, store_->LookupDataset("small"));
  EXPECT_EQ(d.object_count(), 1u);
  EXPECT_OK(put("c", 5000).status());  // the refused upload's reservation was released
  ExpectConsistent();
}

TEST_F(ObjectStoreTest, ListPaginatesAndFiltersByKeyVersion) {
  for (int i = 0; i < 5; ++i) ASSERT_OK(Put(absl::StrCat("f", i), "x").status());
  ASSERT_OK(Put("f2", "y").status());  // f2 has two versions
  v1::ListObjectsRequest r;
  r.set_dataset("ds1");
  r.set_page_size(2);
  std::vector<std::string> seen;
  for (;;) {
    ASSERT_OK_AND_ASSIGN(auto page, store_->ListObjects(kAuditor, r));
    for (const auto& o : page.objects()) seen.push_back(absl::StrCat(o.name(), "@", o.version()));
    if (page.next_page_token().empty()) break;
    r.set_page_token(page.next_page_token());
  }
  EXPECT_THAT(seen, ::testing::ElementsAre("f0@1", "f1@1", "f2@2", "f3@1", "f4@1"));
  v1::ListObjectsRequest by_key;
  by_key.set_key("k1");
  by_key.set_key_version(1);
  ASSERT_OK_AND_ASSIGN(auto affected, store_->ListObjects(kOwner, by_key));
  EXPECT_EQ(affected.objects_size(), 6);  // every version
  by_key.set_key_version(2);
  ASSERT_OK_AND_ASSIGN(auto none, store_->ListObjects(kOwner, by_key));
  EXPECT_EQ(none.objects_size(), 0);
  ASSERT_OK_AND_ASSIGN(auto others, store_->ListObjects(kOther, [] {
    v1::ListObjectsRequest k;
    k.set_key("k1");
    return k;
  }()));
  EXPECT_EQ(others.objects_size(), 0);  // not their dataset
  r.set_page_token("bm90LWEtdG9rZW4");
  EXPECT_THAT(store_->ListObjects(kAuditor, r), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ObjectStoreTest, DeleteByVersionFreesItsSegments) {
  ASSERT_OK_AND_ASSIGN(v1::ObjectInfo a, Put("d", Pattern(9000)));
  ASSERT_OK(Put("d", "v2").status());
  const uint64_t before = SegmentCount();
  v1::DeleteObjectRequest r;
  r.set_dataset("ds1");
  r.set_name("d");
  EXPECT_THAT(store_->DeleteObject(kOwner, r), StatusIs(absl::StatusCode::kInvalidArgument));
  r.set_version(1);
  EXPECT_THAT(store_->DeleteObject(kAuditor, r), StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_OK_AND_ASSIGN(auto del, store_->DeleteObject(kAdmin, r));
  EXPECT_EQ(del.freed_bytes(), a.stored_bytes());
  EXPECT_EQ(SegmentCount(), before - a.segment_count());
  EXPECT_THAT(Get("d", 1), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(Get("d").value_or("FAILED"), "v2");
  EXPECT_THAT(store_->DeleteObject(kAdmin, r), StatusIs(absl::StatusCode::kNotFound));
  ExpectConsistent();
}

TEST_F(ObjectStoreTest, OnlyTheOwnerReadsAndWorkloadsNeedTheBroker) {
  ASSERT_OK(Put("w", "secret").status());
  EXPECT_THAT(Get("w", 0, 0, {}, kAdmin), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Get("w", 0, 0, {}, kAuditor), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Get("w", 0, 0, {}, kOther), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Get("w", 0, 0, {}, kWorkload),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token is empty")));
  EXPECT_THAT(Get("w", 0, 0, {}, kWorkload, "tok"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("key broker")));
  struct Authorizer : ObjectReadAuthorizer {
    absl::Status AuthorizeWorkloadRead(const kms::Caller& c, absl::string_view token,
                                       absl::string_view dataset) override {
      last_dataset = std::string(dataset);
      return token == "good" && c.principal == kWorkload.principal
                 ? absl::OkStatus()
                 : absl::PermissionDeniedError("refused: token_invalid");
    }
    std::string last_dataset;
  } authorizer;
  store_->SetReadAuthorizer(&authorizer);
  EXPECT_THAT(Get("w", 0, 0, {}, kWorkload, "bad"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(Get("w", 0, 0, {}, kWorkload, "good").value_or("FAILED"), "secret");
  EXPECT_EQ(authorizer.last_dataset, "ds1");
  store_->SetReadAuthorizer(nullptr);
}

TEST_F(ObjectStoreTest, RewrapReplacesHeadersOnlyAndResumes) {
  for (int i = 0; i < 5; ++i) ASSERT_OK(Put(absl::StrCat("o", i), Pattern(9000, i)).status());
  std::map<std::string, std::string> segments_before;
  ASSERT_OK(store_->db().Scan(keys::kSegments, "", [&](absl::string_view k, absl::string_view v) {
    segments_before[std::string(k)] = std::string(v);
    return true;
  }));
  keys_.AddKey("keys/k1", kOwner.principal, 2);  // rotated
  v1::StartRewrapRequest r;
  r.set_dataset("ds1");
  EXPECT_THAT(store_->StartRewrap(kOther, r), StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_OK_AND_ASSIGN(v1::StoreJob job, store_->StartRewrap(kOwner, r));
  EXPECT_EQ(job.target_key_version(), 2u);
  // A small budget: the job takes several passes and keeps its cursor.
  options_.rewrap_budget = 2;
  Reopen();
  ASSERT_OK(store_->RunMaintenance());
  v1::GetJobRequest g;
  g.set_id(job.id());
  ASSERT_OK_AND_ASSIGN(job, store_->GetJob(kOwner, g));
  EXPECT_EQ(job.state(), v1::RUNNING);
  EXPECT_EQ(job.done(), 2u);
  for (int i = 0; i < 3; ++i) ASSERT_OK(store_->RunMaintenance());
  ASSERT_OK_AND_ASSIGN(job, store_->GetJob(kOwner, g));
  EXPECT_EQ(job.state(), v1::DONE);
  EXPECT_EQ(job.done(), 5u);
  EXPECT_EQ(keys_.rewraps, 5);
  for (int i = 0; i < 5; ++i) {
    v1::StatObjectRequest s;
    s.set_dataset("ds1");
    s.set_name(absl::StrCat("o", i));
    ASSERT_OK_AND_ASSIGN(v1::ObjectInfo info, store_->StatObject(kOwner, s));
    EXPECT_EQ(info.key_version(), 2u);
    EXPECT_GT(info.rewrap_time_unix_micros(), 0);
    EXPECT_EQ(Get(s.name()).value_or("FAILED"), Pattern(9000, i));  // same data key
  }
  std::map<std::string, std::string> segments_after;
  ASSERT_OK(store_->db().Scan(keys::kSegments, "", [&](absl::string_view k, absl::string_view v) {
    segments_after[std::string(k)] = std::string(v);
    return true;
  }));
  EXPECT_EQ(segments_after, segments_before);  // not one segment touched
  // Running it again skips everything.
  ASSERT_OK_AND_ASSIGN(v1::StoreJob again, store_->StartRewrap(kAdmin, r));
  ASSERT_OK(store_->RunMaintenance());
  ASSERT_OK(store_->RunMaintenance());
  ASSERT_OK(store_->RunMaintenance());
  g.set_id(again.id());
  ASSERT_OK_AND_ASSIGN(again, store_->GetJob(kAdmin, g));
  EXPECT_EQ(again.state(), v1::DONE);
  EXPECT_EQ(again.skipped(), 5u);
  EXPECT_EQ(keys_.rewraps, 5);
  ExpectConsistent();
}

TEST_F(ObjectStoreTest, RewrapFailuresAreCountedNotFatal) {
  ASSERT_OK(Put("o", "x").status());
  keys_.AddKey("keys/k1", kOwner.principal, 2);
  keys_.fail_rewrap = true;
  v1::StartRewrapRequest r;
  r.set_dataset("ds1");
  ASSERT_OK_AND_ASSIGN(v1::StoreJob job, store_->StartRewrap(kOwner, r));
  ASSERT_OK(store_->RunMaintenance());
  v1::GetJobRequest g;
  g.set_id(job.id());
  ASSERT_OK_AND_ASSIGN(job, store_->GetJob(kOwner, g));
  EXPECT_EQ(job.state(), v1::DONE);
  EXPECT_EQ(job.failed(), 1u);
  EXPECT_THAT(job.last_error(), HasSubstr("version destroyed"));
}

// A rekey job abandoned by its owner is cancelled once it has made no
// progress for rekey_idle_timeout: its new segments are dropped and the
// object keeps reading with its old key. A job with recent progress stays.
TEST_F(ObjectStoreTest, AbandonedRekeyIsCancelledAfterTheIdleTimeout) {
  const std::string plain = Pattern(30000);
  ASSERT_OK(Put("rk", plain).status());
  v1::BeginRekeyRequest b;
  b.set_dataset("ds1");
  b.set_name("rk");
  ASSERT_OK_AND_ASSIGN(v1::StoreJob job, store_->BeginRekey(kOwner, b));
  const SecretBytes new_key = SecretBytes::Random(32);
  ASSERT_OK_AND_ASSIGN(testing::SealedParts next, testing::Seal(new_key, "ds1", "rk", 1, plain));
  v1::RekeyStart start;
  start.set_job_id(job.id());
  start.set_header(std::string(AsStringView(next.header_bytes)));
  {
    ASSERT_OK_AND_ASSIGN(auto rekey, store_->OpenRekey(kOwner, start));
    v1::ObjectSegment s;
    s.set_index(0);
    s.set_data(next.segments[0]);
    ASSERT_OK(rekey->AppendSegment(s));
  }  // abandoned after one segment
  v1::GetJobRequest g;
  g.set_id(job.id());
  clock_.Advance(options_.rekey_idle_timeout - absl::Minutes(1));
  ASSERT_OK(store_->RunMaintenance());
  ASSERT_OK_AND_ASSIGN(v1::StoreJob still, store_->GetJob(kOwner, g));
  EXPECT_EQ(still.state(), v1::RUNNING);
  clock_.Advance(absl::Minutes(2));
  ASSERT_OK(store_->RunMaintenance());
  ASSERT_OK_AND_ASSIGN(v1::StoreJob cancelled, store_->GetJob(kOwner, g));
  EXPECT_EQ(cancelled.state(), v1::CANCELLED);
  EXPECT_EQ(Get("rk").value_or("FAILED"), plain);
  ExpectConsistent();
}

TEST_F(ObjectStoreTest, RekeySwapsSegmentsAtomicallyAndResumesFromItsCursor) {
  const std::string plain = Pattern(30000);
  ASSERT_OK(Put("rk", plain).status());
  v1::BeginRekeyRequest b;
  b.set_dataset("ds1");
  b.set_name("rk");
  EXPECT_THAT(store_->BeginRekey(kAdmin, b), StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_OK_AND_ASSIGN(v1::StoreJob job, store_->BeginRekey(kOwner, b));
  EXPECT_EQ(job.total(), 8u);
  const SecretBytes new_key = SecretBytes::Random(32);
  ASSERT_OK_AND_ASSIGN(testing::SealedParts next, testing::Seal(new_key, "ds1", "rk", 1, plain));
  v1::RekeyStart start;
  start.set_job_id(job.id());
  EXPECT_THAT(store_->OpenRekey(kOwner, start),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no new header")));
  start.set_header(std::string(AsStringView(next.header_bytes)));
  {
    ASSERT_OK_AND_ASSIGN(auto rekey, store_->OpenRekey(kOwner, start));
    for (uint64_t i = 0; i < 3; ++i) {
      v1::ObjectSegment s;
      s.set_index(i);
      s.set_data(next.segments[i]);
      ASSERT_OK(rekey->AppendSegment(s));
    }
    v1::ObjectSegment wrong;
    wrong.set_index(5);
    wrong.set_data(next.segments[5]);
    EXPECT_THAT(rekey->AppendSegment(wrong),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected segment 3")));
    wrong.set_index(3);
    wrong.set_data("short");
    EXPECT_THAT(rekey->AppendSegment(wrong),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bytes, but")));
    EXPECT_THAT(rekey->Finish(),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("3 of 8")));
  }  // interrupted: progress stays
  // Meanwhile the object still reads with its old key.
  EXPECT_EQ(Get("rk").value_or("FAILED"), plain);
  ExpectConsistent();
  Reopen();
  ASSERT_OK_AND_ASSIGN(v1::StoreJob resumed, store_->BeginRekey(kOwner, b));
  EXPECT_EQ(resumed.id(), job.id());
  EXPECT_EQ(resumed.done(), 3u);
  EXPECT_EQ(resumed.new_header(), start.header());
  start.clear_header();
  {
    ASSERT_OK_AND_ASSIGN(auto rekey, store_->OpenRekey(kOwner, start));
    for (uint64_t i = 3; i < next.segments.size(); ++i) {
      v1::ObjectSegment s;
      s.set_index(i);
      s.set_data(next.segments[i]);
      ASSERT_OK(rekey->AppendSegment(s));
    }
    ASSERT_OK_AND_ASSIGN(v1::StoreJob done, rekey->Finish());
    EXPECT_EQ(done.state(), v1::DONE);
  }
  // Now only the new key opens it; the old segments are gone.
  v1::GetObjectRequest r;
  r.set_dataset("ds1");
  r.set_name("rk");
  ASSERT_OK_AND_ASSIGN(auto read, store_->OpenRead(kOwner, r));
  EXPECT_EQ(read->head().header(), std::string(AsStringView(next.header_bytes)));
  std::vector<Segment> segments;
  v1::ObjectSegment s;
  while (read->Next(&s).value_or(false)) segments.push_back({s.index(), s.data()});
  EXPECT_EQ(testing::Open(new_key, next.header, next.stream_bytes, segments).value_or("FAILED"),
            plain);
  EXPECT_THAT(Get("rk"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(SegmentCount(), next.segments.size());
  ExpectConsistent();
}

TEST_F(ObjectStoreTest, DeletingAnObjectCancelsItsRekey) {
  ASSERT_OK(Put("rk", Pattern(9000)).status());
  v1::BeginRekeyRequest b;
  b.set_dataset("ds1");
  b.set_name("rk");
  ASSERT_OK_AND_ASSIGN(v1::StoreJob job, store_->BeginRekey(kOwner, b));
  v1::DeleteObjectRequest d;
  d.set_dataset("ds1");
  d.set_name("rk");
  d.set_version(1);
  ASSERT_OK(store_->DeleteObject(kOwner, d).status());
  v1::GetJobRequest g;
  g.set_id(job.id());
  ASSERT_OK_AND_ASSIGN(job, store_->GetJob(kOwner, g));
  EXPECT_EQ(job.state(), v1::CANCELLED);
  EXPECT_EQ(SegmentCount(), 0u);
  ExpectConsistent();
}

}  // namespace
}  // namespace strongroom::storage::sealed
