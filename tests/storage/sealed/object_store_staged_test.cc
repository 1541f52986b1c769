// ObjectStore: uploads staged (streamed and checked, invisible) and then
// committed together by CommitUploads, all or none; what refuses a commit,
// quota while staged, and staged uploads that are never committed.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/storage/sealed/object_store_test_base.h"

namespace strongroom::storage::sealed {
namespace {

class ObjectStoreStagedTest : public ObjectStoreTest {
 protected:
  // Begins ds/name as `who` and streams `plain` into it, staged.
  absl::StatusOr<v1::ObjectInfo> StageNew(const std::string& dataset, const std::string& name,
                                          const std::string& plain, std::string* upload_id,
                                          const kms::Caller& who = kOwner) {
    v1::BeginUploadRequest b;
    b.set_dataset(dataset);
    b.set_name(name);
    ASSIGN_OR_RETURN(v1::Upload up, store_->BeginUpload(who, b));
    // What a staging client checks first (an older server would commit).
    EXPECT_TRUE(up.stage_supported());
    *upload_id = up.upload_id();
    return SealAndUpload(who, up, dataset, plain, "", /*stage=*/true);
  }

  absl::StatusOr<v1::CommitUploadsResponse> Commit(const std::vector<std::string>& ids,
                                                   const kms::Caller& who = kOwner) {
    v1::CommitUploadsRequest r;
    for (const std::string& id : ids) r.add_upload_ids(id);
    return store_->CommitUploads(who, r);
  }
};

TEST_F(ObjectStoreStagedTest, StagedUploadsAreInvisibleUntilCommittedTogether) {
  std::string a, b;
  ASSERT_OK_AND_ASSIGN(v1::ObjectInfo sa, StageNew("ds1", "out/0", Pattern(20000, 1), &a));
  ASSERT_OK_AND_ASSIGN(v1::ObjectInfo sb, StageNew("ds1", "out/1", Pattern(9000, 2), &b));
  EXPECT_EQ(sa.version(), 1u);
  EXPECT_EQ(sa.size(), 20000u);
  EXPECT_THAT(Get("out/0"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Get("out/1"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(v1::Dataset before, store_->LookupDataset("ds1"));
  EXPECT_EQ(before.object_count(), 0u);
  // Staged, an upload takes no second stream.
  v1::PutObjectStart again;
  again.set_upload_id(a);
  EXPECT_THAT(store_->OpenUpload(kOwner, again),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is staged")));
  ExpectConsistent();

  ASSERT_OK_AND_ASSIGN(v1::CommitUploadsResponse done, Commit({b, a}));
  ASSERT_EQ(done.objects_size(), 2);
  EXPECT_EQ(done.objects(0).name(), "out/1");
  EXPECT_EQ(done.objects(1).name(), "out/0");
  EXPECT_EQ(done.objects(1).stored_bytes(), sa.stored_bytes());
  ASSERT_OK_AND_ASSIGN(std::string got0, Get("out/0"));
  EXPECT_EQ(got0, Pattern(20000, 1));
  ASSERT_OK_AND_ASSIGN(std::string got1, Get("out/1"));
  EXPECT_EQ(got1, Pattern(9000, 2));
  ASSERT_OK_AND_ASSIGN(v1::Dataset after, store_->LookupDataset("ds1"));
  EXPECT_EQ(after.object_count(), 2u);
  EXPECT_EQ(after.used_bytes(), sa.stored_bytes() + sb.stored_bytes());
  // Committed once: the ids are gone.
  EXPECT_THAT(Commit({a}), StatusIs(absl::StatusCode::kNotFound,
                                    HasSubstr("upload_ids[0]: upload " + a + " does not exist")));
  ExpectConsistent();
}

TEST_F(ObjectStoreStagedTest, OneBadUploadCommitsNone) {
  std::string staged, other_ds;
  ASSERT_OK(StageNew("ds1", "out/0", Pattern(5000), &staged).status());
  // Begun and not streamed: not staged.
  ASSERT_OK_AND_ASSIGN(v1::Upload begun, Begin("ds1", "out/1"));
  EXPECT_THAT(Commit({staged, begun.upload_id()}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("upload_ids[1]: upload " + begun.upload_id() + " is not staged")));
  // Another principal's: refused for that before anything about its state
  // (an upload begun and not staged, or staged) is told.
  EXPECT_THAT(Commit({staged}, kOther),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("another principal")));
  EXPECT_THAT(Commit({begun.upload_id()}, kOther),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("another principal")));
  // Another dataset of the same owner.
  v1::CreateDatasetRequest ds3;
  ds3.set_dataset_id("ds3");
  ds3.set_key("k1");
  ds3.set_owner(kOwner.principal);
  ASSERT_OK(store_->CreateDataset(kAdmin, ds3).status());
  ASSERT_OK(StageNew("ds3", "y", Pattern(100), &other_ds).status());
  EXPECT_THAT(Commit({staged, other_ds}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("upload_ids[1]: upload " + other_ds + " is in datasets/ds3")));
  // Malformed lists.
  EXPECT_THAT(Commit({}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("upload_ids")));
  EXPECT_THAT(Commit({staged, "short"}), StatusIs(absl::StatusCode::kInvalidArgument,
                                                  HasSubstr("upload_ids[1]: not an upload id")));
  // 32 characters, not all lowercase hex: malformed, not unknown, and a
  // discard refuses it too rather than skip it as gone.
  std::string not_hex = staged;
  not_hex[5] = 'g';
  EXPECT_THAT(Commit({staged, not_hex}), StatusIs(absl::StatusCode::kInvalidArgument,
                                                  HasSubstr("upload_ids[1]: not an upload id")));
  v1::CommitUploadsRequest discard_bad;
  std::string upper = staged;
  upper[0] = 'A';
  discard_bad.add_upload_ids(upper);
  discard_bad.set_discard(true);
  EXPECT_THAT(
      store_->CommitUploads(kOwner, discard_bad),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("upload_ids[0]: not an upload id")));
  v1::PutObjectStart bad_start;
  bad_start.set_upload_id(not_hex);
  EXPECT_THAT(
      store_->OpenUpload(kOwner, bad_start),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("start.upload_id: not an upload id")));
  EXPECT_THAT(Commit({staged, staged}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("upload_ids[1]")));
  EXPECT_THAT(Commit(std::vector<std::string>(33, staged)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 32")));
  // None of the refused commits made anything visible.
  EXPECT_THAT(Get("out/0"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(v1::Dataset d, store_->LookupDataset("ds1"));
  EXPECT_EQ(d.object_count(), 0u);
  ASSERT_OK(Commit({staged}).status());
  EXPECT_OK(Get("out/0").status());
}

TEST_F(ObjectStoreStagedTest, StagedBytesCountAgainstTheQuotaUntilDiscarded) {
  ASSERT_OK(CreateQuotaDataset("small", 30000));
  std::string a, b;
  ASSERT_OK(StageNew("small", "a", Pattern(20000), &a).status());
  // The staged 20000 bytes are still reserved.
  EXPECT_THAT(StageNew("small", "b", Pattern(20000), &b),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("quota")));
  // Never committed: discarded staged_upload_timeout after the staging.
  clock_.Advance(options_.staged_upload_timeout - absl::Seconds(1));
  ASSERT_OK(store_->RunMaintenance());
  EXPECT_EQ(store_->Check()->open_uploads(), 1u);
  clock_.Advance(absl::Seconds(2));
  ASSERT_OK(store_->RunMaintenance());
  EXPECT_EQ(store_->Check()->open_uploads(), 0u);
  EXPECT_EQ(SegmentCount(), 0u);
  EXPECT_THAT(Commit({a}), StatusIs(absl::StatusCode::kNotFound));
  // Its reservation went with it.
  ASSERT_OK(StageNew("small", "b", Pattern(20000), &b).status());
  ASSERT_OK(Commit({b}).status());
  ASSERT_OK_AND_ASSIGN(v1::Dataset d, store_->LookupDataset("small"));
  EXPECT_EQ(d.object_count(), 1u);
  ExpectConsistent();
}

// A set that will not be completed is dropped at once: segments, records
// and its reservation against the quota.
TEST_F(ObjectStoreStagedTest, DiscardDropsStagedUploadsAndTheirReservation) {
  ASSERT_OK(CreateQuotaDataset("small", 30000));
  std::string a, b;
  ASSERT_OK(StageNew("small", "a", Pattern(20000), &a).status());
  EXPECT_THAT(StageNew("small", "b", Pattern(20000), &b),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("quota")));
  v1::CommitUploadsRequest discard;
  discard.add_upload_ids(a);
  discard.set_discard(true);
  EXPECT_THAT(store_->CommitUploads(kOther, discard),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("another principal")));
  ASSERT_OK_AND_ASSIGN(v1::StoreCheck before, store_->Check());
  ASSERT_OK_AND_ASSIGN(v1::CommitUploadsResponse none, store_->CommitUploads(kOwner, discard));
  EXPECT_EQ(none.objects_size(), 0);
  // Its space comes back at the next compaction, which counts it.
  ASSERT_OK_AND_ASSIGN(v1::StoreCheck after, store_->Check());
  EXPECT_GE(after.deleted_bytes_pending_compaction(),
            before.deleted_bytes_pending_compaction() + 20000);
  EXPECT_EQ(store_->Check()->open_uploads(), 0u);
  EXPECT_EQ(SegmentCount(), 0u);
  EXPECT_THAT(Commit({a}), StatusIs(absl::StatusCode::kNotFound));
  // Discarding again, or with an upload gone, skips what is gone; an upload
  // begun and never streamed goes too.
  ASSERT_OK_AND_ASSIGN(v1::Upload begun, Begin("small", "never"));
  discard.add_upload_ids(begun.upload_id());
  ASSERT_OK(store_->CommitUploads(kOwner, discard).status());
  EXPECT_THAT(store_->LookupUpload(begun.upload_id()), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(StageNew("small", "b", Pattern(20000), &b).status());
  ASSERT_OK(Commit({b}).status());
  ExpectConsistent();
}

// A staged upload's time counts from its staging, not from its begin: a
// long stream staged late is still there to commit.
TEST_F(ObjectStoreStagedTest, TheSweepCountsFromTheStaging) {
  ASSERT_OK_AND_ASSIGN(v1::Upload up, Begin("ds1", "late"));
  clock_.Advance(options_.upload_idle_timeout - absl::Seconds(1));
  ASSERT_OK(SealAndUpload(kOwner, up, "ds1", Pattern(5000), "", /*stage=*/true).status());
  clock_.Advance(absl::Seconds(2));
  ASSERT_OK(store_->RunMaintenance());
  ASSERT_OK(Commit({up.upload_id()}).status());
  EXPECT_OK(Get("late").status());
}

// A set whose later members stream for longer than upload_idle_timeout
// keeps its first members: staged uploads wait staged_upload_timeout (an
// hour by default), while an upload begun and never streamed still goes
// after upload_idle_timeout.
TEST_F(ObjectStoreStagedTest, StagedUploadsOutliveTheIdleTimeout) {
  ASSERT_GT(options_.staged_upload_timeout, options_.upload_idle_timeout * 2);
  std::string first;
  ASSERT_OK(StageNew("ds1", "set/0", Pattern(5000, 1), &first).status());
  ASSERT_OK_AND_ASSIGN(v1::Upload never, Begin("ds1", "never"));
  // The second member takes twice the idle timeout to arrive.
  clock_.Advance(options_.upload_idle_timeout * 2);
  ASSERT_OK(store_->RunMaintenance());
  EXPECT_THAT(store_->LookupUpload(never.upload_id()), StatusIs(absl::StatusCode::kNotFound));
  std::string second;
  ASSERT_OK(StageNew("ds1", "set/1", Pattern(5000, 2), &second).status());
  ASSERT_OK(Commit({first, second}).status());
  EXPECT_EQ(Get("set/0").value_or("FAILED"), Pattern(5000, 1));
  EXPECT_EQ(Get("set/1").value_or("FAILED"), Pattern(5000, 2));
  ExpectConsistent();
}

TEST_F(ObjectStoreStagedTest, StagedUploadsDoNotSurviveARestart) {
  std::string a;
  ASSERT_OK(StageNew("ds1", "out/0", Pattern(5000), &a).status());
  Reopen();
  EXPECT_THAT(Commit({a}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(SegmentCount(), 0u);
  EXPECT_THAT(Get("out/0"), StatusIs(absl::StatusCode::kNotFound));
  ExpectConsistent();
}

}  // namespace
}  // namespace strongroom::storage::sealed
