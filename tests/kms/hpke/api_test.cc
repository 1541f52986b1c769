// The HPKE API with generated keys: every suite in every mode round-trips,
// and the error contract holds (suite ids, key / suite mismatch, enc and
// public key validation, PSK inputs, one message for every authentication
// failure, export limits, export-only suites, the sequence-number limit).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "base/testing/status_matchers.h"
#include "kms/hpke/hpke.h"
#include "tests/kms/hpke/test_util.h"

namespace strongroom::kms::hpke {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StrEq;
using testutil::HexOf;

constexpr Kem kP256 = Kem::kDhkemP256HkdfSha256;
constexpr Kem kX25519 = Kem::kDhkemX25519HkdfSha256;
constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
constexpr char kNoAuth[] = "hpke: ciphertext does not authenticate";

Bytes B(absl::string_view s) { return Bytes(s.begin(), s.end()); }

Suite MakeSuite(Kem kem, Aead aead) {
  auto suite = Suite::Create(kem, Kdf::kHkdfSha256, aead);
  EXPECT_TRUE(suite.ok()) << suite.status();
  return *suite;
}

TEST(HpkeSuiteTest, SupportedAndUnsupportedIds) {
  for (Kem kem : {kP256, kX25519}) {
    for (Aead aead :
         {Aead::kAes128Gcm, Aead::kAes256Gcm, Aead::kChaCha20Poly1305, Aead::kExportOnly}) {
      ASSERT_OK_AND_ASSIGN(Suite suite, Suite::Create(kem, Kdf::kHkdfSha256, aead));
      EXPECT_EQ(suite.enc_size(), kem == kP256 ? 65u : 32u);
      EXPECT_EQ(suite.hash_size(), 32u);
      EXPECT_EQ(suite.key_size(), aead == Aead::kAes128Gcm    ? 16u
                                  : aead == Aead::kExportOnly ? 0u
                                                              : 32u);
      EXPECT_EQ(suite.nonce_size(), aead == Aead::kExportOnly ? 0u : 12u);
      EXPECT_EQ(suite.export_only(), aead == Aead::kExportOnly);
    }
  }
  EXPECT_EQ(MakeSuite(kX25519, Aead::kChaCha20Poly1305).ToString(),
            "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305");
  EXPECT_THAT(Suite::Create(static_cast<Kem>(0x0012), Kdf::kHkdfSha256, Aead::kAes128Gcm),
              StatusIs(kInvalid, HasSubstr("kem: unknown KEM 0x0012")));
  EXPECT_THAT(Suite::Create(kP256, static_cast<Kdf>(0x0003), Aead::kAes128Gcm),
              StatusIs(kInvalid, HasSubstr("kdf: unknown KDF 0x0003")));
  EXPECT_THAT(Suite::Create(kP256, Kdf::kHkdfSha256, static_cast<Aead>(0x0004)),
              StatusIs(kInvalid, HasSubstr("aead: unknown AEAD 0x0004")));
}

struct RoundTripCase {
  Kem kem;
  Aead aead;
  Mode mode;
};

std::vector<RoundTripCase> AllCases() {
  std::vector<RoundTripCase> cases;
  for (Kem kem : {kP256, kX25519}) {
    for (Aead aead :
         {Aead::kAes128Gcm, Aead::kAes256Gcm, Aead::kChaCha20Poly1305, Aead::kExportOnly}) {
      for (Mode mode : {Mode::kBase, Mode::kPsk, Mode::kAuth, Mode::kAuthPsk}) {
        cases.push_back({kem, aead, mode});
      }
    }
  }
  return cases;
}

// Inputs to swap for wrong ones; null means the right one.
struct RecipientInputs {
  const PrivateKey* skR = nullptr;
  const Bytes* info = nullptr;
  const SecretBytes* psk = nullptr;
  const PublicKey* pkS = nullptr;
};

class HpkeRoundTripTest : public ::testing::TestWithParam<RoundTripCase> {
 protected:
  void SetUp() override {
    suite_.emplace(MakeSuite(GetParam().kem, GetParam().aead));
    auto r = GenerateKeyPair(GetParam().kem);
    auto s = GenerateKeyPair(GetParam().kem);
    ASSERT_OK(r.status());
    ASSERT_OK(s.status());
    recipient_.emplace(*std::move(r));
    sender_.emplace(*std::move(s));
  }

