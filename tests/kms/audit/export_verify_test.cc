// VerifyExport against a real export of 12 records with checkpoints at 5 and
// 10, and every kind of tampering: each must fail and name the first bad
// sequence as export_verifier.h defines it.
//
// Line layout of the export under test:
//   0 header, 1 key, 2..6 records 1..5, 7 checkpoint 5, 8..12 records 6..10,
//   13 checkpoint 10, 14..15 records 11..12, 16 trailer.
#include "kms/audit/export_verifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_replace.h"
#include "kms/audit/audit_json.h"
#include "tests/kms/audit/audit_fixture.h"

namespace strongroom::kms::testing {
namespace {

using ::testing::HasSubstr;

class ExportVerifyTest : public AuditLogFixture {
 protected:
  void SetUp() override {
    AuditLogFixture::SetUp();
    AppendN(12);
    text_ = ExportText();
    lines_ = SplitLines(text_);
    ASSERT_EQ(lines_.size(), 17u);
  }

  // Index of the line of `type` ("record", "checkpoint") for `sequence`.
  size_t Find(const std::string& type, uint64_t sequence) const {
    for (size_t i = 0; i < lines_.size(); ++i) {
      nlohmann::json j = nlohmann::json::parse(lines_[i]);
      if (j["type"] == type && j.contains("sequence") && j["sequence"] == sequence) return i;
    }
    ADD_FAILURE() << "no " << type << " line for " << sequence;
    return 0;
  }
  size_t Rec(uint64_t s) const { return Find("record", s); }
  size_t Ckpt(uint64_t s) const { return Find("checkpoint", s); }

  // Fails unless `lines` fail verification at `first_bad`.
  void ExpectBad(const std::vector<std::string>& lines, uint64_t first_bad,
                 const std::string& reason_part = "") {
    ExpectBadText(JoinLines(lines), first_bad, reason_part);
  }
  void ExpectBadText(const std::string& text, uint64_t first_bad,
                     const std::string& reason_part = "") {
    for (const VerifyExportOptions& options : {Pinned(), VerifyExportOptions{}}) {
      AuditVerifyResult v = VerifyText(text, options);
      EXPECT_FALSE(v.ok);
      EXPECT_EQ(v.first_bad_sequence, first_bad) << v.reason;
      EXPECT_THAT(v.reason, HasSubstr(reason_part));
      EXPECT_LT(v.verified_through, first_bad);
    }
  }

  std::string text_;
  std::vector<std::string> lines_;
};

// Flips one character of the value of `member` in `line` to another
// character of the same kind (digit, letter), so the line stays JSON.
std::string EditValueByte(std::string line, const std::string& member) {
  size_t pos = line.find("\"" + member + "\":");
  EXPECT_NE(pos, std::string::npos) << member;
  pos += member.size() + 3;
  if (line[pos] == '"') {
    size_t end = line.find('"', pos + 1);
    pos = pos + 1 + (end - pos - 1) / 2;  // the middle of the string
  } else {
    while (line[pos + 1] >= '0' && line[pos + 1] <= '9') ++pos;  // last digit
  }
  char& c = line[pos];
  if (c >= '0' && c <= '9') c = c == '9' ? '8' : c + 1;
  else if (c >= 'a' && c <= 'z') c = c == 'a' ? 'b' : c - 1;
  else if (c >= 'A' && c <= 'Z') c = c == 'A' ? 'B' : c - 1;
  else c = c == '-' ? '_' : '-';
  return line;
}

TEST_F(ExportVerifyTest, IntactExportVerifies) {
  AuditVerifyResult v = VerifyText(text_, Pinned());
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.first_bad_sequence, 0u);
  EXPECT_EQ(v.from_sequence, 1u);
  EXPECT_EQ(v.records, 12u);
  EXPECT_EQ(v.last_sequence, 12u);
  EXPECT_EQ(v.checkpoints, 2u);
  EXPECT_EQ(v.verified_through, 12u);
  EXPECT_EQ(v.head_hash, HexEncode(log_->head().hash));
  EXPECT_TRUE(v.keys_pinned);
  EXPECT_EQ(v.signing_key_ids, std::vector<std::string>{signer_->KeyId()});

