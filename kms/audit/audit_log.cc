#include "kms/audit/audit_log.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/hex_text.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/audit/audit_json.h"
#include "kms/audit/audit_storage.h"

namespace strongroom::kms {

using audit_internal::CheckpointKey;
using audit_internal::HeadPointer;
using audit_internal::kCheckpointPrefix;
using audit_internal::kHeadKey;
using audit_internal::kHeadMacKey;
using audit_internal::kRecordPrefix;
using audit_internal::LineType;
using audit_internal::ParsedLine;
using audit_internal::RecordKey;
using audit_internal::SequenceFromKey;

namespace {

// The first defect found while re-checking the stored chain.
class ChainProblem {
 public:
  void Report(uint64_t sequence, absl::string_view why) {
    if (!status_.ok()) return;
    status_ = absl::DataLossError(
        absl::StrCat("audit log chain broken at sequence ", sequence, ": ", why));
  }
  const absl::Status& status() const { return status_; }

 private:
  absl::Status status_;
};

}  // namespace

struct AuditLog::Outcome {
  bool done = false;
  absl::Status status;  // once done
};

struct AuditLog::PendingBatch {
  rocksdb::WriteBatch batch;
  uint64_t records = 0;
  AuditHead head;                             // its last record, when records > 0
  std::optional<AuditCheckpoint> checkpoint;  // the last checkpoint it holds
  // Guarded by mu_; shared with the tickets of its records.
  std::shared_ptr<Outcome> outcome = std::make_shared<Outcome>();
  // Its callers wait here; the first caller of the next batch waits here
  // too, for its turn to write.
  std::condition_variable cv;
};

AuditLog::AuditLog(storage::Database& db, CheckpointSigner& signer, const Clock& clock,
                   AuditOptions options, CheckpointVerifyKey signer_key)
    : db_(db),
      signer_(signer),
      clock_(clock),
      options_(std::move(options)),
      signer_key_(std::move(signer_key)),
      open_(std::make_shared<PendingBatch>()) {}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Create(storage::Database& db,
                                                           CheckpointSigner* signer,
                                                           const Clock& clock,
                                                           AuditOptions options) {
  if (signer == nullptr) {
    return absl::InvalidArgumentError("audit log needs a checkpoint signer");
  }
  ASSIGN_OR_RETURN(CheckpointVerifyKey key, CheckpointVerifyKey::FromPem(signer->PublicKeyPem()));
  if (key.key_id() != signer->KeyId()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint signer key id ", signer->KeyId(),
        " is not the SHA-256 of its public key's SubjectPublicKeyInfo (", key.key_id(), ")"));
  }
  std::unique_ptr<AuditLog> log(new AuditLog(db, *signer, clock, options, std::move(key)));
  RETURN_IF_ERROR(log->Recover());
  // The head found (after a crash, past the last anchored checkpoint).
  RETURN_IF_ERROR(log->AdvanceAnchor(log->head()));
  return log;
}

namespace {

Bytes Hmac(const SecretBytes& key, std::span<const uint8_t> msg) {
  Bytes mac(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  const std::span<const uint8_t> k = key.Reveal();
  if (HMAC(EVP_sha256(), k.data(), static_cast<int>(k.size()), msg.data(), msg.size(), mac.data(),
           &len) == nullptr) {
    return {};  // compares unequal to any stored MAC
  }
  mac.resize(len);
  return mac;
}

// HMAC-SHA256(key, "strongroom-audit-head-v1" || be64(sequence) || hash).
Bytes HeadMac(const SecretBytes& key, uint64_t sequence, const Bytes& hash) {
  static constexpr char kLabel[] = "strongroom-audit-head-v1";
  Bytes msg(kLabel, kLabel + sizeof(kLabel) - 1);
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<uint8_t>(sequence >> (8 * i)));
  msg.insert(msg.end(), hash.begin(), hash.end());
  return Hmac(key, msg);
}

// The key's check value: the first 8 bytes of HMAC(key, "...-check-value"),
// stored with each MAC so that a start can tell another key from an edit.
std::string HeadMacKeyCheckValue(const SecretBytes& key) {
  static constexpr char kLabel[] = "strongroom-audit-head-mac-check-value";
  Bytes kcv = Hmac(
      key, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kLabel), sizeof(kLabel) - 1));
  kcv.resize(8);
  return HexEncode(kcv);
}

