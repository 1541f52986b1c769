// ObjectStore on a real RocksDB in a temp dir, with a fake key directory:
// datasets and authorization, upload/commit visibility, structure checks,
// quotas, failed uploads leave nothing, ranged reads, listing, deletion,
// reopening after an interruption, workload reads (re-wrap and rekey jobs:
// object_store_jobs_test.cc).
#include "storage/sealed/object_store.h"

#include <memory>
#include <string>

#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "rocksdb/write_batch.h"
#include "tests/storage/sealed/object_store_test_base.h"

namespace strongroom::storage::sealed {
namespace {

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

// Whether a dataset exists is told only to those who may list them all:
// another owner, or a principal with no role, gets the same refusal for a
// dataset that exists and for one that does not.
TEST_F(ObjectStoreTest, RefusalsDoNotTellWhichDatasetsExist) {
  const kms::Caller nobody{"spiffe://t/nobody", kms::Role::kNone};
  for (const kms::Caller& who : {kOther, nobody}) {
    v1::GetDatasetRequest exists, missing;
    exists.set_name("ds1");
    missing.set_name("nope");
    absl::StatusOr<v1::Dataset> a = store_->GetDataset(who, exists);
    absl::StatusOr<v1::Dataset> b = store_->GetDataset(who, missing);
    ASSERT_THAT(a, StatusIs(absl::StatusCode::kPermissionDenied));
    ASSERT_THAT(b, StatusIs(absl::StatusCode::kPermissionDenied));
    EXPECT_EQ(absl::StrReplaceAll(a.status().message(), {{"datasets/ds1", "X"}}),
              absl::StrReplaceAll(b.status().message(), {{"datasets/nope", "X"}}));
    v1::GetObjectRequest get;
    get.set_dataset("nope");
    get.set_name("x");
    EXPECT_THAT(store_->OpenRead(who, get), StatusIs(absl::StatusCode::kPermissionDenied));
  }
  v1::GetDatasetRequest missing;
  missing.set_name("nope");
  EXPECT_THAT(store_->GetDataset(kAdmin, missing), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->GetDataset(kAuditor, missing), StatusIs(absl::StatusCode::kNotFound));
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
  r.set_release_policy("policies/Bad Name");
  EXPECT_THAT(store_->CreateDataset(kOther, r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("release_policy: 'Bad Name' is not a valid policy id")));
  r.clear_release_policy();
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

// The store check (what `store check` and the crash test read) finds a
// segment that belongs to nothing, one past its object's last and one of the
// wrong size: planted here, so that its "0 orphaned segments" elsewhere
// means something.
TEST_F(ObjectStoreTest, TheCheckFindsSegmentsThatBelongToNothingOrDoNotFit) {
  ASSERT_OK(Put("m/a.bin", Pattern(50000)).status());
  ExpectConsistent();
  ASSERT_OK_AND_ASSIGN(v1::SealedObjectRecord rec, store_->LookupObject("ds1", "m/a.bin", 1));
  ASSERT_FALSE(rec.space().empty());
  rocksdb::WriteBatch orphan;
  orphan.Put(keys::Segment("no-such-space", 0), "x");
  ASSERT_OK(store_->db().Write(orphan, /*sync=*/true));
  ASSERT_OK_AND_ASSIGN(v1::StoreCheck c, store_->Check());
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.orphaned_segments(), 1u);
  EXPECT_THAT(absl::StrJoin(c.problems(), "; "),
              HasSubstr("segment 0 of key space no-such-space belongs to nothing"));
  rocksdb::WriteBatch beyond;
  beyond.Delete(keys::Segment("no-such-space", 0));
  beyond.Put(keys::Segment(rec.space(), rec.info().segment_count()), "y");
  ASSERT_OK(store_->db().Write(beyond, /*sync=*/true));
  ASSERT_OK_AND_ASSIGN(c, store_->Check());
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.orphaned_segments(), 0u);
  EXPECT_THAT(absl::StrJoin(c.problems(), "; "),
              HasSubstr(absl::StrCat("has segment ", rec.info().segment_count(), " beyond")));
  rocksdb::WriteBatch resized;
  resized.Delete(keys::Segment(rec.space(), rec.info().segment_count()));
  resized.Put(keys::Segment(rec.space(), 0), "short");
  ASSERT_OK(store_->db().Write(resized, /*sync=*/true));
  ASSERT_OK_AND_ASSIGN(c, store_->Check());
  EXPECT_FALSE(c.ok());
  EXPECT_THAT(absl::StrJoin(c.problems(), "; "), HasSubstr("segment 0 is 5 bytes, expected"));
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
  r.set_range_start(9001);
  EXPECT_THAT(store_->OpenRead(kOwner, r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("range_end: 9000 is before range_start 9001")));
  r.clear_range_end();
  r.set_range_start(40000);
  EXPECT_THAT(store_->OpenRead(kOwner, r),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("range_start: start 40000")));
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

// A stream that stops sending segments (its connection kept open) is ended
// through its canceller once it has been quiet for upload_idle_timeout; one
// that keeps sending is not.
TEST_F(ObjectStoreTest, QuietStreamsAreCancelled) {
  const std::string plain = Pattern(30000);
  std::vector<std::unique_ptr<ObjectUpload>> uploads;
  std::vector<testing::SealedParts> parts;
  int cancelled[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK_AND_ASSIGN(v1::Upload up, Begin("ds1", absl::StrCat("s", i)));
    ASSERT_OK_AND_ASSIGN(
        testing::SealedParts p,
        testing::Seal(data_key_, "ds1", absl::StrCat("s", i), up.version(), plain));
    v1::PutObjectStart start;
    start.set_upload_id(up.upload_id());
    start.set_header(std::string(AsStringView(p.header_bytes)));
    ASSERT_OK_AND_ASSIGN(auto upload, store_->OpenUpload(kOwner, start));
    upload->SetCanceller([&cancelled, i] { ++cancelled[i]; });
    ASSERT_OK(upload->AppendSegment(AsBytes(p.segments[0])));
    uploads.push_back(std::move(upload));
    parts.push_back(std::move(p));
  }
  clock_.Advance(options_.upload_idle_timeout - absl::Seconds(1));
  ASSERT_OK(uploads[1]->AppendSegment(AsBytes(parts[1].segments[1])));  // s1 keeps going
  ASSERT_OK(store_->RunMaintenance());
  EXPECT_EQ(cancelled[0] + cancelled[1], 0);
  clock_.Advance(absl::Seconds(2));
  ASSERT_OK(store_->RunMaintenance());
  EXPECT_EQ(cancelled[0], 1);
  EXPECT_EQ(cancelled[1], 0);
  ASSERT_OK(store_->RunMaintenance());
  EXPECT_EQ(cancelled[0], 1);  // once
  uploads[0].reset();          // the handler returns: the upload is discarded
  EXPECT_EQ(store_->Check()->open_uploads(), 1u);
  for (size_t k = 2; k < parts[1].segments.size(); ++k) {
    ASSERT_OK(uploads[1]->AppendSegment(AsBytes(parts[1].segments[k])));
  }
  v1::PutObjectFinish f;
  f.set_segment_count(parts[1].segments.size());
  f.set_stream_bytes(parts[1].stream_bytes);
  ASSERT_OK(uploads[1]->Commit(f).status());
  uploads.clear();
  EXPECT_EQ(Get("s1").value_or("FAILED"), plain);
  ExpectConsistent();
}

// A download whose client stops reading is ended the same way: its snapshot
// would otherwise keep deleted segments on disk.
TEST_F(ObjectStoreTest, QuietReadsAreCancelled) {
  ASSERT_OK(Put("r", Pattern(30000)).status());
  v1::GetObjectRequest get;
  get.set_dataset("ds1");
  get.set_name("r");
  ASSERT_OK_AND_ASSIGN(auto stalled, store_->OpenRead(kOwner, get));
  ASSERT_OK_AND_ASSIGN(auto reading, store_->OpenRead(kOwner, get));
  int cancelled[2] = {0, 0};
  stalled->SetCanceller([&cancelled] { ++cancelled[0]; });
  reading->SetCanceller([&cancelled] { ++cancelled[1]; });
  v1::ObjectSegment segment;
  ASSERT_OK(stalled->Next(&segment).status());
  clock_.Advance(options_.upload_idle_timeout - absl::Seconds(1));
  ASSERT_OK(reading->Next(&segment).status());
  clock_.Advance(absl::Seconds(2));
  ASSERT_OK(store_->RunMaintenance());
  EXPECT_EQ(cancelled[0], 1);
  EXPECT_EQ(cancelled[1], 0);
  stalled.reset();
  for (;;) {
    ASSERT_OK_AND_ASSIGN(bool more, reading->Next(&segment));
    if (!more) break;
  }
  reading.reset();
  ASSERT_OK(store_->RunMaintenance());
  EXPECT_EQ(cancelled[0] + cancelled[1], 1);
}

// Uploads begun and not finished are capped per principal (each is a record
// outside any quota); one that finishes or is discarded frees its place.
TEST_F(ObjectStoreTest, PendingUploadsAreCappedPerPrincipal) {
  options_.max_pending_uploads = 3;
  Reopen();
  for (int i = 0; i < 3; ++i) ASSERT_OK(Begin("ds1", absl::StrCat("p", i)).status());
  EXPECT_THAT(Begin("ds1", "p3"), StatusIs(absl::StatusCode::kResourceExhausted,
                                           HasSubstr("3 uploads begun and not finished")));
  EXPECT_THAT(Put("other", "fine"), StatusIs(absl::StatusCode::kResourceExhausted));
  clock_.Advance(options_.upload_idle_timeout + absl::Seconds(1));
  ASSERT_OK(store_->RunMaintenance());
  EXPECT_OK(Put("p3", "fine").status());
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
  // A header for another object, another key, or an unknown format version:
  // refused, and the upload is discarded at once (as after any failed
  // stream), not left to the idle sweep.
  const auto refused_start = [&](auto make_header, const std::string& why) {
    up = begin();
    start.set_upload_id(up.upload_id());
    start.set_header(make_header(up.version()));
    EXPECT_THAT(
        store_->OpenUpload(kOwner, start),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 ::testing::AllOf(HasSubstr(why), HasSubstr("was discarded: begin a new upload"))));
    EXPECT_EQ(store_->Check()->open_uploads(), 0u) << why;
    EXPECT_THAT(store_->OpenUpload(kOwner, start), StatusIs(absl::StatusCode::kNotFound));
  };
  refused_start(
      [&](uint64_t version) {
        return std::string(AsStringView(
            testing::Seal(data_key_, "ds1", "obj", version + 5, plain).value().header_bytes));
      },
      "but the upload is for");
  refused_start(
      [&](uint64_t version) {
        return std::string(
            AsStringView(testing::Seal(data_key_, "ds1", "obj", version, plain, 4096, "k2")
                             .value()
                             .header_bytes));
      },
      "dataset's key");
  refused_start(
      [&](uint64_t version) {
        Bytes v2 = testing::Seal(data_key_, "ds1", "obj", version, plain).value().header_bytes;
        v2[4] = 2;
        return std::string(AsStringView(v2));
      },
      "format_version: 2");
  // A finish that disagrees with what arrived.
  up = begin();
  start.set_upload_id(up.upload_id());
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
  ASSERT_OK(CreateQuotaDataset("small", 30000));
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

// A dataset record that cannot be read ends a listing by key with its error:
// an OK answer without that dataset's objects would tell an admin that
// nothing depends on a key version that objects still need.
TEST_F(ObjectStoreTest, ListingByKeyFailsWhenADatasetCannotBeRead) {
  ASSERT_OK(Put("f0", "x").status());
  v1::ListObjectsRequest by_key;
  by_key.set_key("k1");
  ASSERT_OK_AND_ASSIGN(auto before, store_->ListObjects(kOwner, by_key));
  EXPECT_EQ(before.objects_size(), 1);
  rocksdb::WriteBatch batch;
  batch.Put(keys::Dataset("ds1"), "\xff\xff not a dataset");
  ASSERT_OK(store_->db().Write(batch, /*sync=*/true));
  EXPECT_THAT(store_->ListObjects(kOwner, by_key), StatusIs(absl::StatusCode::kDataLoss));
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
  // Page sizes outside [0, 1000] are refused, as by the KMS, not clamped.
  r.clear_page_token();
  for (int32_t size : {-1, 1001}) {
    r.set_page_size(size);
    EXPECT_THAT(store_->ListObjects(kAuditor, r),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size")));
  }
  // A prefix is part of a name: refused when no name could start with it,
  // and when there is no dataset for it to filter.
  r.set_page_size(0);
  r.set_prefix("f");
  ASSERT_OK_AND_ASSIGN(auto filtered, store_->ListObjects(kAuditor, r));
  EXPECT_EQ(filtered.objects_size(), 5);
  for (const std::string bad :
       {std::string("f\0x", 3), std::string("f*"), std::string(2000, 'f')}) {
    r.set_prefix(bad);
    EXPECT_THAT(store_->ListObjects(kAuditor, r),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("prefix")));
  }
  by_key.set_prefix("f");
  EXPECT_THAT(
      store_->ListObjects(kOwner, by_key),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("prefix: given without dataset")));
  v1::ListDatasetsRequest datasets;
  datasets.set_page_size(5000);
  EXPECT_THAT(store_->ListDatasets(kAdmin, datasets),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size")));
  datasets.set_page_size(0);
  datasets.set_key("Not A Key");
  EXPECT_THAT(store_->ListDatasets(kAdmin, datasets),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key")));
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

}  // namespace
}  // namespace strongroom::storage::sealed
