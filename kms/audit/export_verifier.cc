#include "kms/audit/export_verifier.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/bytes.h"
#include "kms/audit/audit_json.h"
#include "kms/audit/checkpoint_signer.h"

namespace strongroom::kms {
namespace {

using audit_internal::ExportHeader;
using audit_internal::ExportKey;
using audit_internal::LineType;
using audit_internal::ParsedLine;

// Reads one '\n'-terminated line of at most `max` bytes. Returns false at end
// of input with nothing read. *complete is false when the input ended before
// a newline; *too_long when the line passed `max` (the rest is not read).
bool ReadLine(std::istream& in, size_t max, std::string* line, bool* complete,
              bool* too_long) {
  line->clear();
  *complete = false;
  *too_long = false;
  std::streambuf* buf = in.rdbuf();
  if (buf == nullptr) return false;
  for (;;) {
    int c = buf->sbumpc();
    if (c == std::char_traits<char>::eof()) return !line->empty();
    if (c == '\n') {
      *complete = true;
      return true;
    }
    if (line->size() == max) {
      *too_long = true;
      return true;
    }
    line->push_back(static_cast<char>(c));
  }
}

class ExportVerifier {
 public:
  explicit ExportVerifier(const VerifyExportOptions& options) : options_(options) {}

  AuditVerifyResult Run(std::istream& in) {
    result_.keys_pinned = !options_.trusted_public_keys_pem.empty();
    for (size_t i = 0; i < options_.trusted_public_keys_pem.size(); ++i) {
      absl::StatusOr<CheckpointVerifyKey> key =
          CheckpointVerifyKey::FromPem(options_.trusted_public_keys_pem[i]);
      if (!key.ok()) {
        Fail(0, absl::StrCat("trusted public key #", i + 1, ": ", key.status().message()));
        return result_;
      }
      keys_.emplace(key->key_id(), *key);
    }
    std::string line;
    bool complete = false;
    bool too_long = false;
    while (!failed_ && ReadLine(in, audit_internal::kMaxLineBytes, &line, &complete,
                                &too_long)) {
      ++line_no_;
      if (too_long) {
        Fail(expected_, absl::StrCat("line is longer than ", audit_internal::kMaxLineBytes,
                                     " bytes"));
      } else if (!complete) {
        Fail(Unvouched(), absl::StrCat("export is truncated: line ", line_no_,
                                       " has no line end"));
      } else {
        OnLine(line);
      }
    }
    if (failed_) return result_;
    if (state_ == State::kHeader) {
      Fail(1, "export is empty");
    } else if (state_ != State::kDone) {
      ++line_no_;
      Fail(Unvouched(), absl::StrCat("export ends after ", Describe(),
                                     " without a trailer (truncated)"));
    } else {
      result_.ok = true;
      result_.line = 0;
    }
    return result_;
  }

 private:
  enum class State { kHeader, kKeys, kBody, kDone };

  void Fail(uint64_t sequence, std::string reason) {
    failed_ = true;
    result_.ok = false;
    result_.first_bad_sequence = sequence;
    result_.reason = std::move(reason);
    result_.line = line_no_;
  }
  // The first sequence no valid signature vouches for.
  uint64_t Unvouched() const { return result_.verified_through + 1; }
  std::string Describe() const {
    return result_.records == 0 ? std::string("no records")
                                : absl::StrCat("record ", result_.last_sequence);
  }
  void Vouch(uint64_t through, const std::string& key_id) {
    result_.verified_through = through;
    if (std::find(result_.signing_key_ids.begin(), result_.signing_key_ids.end(), key_id) ==
        result_.signing_key_ids.end()) {
      result_.signing_key_ids.push_back(key_id);
    }
  }
  const CheckpointVerifyKey* FindKey(const std::string& key_id, std::string* why) const {
    auto it = keys_.find(key_id);
    if (it != keys_.end()) return &it->second;
    *why = result_.keys_pinned
               ? absl::StrCat("is signed by key ", key_id, ", which is not a trusted key")
               : absl::StrCat("is signed by key ", key_id, ", which the export does not list");
    return nullptr;
  }