// What audit/head_mac holds: kcv || be64 sequence || MAC, in lowercase hex.
std::string HeadMacValue(const SecretBytes& key, uint64_t sequence, const Bytes& mac) {
  uint8_t seq[8];
  for (int i = 0; i < 8; ++i) seq[i] = static_cast<uint8_t>(sequence >> (8 * (7 - i)));
  return absl::StrCat(HeadMacKeyCheckValue(key), HexEncode(seq), HexEncode(mac));
}

}  // namespace

absl::StatusOr<CheckpointVerifyKey> AuditLog::KeyFor(const std::string& key_id) const {
  if (key_id == signer_key_.key_id()) return signer_key_;
  return audit_internal::LoadStoredKey(db_, key_id);
}

absl::Status AuditLog::Recover() {
  ChainProblem problem;

  std::optional<HeadPointer> head_pointer;
  if (absl::StatusOr<std::string> v = db_.Get(kHeadKey); v.ok()) {
    absl::StatusOr<ParsedLine> line = audit_internal::ParseLine(*v);
    absl::StatusOr<HeadPointer> h =
        line.ok() && line->type == LineType::kHead ? audit_internal::HeadFromJson(line->json)
                                                   : absl::StatusOr<HeadPointer>(line.status());
    if (h.ok()) {
      head_pointer = *std::move(h);
    } else {
      problem.Report(1, "the head pointer cannot be read");
    }
  } else if (!absl::IsNotFound(v.status())) {
    return v.status();
  }

  std::map<uint64_t, AuditCheckpoint> checkpoints;
  RETURN_IF_ERROR(db_.Scan(kCheckpointPrefix, "", [&](absl::string_view k, absl::string_view v) {
    std::optional<uint64_t> seq = SequenceFromKey(k, kCheckpointPrefix);
    absl::StatusOr<AuditCheckpoint> c = audit_internal::ParseCheckpointLine(v);
    if (!seq || !c.ok() || c->sequence != *seq) {
      problem.Report(seq.value_or(1), "a stored checkpoint cannot be read");
    } else {
      checkpoints[*seq] = *std::move(c);
    }
    return true;
  }));

  uint64_t start = 1;
  if (!options_.verify_full_chain_on_open && !checkpoints.empty()) {
    start = checkpoints.rbegin()->first;
  }
  uint64_t expected = start;
  Bytes prev = GenesisHash();
  std::optional<AuditHead> last;
  uint64_t last_key_seq = 0;  // the highest record key, readable or not
  RETURN_IF_ERROR(db_.Scan(
      kRecordPrefix, start == 1 ? "" : RecordKey(start - 1),
      [&](absl::string_view k, absl::string_view v) {
        std::optional<uint64_t> seq = SequenceFromKey(k, kRecordPrefix);
        absl::StatusOr<AuditRecord> r = audit_internal::ParseRecordLine(v);
        last_key_seq = std::max(last_key_seq, seq.value_or(0));
        if (!seq || !r.ok() || r->sequence != *seq) {
          problem.Report(seq.value_or(expected), "a stored record cannot be read");
          if (seq) expected = *seq + 1;
          return true;
        }
        if (*seq != expected) {
          problem.Report(std::min(*seq, expected),
                         absl::StrCat("record ", expected, " is missing"));
        } else if (*seq == start && start > 1) {
          prev = r->prev_hash;  // vouched for by the checkpoint at `start`
        }
        if (r->prev_hash != prev) {
          problem.Report(*seq, "prev_hash does not match the hash of the record before it");
        }
        if (ComputeRecordHash(*r) != r->hash) {
          problem.Report(*seq, "the record's hash does not match its contents");
        }
        if (auto c = checkpoints.find(*seq); c != checkpoints.end()) {
          absl::StatusOr<CheckpointVerifyKey> key = KeyFor(c->second.key_id);
          if (c->second.head_hash != r->hash) {
            problem.Report(*seq, "the checkpoint's head hash does not match the record");
          } else if (!key.ok()) {
            problem.Report(*seq, absl::StrCat("the checkpoint's key: ", key.status().message()));
          } else if (!key->Verify(CheckpointSignedMessage(c->second), c->second.signature)
                          .ok()) {
            problem.Report(*seq, "the checkpoint's signature does not verify");
          }
        }
        prev = r->hash;
        expected = *seq + 1;
        last = AuditHead{*seq, r->hash};
        return true;
      }));

  uint64_t last_seq = last ? last->sequence : 0;
  if (!checkpoints.empty() && checkpoints.rbegin()->first > last_seq) {
    problem.Report(last_seq + 1, "a checkpoint names a record that is not stored");
  }
  if (last.has_value() || head_pointer.has_value()) {
    uint64_t pointer_seq = head_pointer ? head_pointer->sequence : 0;
    if (!last.has_value() && pointer_seq > 0) {
      problem.Report(start, absl::StrCat("the head pointer names record ", pointer_seq,
                                         " but no records are stored"));
    } else if (last.has_value() &&
               (pointer_seq != last->sequence || head_pointer->hash != last->hash)) {
      problem.Report(std::min(pointer_seq, last->sequence) + 1,
                     absl::StrCat("the head pointer names record ", pointer_seq,
                                  " but the last stored record is ", last->sequence));
    }
  }

  // The head MAC, whenever one is stored, whatever the checkpoints say: a
  // checkpoint may be signed by a key stored in the database (KeyFor), which
  // whoever can write the database can plant, while the MAC's key never
  // leaves the HSM.
  const uint64_t last_checkpoint_seq = checkpoints.empty() ? 0 : checkpoints.rbegin()->first;
  if (options_.head_mac_key != nullptr && problem.status().ok()) {
    // The chain checked out, so the head pointer names the last record (or
    // neither exists).
    const uint64_t head_seq = last ? last->sequence : 0;
    absl::StatusOr<std::string> stored = db_.Get(kHeadMacKey);
    RETURN_IF_ERROR(absl::IsNotFound(stored.status()) ? absl::OkStatus() : stored.status());
    if (!stored.ok()) {
      // None: written by a release without the MAC, or removed. The start
      // notes an unsigned tail as unchecked (NoteUnsignedTailAtOpen) rather
      // than refuse, so that an upgrade after a crash still starts.
      if (head_seq > last_checkpoint_seq) head_mac_at_open_ = HeadMacAtOpen::kAbsent;
    } else {
      // kcv (16 hex) || be64 sequence (16 hex) || MAC (64 hex).
      const bool readable = stored->size() == 96 && IsLowerHex(*stored);
      uint64_t mac_seq = 0;
      absl::StatusOr<Bytes> got = absl::DataLossError("no MAC");
      if (readable) {
        for (char ch : stored->substr(16, 16)) {
          mac_seq = (mac_seq << 4) | static_cast<uint64_t>(ch <= '9' ? ch - '0' : ch - 'a' + 10);
        }
        got = HexDecode(stored->substr(32), "head MAC");
      }
      const std::string kcv = HeadMacKeyCheckValue(*options_.head_mac_key);
      // The record the MAC was written with: the head, or an earlier one (a
      // release without the MAC wrote the later ones), as stored now.
      absl::StatusOr<AuditRecord> at_mac = absl::NotFoundError("none");
      if (readable && got.ok() && mac_seq > 0 && mac_seq <= head_seq) {
        absl::StatusOr<std::string> v = db_.Get(RecordKey(mac_seq));
        if (!v.ok() && !absl::IsNotFound(v.status())) return v.status();
        if (v.ok()) at_mac = audit_internal::ParseRecordLine(*v);
      }
      if (!readable || !got.ok() || mac_seq == 0) {
        problem.Report(last_checkpoint_seq + 1, "the stored head MAC cannot be read");
      } else if (mac_seq > head_seq) {
        problem.Report(head_seq + 1, absl::StrCat("the head MAC is of record ", mac_seq,
                                                  ", past the stored head: records after ",
                                                  head_seq, " were removed"));
      } else if (stored->substr(0, 16) != kcv) {
        problem.Report(last_checkpoint_seq + 1,
                       absl::StrCat("the head MAC was made with another key (check value ",
                                    stored->substr(0, 16), "; the HSM's key now: ", kcv,
                                    "): the audit head MAC key in the HSM was replaced"));
      } else {
        const bool record_ok = at_mac.ok() && at_mac->sequence == mac_seq &&
                               ComputeRecordHash(*at_mac) == at_mac->hash;
        const Bytes want =
            record_ok ? HeadMac(*options_.head_mac_key, mac_seq, at_mac->hash) : Bytes();
        if (want.empty() || want.size() != got->size() ||
            CRYPTO_memcmp(want.data(), got->data(), want.size()) != 0) {
          problem.Report(
              std::min(mac_seq, last_checkpoint_seq + 1),
              mac_seq == head_seq
                  ? std::string("the head pointer's MAC does not verify: the records are not "
                                "those written with it")
                  : absl::StrCat("the head MAC of record ", mac_seq,
                                 " does not verify against that record: the records are not "
                                 "those written with it"));
        } else if (mac_seq == head_seq) {
          head_mac_at_open_ = HeadMacAtOpen::kVerified;
          head_mac_verified_through_ = head_seq;
        } else {
          // Records after mac_seq were written without updating the MAC (a
          // release without it), or appended by someone without its key.
          head_mac_at_open_ = HeadMacAtOpen::kStale;
          head_mac_verified_through_ = mac_seq;
        }
      }
    }
  }

  // The anchor outside the database: the log still holds the record it
  // names, as it was. The head MAC cannot tell an earlier head (with the
  // earlier MAC) from the latest one; the anchor can.
  if (options_.anchor != nullptr) {
    ASSIGN_OR_RETURN(std::optional<AuditHead> anchored, options_.anchor->Read());
    if (anchored.has_value()) {
      {
        std::lock_guard<std::mutex> lock(anchor_mu_);
        anchored_sequence_ = anchored->sequence;
      }
      const uint64_t head_seq = last ? last->sequence : 0;
      absl::StatusOr<AuditRecord> at = absl::NotFoundError("none");
      if (anchored->sequence <= head_seq) {
        absl::StatusOr<std::string> v = db_.Get(RecordKey(anchored->sequence));
        if (!v.ok() && !absl::IsNotFound(v.status())) return v.status();
        if (v.ok()) at = audit_internal::ParseRecordLine(*v);
      }
      if (anchored->sequence > head_seq) {
        problem.Report(head_seq + 1,
                       absl::StrCat("the log ends at record ", head_seq,
                                    " but the HSM's audit anchor names record ", anchored->sequence,
                                    ": records ", head_seq + 1, "..", anchored->sequence,
                                    " were removed (the database was rolled back or replaced)"));
      } else if (!at.ok() || at->sequence != anchored->sequence ||
                 ComputeRecordHash(*at) != at->hash || at->hash != anchored->hash) {
        problem.Report(
            anchored->sequence,
            absl::StrCat("record ", anchored->sequence,
                         " is not the one the HSM's audit anchor names (hash ",
                         HexEncode(anchored->hash), "): the database was rolled back or replaced"));
      }
    }
  }

  if (!problem.status().ok()) {
    head_mac_at_open_ = HeadMacAtOpen::kNotChecked;
    // Opened anyway (forensics): no MAC is written over what was found, so
    // that the next start does not vouch for it.
    write_head_mac_ = false;
    if (!options_.open_despite_broken_chain) return problem.status();
    if (start > 1 && last_seq < start) {
      // Read from the latest checkpoint only, and nothing from it on is
      // stored: the records before it are, and a head of 0 would append
      // over record 1.
      return absl::DataLossError(
          absl::StrCat(problem.status().message(),
                       "; cannot open even for forensics: the records from the "
                       "latest checkpoint (",
                       start, ") on are missing, so the head is unknown"));
    }
    if (last_key_seq > last_seq) {
      // The next append would overwrite the unreadable record: keep it as evidence.
      return absl::DataLossError(absl::StrCat(
          problem.status().message(), "; cannot open even for forensics: the last stored "
          "record (", last_key_seq, ") is unreadable"));
    }
    LogError("audit.chain_broken", {{"error", std::string(problem.status().message())}});
    integrity_at_open_ = problem.status();
  }

  std::lock_guard<std::mutex> lock(mu_);
  head_ = last.value_or(AuditHead{0, GenesisHash()});
  for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it) {
    if (it->first <= head_.sequence) {
      last_checkpoint_ = it->second;
      break;
    }
  }
  signer_key_stored_ = db_.Get(audit_internal::KeyKey(signer_key_.key_id())).ok();
  assigned_head_ = head_;
  assigned_checkpoint_ = last_checkpoint_;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<AuditRecord>> AuditLog::NoteUnsignedTailAtOpen() {
  uint64_t first = 0, last = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t signed_through = last_checkpoint_ ? last_checkpoint_->sequence : 0;
    // The records after a stale MAC, even under a checkpoint: its key may
    // be one planted in the database, the MAC's cannot be.
    if (head_mac_at_open_ == HeadMacAtOpen::kStale) signed_through = head_mac_verified_through_;
    if (head_.sequence <= signed_through) return std::nullopt;
    first = signed_through + 1;
    last = head_.sequence;
  }
  AuditEntry e;
  e.action = "audit_recovered";
  e.resource = "audit";
  e.decision = AuditDecision::kInfo;
  if (head_mac_at_open_ == HeadMacAtOpen::kVerified && head_mac_verified_through_ == last) {
    e.reason_id = "audit.head_mac_verified_at_start";
    e.reason_detail = absl::StrCat(
        "records ", first, "..", last,
        " were under no signed checkpoint when strongroomd last stopped (not a clean stop); "
        "the head MAC written with record ",
        last, " verified at this start, so no record up to it was changed or added",
        options_.anchor != nullptr
            ? " (records after the HSM's audit anchor, which it reaches, could have been cut off "
              "unseen)"
            : " (a rollback to an earlier head is not detectable)");
  } else if (head_mac_at_open_ == HeadMacAtOpen::kStale) {
    e.reason_id = "audit.unsigned_at_start";
    e.reason_detail = absl::StrCat(
        "the head MAC found at this start is of record ", head_mac_verified_through_,
        " and verified against it, but records ", first, "..", last,
        " were written without updating it (by an older release, or by someone without the "
        "HSM's MAC key); the next checkpoint vouches for them as they were found at this start");
  } else {
    e.reason_id = "audit.unsigned_at_start";
    e.reason_detail = absl::StrCat(
        "records ", first, "..", last,
        " were under no signed checkpoint when strongroomd last stopped (not a clean stop)",
        head_mac_at_open_ == HeadMacAtOpen::kAbsent
            ? " and the head carried no MAC (written by an older release, or removed)"
            : "",
        "; the next checkpoint vouches for them as they were found at this start");
  }
  LogWarning(e.reason_id,
             {{"first", static_cast<int64_t>(first)}, {"last", static_cast<int64_t>(last)}});
  ASSIGN_OR_RETURN(AuditRecord rec, Append(std::move(e)));
  return rec;
}