  absl::StatusOr<SenderContext> Sender() {
    const Bytes psk_id = B("psk id");
    const SecretBytes& psk = psk_;
    switch (GetParam().mode) {
      case Mode::kBase:
        return SetupBaseS(*suite_, recipient_->public_key, info_);
      case Mode::kPsk:
        return SetupPskS(*suite_, recipient_->public_key, info_, psk, psk_id);
      case Mode::kAuth:
        return SetupAuthS(*suite_, recipient_->public_key, info_, sender_->private_key);
      case Mode::kAuthPsk:
        return SetupAuthPskS(*suite_, recipient_->public_key, info_, psk, psk_id,
                             sender_->private_key);
    }
    return absl::InternalError("mode");
  }

  // The recipient for this mode; each input may be swapped for a wrong one.
  absl::StatusOr<RecipientContext> Recipient(const Bytes& enc, RecipientInputs in = {}) {
    const Bytes psk_id = B("psk id");
    const PrivateKey& skR = in.skR ? *in.skR : recipient_->private_key;
    const Bytes& info = in.info ? *in.info : info_;
    const SecretBytes& psk = in.psk ? *in.psk : psk_;
    const PublicKey& pkS = in.pkS ? *in.pkS : sender_->public_key;
    switch (GetParam().mode) {
      case Mode::kBase:
        return SetupBaseR(*suite_, enc, skR, info);
      case Mode::kPsk:
        return SetupPskR(*suite_, enc, skR, info, psk, psk_id);
      case Mode::kAuth:
        return SetupAuthR(*suite_, enc, skR, info, pkS);
      case Mode::kAuthPsk:
        return SetupAuthPskR(*suite_, enc, skR, info, psk, psk_id, pkS);
    }
    return absl::InternalError("mode");
  }

  bool uses_psk() const {
    return GetParam().mode == Mode::kPsk || GetParam().mode == Mode::kAuthPsk;
  }
  bool uses_auth() const {
    return GetParam().mode == Mode::kAuth || GetParam().mode == Mode::kAuthPsk;
  }