  void OnLine(absl::string_view text) {
    if (state_ == State::kDone) {
      Fail(Unvouched(), absl::StrCat("line ", line_no_, " follows the trailer"));
      return;
    }
    absl::StatusOr<ParsedLine> parsed = audit_internal::ParseLine(text);
    if (!parsed.ok()) {
      // Without a type the line is taken for the record expected here.
      Fail(expected_, absl::StrCat("line ", line_no_, ": ", parsed.status().message()));
      return;
    }
    if (state_ == State::kHeader && parsed->type != LineType::kHeader) {
      Fail(expected_, "export does not start with a header line");
      return;
    }
    switch (parsed->type) {
      case LineType::kHeader: return OnHeader(parsed->json);
      case LineType::kKey: return OnKey(parsed->json);
      case LineType::kRecord: return OnRecord(parsed->json);
      case LineType::kCheckpoint: return OnCheckpoint(parsed->json);
      case LineType::kTrailer: return OnTrailer(parsed->json);
      case LineType::kHead:
        Fail(expected_, absl::StrCat("line ", line_no_, ": a head line has no place in an export"));
        return;
    }
  }

  void OnHeader(const nlohmann::json& j) {
    if (state_ != State::kHeader) {
      Fail(expected_, absl::StrCat("line ", line_no_, ": a second header"));
      return;
    }
    absl::StatusOr<ExportHeader> h = audit_internal::HeaderFromJson(j);
    if (!h.ok()) {
      Fail(expected_, std::string(h.status().message()));
      return;
    }
    result_.from_sequence = h->from_sequence;
    result_.verified_through = h->from_sequence - 1;
    expected_ = h->from_sequence;
    state_ = State::kKeys;
    if (options_.known_sequence > 0 && h->from_sequence > options_.known_sequence + 1) {
      Fail(expected_,
           absl::StrCat("export starts at record ", h->from_sequence, ", after the known head ",
                        options_.known_sequence, ": export from ", options_.known_sequence + 1,
                        " or earlier to check it"));
    }
  }

  // The known head, where the export shows it: record `sequence` has `hash`.
  // False (and failed) when it differs.
  bool CheckKnown(uint64_t sequence, const Bytes& hash, absl::string_view where) {
    if (options_.known_sequence == 0 || sequence != options_.known_sequence) return true;
    result_.known_head_checked = true;
    if (HexEncode(hash) == options_.known_hash_hex) return true;
    Fail(sequence, absl::StrCat(where, ": record ", sequence, " has hash ", HexEncode(hash),
                                ", not the known head's ", options_.known_hash_hex,
                                " (the log was rewritten from there)"));
    return false;
  }

  void OnKey(const nlohmann::json& j) {
    if (state_ != State::kKeys) {
      Fail(Unvouched(), absl::StrCat("line ", line_no_, ": a key line after the records began"));
      return;
    }
    absl::StatusOr<ExportKey> k = audit_internal::KeyFromJson(j);
    absl::StatusOr<CheckpointVerifyKey> key =
        k.ok() ? CheckpointVerifyKey::FromPem(k->public_key_pem)
               : absl::StatusOr<CheckpointVerifyKey>(k.status());
    if (!key.ok()) {
      Fail(Unvouched(), absl::StrCat("key line ", line_no_, ": ", key.status().message()));
      return;
    }
    if (key->pem() != k->public_key_pem || key->key_id() != k->key_id) {
      Fail(Unvouched(), absl::StrCat("key line ", line_no_,
                                     ": key_id is not the SHA-256 of the key, or the PEM is "
                                     "not in canonical form"));
      return;
    }
    if (!listed_keys_.insert(key->key_id()).second) {
      Fail(Unvouched(), absl::StrCat("key line ", line_no_, ": key ", key->key_id(),
                                     " is listed twice"));
      return;
    }
    if (!result_.keys_pinned) keys_.emplace(key->key_id(), *key);
  }

  void OnRecord(const nlohmann::json& j) {
    state_ = State::kBody;
    absl::StatusOr<AuditRecord> r = audit_internal::RecordFromJson(j);
    if (!r.ok()) {
      Fail(expected_, absl::StrCat("record line ", line_no_, ": ", r.status().message()));
      return;
    }
    if (r->sequence != expected_) {
      Fail(expected_,
           r->sequence > expected_
               ? absl::StrCat("record ", expected_, " is missing (record ", r->sequence,
                              " follows ", Describe(), ")")
               : absl::StrCat("record ", r->sequence, " is repeated or out of order (record ",
                              expected_, " expected)"));
      return;
    }
    if (ComputeRecordHash(*r) != r->hash) {
      Fail(r->sequence, absl::StrCat("record ", r->sequence,
                                     ": its hash does not match its contents"));
      return;
    }
    if (result_.records == 0) {
      first_prev_hash_ = r->prev_hash;
      if (r->sequence == 1 && r->prev_hash != GenesisHash()) {
        Fail(1, "record 1: prev_hash is not the genesis hash (32 zero bytes)");
        return;
      }
      if (r->sequence > 1 &&
          !CheckKnown(r->sequence - 1, r->prev_hash, absl::StrCat("record ", r->sequence))) {
        return;
      }
    } else if (r->prev_hash != last_hash_) {
      Fail(r->sequence, absl::StrCat("record ", r->sequence,
                                     ": prev_hash does not match the hash of record ",
                                     r->sequence - 1));
      return;
    }
    if (!CheckKnown(r->sequence, r->hash, absl::StrCat("record ", r->sequence))) return;
    last_hash_ = r->hash;
    result_.last_sequence = r->sequence;
    result_.head_hash = HexEncode(r->hash);
    ++result_.records;
    expected_ = r->sequence + 1;
  }