absl::StatusOr<AuditCheckpoint> AuditLog::SignHead(uint64_t sequence, const Bytes& hash,
                                                   rocksdb::WriteBatch& batch) {
  AuditCheckpoint c;
  c.sequence = sequence;
  c.head_hash = hash;
  c.time_unix_us = absl::ToUnixMicros(clock_.Now());
  c.key_id = signer_key_.key_id();
  Bytes message = CheckpointSignedMessage(c);
  ASSIGN_OR_RETURN(c.signature, signer_.Sign(message));
  if (!signer_key_.Verify(message, c.signature).ok()) {
    return absl::InternalError(absl::StrCat("checkpoint signer returned a signature that "
                                            "does not verify under its key ",
                                            c.key_id));
  }
  batch.Put(CheckpointKey(sequence), audit_internal::CheckpointLine(c));
  if (!signer_key_stored_) {
    batch.Put(audit_internal::KeyKey(c.key_id), audit_internal::KeyLine(signer_key_));
  }
  return c;
}

absl::Status AuditLog::AwaitCommit(std::unique_lock<std::mutex>& lock,
                                   const std::shared_ptr<PendingBatch>& mine) {
  while (!mine->outcome->done) {
    if (writing_ != nullptr) {
      mine->cv.wait(lock);
      continue;
    }
    // No write in flight and `mine` is not done: batches are written in
    // order, so `mine` is the open batch. This caller writes it.
    std::shared_ptr<PendingBatch> b = std::move(open_);
    writing_ = b;
    open_ = std::make_shared<PendingBatch>();
    if (b->records > 0) {
      b->batch.Put(std::string(kHeadKey),
                   audit_internal::HeadLine({b->head.sequence, b->head.hash}));
      if (options_.head_mac_key != nullptr) {
        if (write_head_mac_) {
          const Bytes mac = HeadMac(*options_.head_mac_key, b->head.sequence, b->head.hash);
          b->batch.Put(std::string(kHeadMacKey),
                       HeadMacValue(*options_.head_mac_key, b->head.sequence, mac));
        } else {
          b->batch.Delete(std::string(kHeadMacKey));
        }
      }
    }
    lock.unlock();
    absl::Status s;
    // An exception from the write (std::bad_alloc inside RocksDB) must not
    // leave `writing_` set: every later caller would wait on it forever. It
    // fails this batch; and since nothing says whether the batch reached
    // the database, the log takes no more records until it is reopened and
    // re-reads its chain (reusing the sequences could fork it).
    bool threw = false;
    try {
      s = options_.write_batch_for_testing ? options_.write_batch_for_testing(b->batch)
                                           : db_.Write(b->batch);
    } catch (const std::exception& e) {
      threw = true;
      s = absl::InternalError(absl::StrCat("audit write threw: ", e.what()));
    } catch (...) {
      threw = true;
      s = absl::InternalError("audit write threw a non-standard exception");
    }
    lock.lock();
    if (threw) {
      broken_ = absl::StrCat(
          "audit log: a write ended in an exception (", s.message(),
          ") and may or may not have reached the database; no record is appended until the "
          "server restarts and re-reads the chain");
    }
    writing_.reset();
    FinishCommit(*b, s);
    // `mine` is `b`, now done. Wake its callers and one caller of the next
    // batch (to take its turn to write) with the mutex released, so that
    // they do not wake only to block on it.
    const absl::Status result = b->outcome->status;
    const std::shared_ptr<PendingBatch> next = open_;
    lock.unlock();
    b->cv.notify_all();
    next->cv.notify_one();
    if (result.ok() && b->checkpoint.has_value()) {
      // Records are durable whatever the anchor does: a failure leaves it
      // behind (a longer stretch a rollback could remove unseen), not wrong.
      absl::Status a = AdvanceAnchor({b->checkpoint->sequence, b->checkpoint->head_hash});
      if (!a.ok()) {
        LogError("audit.anchor_write_failed",
                 {{"sequence", b->checkpoint->sequence}, {"error", std::string(a.message())}});
      }
    }
    return result;
  }
  return mine->outcome->status;
}

