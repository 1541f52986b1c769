// AuditLog's group commit on a real RocksDB, with each batch's write slowed
// down or failed on purpose: shared synced writes, a failed write that
// appends nothing while the chain resumes gap-free, checkpoints waiting for
// their write, and records appended unsynced that a later record follows.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "kms/audit/audit_json.h"
#include "kms/audit/audit_log.h"
#include "kms/audit/audit_storage.h"
#include "tests/kms/audit/audit_fixture.h"

namespace strongroom::kms::testing {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

// --- Group commit ---------------------------------------------------------------

// Writes each group commit's batch through the real Database, after a delay
// (a slow fsync), counting the writes and failing the ones asked for.
class AuditGroupCommitTest : public AuditLogFixture {
 protected:
  void SetUp() override {
    AuditLogFixture::SetUp();
    options_.write_batch_for_testing = [this](rocksdb::WriteBatch& batch) -> absl::Status {
      const int n = writes_.fetch_add(1) + 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(write_delay_ms_.load()));
      if (n == fail_write_.load()) {
        // Long enough for the other threads to fill the next batch; or, while
        // hold_failing_write_ is set, until the test lets it fail.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        while (hold_failing_write_.load()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (throw_.load()) throw std::bad_alloc();
        return absl::Status(fail_code_.load(), "injected write failure");
      }
      return db_->Write(batch);
    };
    ASSERT_OK(Reopen());
  }

  // `threads` threads append `per_thread` records each; returns the
  // sequences appended and counts the failures. Every record returned OK must
  // already be readable from the database (durable before Append returned).
  std::vector<uint64_t> AppendConcurrently(int threads, int per_thread, int* failures,
                                           int* failed_behind) {
    std::mutex mu;
    std::vector<uint64_t> ok;
    std::atomic<int> failed{0};
    std::atomic<int> behind{0};
    std::atomic<int> not_stored{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          absl::StatusOr<AuditRecord> r = log_->Append(TestEntry(t * per_thread + i));
          if (!r.ok()) {
            failed++;
            if (absl::StrContains(r.status().message(), "records ahead of it")) {
              behind++;
              // Whatever the failed write's error: this record was not written.
              EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
            }
            continue;
          }
          if (!db_->Get(RecordKey(r->sequence)).ok()) not_stored++;
          std::lock_guard<std::mutex> lock(mu);
          ok.push_back(r->sequence);
        }
      });
    }
    for (std::thread& t : pool) t.join();
    EXPECT_EQ(not_stored.load(), 0) << "Append returned before its record was written";
    *failures = failed.load();
    *failed_behind = behind.load();
    std::sort(ok.begin(), ok.end());
    return ok;
  }

  std::atomic<int> writes_{0};
  std::atomic<int> write_delay_ms_{3};
  std::atomic<int> fail_write_{0};  // the 1-based write to fail; 0: none
  std::atomic<bool> hold_failing_write_{false};
  std::atomic<absl::StatusCode> fail_code_{absl::StatusCode::kUnavailable};
  std::atomic<bool> throw_{false};  // the failing write throws instead
};

TEST_F(AuditGroupCommitTest, ConcurrentAppendsShareSyncedWrites) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  int failures = 0;
  int behind = 0;
  std::vector<uint64_t> seqs = AppendConcurrently(kThreads, kPerThread, &failures, &behind);
  EXPECT_EQ(failures, 0);
  ASSERT_EQ(seqs.size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], i + 1);
  // One write per record would be 200; callers that arrive while a write is
  // in flight share the next one.
  EXPECT_LE(writes_.load(), kThreads * kPerThread / 2);
  EXPECT_EQ(log_->head().sequence, seqs.size());

  AuditVerifyResult v = VerifyText(ExportText(), Pinned());
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records, seqs.size());
  EXPECT_EQ(v.checkpoints, seqs.size() / 5);
  // The head pointer and the chain agree after a restart.
  const AuditHead head = log_->head();
  ASSERT_OK(Reopen());
  EXPECT_EQ(log_->head().sequence, head.sequence);
  EXPECT_EQ(log_->head().hash, head.hash);
}