  std::string summary = FormatAuditVerifyResult(v);
  EXPECT_THAT(summary, HasSubstr("audit export OK: records 1..12 (12), 2 checkpoints"));
  EXPECT_THAT(summary, HasSubstr("(trusted key)"));
  EXPECT_THAT(summary, ::testing::Not(HasSubstr("WARNING")));
}

TEST_F(ExportVerifyTest, UnpinnedKeysVerifyButAreFlagged) {
  AuditVerifyResult v = VerifyText(text_);
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_FALSE(v.keys_pinned);
  EXPECT_THAT(FormatAuditVerifyResult(v), HasSubstr("WARNING: keys not pinned"));
}

// A head verified before must still be in the export: as a record with
// that hash, or as the prev_hash of an export starting right after it.
TEST_F(ExportVerifyTest, AKnownHeadMustStillBeThere) {
  auto hash_of = [&](uint64_t seq) -> std::string {
    return nlohmann::json::parse(lines_[Rec(seq)])["hash"];
  };
  auto known = [&](uint64_t seq, const std::string& hash) {
    VerifyExportOptions o = Pinned();
    o.known_sequence = seq;
    o.known_hash_hex = hash;
    return o;
  };
  std::string other = hash_of(5);
  other[0] = other[0] == '0' ? '1' : '0';
  for (uint64_t seq : {uint64_t{5}, uint64_t{12}}) {
    AuditVerifyResult v = VerifyText(text_, known(seq, hash_of(seq)));
    EXPECT_TRUE(v.ok) << v.reason;
    EXPECT_TRUE(v.known_head_checked);
    EXPECT_THAT(FormatAuditVerifyResult(v), HasSubstr("holds the known head"));
  }
  AuditVerifyResult v = VerifyText(text_, known(5, other));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_sequence, 5u);
  EXPECT_THAT(v.reason, HasSubstr("not the known head's"));
  // An export starting right after the known head links to it.
  const std::string from6 = ExportText(6);
  v = VerifyText(from6, known(5, hash_of(5)));
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_TRUE(v.known_head_checked);
  v = VerifyText(from6, known(5, other));
  EXPECT_FALSE(v.ok);
  EXPECT_THAT(v.reason, HasSubstr("record 6: record 5 has hash"));
  // One starting later cannot show it; one ending before it is too short.
  v = VerifyText(ExportText(8), known(5, hash_of(5)));
  EXPECT_FALSE(v.ok);
  EXPECT_THAT(v.reason, HasSubstr("export starts at record 8, after the known head 5"));
  v = VerifyText(text_, known(13, hash_of(12)));
  EXPECT_FALSE(v.ok);
  EXPECT_THAT(v.reason, HasSubstr("the log ends at record 12, before the known head 13"));
  // Without a known head nothing changes.
  v = VerifyText(text_, Pinned());
  EXPECT_TRUE(v.ok);
  EXPECT_FALSE(v.known_head_checked);
  EXPECT_GT(v.exported_at_unix_us, 0);
  EXPECT_THAT(FormatAuditVerifyResult(v), HasSubstr("exported at 20"));
}

// A reason that quotes the export is printed with its control characters
// escaped: a carriage return and an erase-line cannot print "OK" over
// "FAILED".
TEST_F(ExportVerifyTest, ControlCharactersInAReasonAreEscaped) {
  std::vector<std::string> lines = lines_;
  lines[Rec(3)] = "{\"type\":\"\\r\\u001b[2Kaudit export OK: records 1..12\"}";
  AuditVerifyResult v = VerifyText(JoinLines(lines), Pinned());
  ASSERT_FALSE(v.ok);
  const std::string out = FormatAuditVerifyResult(v);
  for (char c : out) {
    EXPECT_TRUE(c == '\n' || static_cast<unsigned char>(c) >= 0x20) << static_cast<int>(c);
  }
  EXPECT_THAT(out, HasSubstr("audit export FAILED"));
}