void AuditLog::FinishCommit(PendingBatch& b, const absl::Status& s) {
  b.outcome->done = true;
  b.outcome->status = s;
  if (s.ok()) {
    if (b.records > 0) head_ = b.head;
    if (b.checkpoint.has_value()) {
      last_checkpoint_ = b.checkpoint;
      signer_key_stored_ = true;
    }
    if (checkpoint_batch_.get() == &b) checkpoint_batch_.reset();
    return;
  }
  // The open batch chains onto the records that were just lost: it fails
  // too, and the chain continues from the last durable record.
  LogError("audit.write_failed", {{"first_sequence", head_.sequence + 1},
                                  {"error", std::string(s.message())}});
  if (open_->records > 0 || open_->checkpoint.has_value()) {
    // Unavailable whatever the write's error, as for a record whose `after`
    // is refused (CheckAfter): the caller's record was not written.
    open_->outcome->done = true;
    open_->outcome->status = absl::UnavailableError(absl::StrCat(
        "audit record not written: the write of the records ahead of it failed: ", s.message()));
    open_->cv.notify_all();
    open_ = std::make_shared<PendingBatch>();
  }
  assigned_head_ = head_;
  assigned_checkpoint_ = last_checkpoint_;
  checkpoint_batch_.reset();
}

AuditRecord AuditLog::AppendLocked(AuditEntry entry) {
  AuditRecord r;
  r.sequence = assigned_head_.sequence + 1;
  r.time_unix_us = absl::ToUnixMicros(clock_.Now());
  r.entry = std::move(entry);
  r.prev_hash = assigned_head_.hash;
  r.hash = ComputeRecordHash(r);

  PendingBatch& batch = *open_;
  batch.batch.Put(RecordKey(r.sequence), audit_internal::RecordLine(r));
  batch.records++;
  batch.head = AuditHead{r.sequence, r.hash};
  assigned_head_ = batch.head;
  uint64_t since = r.sequence - (assigned_checkpoint_ ? assigned_checkpoint_->sequence : 0);
  if (options_.checkpoint_every > 0 && since >= options_.checkpoint_every) {
    absl::StatusOr<AuditCheckpoint> c = SignHead(r.sequence, r.hash, batch.batch);
    if (c.ok()) {
      batch.checkpoint = *c;
      assigned_checkpoint_ = *std::move(c);
      checkpoint_batch_ = open_;
    } else {
      // The decision is recorded regardless; the next append tries again.
      LogWarning("audit.checkpoint_failed", {{"sequence", r.sequence},
                                             {"error", std::string(c.status().message())}});
    }
  }
  return r;
}

