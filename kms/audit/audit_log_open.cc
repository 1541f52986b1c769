// AuditLog's start: Recover() re-checks the stored chain, its checkpoints,
// the head MAC and the HSM's anchor (audit_log.h, "Start-up"), and
// NoteUnsignedTailAtOpen() records what the start could not vouch for.
#include <openssl/crypto.h>

#include <algorithm>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "base/hex_text.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/audit/audit_json.h"
#include "kms/audit/audit_log.h"
#include "kms/audit/audit_storage.h"

namespace strongroom::kms {

using audit_internal::HeadMac;
using audit_internal::HeadMacKeyCheckValue;
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

// The hash of stored record `seq` when it is there, reads as that record and
// its hash recomputes from its contents; nullopt otherwise. The database's
// errors other than NotFound.
absl::StatusOr<std::optional<Bytes>> IntactRecordHash(const storage::Database& db, uint64_t seq) {
  absl::StatusOr<std::string> v = db.Get(RecordKey(seq));
  if (absl::IsNotFound(v.status())) return std::nullopt;
  RETURN_IF_ERROR(v.status());
  absl::StatusOr<AuditRecord> r = audit_internal::ParseRecordLine(*v);
  if (!r.ok() || r->sequence != seq || ComputeRecordHash(*r) != r->hash) return std::nullopt;
  return std::move(r->hash);
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
    absl::StatusOr<HeadPointer> h = line.ok() && line->type == LineType::kHead
                                        ? audit_internal::HeadFromJson(line->json)
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
          } else if (!key->Verify(CheckpointSignedMessage(c->second), c->second.signature).ok()) {
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
      std::optional<Bytes> at_mac;
      if (readable && got.ok() && mac_seq > 0 && mac_seq <= head_seq) {
        ASSIGN_OR_RETURN(at_mac, IntactRecordHash(db_, mac_seq));
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
        const Bytes want =
            at_mac.has_value() ? HeadMac(*options_.head_mac_key, mac_seq, *at_mac) : Bytes();
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
    absl::StatusOr<std::optional<AuditHead>> read = options_.anchor->Read();
    // An anchor that holds no readable mark is a finding like a broken
    // chain (a forensic start may still open); the HSM not answering is not.
    if (!read.ok() && !absl::IsDataLoss(read.status())) return read.status();
    if (!read.ok()) {
      problem.Report(1, read.status().message());
    }
    const std::optional<AuditHead> anchored = read.ok() ? *read : std::nullopt;
    if (anchored.has_value()) {
      {
        std::lock_guard<std::mutex> lock(anchor_mu_);
        anchored_sequence_ = anchored->sequence;
      }
      const uint64_t head_seq = last ? last->sequence : 0;
      std::optional<Bytes> at;
      if (anchored->sequence <= head_seq) {
        ASSIGN_OR_RETURN(at, IntactRecordHash(db_, anchored->sequence));
      }
      if (anchored->sequence > head_seq) {
        problem.Report(head_seq + 1,
                       absl::StrCat("the log ends at record ", head_seq,
                                    " but the HSM's audit anchor names record ", anchored->sequence,
                                    ": records ", head_seq + 1, "..", anchored->sequence,
                                    " were removed (the database was rolled back or replaced)"));
      } else if (at != anchored->hash) {
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
      return absl::DataLossError(absl::StrCat(problem.status().message(),
                                              "; cannot open even for forensics: the last stored "
                                              "record (",
                                              last_key_seq, ") is unreadable"));
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

}  // namespace strongroom::kms