struct FieldEdit {
  const char* member;
  uint64_t sequence;  // a record where the member is not empty
};

class RecordFieldEditTest : public ExportVerifyTest,
                            public ::testing::WithParamInterface<FieldEdit> {};

TEST_P(RecordFieldEditTest, EditedFieldIsNamed) {
  const FieldEdit& p = GetParam();
  std::vector<std::string> lines = lines_;
  size_t i = Rec(p.sequence);
  lines[i] = EditValueByte(lines[i], p.member);
  ASSERT_NE(lines[i], lines_[i]);
  ExpectBad(lines, p.sequence);
}

INSTANTIATE_TEST_SUITE_P(
    AllMembers, RecordFieldEditTest,
    ::testing::Values(FieldEdit{"principal", 7}, FieldEdit{"action", 7},
                      FieldEdit{"resource", 7}, FieldEdit{"decision", 6},
                      FieldEdit{"reason_id", 6}, FieldEdit{"reason_detail", 6},
                      FieldEdit{"evidence_digest", 6}, FieldEdit{"policy_digest", 7},
                      FieldEdit{"key_version", 6}, FieldEdit{"time_unix_us", 7},
                      FieldEdit{"prev_hash", 7}, FieldEdit{"hash", 7},
                      FieldEdit{"sequence", 7}, FieldEdit{"type", 7},
                      FieldEdit{"principal", 1}, FieldEdit{"hash", 12}),
    [](const ::testing::TestParamInfo<FieldEdit>& info) {
      return std::string(info.param.member) + "_" + std::to_string(info.param.sequence);
    });

TEST_F(ExportVerifyTest, EditsThatKeepTheValueAreStillCaught) {
  std::vector<std::string> lines = lines_;
  size_t i = Rec(7);
  lines[i].insert(1, " ");  // whitespace
  ExpectBad(lines, 7, "canonical");
  lines = lines_;
  lines[i].insert(lines[i].size() - 1, ",\"extra\":1");  // unknown member
  ExpectBad(lines, 7);
  lines = lines_;
  lines[i] = absl::StrReplaceAll(lines[i], {{"\"action\":\"", "\"action\":\"\\u0061"}});
  ExpectBad(lines, 7);
}

TEST_F(ExportVerifyTest, DroppedRecordIsNamed) {
  for (uint64_t seq : {1, 5, 7, 10}) {  // 5 and 10: a checkpoint line follows the gap
    std::vector<std::string> lines = lines_;
    lines.erase(lines.begin() + Rec(seq));
    ExpectBad(lines, seq, "missing");
  }
  // The last record: the chain is fine up to 11, but the trailer vouches for
  // 12; records after the checkpoint at 10 are unproven.
  std::vector<std::string> lines = lines_;
  lines.erase(lines.begin() + Rec(12));
  ExpectBad(lines, 11, "truncated");
}

TEST_F(ExportVerifyTest, SwappedRecordsAreNamed) {
  std::vector<std::string> lines = lines_;
  std::swap(lines[Rec(7)], lines[Rec(8)]);
  ExpectBad(lines, 7, "missing");
  lines = lines_;
  std::swap(lines[Rec(11)], lines[Rec(12)]);
  ExpectBad(lines, 11);
}

TEST_F(ExportVerifyTest, DuplicatedRecordIsNamed) {
  std::vector<std::string> lines = lines_;
  lines.insert(lines.begin() + Rec(7) + 1, lines_[Rec(7)]);
  ExpectBad(lines, 8, "repeated");
  lines = lines_;
  lines.insert(lines.begin() + Rec(12) + 1, lines_[Rec(12)]);
  ExpectBad(lines, 13, "repeated");
  lines = lines_;
  lines.insert(lines.begin() + Rec(9) + 1, lines_[Rec(3)]);  // replayed elsewhere
  ExpectBad(lines, 10, "record 3 is repeated");
}

