// A committed export (testdata/sample_export.jsonl, with the public key that
// signed it in testdata/sample_checkpoint_key.pem) pins the format: it must
// keep verifying, and its hashes and signatures must match an independent
// implementation of the encoding written from docs/audit.md (not the
// library's), so the documentation and the code cannot drift apart.
//
// To regenerate after a deliberate format change (and a new format version):
//   audit_log_test --gtest_also_run_disabled_tests
//       --gtest_filter='SampleExport.DISABLED_Regenerate'
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/file.h"
#include "tests/kms/audit/audit_fixture.h"

namespace strongroom::kms::testing {
namespace {

const std::string kExportPath = STRONGROOM_AUDIT_TESTDATA "/sample_export.jsonl";
const std::string kKeyPath = STRONGROOM_AUDIT_TESTDATA "/sample_checkpoint_key.pem";

// --- docs/audit.md, "Canonical encoding", implemented from the text -----------
void PutField(std::string& out, const std::string& bytes) {
  uint32_t n = static_cast<uint32_t>(bytes.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(n >> shift));
  out += bytes;
}
std::string U64(uint64_t v) {
  std::string b;
  for (int shift = 56; shift >= 0; shift -= 8) b.push_back(static_cast<char>(v >> shift));
  return b;
}
std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}
std::string Sha256Hex(const std::string& data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : md) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

// Key id: SHA-256 of the DER SubjectPublicKeyInfo inside the PEM armour.
std::string SpecKeyId(const std::string& pem) {
  std::string b64;
  std::istringstream in(pem);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("-----", 0) != 0) b64 += line;
  }
  absl::StatusOr<Bytes> der = Base64Decode(b64);
  return der.ok() ? Sha256Hex(std::string(der->begin(), der->end())) : "";
}

std::string SpecRecordHash(const nlohmann::json& r) {
  std::string m;
  PutField(m, "strongroom.audit.record.v1");
  PutField(m, U64(r["sequence"].get<uint64_t>()));
  PutField(m, U64(static_cast<uint64_t>(r["time_unix_us"].get<int64_t>())));
  for (const char* name : {"principal", "action", "resource", "decision", "reason_id",
                           "reason_detail", "evidence_digest", "policy_digest"}) {
    PutField(m, r[name].get<std::string>());
  }
  PutField(m, U64(r["key_version"].get<uint64_t>()));
  PutField(m, Unhex(r["prev_hash"].get<std::string>()));
  return Sha256Hex(m);
}

std::string SpecCheckpointMessage(const nlohmann::json& c) {
  std::string m;
  PutField(m, "strongroom.audit.checkpoint.v1");
  PutField(m, U64(c["sequence"].get<uint64_t>()));
  PutField(m, Unhex(c["head_hash"].get<std::string>()));
  PutField(m, U64(static_cast<uint64_t>(c["time_unix_us"].get<int64_t>())));
  PutField(m, c["key_id"].get<std::string>());
  return m;
}

std::string SpecTrailerMessage(const nlohmann::json& t) {
  std::string m;
  PutField(m, "strongroom.audit.export-trailer.v1");
  PutField(m, U64(t["from_sequence"].get<uint64_t>()));
  PutField(m, Unhex(t["first_prev_hash"].get<std::string>()));
  PutField(m, U64(t["last_sequence"].get<uint64_t>()));
  PutField(m, Unhex(t["head_hash"].get<std::string>()));
  PutField(m, U64(t["record_count"].get<uint64_t>()));
  PutField(m, U64(t["checkpoint_count"].get<uint64_t>()));
  PutField(m, U64(t["last_checkpoint_sequence"].get<uint64_t>()));
  PutField(m, U64(static_cast<uint64_t>(t["exported_at_unix_us"].get<int64_t>())));
  PutField(m, t["key_id"].get<std::string>());
  return m;
}

// Plain OpenSSL: ECDSA P-256 / SHA-256, DER signature, base64 in the line.
bool SpecVerify(const std::string& pem, const std::string& msg, const std::string& sig_b64) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  absl::StatusOr<Bytes> sig = Base64Decode(sig_b64);
  bool ok = false;
  if (key != nullptr && sig.ok()) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
         EVP_DigestVerify(ctx, sig->data(), sig->size(),
                          reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
    EVP_MD_CTX_free(ctx);
  }
  EVP_PKEY_free(key);
  return ok;
}

TEST(SampleExport, VerifiesWithThePinnedKey) {
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFileToString(kExportPath, "sample export"));
  ASSERT_OK_AND_ASSIGN(std::string pem, ReadFileToString(kKeyPath, "sample key"));
  AuditVerifyResult v = VerifyText(text, {{pem}});
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records, 7u);
  EXPECT_EQ(v.checkpoints, 2u);
  EXPECT_TRUE(v.keys_pinned);
}

TEST(SampleExport, MatchesTheDocumentedEncoding) {
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFileToString(kExportPath, "sample export"));
  ASSERT_OK_AND_ASSIGN(std::string pem, ReadFileToString(kKeyPath, "sample key"));
  std::string prev(64, '0');
  int records = 0, signatures = 0;
  for (const std::string& line : SplitLines(text)) {
    nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_EQ(j.dump(), line);  // the canonical form is nlohmann's compact dump
    const std::string type = j["type"];
    if (type == "record") {
      EXPECT_EQ(j["prev_hash"], prev);
      EXPECT_EQ(SpecRecordHash(j), j["hash"]) << line;
      prev = j["hash"];
      ++records;
    } else if (type == "checkpoint") {
      EXPECT_EQ(j["head_hash"], prev);
      EXPECT_TRUE(SpecVerify(pem, SpecCheckpointMessage(j), j["signature"])) << line;
      ++signatures;
    } else if (type == "trailer") {
      EXPECT_EQ(j["head_hash"], prev);
      EXPECT_TRUE(SpecVerify(pem, SpecTrailerMessage(j), j["signature"])) << line;
      ++signatures;
    } else if (type == "key") {
      EXPECT_EQ(j["public_key_pem"], pem);
      EXPECT_EQ(j["key_id"], SpecKeyId(pem));
    }
  }
  EXPECT_EQ(records, 7);
  EXPECT_EQ(signatures, 3);
}

// Writes a fresh sample (new key; the private half is discarded).
TEST(SampleExport, DISABLED_Regenerate) {
  class Writer : public AuditLogFixture {
   public:
    void Run() {
      options_.checkpoint_every = 3;
      SetUp();
      for (int i = 1; i <= 7; ++i) {
        clock_.Advance(absl::Seconds(1));
        AuditEntry e = TestEntry(i);
        if (i == 7) e.reason_detail = "caf\xc3\xa9, \"quoted\", back\\slash";
        ASSERT_OK(log_->Append(e));
      }
      std::ofstream(kExportPath) << ExportText();
      std::ofstream(kKeyPath) << signer_->PublicKeyPem();
      TearDown();
    }

   private:
    void TestBody() override {}
  } writer;
  writer.Run();
}

}  // namespace
}  // namespace strongroom::kms::testing
