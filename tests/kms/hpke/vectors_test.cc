// RFC 9180 known-answer tests: every entry of
// shared/vectors/hpke/test-vectors.rfc9180.base-psk.p256-x25519.hkdfsha256.json
// (base and PSK modes, DHKEM P-256 and X25519, HKDF-SHA256, all four AEADs)
// as one TEST_P instance. Each instance checks DeriveKeyPair and the key
// encodings, Encap/Decap, the key schedule, every encryption in order on the
// sender (from ikmE) and on the recipient, and every export on both, and
// asserts how many encryptions and exports it verified. The file test checks
// the file still holds the 16 entries SOURCES.md lists, so a parsing slip
// cannot make the suite a no-op.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>
#include <set>
#include <tuple>

#include "base/testing/status_matchers.h"
#include "kms/hpke/dhkem.h"
#include "kms/hpke/hpke.h"
#include "kms/hpke/hpke_for_testing.h"
#include "kms/hpke/key_schedule.h"
#include "tests/kms/hpke/test_util.h"

namespace strongroom::kms::hpke {
namespace {

using json = nlohmann::json;
using ::strongroom::testing::StatusIs;
using testutil::Hex;
using testutil::HexOf;
using testutil::SecretHex;

constexpr char kVectorFile[] = "hpke/test-vectors.rfc9180.base-psk.p256-x25519.hkdfsha256.json";

struct VectorCase {
  size_t index;
  json entry;
};

std::ostream& operator<<(std::ostream& os, const VectorCase& c) {
  return os << "entry " << c.index;
}

std::vector<VectorCase> LoadCases() {
  std::vector<VectorCase> cases;
  json file = testutil::ReadJson(kVectorFile);
  if (!file.is_array()) return cases;
  for (size_t i = 0; i < file.size(); ++i) cases.push_back({i, file[i]});
  return cases;
}

std::string CaseName(const ::testing::TestParamInfo<VectorCase>& info) {
  const json& e = info.param.entry;
  return "i" + std::to_string(info.param.index) + "_mode" + std::to_string(e["mode"].get<int>()) +
         "_kem" + std::to_string(e["kem_id"].get<int>()) + "_kdf" +
         std::to_string(e["kdf_id"].get<int>()) + "_aead" + std::to_string(e["aead_id"].get<int>());
}

// Totals across the instances run in this process (printed at exit).
struct Totals {
  int entries = 0, encryptions_sealed = 0, encryptions_opened = 0, exports = 0;
};
Totals& totals() {
  static Totals t;
  return t;
}

class PrintTotals : public ::testing::Environment {
 public:
  void TearDown() override {
    const Totals& t = totals();
    if (t.entries == 0) return;
    std::cout << "[ hpke-kat ] entries set up: " << t.entries
              << ", encryptions sealed: " << t.encryptions_sealed
              << ", encryptions opened: " << t.encryptions_opened
              << ", exports checked: " << t.exports << ", skipped: 0\n";
  }
};
const auto* const kPrintTotals = ::testing::AddGlobalTestEnvironment(new PrintTotals);

class Rfc9180VectorTest : public ::testing::TestWithParam<VectorCase> {
 protected:
  void SetUp() override {
    const json& e = v();
    auto suite = Suite::Create(static_cast<Kem>(e["kem_id"].get<int>()),
                               static_cast<Kdf>(e["kdf_id"].get<int>()),
                               static_cast<Aead>(e["aead_id"].get<int>()));
    ASSERT_OK(suite.status());
    suite_.emplace(*suite);
    mode_ = static_cast<Mode>(e["mode"].get<int>());
    ASSERT_TRUE(mode_ == Mode::kBase || mode_ == Mode::kPsk) << "filtered file has modes 0, 1";
    info_ = Hex(e["info"]);
    if (mode_ == Mode::kPsk) {
      psk_ = SecretHex(e["psk"]);
      psk_id_ = Hex(e["psk_id"]);
    }
    auto skR = PrivateKey::Create(suite_->kem(), SecretHex(e["skRm"]));
    ASSERT_OK(skR.status());
    skR_.emplace(*skR);
  }

  const json& v() const { return GetParam().entry; }
  Kem kem() const { return suite_->kem(); }

  // Opens the vector's encryptions in order on a recipient context.
  absl::StatusOr<RecipientContext> Recipient() const {
    const Bytes enc = Hex(v()["enc"]);
    return mode_ == Mode::kPsk ? SetupPskR(*suite_, enc, *skR_, info_, psk_, psk_id_)
                               : SetupBaseR(*suite_, enc, *skR_, info_);
  }

