// ObjectStore operations that read a record without the store's lock and
// then act on it under the lock, with another operation let in between
// (StoreOptions::sync_point_for_testing): a second stream of an upload that
// commits meanwhile, the idle-upload sweep and the stale-rekey sweep racing
// a commit. A committed object must keep reading back bit-exact, and the
// store's check must find no missing or orphaned segments.
#include <functional>
#include <memory>
#include <string>

#include "storage/sealed/object_store.h"
#include "tests/storage/sealed/object_store_test_base.h"

namespace strongroom::storage::sealed {
namespace {

class ObjectStoreRaceTest : public ObjectStoreTest {
 protected:
  // Runs `between` once, the next time the store reaches `point`.
  void At(std::string point, std::function<void()> between) {
    point_ = std::move(point);
    between_ = std::move(between);
  }

  void SetUp() override {
    ObjectStoreTest::SetUp();
    options_.sync_point_for_testing = [this](absl::string_view point) {
      if (point != point_ || !between_) return;
      std::function<void()> f = std::move(between_);
      between_ = nullptr;
      f();
    };
    Reopen();
  }

  // An owner's upload of ds1/name, opened and given every segment, not
  // committed.
  struct Streaming {
    v1::Upload up;
    testing::SealedParts parts;
    v1::PutObjectStart start;
    std::unique_ptr<ObjectUpload> upload;
  };
  absl::StatusOr<Streaming> StartStreaming(const std::string& name, const std::string& plain) {
    Streaming s;
    ASSIGN_OR_RETURN(s.up, Begin("ds1", name));
    ASSIGN_OR_RETURN(s.parts, testing::Seal(data_key_, "ds1", name, s.up.version(), plain));
    s.start.set_upload_id(s.up.upload_id());
    s.start.set_header(std::string(AsStringView(s.parts.header_bytes)));
    ASSIGN_OR_RETURN(s.upload, store_->OpenUpload(kOwner, s.start));
    for (const std::string& seg : s.parts.segments) {
      RETURN_IF_ERROR(s.upload->AppendSegment(AsBytes(seg)));
    }
    return s;
  }
  static absl::Status Commit(Streaming& s, bool stage = false) {
    v1::PutObjectFinish finish;
    finish.set_segment_count(s.parts.segments.size());
    finish.set_stream_bytes(s.parts.stream_bytes);
    finish.set_stage(stage);
    absl::Status status = s.upload->Commit(finish).status();
    s.upload.reset();  // the stream ends
    return status;
  }

  // Commits `s`'s staged upload alone.
  absl::Status CommitStaged(const Streaming& s) {
    v1::CommitUploadsRequest commit;
    commit.add_upload_ids(s.up.upload_id());
    return store_->CommitUploads(kOwner, commit).status();
  }