absl::Status AuditLog::CheckAfter(const Ticket* after) {
  if (after == nullptr || after->outcome_ == nullptr || !after->outcome_->done ||
      after->outcome_->status.ok()) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(absl::StrCat(
      "audit: record ", after->sequence_,
      ", which this one follows, was not written: ", after->outcome_->status.message()));
}

absl::StatusOr<AuditRecord> AuditLog::Append(AuditEntry entry, const Ticket* after) {
  RETURN_IF_ERROR(ValidateAuditEntry(entry));
  std::unique_lock<std::mutex> lock(mu_);
  if (!broken_.empty()) return absl::InternalError(broken_);
  RETURN_IF_ERROR(CheckAfter(after));
  AuditRecord r = AppendLocked(std::move(entry));
  // Still open or in flight, the `after` record is in this batch or the one
  // ahead of it, whose failure fails this one too (FinishCommit).
  const std::shared_ptr<PendingBatch> batch = open_;
  RETURN_IF_ERROR(AwaitCommit(lock, batch));
  return r;
}

absl::StatusOr<AuditLog::Ticket> AuditLog::AppendUnsynced(AuditEntry entry, const Ticket* after) {
  RETURN_IF_ERROR(ValidateAuditEntry(entry));
  std::lock_guard<std::mutex> lock(mu_);
  if (!broken_.empty()) return absl::InternalError(broken_);
  RETURN_IF_ERROR(CheckAfter(after));
  Ticket t;
  t.sequence_ = AppendLocked(std::move(entry)).sequence;
  t.outcome_ = open_->outcome;
  return t;
}