  std::optional<Suite> suite_;
  std::optional<KeyPair> recipient_, sender_;
  const Bytes info_ = B("application info");
  const SecretBytes psk_ = SecretBytes::Random(32);
};

TEST_P(HpkeRoundTripTest, SealOpenAndExportAgree) {
  ASSERT_OK_AND_ASSIGN(SenderContext sender, Sender());
  EXPECT_EQ(sender.enc().size(), suite_->enc_size());
  ASSERT_OK_AND_ASSIGN(RecipientContext recipient, Recipient(sender.enc()));
  if (suite_->export_only()) {
    EXPECT_THAT(sender.Seal({}, B("x")), StatusIs(absl::StatusCode::kFailedPrecondition));
    EXPECT_THAT(recipient.Open({}, Bytes(17)), StatusIs(absl::StatusCode::kFailedPrecondition));
  } else {
    for (int i = 0; i < 3; ++i) {
      const Bytes aad = B("aad " + std::to_string(i));
      const Bytes pt = B(std::string(static_cast<size_t>(i) * 50, 'p'));  // includes empty
      ASSERT_OK_AND_ASSIGN(Bytes ct, sender.Seal(aad, pt));
      EXPECT_EQ(ct.size(), pt.size() + 16);
      ASSERT_OK_AND_ASSIGN(SecretBytes opened, recipient.Open(aad, ct));
      EXPECT_EQ(HexOf(opened), HexEncode(pt));
    }
    EXPECT_EQ(sender.sequence_number(), 3u);
    EXPECT_EQ(recipient.sequence_number(), 3u);
  }
  ASSERT_OK_AND_ASSIGN(SecretBytes a, sender.Export(B("ctx"), 42));
  ASSERT_OK_AND_ASSIGN(SecretBytes b, recipient.Export(B("ctx"), 42));
  EXPECT_EQ(a.size(), 42u);
  EXPECT_TRUE(a == b);
  ASSERT_OK_AND_ASSIGN(SecretBytes other, sender.Export(B("ctx2"), 42));
  EXPECT_FALSE(a == other);
  EXPECT_OK(sender.Export({}, 255 * 32));
  EXPECT_THAT(sender.Export({}, 255 * 32 + 1), StatusIs(kInvalid, HasSubstr("length")));
}

TEST_P(HpkeRoundTripTest, WrongRecipientInputsFailTheSameWay) {
  if (suite_->export_only()) {
    // No AEAD: a mismatch only shows as different exports.
    ASSERT_OK_AND_ASSIGN(SenderContext sender, Sender());
    ASSERT_OK_AND_ASSIGN(KeyPair other, GenerateKeyPair(GetParam().kem));
    ASSERT_OK_AND_ASSIGN(RecipientContext wrong,
                         Recipient(sender.enc(), {.skR = &other.private_key}));
    ASSERT_OK_AND_ASSIGN(SecretBytes a, sender.Export({}, 32));
    ASSERT_OK_AND_ASSIGN(SecretBytes b, wrong.Export({}, 32));
    EXPECT_FALSE(a == b);
    return;
  }
  ASSERT_OK_AND_ASSIGN(SenderContext sender, Sender());
  const Bytes aad = B("aad");
  ASSERT_OK_AND_ASSIGN(Bytes ct, sender.Seal(aad, B("the plaintext")));

  std::vector<absl::Status> failures;
  auto open_with = [&](absl::StatusOr<RecipientContext> r, const Bytes& a, const Bytes& c) {
    ASSERT_OK(r.status());
    failures.push_back(r->Open(a, c).status());
  };
  // Tampered ciphertext body and tag; wrong aad.
  Bytes body = ct;
  body[0] ^= 1;
  Bytes tag = ct;
  tag.back() ^= 0x80;
  open_with(Recipient(sender.enc()), aad, body);
  open_with(Recipient(sender.enc()), aad, tag);
  open_with(Recipient(sender.enc()), B("aae"), ct);
  const Bytes other_info = B("other info");
  open_with(Recipient(sender.enc(), {.info = &other_info}), aad, ct);
  if (uses_psk()) {
    const SecretBytes other_psk = SecretBytes::Random(32);
    open_with(Recipient(sender.enc(), {.psk = &other_psk}), aad, ct);
  }
  if (uses_auth()) {
    ASSERT_OK_AND_ASSIGN(KeyPair impostor, GenerateKeyPair(GetParam().kem));
    open_with(Recipient(sender.enc(), {.pkS = &impostor.public_key}), aad, ct);
  }
  ASSERT_OK_AND_ASSIGN(KeyPair other, GenerateKeyPair(GetParam().kem));
  open_with(Recipient(sender.enc(), {.skR = &other.private_key}), aad, ct);
  // The same, untouched, still opens.
  open_with(Recipient(sender.enc()), aad, ct);
  ASSERT_TRUE(failures.back().ok()) << failures.back();
  failures.pop_back();

  ASSERT_GE(failures.size(), 5u);
  for (const absl::Status& s : failures) {
    EXPECT_THAT(s, StatusIs(kInvalid, StrEq(kNoAuth)));
  }
}

INSTANTIATE_TEST_SUITE_P(AllSuitesAndModes, HpkeRoundTripTest, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<RoundTripCase>& info) {
                           return std::string(info.param.kem == kP256 ? "P256" : "X25519") +
                                  "_aead" + std::to_string(static_cast<int>(info.param.aead)) +
                                  "_mode" + std::to_string(static_cast<int>(info.param.mode));
                         });

class HpkeBaseModeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (Kem kem : {kP256, kX25519}) {
      auto pair = GenerateKeyPair(kem);
      ASSERT_OK(pair.status());
      (kem == kP256 ? p256_ : x25519_).emplace(*std::move(pair));
    }
  }
  std::optional<KeyPair> p256_, x25519_;
};