  std::string point_;
  std::function<void()> between_;
};

// A second PutObject stream of an upload that the first commits while the
// second starts: refused, and the committed object is untouched (the second
// stream would otherwise write into, and on failure delete, the segment
// space that the object now owns).
TEST_F(ObjectStoreRaceTest, ASecondStreamOfAnUploadCommittedMeanwhileIsRefused) {
  const std::string plain = Pattern(20000, 1);
  ASSERT_OK_AND_ASSIGN(Streaming a, StartStreaming("twice", plain));
  absl::Status committed = absl::UnknownError("not run");
  At("upload.open.checked", [&] { committed = Commit(a); });
  EXPECT_THAT(store_->OpenUpload(kOwner, a.start),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("committed or discarded")));
  ASSERT_OK(committed);
  EXPECT_EQ(Get("twice").value_or("FAILED"), plain);
  ExpectConsistent();
}

// A stream that ends unfinished is discarded with its segments; their space,
// like a deleted object's, is counted toward the next compaction.
TEST_F(ObjectStoreRaceTest, AStreamEndedUnfinishedCountsTowardCompaction) {
  ASSERT_OK_AND_ASSIGN(Streaming a, StartStreaming("dropped", Pattern(20000, 6)));
  ASSERT_OK_AND_ASSIGN(v1::StoreCheck before, store_->Check());
  a.upload.reset();  // the stream ends without its finish
  ASSERT_OK_AND_ASSIGN(v1::StoreCheck after, store_->Check());
  EXPECT_GE(after.deleted_bytes_pending_compaction(),
            before.deleted_bytes_pending_compaction() + 20000);
  ExpectConsistent();
}

// The idle-upload sweep lists an upload that commits before the sweep takes
// the lock: the object it became is not discarded.
TEST_F(ObjectStoreRaceTest, TheIdleSweepSparesAnUploadCommittedAfterItsScan) {
  const std::string plain = Pattern(20000, 2);
  ASSERT_OK_AND_ASSIGN(Streaming a, StartStreaming("slow", plain));
  clock_.Advance(options_.upload_idle_timeout + absl::Minutes(1));
  absl::Status committed = absl::UnknownError("not run");
  At("gc.uploads.scanned", [&] { committed = Commit(a); });
  ASSERT_OK(store_->RunMaintenance());
  ASSERT_OK(committed);
  EXPECT_EQ(Get("slow").value_or("FAILED"), plain);
  ExpectConsistent();
  // An upload that is idle and not streaming is still discarded.
  ASSERT_OK_AND_ASSIGN(v1::Upload idle, Begin("ds1", "idle"));
  clock_.Advance(options_.upload_idle_timeout + absl::Minutes(1));
  ASSERT_OK(store_->RunMaintenance());
  EXPECT_THAT(store_->LookupUpload(idle.upload_id()), StatusIs(absl::StatusCode::kNotFound));
}

// The same with an upload staged after the scan: its idle time now counts
// from the staging, so the sweep leaves it for CommitUploads.
TEST_F(ObjectStoreRaceTest, TheIdleSweepSparesAnUploadStagedAfterItsScan) {
  const std::string plain = Pattern(20000, 4);
  ASSERT_OK_AND_ASSIGN(Streaming a, StartStreaming("slow-staged", plain));
  clock_.Advance(options_.upload_idle_timeout + absl::Minutes(1));
  absl::Status staged = absl::UnknownError("not run");
  At("gc.uploads.scanned", [&] { staged = Commit(a, /*stage=*/true); });
  ASSERT_OK(store_->RunMaintenance());
  ASSERT_OK(staged);
  ASSERT_OK(CommitStaged(a));
  EXPECT_EQ(Get("slow-staged").value_or("FAILED"), plain);
  ExpectConsistent();
}

// A second stream of an upload, with a bad header, read the upload's record
// before the first stream staged it: the staged upload is not discarded
// with the bad stream.
TEST_F(ObjectStoreRaceTest, ABadSecondStreamSparesAnUploadStagedMeanwhile) {
  const std::string plain = Pattern(20000, 5);
  ASSERT_OK_AND_ASSIGN(Streaming a, StartStreaming("bad-second", plain));
  v1::PutObjectStart bad = a.start;
  bad.set_header("not a header");
  absl::Status staged = absl::UnknownError("not run");
  At("upload.open.read", [&] { staged = Commit(a, /*stage=*/true); });
  EXPECT_THAT(store_->OpenUpload(kOwner, bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("start.header")));
  ASSERT_OK(staged);
  ASSERT_OK(CommitStaged(a));
  EXPECT_EQ(Get("bad-second").value_or("FAILED"), plain);
  ExpectConsistent();
}

// The stale-rekey sweep lists a job that is then finished before the sweep
// takes the lock: the finished job is not cancelled, and the segments it
// swapped in (the object's now) stay.
TEST_F(ObjectStoreRaceTest, TheStaleRekeySweepSparesAJobFinishedAfterItsScan) {
  const std::string plain = Pattern(30000, 3);
  ASSERT_OK(Put("rk", plain).status());
  ASSERT_OK_AND_ASSIGN(RekeyPlan plan, BeginRekeyOf("rk", plain));
  const v1::StoreJob& job = plan.job;
  const testing::SealedParts& next = plan.next;
  const v1::RekeyStart& start = plan.start;
  clock_.Advance(options_.rekey_idle_timeout + absl::Minutes(1));
  absl::Status finished = absl::UnknownError("not run");
  At("gc.rekeys.scanned", [&] {
    finished = [&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto rekey, store_->OpenRekey(kOwner, start));
      for (uint64_t i = 0; i < next.segments.size(); ++i) {
        v1::ObjectSegment s;
        s.set_index(i);
        s.set_data(next.segments[i]);
        RETURN_IF_ERROR(rekey->AppendSegment(s));
      }
      return rekey->Finish().status();
    }();
  });
  ASSERT_OK(store_->RunMaintenance());
  ASSERT_OK(finished);
  v1::GetJobRequest g;
  g.set_id(job.id());
  ASSERT_OK_AND_ASSIGN(v1::StoreJob after, store_->GetJob(kOwner, g));
  EXPECT_EQ(after.state(), v1::DONE);
  v1::GetObjectRequest r;
  r.set_dataset("ds1");
  r.set_name("rk");
  ASSERT_OK_AND_ASSIGN(auto read, store_->OpenRead(kOwner, r));
  std::vector<Segment> segments;
  v1::ObjectSegment s;
  absl::StatusOr<bool> more;
  while ((more = read->Next(&s)).ok() && *more) segments.push_back({s.index(), s.data()});
  ASSERT_OK(more.status());
  EXPECT_EQ(
      testing::Open(plan.new_key, next.header, next.stream_bytes, segments).value_or("FAILED"),
      plain);
  ExpectConsistent();
}