absl::Status AuditLog::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  // The open batch, or else the one in flight: batches are written in
  // order, so once the last one is done every earlier one is.
  std::shared_ptr<PendingBatch> batch =
      open_->records > 0 || open_->checkpoint.has_value() ? open_ : writing_;
  if (batch == nullptr) return absl::OkStatus();
  return AwaitCommit(lock, batch);
}

absl::StatusOr<AuditCheckpoint> AuditLog::Checkpoint() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!broken_.empty()) return absl::InternalError(broken_);
  if (assigned_head_.sequence == 0) {
    return absl::FailedPreconditionError("audit log is empty: nothing to checkpoint");
  }
  if (assigned_checkpoint_.has_value() &&
      assigned_checkpoint_->sequence == assigned_head_.sequence) {
    AuditCheckpoint c = *assigned_checkpoint_;
    if (checkpoint_batch_ != nullptr) {
      std::shared_ptr<PendingBatch> pending = checkpoint_batch_;
      RETURN_IF_ERROR(AwaitCommit(lock, pending));
    }
    if (lock.owns_lock()) lock.unlock();
    RETURN_IF_ERROR(AdvanceAnchor({c.sequence, c.head_hash}));
    return c;
  }
  std::shared_ptr<PendingBatch> batch = open_;
  ASSIGN_OR_RETURN(AuditCheckpoint c,
                   SignHead(assigned_head_.sequence, assigned_head_.hash, batch->batch));
  batch->checkpoint = c;
  assigned_checkpoint_ = c;
  checkpoint_batch_ = batch;
  RETURN_IF_ERROR(AwaitCommit(lock, batch));
  if (lock.owns_lock()) lock.unlock();
  RETURN_IF_ERROR(AdvanceAnchor({c.sequence, c.head_hash}));
  return c;
}

absl::Status AuditLog::AdvanceAnchor(const AuditHead& mark) {
  if (options_.anchor == nullptr) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(anchor_mu_);
  if (mark.sequence <= anchored_sequence_) return absl::OkStatus();
  absl::Status s = options_.anchor->Write(mark);
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat("audit anchor not moved to record ", mark.sequence,
                                               ": ", s.message()));
  }
  anchored_sequence_ = mark.sequence;
  return absl::OkStatus();
}

AuditHead AuditLog::head() const {
  std::lock_guard<std::mutex> lock(mu_);
  return head_;
}

}  // namespace strongroom::kms