TEST_F(AuditGroupCommitTest, FailedWriteAppendsNothingAndTheChainResumes) {
  write_delay_ms_ = 0;
  AppendN(3);
  const AuditHead before = log_->head();
  fail_write_ = writes_.load() + 1;
  EXPECT_THAT(log_->Append(TestEntry(4)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("injected")));
  EXPECT_EQ(log_->head().sequence, 3u);
  EXPECT_FALSE(db_->Get(RecordKey(4)).ok());
  ASSERT_OK_AND_ASSIGN(AuditRecord next, log_->Append(TestEntry(4)));
  EXPECT_EQ(next.sequence, 4u);
  EXPECT_EQ(next.prev_hash, before.hash);

  // A write fails (Internal, this time) while others wait behind it: its
  // records and the batch gathered behind it (Unavailable) fail; every record
  // returned OK is stored gap-free.
  write_delay_ms_ = 3;
  fail_code_ = absl::StatusCode::kInternal;
  fail_write_ = writes_.load() + 3;
  int failures = 0;
  int behind = 0;
  std::vector<uint64_t> seqs = AppendConcurrently(8, 15, &failures, &behind);
  EXPECT_GE(failures, 2);
  EXPECT_GE(behind, 1) << "no append was waiting behind the failed write";
  EXPECT_EQ(seqs.size() + failures, 8u * 15u);
  for (size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], i + 5);
  EXPECT_EQ(log_->head().sequence, 4 + seqs.size());
  EXPECT_FALSE(db_->Get(RecordKey(5 + seqs.size())).ok());

  AuditVerifyResult v = VerifyText(ExportText(), Pinned());
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records, 4 + seqs.size());
  ASSERT_OK(Reopen());  // chain, checkpoints and head pointer all re-checked
  EXPECT_EQ(log_->head().sequence, 4 + seqs.size());
}

// A write that throws (std::bad_alloc inside RocksDB) fails its records, and
// the callers waiting behind it return rather than wait for a write that
// never finishes. Whether it reached the database is unknown, so the log
// takes nothing more until it is reopened (reusing its sequences could fork
// the chain); reopened, it goes on from what is durable.
TEST_F(AuditGroupCommitTest, AThrowingWriteStopsTheLogUntilItIsReopened) {
  write_delay_ms_ = 0;
  AppendN(2);
  throw_ = true;
  fail_write_ = writes_.load() + 1;
  EXPECT_THAT(log_->Append(TestEntry(3)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("audit write threw")));
  EXPECT_THAT(log_->Append(TestEntry(3)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("server restarts")));
  EXPECT_THAT(log_->AppendUnsynced(TestEntry(3)).status(), StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(log_->Checkpoint().status(), StatusIs(absl::StatusCode::kInternal));
  ASSERT_OK(Reopen());
  ASSERT_OK_AND_ASSIGN(AuditRecord next, log_->Append(TestEntry(3)));
  EXPECT_EQ(next.sequence, 3u);

  // Again with appends waiting behind the throwing write: each returns.
  write_delay_ms_ = 3;
  fail_write_ = writes_.load() + 2;
  int failures = 0;
  int behind = 0;
  std::vector<uint64_t> seqs = AppendConcurrently(6, 10, &failures, &behind);
  EXPECT_GE(failures, 1);
  EXPECT_EQ(seqs.size() + failures, 60u);
  for (size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], i + 4);
  ASSERT_OK(Reopen());
  EXPECT_EQ(log_->head().sequence, 3 + seqs.size());
  AuditVerifyResult v = VerifyText(ExportText(), Pinned());
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records, 3 + seqs.size());
}

TEST_F(AuditGroupCommitTest, CheckpointWaitsForItsWrite) {
  AppendN(2);
  fail_write_ = writes_.load() + 1;
  EXPECT_THAT(log_->Checkpoint(), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_OK_AND_ASSIGN(AuditCheckpoint c, log_->Checkpoint());
  EXPECT_EQ(c.sequence, 2u);
  EXPECT_OK(db_->Get(audit_internal::CheckpointKey(2)).status());
  AuditVerifyResult v = VerifyText(ExportText(), Pinned());
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.checkpoints, 1u);
}

TEST_F(AuditGroupCommitTest, UnsyncedRecordsGoOutWithTheNextWrite) {
  write_delay_ms_ = 0;
  AppendN(2);
  const int writes = writes_.load();
  ASSERT_OK_AND_ASSIGN(AuditLog::Ticket t, log_->AppendUnsynced(TestEntry(3)));
  EXPECT_EQ(t.sequence(), 3u);
  // Not written yet, and not part of the durable head.
  EXPECT_EQ(writes_.load(), writes);
  EXPECT_FALSE(db_->Get(RecordKey(3)).ok());
  EXPECT_EQ(log_->head().sequence, 2u);
  // The next synced append writes both in one batch, after it in the chain.
  ASSERT_OK_AND_ASSIGN(AuditRecord r, log_->Append(TestEntry(4), &t));
  EXPECT_EQ(r.sequence, 4u);
  EXPECT_EQ(writes_.load(), writes + 1);
  EXPECT_OK(db_->Get(RecordKey(3)).status());
  EXPECT_EQ(log_->head().sequence, 4u);

  // Flush writes what is pending, and only then.
  ASSERT_OK(log_->Flush());
  EXPECT_EQ(writes_.load(), writes + 1);
  ASSERT_OK(log_->AppendUnsynced(TestEntry(5)).status());
  ASSERT_OK(log_->Flush());
  EXPECT_EQ(writes_.load(), writes + 2);
  EXPECT_EQ(log_->head().sequence, 5u);
  // Export flushes too: an unsynced record is in it.
  ASSERT_OK(log_->AppendUnsynced(TestEntry(6)).status());
  AuditVerifyResult v = VerifyText(ExportText(), Pinned());
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records, 6u);
  ASSERT_OK(Reopen());
  EXPECT_EQ(log_->head().sequence, 6u);
}