  void OnCheckpoint(const nlohmann::json& j) {
    state_ = State::kBody;
    absl::StatusOr<AuditCheckpoint> c = audit_internal::CheckpointFromJson(j);
    if (!c.ok()) {
      Fail(Unvouched(), absl::StrCat("checkpoint line ", line_no_, ": ", c.status().message()));
      return;
    }
    std::string where = absl::StrCat("checkpoint at sequence ", c->sequence, " (line ",
                                     line_no_, ")");
    if (c->sequence >= expected_) {
      // A checkpoint ahead of the records: the ones it covers are missing.
      Fail(expected_, absl::StrCat("record ", expected_, " is missing (", where, " follows ",
                                   Describe(), ")"));
      return;
    }
    if (result_.records == 0 || c->sequence != result_.last_sequence) {
      Fail(Unvouched(), absl::StrCat(where, " does not follow its record (it follows ",
                                     Describe(), ")"));
      return;
    }
    if (last_checkpoint_ == c->sequence) {
      Fail(Unvouched(), absl::StrCat(where, " is repeated"));
      return;
    }
    if (c->head_hash != last_hash_) {
      Fail(Unvouched(), absl::StrCat(where, ": head hash does not match record ", c->sequence));
      return;
    }
    std::string why;
    const CheckpointVerifyKey* key = FindKey(c->key_id, &why);
    if (key == nullptr) {
      Fail(Unvouched(), absl::StrCat(where, " ", why));
      return;
    }
    if (!key->Verify(CheckpointSignedMessage(*c), c->signature).ok()) {
      Fail(Unvouched(), absl::StrCat(where, ": signature does not verify under key ",
                                     c->key_id));
      return;
    }
    last_checkpoint_ = c->sequence;
    ++result_.checkpoints;
    Vouch(c->sequence, c->key_id);
  }

  void OnTrailer(const nlohmann::json& j) {
    absl::StatusOr<AuditExportTrailer> t = audit_internal::TrailerFromJson(j);
    if (!t.ok()) {
      Fail(Unvouched(), absl::StrCat("trailer: ", t.status().message()));
      return;
    }
    std::string why;
    const CheckpointVerifyKey* key = FindKey(t->key_id, &why);
    if (key == nullptr) {
      Fail(Unvouched(), absl::StrCat("the trailer ", why));
      return;
    }
    if (!key->Verify(TrailerSignedMessage(*t), t->signature).ok()) {
      Fail(Unvouched(), absl::StrCat("trailer: signature does not verify under key ", t->key_id));
      return;
    }
    // The trailer is authentic: every difference is a defect of the body.
    uint64_t seen_last = expected_ - 1;
    if (t->from_sequence != result_.from_sequence) {
      Fail(Unvouched(), absl::StrCat("trailer covers records from ", t->from_sequence,
                                     " but the header says ", result_.from_sequence));
    } else if (t->last_sequence > seen_last) {
      Fail(Unvouched(), absl::StrCat("export ends after ", Describe(),
                                     " but its trailer covers records through ",
                                     t->last_sequence, " (truncated)"));
    } else if (t->last_sequence < seen_last) {
      Fail(Unvouched(), absl::StrCat("export has records after ", t->last_sequence,
                                     ", the last its trailer covers"));
    } else if (t->record_count != result_.records ||
               t->record_count != t->last_sequence - t->from_sequence + 1) {
      Fail(Unvouched(), absl::StrCat("trailer counts ", t->record_count, " records, the export has ",
                                     result_.records));
    } else if (t->first_prev_hash != (result_.records > 0 ? first_prev_hash_ : t->head_hash) ||
               (result_.records > 0 && t->head_hash != last_hash_)) {
      Fail(Unvouched(), "trailer's first_prev_hash or head_hash does not match the records");
    } else if (t->checkpoint_count != result_.checkpoints ||
               t->last_checkpoint_sequence != last_checkpoint_) {
      Fail(Unvouched(), absl::StrCat("trailer counts ", t->checkpoint_count,
                                     " checkpoints (last at ", t->last_checkpoint_sequence,
                                     "), the export has ", result_.checkpoints, " (last at ",
                                     last_checkpoint_, ")"));
    } else if (result_.records == 0 && !CheckKnown(t->last_sequence, t->head_hash, "trailer")) {
      return;
    } else if (options_.known_sequence > t->last_sequence) {
      Fail(Unvouched(),
           absl::StrCat("the log ends at record ", t->last_sequence, ", before the known head ",
                        options_.known_sequence, " (truncated, or an older export)"));
    } else {
      if (result_.records == 0) result_.head_hash = HexEncode(t->head_hash);
      result_.exported_at_unix_us = t->exported_at_unix_us;
      Vouch(t->last_sequence, t->key_id);
      state_ = State::kDone;
    }
  }