TEST_F(HpkeBaseModeTest, SingleShotSealAndOpen) {
  const Suite suite = MakeSuite(kX25519, Aead::kAes256Gcm);
  ASSERT_OK_AND_ASSIGN(Sealed sealed,
                       Seal(suite, x25519_->public_key, B("info"), B("aad"), B("secret")));
  EXPECT_EQ(sealed.enc.size(), 32u);
  ASSERT_OK_AND_ASSIGN(SecretBytes pt, Open(suite, x25519_->private_key, sealed.enc, B("info"),
                                            B("aad"), sealed.ciphertext));
  EXPECT_EQ(AsStringView(pt.Reveal()), "secret");
  EXPECT_THAT(
      Open(suite, x25519_->private_key, sealed.enc, B("info"), B("aad"),
           Bytes(sealed.ciphertext.begin(), sealed.ciphertext.begin() + 15)),
      StatusIs(kInvalid, HasSubstr("ciphertext: 15 bytes is shorter than the 16-byte tag")));
  const Suite export_only = MakeSuite(kX25519, Aead::kExportOnly);
  EXPECT_THAT(Seal(export_only, x25519_->public_key, {}, {}, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(HpkeBaseModeTest, KeysMustMatchTheSuiteKem) {
  const Suite p256 = MakeSuite(kP256, Aead::kAes128Gcm);
  EXPECT_THAT(SetupBaseS(p256, x25519_->public_key, {}),
              StatusIs(kInvalid, HasSubstr("recipient_public_key: key is for DHKEM(X25519")));
  ASSERT_OK_AND_ASSIGN(SenderContext sender, SetupBaseS(p256, p256_->public_key, {}));
  EXPECT_THAT(SetupBaseR(p256, sender.enc(), x25519_->private_key, {}),
              StatusIs(kInvalid, HasSubstr("recipient_private_key")));
  EXPECT_THAT(SetupAuthS(p256, p256_->public_key, {}, x25519_->private_key),
              StatusIs(kInvalid, HasSubstr("sender_private_key")));
  EXPECT_THAT(SetupAuthR(p256, sender.enc(), p256_->private_key, {}, x25519_->public_key),
              StatusIs(kInvalid, HasSubstr("sender_public_key")));
}

TEST_F(HpkeBaseModeTest, EncIsValidated) {
  const Suite p256 = MakeSuite(kP256, Aead::kAes128Gcm);
  ASSERT_OK_AND_ASSIGN(SenderContext sender, SetupBaseS(p256, p256_->public_key, {}));
  Bytes enc = sender.enc();
  EXPECT_THAT(SetupBaseR(p256, Bytes(enc.begin(), enc.end() - 1), p256_->private_key, {}),
              StatusIs(kInvalid, HasSubstr("enc: expected 65 bytes")));
  enc[64] ^= 1;
  EXPECT_THAT(SetupBaseR(p256, enc, p256_->private_key, {}),
              StatusIs(kInvalid, HasSubstr("enc: not a point on P-256")));
  enc = sender.enc();
  enc[0] = 0x02;
  EXPECT_THAT(SetupBaseR(p256, enc, p256_->private_key, {}),
              StatusIs(kInvalid, HasSubstr("enc: P-256 point must be uncompressed")));

  const Suite x25519 = MakeSuite(kX25519, Aead::kAes128Gcm);
  EXPECT_THAT(SetupBaseR(x25519, Bytes(33, 1), x25519_->private_key, {}),
              StatusIs(kInvalid, HasSubstr("enc: expected 32 bytes")));
}

TEST_F(HpkeBaseModeTest, X25519LowOrderPointsAreRefused) {
  const Suite suite = MakeSuite(kX25519, Aead::kChaCha20Poly1305);
  // u = 0 and u = 1 are points of small order: DH with them is all-zero.
  for (uint8_t u : {0, 1}) {
    Bytes point(32, 0);
    point[0] = u;
    ASSERT_OK_AND_ASSIGN(PublicKey low, PublicKey::Create(kX25519, point));
    EXPECT_THAT(SetupBaseS(suite, low, {}),
                StatusIs(kInvalid, HasSubstr("recipient_public_key: X25519 low-order")));
    EXPECT_THAT(SetupBaseR(suite, point, x25519_->private_key, {}),
                StatusIs(kInvalid, HasSubstr("enc: X25519 low-order")));
    EXPECT_THAT(SetupAuthR(suite, x25519_->public_key.Serialize(), x25519_->private_key, {}, low),
                StatusIs(kInvalid, HasSubstr("sender_public_key: X25519 low-order")));
  }
}

TEST_F(HpkeBaseModeTest, PskInputsMustFitTheMode) {
  const Suite suite = MakeSuite(kX25519, Aead::kAes128Gcm);
  const PublicKey& pkR = x25519_->public_key;
  const SecretBytes psk = SecretBytes::Random(32);
  EXPECT_THAT(SetupPskS(suite, pkR, {}, SecretBytes(), B("id")),
              StatusIs(kInvalid, HasSubstr("psk: empty while psk_id is set")));
  EXPECT_THAT(SetupPskS(suite, pkR, {}, psk, {}),
              StatusIs(kInvalid, HasSubstr("psk_id: empty while psk is set")));
  EXPECT_THAT(SetupPskS(suite, pkR, {}, SecretBytes(), {}),
              StatusIs(kInvalid, HasSubstr("psk: required")));
  EXPECT_THAT(SetupPskS(suite, pkR, {}, SecretBytes::Random(31), B("id")),
              StatusIs(kInvalid, HasSubstr("psk: 31 bytes, at least 32")));
  ASSERT_OK_AND_ASSIGN(SenderContext sender, SetupPskS(suite, pkR, {}, psk, B("id")));
  EXPECT_THAT(SetupPskR(suite, sender.enc(), x25519_->private_key, {}, SecretBytes(), {}),
              StatusIs(kInvalid, HasSubstr("psk")));
  // A PSK context and a base context for the same enc do not agree.
  ASSERT_OK_AND_ASSIGN(Bytes ct, sender.Seal({}, B("m")));
  ASSERT_OK_AND_ASSIGN(RecipientContext base,
                       SetupBaseR(suite, sender.enc(), x25519_->private_key, {}));
  EXPECT_THAT(base.Open({}, ct), StatusIs(kInvalid, StrEq(kNoAuth)));
}

TEST_F(HpkeBaseModeTest, SequenceNumberLimit) {
  const Suite suite = MakeSuite(kP256, Aead::kAes128Gcm);
  ASSERT_OK_AND_ASSIGN(SenderContext sender, SetupBaseS(suite, p256_->public_key, {}));
  ASSERT_OK_AND_ASSIGN(RecipientContext recipient,
                       SetupBaseR(suite, sender.enc(), p256_->private_key, {}));
  constexpr uint64_t kLast = std::numeric_limits<uint64_t>::max() - 1;
  sender.SetSequenceNumberForTesting(kLast);
  recipient.SetSequenceNumberForTesting(kLast);
  ASSERT_OK_AND_ASSIGN(Bytes ct, sender.Seal({}, B("last")));
  ASSERT_OK_AND_ASSIGN(SecretBytes pt, recipient.Open({}, ct));
  EXPECT_EQ(AsStringView(pt.Reveal()), "last");
  EXPECT_THAT(sender.Seal({}, B("one more")),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("message limit")));
  EXPECT_THAT(recipient.Open({}, ct), StatusIs(absl::StatusCode::kResourceExhausted));
  // The nonce really depends on the sequence: the same ciphertext does not
  // open at another sequence number.
  ASSERT_OK_AND_ASSIGN(RecipientContext fresh,
                       SetupBaseR(suite, sender.enc(), p256_->private_key, {}));
  EXPECT_THAT(fresh.Open({}, ct), StatusIs(kInvalid, StrEq(kNoAuth)));
}

TEST_F(HpkeBaseModeTest, AuthModeNeedsTheSenderKeyOnlyThere) {
  const Suite suite = MakeSuite(kX25519, Aead::kAes128Gcm);
  ASSERT_OK_AND_ASSIGN(SenderContext auth,
                       SetupAuthS(suite, x25519_->public_key, {}, x25519_->private_key));
  ASSERT_OK_AND_ASSIGN(Bytes ct, auth.Seal({}, B("m")));
  // Opened as base mode (no sender key): different context, refused.
  ASSERT_OK_AND_ASSIGN(RecipientContext base,
                       SetupBaseR(suite, auth.enc(), x25519_->private_key, {}));
  EXPECT_THAT(base.Open({}, ct), StatusIs(kInvalid, StrEq(kNoAuth)));
}

}  // namespace
}  // namespace strongroom::kms::hpke