TEST_F(ExportVerifyTest, TruncationAnywhereIsDetected) {
  // Offsets of each line start in text_.
  std::vector<size_t> start;
  size_t off = 0;
  for (const std::string& l : lines_) {
    start.push_back(off);
    off += l.size() + 1;
  }
  struct Cut {
    size_t bytes;
    uint64_t first_bad;
  };
  const Cut cuts[] = {
      {0, 1},                                  // nothing at all
      {start[0] + 10, 1},                      // inside the header
      {start[2], 1},                           // after header and key
      {start[Rec(3)] + 40, 1},                 // inside record 3
      {start[Rec(5)], 1},                      // after record 4
      {start[Ckpt(5)] + 20, 1},                // inside checkpoint 5
      {start[Rec(6)], 6},                      // right after checkpoint 5
      {start[Rec(8)] + 30, 6},                 // inside record 8
      {start[Rec(11)], 11},                    // right after checkpoint 10
      {start[16], 11},                         // trailer removed
      {start[16] + 50, 11},                    // inside the trailer
      {text_.size() - 1, 11},                  // only the final newline
  };
  for (const Cut& cut : cuts) {
    SCOPED_TRACE(cut.bytes);
    ExpectBadText(text_.substr(0, cut.bytes), cut.first_bad);
  }
}

TEST_F(ExportVerifyTest, RemovedTrailerIsDetected) {
  std::vector<std::string> lines = lines_;
  lines.pop_back();
  ExpectBad(lines, 11, "without a trailer");
  AuditVerifyResult v = VerifyText(JoinLines(lines), Pinned());
  EXPECT_EQ(v.verified_through, 10u);
  EXPECT_EQ(v.records, 12u);  // the chain itself is intact
  std::string summary = FormatAuditVerifyResult(v);
  EXPECT_THAT(summary, HasSubstr("FAILED at sequence 11"));
  EXPECT_THAT(summary, HasSubstr("signatures vouch for records 1..10"));
}

TEST_F(ExportVerifyTest, EditedCheckpointIsDetected) {
  std::vector<std::string> lines = lines_;
  lines[Ckpt(10)] = EditValueByte(lines[Ckpt(10)], "signature");
  ExpectBad(lines, 6, "checkpoint");
  lines = lines_;
  lines[Ckpt(5)] = EditValueByte(lines[Ckpt(5)], "signature");
  ExpectBad(lines, 1, "checkpoint");
  lines = lines_;
  lines[Ckpt(5)] = EditValueByte(lines[Ckpt(5)], "head_hash");
  ExpectBad(lines, 1, "head hash");
  lines = lines_;
  lines[Ckpt(10)] = EditValueByte(lines[Ckpt(10)], "time_unix_us");
  ExpectBad(lines, 6, "signature does not verify");
  lines = lines_;
  lines[Ckpt(10)] = absl::StrReplaceAll(lines[Ckpt(10)], {{"\"sequence\":10,", "\"sequence\":9,"}});
  ExpectBad(lines, 6, "does not follow its record");
  lines = lines_;
  lines[Ckpt(10)] = EditValueByte(lines[Ckpt(10)], "sequence");  // claims 11
  ExpectBad(lines, 11, "record 11 is missing");
}

TEST_F(ExportVerifyTest, DroppedOrMovedCheckpointIsDetected) {
  std::vector<std::string> lines = lines_;
  lines.erase(lines.begin() + Ckpt(10));
  ExpectBad(lines, 6, "checkpoints");
  lines = lines_;
  std::swap(lines[Ckpt(5)], lines[Rec(6)]);
  ExpectBad(lines, 1, "does not follow its record");
  lines = lines_;
  lines.insert(lines.begin() + Ckpt(5) + 1, lines_[Ckpt(5)]);
  ExpectBad(lines, 6, "repeated");
}