  const VerifyExportOptions& options_;
  AuditVerifyResult result_;
  std::map<std::string, CheckpointVerifyKey> keys_;  // usable for signatures
  std::set<std::string> listed_keys_;                // key lines seen
  State state_ = State::kHeader;
  bool failed_ = false;
  size_t line_no_ = 0;
  uint64_t expected_ = 1;          // the next record's sequence
  uint64_t last_checkpoint_ = 0;
  Bytes first_prev_hash_;
  Bytes last_hash_;
};

}  // namespace

AuditVerifyResult VerifyExport(std::istream& in, const VerifyExportOptions& options) {
  return ExportVerifier(options).Run(in);
}

namespace {

// `text` with control characters as \xNN: a reason can quote the export,
// and a terminal must not run what it holds (a carriage return and an
// erase-line could print "OK" over "FAILED").
std::string Printable(absl::string_view text) {
  std::string out;
  for (const char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(u, absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string FormatAuditVerifyResult(const AuditVerifyResult& r) {
  std::string out;
  auto key_list = [&] {
    std::string s;
    for (const std::string& id : r.signing_key_ids) {
      absl::StrAppend(&s, s.empty() ? "" : ", ", id.substr(0, 16));
    }
    return s.empty() ? std::string("none") : s;
  };
  if (r.ok) {
    absl::StrAppend(&out, "audit export OK: ");
    if (r.records == 0) {
      absl::StrAppend(&out, "no records after sequence ", r.from_sequence - 1);
    } else {
      absl::StrAppend(&out, "records ", r.from_sequence, "..", r.last_sequence, " (", r.records,
                      "), ", r.checkpoints, " checkpoint", r.checkpoints == 1 ? "" : "s");
    }
    absl::StrAppend(&out, "\n  head hash ", r.head_hash, "\n  exported at ",
                    absl::FormatTime(absl::RFC3339_sec, absl::FromUnixMicros(r.exported_at_unix_us),
                                     absl::UTCTimeZone()),
                    "\n  signed by ", key_list(), r.keys_pinned ? " (trusted key)" : "", "\n");
    if (r.known_head_checked) absl::StrAppend(&out, "  holds the known head\n");
  } else {
    absl::StrAppend(&out, "audit export FAILED at sequence ", r.first_bad_sequence);
    if (r.line > 0) absl::StrAppend(&out, " (line ", r.line, ")");
    absl::StrAppend(&out, ": ", Printable(r.reason), "\n");
    if (r.records > 0) {
      absl::StrAppend(&out, "  records ", r.from_sequence, "..", r.last_sequence,
                      " are intact as a chain\n");
    }
    if (r.verified_through >= r.from_sequence && r.from_sequence > 0) {
      absl::StrAppend(&out, "  signatures vouch for records ", r.from_sequence, "..",
                      r.verified_through, "; later records are not proven authentic\n");
    } else {
      absl::StrAppend(&out, "  no valid signature vouches for any record\n");
    }
  }
  if (!r.keys_pinned) {
    absl::StrAppend(&out,
                    "  WARNING: keys not pinned: the signing keys were taken from the export "
                    "itself, which proves consistency, not who signed; pass the broker's "
                    "checkpoint public key to pin them\n");
  }
  return out;
}

}  // namespace strongroom::kms