  std::optional<Suite> suite_;
  Mode mode_ = Mode::kBase;
  Bytes info_;
  SecretBytes psk_;
  Bytes psk_id_;
  std::optional<PrivateKey> skR_;
};

TEST_P(Rfc9180VectorTest, DeriveKeyPairAndSerialization) {
  for (const auto& [ikm, sk, pk] :
       {std::tuple{"ikmR", "skRm", "pkRm"}, std::tuple{"ikmE", "skEm", "pkEm"}}) {
    SCOPED_TRACE(ikm);
    ASSERT_OK_AND_ASSIGN(KeyPair pair, DeriveKeyPair(kem(), SecretHex(v()[ikm])));
    EXPECT_EQ(HexOf(pair.private_key.Serialize()), v()[sk].get<std::string>());
    EXPECT_EQ(HexEncode(pair.public_key.Serialize()), v()[pk].get<std::string>());
    EXPECT_EQ(pair.private_key.public_key(), pair.public_key);
    // DeserializePrivateKey recomputes the same public key.
    ASSERT_OK_AND_ASSIGN(PrivateKey imported, PrivateKey::Create(kem(), SecretHex(v()[sk])));
    EXPECT_EQ(HexEncode(imported.public_key().Serialize()), v()[pk].get<std::string>());
    ASSERT_OK_AND_ASSIGN(PublicKey parsed, PublicKey::Create(kem(), Hex(v()[pk])));
    EXPECT_EQ(parsed, pair.public_key);
  }
}

TEST_P(Rfc9180VectorTest, EncapDecapAndKeySchedule) {
  ASSERT_OK_AND_ASSIGN(KeyPair ephemeral, DeriveKeyPair(kem(), SecretHex(v()["ikmE"])));
  ASSERT_OK_AND_ASSIGN(PublicKey pkR, PublicKey::Create(kem(), Hex(v()["pkRm"])));
  ASSERT_OK_AND_ASSIGN(internal::EncapResult encap,
                       internal::Encap(pkR, ephemeral.private_key, nullptr));
  EXPECT_EQ(HexEncode(encap.enc), v()["enc"].get<std::string>());
  EXPECT_EQ(HexOf(encap.shared_secret), v()["shared_secret"].get<std::string>());

  ASSERT_OK_AND_ASSIGN(SecretBytes decapped, internal::Decap(Hex(v()["enc"]), *skR_, nullptr));
  EXPECT_EQ(HexOf(decapped), v()["shared_secret"].get<std::string>());

  ASSERT_OK_AND_ASSIGN(internal::KeyScheduleOutput ks,
                       internal::KeySchedule(*suite_, mode_, decapped, info_, psk_, psk_id_));
  EXPECT_EQ(HexEncode(ks.key_schedule_context), v()["key_schedule_context"].get<std::string>());
  EXPECT_EQ(HexOf(ks.secret), v()["secret"].get<std::string>());
  EXPECT_EQ(HexOf(ks.key), v()["key"].get<std::string>());
  EXPECT_EQ(HexOf(ks.base_nonce), v()["base_nonce"].get<std::string>());
  EXPECT_EQ(HexOf(ks.exporter_secret), v()["exporter_secret"].get<std::string>());
  ++totals().entries;
}

TEST_P(Rfc9180VectorTest, SenderFromIkmESealsEveryEncryptionAndExports) {
  ASSERT_OK_AND_ASSIGN(PublicKey pkR, PublicKey::Create(kem(), Hex(v()["pkRm"])));
  ASSERT_OK_AND_ASSIGN(SenderContext sender, SetupSenderWithIkmEForTesting(
                                                 *suite_, mode_, pkR, info_, SecretHex(v()["ikmE"]),
                                                 psk_, psk_id_, nullptr));
  EXPECT_EQ(HexEncode(sender.enc()), v()["enc"].get<std::string>());
  size_t sealed = 0;
  for (const json& enc : v()["encryptions"]) {
    ASSERT_EQ(sender.sequence_number(), sealed);
    ASSERT_OK_AND_ASSIGN(Bytes ct, sender.Seal(Hex(enc["aad"]), Hex(enc["pt"])));
    ASSERT_EQ(HexEncode(ct), enc["ct"].get<std::string>()) << "sequence " << sealed;
    ++sealed;
  }
  EXPECT_EQ(sealed, v()["encryptions"].size());
  if (suite_->export_only()) {
    EXPECT_EQ(sealed, 0u);
    EXPECT_THAT(sender.Seal({}, {}), StatusIs(absl::StatusCode::kFailedPrecondition));
  } else {
    EXPECT_EQ(sealed, 257u) << "FORMAT.md: 257 encryptions per AEAD entry";
  }
  totals().encryptions_sealed += static_cast<int>(sealed);

  size_t exported = 0;
  for (const json& x : v()["exports"]) {
    ASSERT_OK_AND_ASSIGN(SecretBytes value,
                         sender.Export(Hex(x["exporter_context"]), x["L"].get<size_t>()));
    EXPECT_EQ(HexOf(value), x["exported_value"].get<std::string>());
    ++exported;
  }
  EXPECT_EQ(exported, 3u);
}

TEST_P(Rfc9180VectorTest, RecipientOpensEveryEncryptionInOrderAndExports) {
  ASSERT_OK_AND_ASSIGN(RecipientContext recipient, Recipient());
  size_t opened = 0;
  for (const json& enc : v()["encryptions"]) {
    ASSERT_EQ(recipient.sequence_number(), opened);
    ASSERT_OK_AND_ASSIGN(SecretBytes pt, recipient.Open(Hex(enc["aad"]), Hex(enc["ct"])));
    ASSERT_EQ(HexOf(pt), enc["pt"].get<std::string>()) << "sequence " << opened;
    ++opened;
  }
  EXPECT_EQ(opened, v()["encryptions"].size());
  totals().encryptions_opened += static_cast<int>(opened);

  size_t exported = 0;
  for (const json& x : v()["exports"]) {
    ASSERT_OK_AND_ASSIGN(SecretBytes value,
                         recipient.Export(Hex(x["exporter_context"]), x["L"].get<size_t>()));
    EXPECT_EQ(HexOf(value), x["exported_value"].get<std::string>());
    ++exported;
  }
  EXPECT_EQ(exported, 3u);
  totals().exports += static_cast<int>(exported);
}

TEST_P(Rfc9180VectorTest, OutOfOrderCiphertextDoesNotAuthenticate) {
  if (suite_->export_only()) {
    // No encryptions to reorder; Open itself is refused.
    ASSERT_OK_AND_ASSIGN(RecipientContext recipient, Recipient());
    EXPECT_THAT(recipient.Open({}, Bytes(16)), StatusIs(absl::StatusCode::kFailedPrecondition));
    return;
  }
  const json& encs = v()["encryptions"];
  ASSERT_GE(encs.size(), 2u);
  ASSERT_OK_AND_ASSIGN(RecipientContext recipient, Recipient());
  // Message 1 at sequence 0: refused, and the sequence does not advance.
  EXPECT_THAT(recipient.Open(Hex(encs[1]["aad"]), Hex(encs[1]["ct"])),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::StrEq("hpke: ciphertext does not authenticate")));
  EXPECT_EQ(recipient.sequence_number(), 0u);
  ASSERT_OK_AND_ASSIGN(SecretBytes pt, recipient.Open(Hex(encs[0]["aad"]), Hex(encs[0]["ct"])));
  EXPECT_EQ(HexOf(pt), encs[0]["pt"].get<std::string>());
  // The single-shot Open is sequence 0 of a base-mode context.
  if (mode_ == Mode::kBase) {
    ASSERT_OK_AND_ASSIGN(SecretBytes one, Open(*suite_, *skR_, Hex(v()["enc"]), info_,
                                               Hex(encs[0]["aad"]), Hex(encs[0]["ct"])));
    EXPECT_EQ(HexOf(one), encs[0]["pt"].get<std::string>());
  }
}

INSTANTIATE_TEST_SUITE_P(Rfc9180, Rfc9180VectorTest, ::testing::ValuesIn(LoadCases()), CaseName);

TEST(Rfc9180VectorFile, HoldsEveryModeKemAndAeadOnce) {
  json file = testutil::ReadJson(kVectorFile);
  ASSERT_TRUE(file.is_array());
  ASSERT_EQ(file.size(), 16u) << "SOURCES.md: 16 entries";
  std::set<std::tuple<int, int, int, int>> seen;
  size_t encryptions = 0, exports = 0;
  for (const json& e : file) {
    seen.insert({e["mode"].get<int>(), e["kem_id"].get<int>(), e["kdf_id"].get<int>(),
                 e["aead_id"].get<int>()});
    encryptions += e["encryptions"].size();
    exports += e["exports"].size();
  }
  std::set<std::tuple<int, int, int, int>> want;
  for (int mode : {0, 1}) {
    for (int kem : {0x10, 0x20}) {
      for (int aead : {1, 2, 3, 0xFFFF}) want.insert({mode, kem, 1, aead});
    }
  }
  EXPECT_EQ(seen, want);
  EXPECT_EQ(encryptions, 12u * 257u);
  EXPECT_EQ(exports, 16u * 3u);
}

}  // namespace
}  // namespace strongroom::kms::hpke