TEST_F(AuditGroupCommitTest, ARecordAfterAFailedUnsyncedOneIsRefused) {
  write_delay_ms_ = 0;
  AppendN(2);
  ASSERT_OK_AND_ASSIGN(AuditLog::Ticket lost, log_->AppendUnsynced(TestEntry(3)));
  // The write that carries record 3 fails: Flush reports it, the chain goes
  // back to 2, and a record that must follow 3 is refused without being
  // appended; others continue from 2.
  fail_write_ = writes_.load() + 1;
  EXPECT_THAT(log_->Flush(), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("injected")));
  EXPECT_EQ(log_->head().sequence, 2u);
  EXPECT_THAT(log_->Append(TestEntry(4), &lost),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("record 3"), HasSubstr("was not written"))));
  EXPECT_FALSE(db_->Get(RecordKey(3)).ok());
  ASSERT_OK_AND_ASSIGN(AuditRecord next, log_->Append(TestEntry(5)));
  EXPECT_EQ(next.sequence, 3u);

  // The unsynced record's write fails while the record that follows it waits
  // in the next batch: that one fails too, and nothing after 3 is stored.
  write_delay_ms_ = 5;
  ASSERT_OK_AND_ASSIGN(AuditLog::Ticket ahead, log_->AppendUnsynced(TestEntry(6)));
  fail_write_ = writes_.load() + 1;
  std::thread flusher([&] { EXPECT_FALSE(log_->Flush().ok()); });
  while (writes_.load() < fail_write_.load()) std::this_thread::yield();
  EXPECT_THAT(log_->Append(TestEntry(7), &ahead), StatusIs(absl::StatusCode::kUnavailable));
  flusher.join();
  EXPECT_EQ(log_->head().sequence, 3u);
  EXPECT_FALSE(db_->Get(RecordKey(4)).ok());

  // The same, deterministically: while the write carrying record 4 is held
  // in flight, record 5 is admitted behind it (its `after` is not decided
  // yet); the write then fails, which fails record 5's batch with it
  // (Unavailable whatever the write's error), and a record that must follow
  // 5 is refused saying why. The write fails with Internal here: the
  // records behind it still get Unavailable.
  ASSERT_OK_AND_ASSIGN(AuditLog::Ticket held, log_->AppendUnsynced(TestEntry(8)));
  EXPECT_EQ(held.sequence(), 4u);
  hold_failing_write_ = true;
  fail_code_ = absl::StatusCode::kInternal;
  fail_write_ = writes_.load() + 1;
  std::thread held_flusher([&] {
    EXPECT_THAT(log_->Flush(), StatusIs(absl::StatusCode::kInternal, HasSubstr("injected")));
  });
  while (writes_.load() < fail_write_.load()) std::this_thread::yield();
  ASSERT_OK_AND_ASSIGN(AuditLog::Ticket behind, log_->AppendUnsynced(TestEntry(9), &held));
  EXPECT_EQ(behind.sequence(), 5u);
  hold_failing_write_ = false;
  held_flusher.join();
  // Flush reports the failed write's own status; what was behind it is
  // Unavailable (the Append below shows it through record 5's ticket).
  EXPECT_THAT(log_->Append(TestEntry(10), &behind),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("record 5"), HasSubstr("records ahead of it failed"))));
  EXPECT_EQ(log_->head().sequence, 3u);
  EXPECT_FALSE(db_->Get(RecordKey(4)).ok());
  EXPECT_FALSE(db_->Get(RecordKey(5)).ok());
  AuditVerifyResult v = VerifyText(ExportText(), Pinned());
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records, 3u);
}

TEST_F(AuditGroupCommitTest, FlushWaitsForTheWriteInFlight) {
  write_delay_ms_ = 0;
  AppendN(2);
  ASSERT_OK(log_->AppendUnsynced(TestEntry(3)).status());
  // The write carrying record 3 is held in flight (then fails); a Flush
  // called meanwhile, with nothing left to write of its own, returns only
  // once that write is decided, and with its status.
  hold_failing_write_ = true;
  fail_write_ = writes_.load() + 1;
  std::thread writer([&] { EXPECT_FALSE(log_->Flush().ok()); });
  while (writes_.load() < fail_write_.load()) std::this_thread::yield();
  std::atomic<bool> flushed{false};
  std::thread second([&] {
    EXPECT_THAT(log_->Flush(), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("injected")));
    flushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(flushed.load()) << "Flush returned while the write was in flight";
  hold_failing_write_ = false;
  writer.join();
  second.join();
  EXPECT_TRUE(flushed.load());
  // Nothing in flight or open: OK at once.
  EXPECT_OK(log_->Flush());
}

}  // namespace
}  // namespace strongroom::kms::testing