// Between an upload's commit and the end of its stream, its bytes count
// once against the quota (stored), not twice (stored and reserved).
TEST_F(ObjectStoreRaceTest, ACommittedUploadsBytesCountOnceAgainstTheQuota) {
  v1::CreateDatasetRequest r;
  r.set_dataset_id("small");
  r.set_key("k1");
  r.set_owner(kOwner.principal);
  r.set_quota_bytes(100000);
  ASSERT_OK(store_->CreateDataset(kAdmin, r).status());
  ASSERT_OK_AND_ASSIGN(v1::Upload up, Begin("small", "a"));
  ASSERT_OK_AND_ASSIGN(testing::SealedParts parts,
                       testing::Seal(data_key_, "small", "a", up.version(), Pattern(50000, 4)));
  v1::PutObjectStart start;
  start.set_upload_id(up.upload_id());
  start.set_header(std::string(AsStringView(parts.header_bytes)));
  ASSERT_OK_AND_ASSIGN(auto a, store_->OpenUpload(kOwner, start));
  for (const std::string& seg : parts.segments) ASSERT_OK(a->AppendSegment(AsBytes(seg)));
  v1::PutObjectFinish finish;
  finish.set_segment_count(parts.segments.size());
  finish.set_stream_bytes(parts.stream_bytes);
  ASSERT_OK(a->Commit(finish).status());
  // `a`'s stream has not ended yet. 50 KB stored + 30 KB fits 100 KB.
  ASSERT_OK_AND_ASSIGN(v1::Upload next, Begin("small", "b"));
  EXPECT_OK(SealAndUpload(kOwner, next, "small", Pattern(30000, 5)).status());
  a.reset();
  ASSERT_OK_AND_ASSIGN(v1::Upload over, Begin("small", "c"));
  EXPECT_THAT(SealAndUpload(kOwner, over, "small", Pattern(30000, 6)),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("quota")));
  ExpectConsistent();
}

}  // namespace
}  // namespace strongroom::storage::sealed
