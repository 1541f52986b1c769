// ObjectStore's background jobs on a real RocksDB: re-wrap after a key
// rotation (headers only, resumable, failures counted) and rekey (new
// segments swapped atomically, resumable, cancelled when abandoned or when
// the object is deleted, and not when that delete fails).
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"
#include "storage/sealed/object_store.h"
#include "storage/testing/fault_env.h"
#include "tests/storage/sealed/object_store_test_base.h"

namespace strongroom::storage::sealed {
namespace {

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
                                       absl::string_view dataset, absl::string_view) override {
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

// A job that ended is kept finished_job_retention after its last update,
// then forgotten by maintenance; a running one stays whatever its age.
TEST_F(ObjectStoreTest, EndedJobsAreForgottenAfterTheirRetention) {
  options_.finished_job_retention = absl::Hours(1);
  Reopen();
  ASSERT_OK(Put("o0", Pattern(9000, 0)).status());
  ASSERT_OK(Put("rk", Pattern(9000, 1)).status());
  keys_.AddKey("keys/k1", kOwner.principal, 2);
  v1::StartRewrapRequest r;
  r.set_dataset("ds1");
  ASSERT_OK_AND_ASSIGN(v1::StoreJob rewrap, store_->StartRewrap(kOwner, r));
  // The job's state as an admin sees it (NotFound once forgotten).
  auto state = [&](const v1::StoreJob& job) -> absl::StatusOr<v1::StoreJobState> {
    v1::GetJobRequest g;
    g.set_id(job.id());
    absl::StatusOr<v1::StoreJob> got = store_->GetJob(kAdmin, g);
    if (!got.ok()) return got.status();
    return got->state();
  };
  ASSERT_OK(store_->RunMaintenance());  // the re-wrap ends
  ASSERT_EQ(state(rewrap).value_or(v1::STORE_JOB_STATE_UNSPECIFIED), v1::DONE);
  v1::BeginRekeyRequest b;
  b.set_dataset("ds1");
  b.set_name("rk");
  ASSERT_OK_AND_ASSIGN(v1::StoreJob rekey, store_->BeginRekey(kOwner, b));

  clock_.Advance(absl::Minutes(59));
  ASSERT_OK(store_->RunMaintenance());
  EXPECT_EQ(state(rewrap).value_or(v1::STORE_JOB_STATE_UNSPECIFIED), v1::DONE);
  clock_.Advance(absl::Minutes(2));
  ASSERT_OK(store_->RunMaintenance());
  EXPECT_THAT(state(rewrap), StatusIs(absl::StatusCode::kNotFound));
  // 61 minutes old, still running:
  EXPECT_EQ(state(rekey).value_or(v1::STORE_JOB_STATE_UNSPECIFIED), v1::RUNNING);

  // Cancelled (its object deleted): kept from the cancellation on.
  v1::DeleteObjectRequest d;
  d.set_dataset("ds1");
  d.set_name("rk");
  d.set_version(1);
  ASSERT_OK(store_->DeleteObject(kOwner, d).status());
  clock_.Advance(absl::Minutes(59));
  ASSERT_OK(store_->RunMaintenance());
  EXPECT_EQ(state(rekey).value_or(v1::STORE_JOB_STATE_UNSPECIFIED), v1::CANCELLED);
  clock_.Advance(absl::Minutes(2));
  ASSERT_OK(store_->RunMaintenance());
  EXPECT_THAT(state(rekey), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(v1::StoreCheck check, store_->Check());
  EXPECT_TRUE(check.ok()) << check.problems_size();
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
  // Another owner is refused in the same words as for a job that does not
  // exist, naming neither the dataset; a workload before any lookup; admins
  // and auditors see it, and are told NotFound for an unknown id.
  const std::string other_id(32, 'a');
  absl::StatusOr<v1::StoreJob> foreign = store_->GetJob(kOther, g);
  v1::GetJobRequest unknown;
  unknown.set_id(other_id);
  absl::StatusOr<v1::StoreJob> missing = store_->GetJob(kOther, unknown);
  EXPECT_THAT(foreign, StatusIs(absl::StatusCode::kPermissionDenied,
                                HasSubstr("not a job of its own datasets")));
  EXPECT_THAT(std::string(foreign.status().message()), ::testing::Not(HasSubstr("ds1")));
  EXPECT_EQ(absl::StrReplaceAll(foreign.status().message(), {{job.id(), other_id}}),
            missing.status().message());
  EXPECT_THAT(store_->GetJob(kWorkload, g), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_OK(store_->GetJob(kAuditor, g).status());
  EXPECT_THAT(store_->GetJob(kAuditor, unknown), StatusIs(absl::StatusCode::kNotFound));
  // An id of another shape is a malformed request, for everyone alike.
  for (const std::string& bad :
       {std::string(32, 'Z'), std::string(31, 'a'), absl::AsciiStrToUpper(job.id())}) {
    v1::GetJobRequest malformed;
    malformed.set_id(bad);
    for (const kms::Caller& who : {kOwner, kAdmin, kOther}) {
      EXPECT_THAT(store_->GetJob(who, malformed),
                  StatusIs(absl::StatusCode::kInvalidArgument,
                           HasSubstr("id: not a job id (32 lowercase hex digits)")))
          << bad;
    }
  }
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

// A rotation while a re-wrap runs raises its target: the objects the pass had
// already brought to the old target get a second pass, so the job is DONE
// only when every object is at the new target (an admin destroys the old
// versions on the strength of that).
TEST_F(ObjectStoreTest, RaisingARunningRewrapsTargetRevisitsEarlierObjects) {
  for (int i = 0; i < 5; ++i) ASSERT_OK(Put(absl::StrCat("o", i), Pattern(700, i)).status());
  keys_.AddKey("keys/k1", kOwner.principal, 2);
  v1::StartRewrapRequest r;
  r.set_dataset("ds1");
  ASSERT_OK_AND_ASSIGN(v1::StoreJob job, store_->StartRewrap(kOwner, r));
  options_.rewrap_budget = 2;
  Reopen();
  ASSERT_OK(store_->RunMaintenance());  // o0 and o1 to version 2
  keys_.AddKey("keys/k1", kOwner.principal, 3);
  ASSERT_OK_AND_ASSIGN(v1::StoreJob raised, store_->StartRewrap(kOwner, r));
  EXPECT_EQ(raised.id(), job.id());
  EXPECT_EQ(raised.target_key_version(), 3u);
  ASSERT_OK_AND_ASSIGN(job, RunJobUntilDone(job.id()));
  EXPECT_EQ(job.state(), v1::DONE);
  for (int i = 0; i < 5; ++i) {
    const std::string name = absl::StrCat("o", i);
    EXPECT_EQ(KeyVersionOf(name).value_or(0), 3u) << name;
    EXPECT_EQ(Get(name).value_or("FAILED"), Pattern(700, i));
  }
  ExpectConsistent();
}

// A rekey's new header is fixed when it begins: one that finishes under the
// old version after a running re-wrap has passed the object sends the re-wrap
// round again, so it does not end DONE with the object below its target.
TEST_F(ObjectStoreTest, ARekeyFinishedBehindARunningRewrapIsRewrappedToo) {
  options_.rewrap_budget = 1;
  Reopen();
  const std::string plain = Pattern(3000, 1);
  ASSERT_OK(Put("o0", Pattern(700, 0)).status());
  ASSERT_OK(Put("o1", plain).status());
  ASSERT_OK(Put("o2", Pattern(700, 2)).status());
  ASSERT_OK_AND_ASSIGN(RekeyPlan plan, BeginRekeyOf("o1", plain));  // under version 1
  {
    ASSERT_OK_AND_ASSIGN(auto rekey, store_->OpenRekey(kOwner, plan.start));
    for (size_t i = 0; i < plan.next.segments.size(); ++i) {
      v1::ObjectSegment seg;
      seg.set_index(i);
      seg.set_data(plan.next.segments[i]);
      ASSERT_OK(rekey->AppendSegment(seg));
    }
    keys_.AddKey("keys/k1", kOwner.principal, 2);
    v1::StartRewrapRequest r;
    r.set_dataset("ds1");
    ASSERT_OK(store_->StartRewrap(kOwner, r).status());
    ASSERT_OK(store_->RunMaintenance());  // o0
    ASSERT_OK(store_->RunMaintenance());  // o1 (its old header)
    ASSERT_OK(rekey->Finish().status());  // o1's new header, under version 1
  }
  for (int i = 0; i < 8; ++i) ASSERT_OK(store_->RunMaintenance());
  for (const char* name : {"o0", "o1", "o2"}) EXPECT_EQ(KeyVersionOf(name).value_or(0), 2u) << name;
  // Its segments are the rekey's (under the new data key), untouched by the
  // re-wrap, which changed only the header's wrapped key.
  EXPECT_EQ(Get("o1", 0, 0, {}, kOwner, "", &plan.new_key).value_or("FAILED"), plain);
  ExpectConsistent();
}

// Likewise an upload whose data key was made before a rotation and that
// commits after the running re-wrap passed its name.
TEST_F(ObjectStoreTest, AnUploadCommittedBehindARunningRewrapIsRewrappedToo) {
  options_.rewrap_budget = 1;
  Reopen();
  for (const char* name : {"o0", "o1", "o2"}) ASSERT_OK(Put(name, Pattern(500)).status());
  ASSERT_OK_AND_ASSIGN(v1::Upload up, Begin("ds1", "a0"));  // sorts first
  keys_.AddKey("keys/k1", kOwner.principal, 2);
  v1::StartRewrapRequest r;
  r.set_dataset("ds1");
  ASSERT_OK_AND_ASSIGN(v1::StoreJob job, store_->StartRewrap(kOwner, r));
  for (int i = 0; i < 2; ++i) ASSERT_OK(store_->RunMaintenance());  // o0, o1: past "a0"
  ASSERT_OK(SealAndUpload(kOwner, up, "ds1", "late").status());     // under version 1
  ASSERT_OK_AND_ASSIGN(job, RunJobUntilDone(job.id()));
  EXPECT_EQ(job.state(), v1::DONE);
  EXPECT_EQ(KeyVersionOf("a0").value_or(0), 2u);
  EXPECT_EQ(Get("a0").value_or("FAILED"), "late");
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
  ASSERT_OK_AND_ASSIGN(RekeyPlan plan, BeginRekeyOf("rk", plain));
  const v1::StoreJob& job = plan.job;
  const testing::SealedParts& next = plan.next;
  {
    ASSERT_OK_AND_ASSIGN(auto rekey, store_->OpenRekey(kOwner, plan.start));
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

// A rekey stream that stops sending (its connection kept open) is ended
// through its canceller after upload_idle_timeout, as uploads are; the job
// keeps its progress and a new stream resumes it.
TEST_F(ObjectStoreTest, AQuietRekeyStreamIsCancelledAndTheJobResumes) {
  const std::string plain = Pattern(30000);
  ASSERT_OK(Put("rk", plain).status());
  ASSERT_OK_AND_ASSIGN(RekeyPlan plan, BeginRekeyOf("rk", plain));
  int cancelled = 0;
  auto segment = [&](uint64_t i) {
    v1::ObjectSegment s;
    s.set_index(i);
    s.set_data(plan.next.segments[i]);
    return s;
  };
  {
    ASSERT_OK_AND_ASSIGN(auto rekey, store_->OpenRekey(kOwner, plan.start));
    rekey->SetCanceller([&cancelled] { ++cancelled; });
    ASSERT_OK(rekey->AppendSegment(segment(0)));
    clock_.Advance(options_.upload_idle_timeout - absl::Seconds(1));
    ASSERT_OK(rekey->AppendSegment(segment(1)));
    clock_.Advance(options_.upload_idle_timeout - absl::Seconds(1));
    ASSERT_OK(store_->RunMaintenance());
    EXPECT_EQ(cancelled, 0) << "it kept sending";
    EXPECT_THAT(store_->OpenRekey(kOwner, plan.start),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already streaming")));
    clock_.Advance(absl::Seconds(2));
    ASSERT_OK(store_->RunMaintenance());
    EXPECT_EQ(cancelled, 1);
  }  // the handler returns once cancelled
  ASSERT_OK_AND_ASSIGN(auto resumed, store_->OpenRekey(kOwner, plan.start));
  for (uint64_t i = 2; i < plan.next.segments.size(); ++i) {
    ASSERT_OK(resumed->AppendSegment(segment(i)));
  }
  ASSERT_OK_AND_ASSIGN(v1::StoreJob done, resumed->Finish());
  EXPECT_EQ(done.state(), v1::DONE);
  resumed.reset();
  EXPECT_TRUE(Get("rk", 0, 0, {}, kOwner, "", &plan.new_key).value_or("FAILED") == plain);
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

// The disk refuses the delete's write at each point in turn: a delete that
// fails leaves the object and its rekey as they were (the rekey's
// cancellation is part of the delete's batch, not a write before it); one
// that succeeds took both.
class DeleteFaultTest : public ObjectStoreTest {
 protected:
  void SetUp() override {
    options_.env_for_testing = faults_.env();
    ObjectStoreTest::SetUp();
  }
  storage::testing::FaultEnv faults_;
};

TEST_F(DeleteFaultTest, AFailedDeleteLeavesTheObjectAndItsRekey) {
  int failed = 0, succeeded = 0;
  for (long syncs_before_failure = 0; syncs_before_failure < 3; ++syncs_before_failure) {
    const std::string name = absl::StrCat("rk", syncs_before_failure);
    const std::string plain = Pattern(9000);
    ASSERT_OK(Put(name, plain).status());
    v1::BeginRekeyRequest b;
    b.set_dataset("ds1");
    b.set_name(name);
    ASSERT_OK_AND_ASSIGN(v1::StoreJob job, store_->BeginRekey(kOwner, b));
    v1::DeleteObjectRequest d;
    d.set_dataset("ds1");
    d.set_name(name);
    d.set_version(1);
    faults_.FailWalWritesAfterSyncs(syncs_before_failure);
    const absl::Status deleted = store_->DeleteObject(kOwner, d).status();
    store_.reset();  // closed with the fault still armed
    faults_.FailWalWritesAfterSyncs(-1);
    Reopen();
    v1::GetJobRequest g;
    g.set_id(job.id());
    ASSERT_OK_AND_ASSIGN(job, store_->GetJob(kOwner, g));
    if (deleted.ok()) {
      ++succeeded;
      EXPECT_THAT(Get(name), StatusIs(absl::StatusCode::kNotFound));
      EXPECT_EQ(job.state(), v1::CANCELLED);
    } else {
      ++failed;
      EXPECT_EQ(Get(name).value_or("FAILED"), plain) << syncs_before_failure;
      EXPECT_EQ(job.state(), v1::RUNNING) << syncs_before_failure << ": " << deleted;
    }
    ExpectConsistent();
  }
  EXPECT_GT(failed, 0);
  EXPECT_GT(succeeded, 0);
  EXPECT_GT(faults_.Refused(), 0);
}

}  // namespace
}  // namespace strongroom::storage::sealed