TEST_F(ExportVerifyTest, EditedTrailerIsDetected) {
  for (const char* member : {"record_count", "last_sequence", "head_hash", "first_prev_hash",
                             "checkpoint_count", "exported_at_unix_us", "signature"}) {
    SCOPED_TRACE(member);
    std::vector<std::string> lines = lines_;
    lines.back() = EditValueByte(lines.back(), member);
    ExpectBad(lines, 11, "trailer");
  }
  std::vector<std::string> lines = lines_;
  lines.push_back(lines_[Rec(12)]);
  ExpectBad(lines, 13, "follows the trailer");
}

TEST_F(ExportVerifyTest, RewrittenTailIsCaughtAtTheNextSignature) {
  // Record 11 edited and every later hash recomputed: the chain is
  // consistent, but the signed trailer names another head.
  std::vector<std::string> lines = lines_;
  Bytes prev;
  for (uint64_t seq : {11, 12}) {
    ASSERT_OK_AND_ASSIGN(AuditRecord r, audit_internal::ParseRecordLine(lines[Rec(seq)]));
    if (seq == 11) r.entry.principal = "spiffe://strongroom/someone-else";
    else r.prev_hash = prev;
    r.hash = ComputeRecordHash(r);
    prev = r.hash;
    lines[Rec(seq)] = audit_internal::RecordLine(r);
  }
  ExpectBad(lines, 11, "head_hash");
}

TEST_F(ExportVerifyTest, WrongTrustedKeyFails) {
  ASSERT_OK_AND_ASSIGN(auto other, SoftwareCheckpointSigner::Generate());
  AuditVerifyResult v = VerifyText(text_, {{other->PublicKeyPem()}});
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_sequence, 1u);
  EXPECT_EQ(v.verified_through, 0u);
  EXPECT_THAT(v.reason, HasSubstr("not a trusted key"));
  EXPECT_THAT(FormatAuditVerifyResult(v), HasSubstr("no valid signature vouches"));

  // A key line swapped for another key does not help: its id is recomputed.
  std::vector<std::string> lines = lines_;
  ASSERT_OK_AND_ASSIGN(CheckpointVerifyKey other_key,
                       CheckpointVerifyKey::FromPem(other->PublicKeyPem()));
  lines[1] = absl::StrReplaceAll(audit_internal::KeyLine(other_key),
                                 {{other_key.key_id(), signer_->KeyId()}});
  ExpectBad(lines, 1, "key line");

  v = VerifyText(text_, {{"-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"}});
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_sequence, 0u);
  EXPECT_THAT(v.reason, HasSubstr("trusted public key #1"));
}

TEST_F(ExportVerifyTest, MalformedFramingIsDetected) {
  std::vector<std::string> lines = lines_;
  lines.erase(lines.begin());  // no header
  ExpectBad(lines, 1, "header");
  lines = lines_;
  lines.insert(lines.begin() + Rec(4), "");
  ExpectBad(lines, 4, "not a JSON object");
  lines = lines_;
  lines.insert(lines.begin() + Rec(4), lines_[0]);
  ExpectBad(lines, 4, "second header");
  lines = lines_;
  lines[0] = EditValueByte(lines[0], "from_sequence");  // header claims 2
  ExpectBad(lines, 2, "out of order");
}

// A quoted value is cut at a character boundary: the reason stays valid UTF-8
// (a reason cut inside "ä" made `audit verify --json` throw while printing).
TEST_F(ExportVerifyTest, AQuotedValueIsCutBetweenCharacters) {
  std::vector<std::string> lines = lines_;
  std::string format = "a";
  for (int i = 0; i < 30; ++i) format += "\xc3\xa4";  // ä
  const size_t at = lines[0].find("strongroom.audit.export.v1");
  ASSERT_NE(at, std::string::npos);
  lines[0].replace(at, std::string("strongroom.audit.export.v1").size(), format);
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  AuditVerifyResult v = VerifyText(text, Pinned());
  ASSERT_FALSE(v.ok);
  EXPECT_THAT(v.reason, HasSubstr("header format 'a\xc3\xa4"));
  EXPECT_THAT(v.reason, HasSubstr("...'"));
  EXPECT_NO_THROW((void)nlohmann::json(v.reason).dump());
}

}  // namespace
}  // namespace strongroom::kms::testing
