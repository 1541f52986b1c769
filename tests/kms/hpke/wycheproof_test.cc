// Wycheproof vectors for the primitives HPKE is built from, run through this
// library's own layers: X25519 and P-256 ECDH through PublicKey /
// PrivateKey / internal::Dh, HKDF-SHA256 through internal::Hkdf, AES-GCM and
// ChaCha20-Poly1305 through internal::AeadCipher.
//
// Rule for every case: "valid" must be accepted with the expected output;
// "invalid" must be refused (at parsing or at use); "acceptable" may go
// either way but, when accepted, must give the expected output. Cases outside
// HPKE's parameters (nonces other than 96 bits, AES-192) must be refused by
// the layer or are counted as skipped; every test asserts that the counts
// add up to the file's numberOfTests.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "base/testing/status_matchers.h"
#include "kms/hpke/aead_cipher.h"
#include "kms/hpke/dhkem.h"
#include "kms/hpke/hkdf.h"
#include "kms/hpke/keys.h"
#include "tests/kms/hpke/test_util.h"

namespace strongroom::kms::hpke {
namespace {

using json = nlohmann::json;
using testutil::Hex;
using testutil::HexOf;

struct Counts {
  int valid = 0, invalid = 0, acceptable_accepted = 0, acceptable_refused = 0, skipped = 0;
  int total() const { return valid + invalid + acceptable_accepted + acceptable_refused + skipped; }
};

void Report(const std::string& name, const Counts& c) {
  std::cout << "[ wycheproof ] " << name << ": valid " << c.valid << ", invalid refused "
            << c.invalid << ", acceptable accepted " << c.acceptable_accepted
            << ", acceptable refused " << c.acceptable_refused << ", skipped " << c.skipped << "\n";
}

// Applies the rule above; `output` is the hex result when accepted.
void Check(const json& t, const absl::StatusOr<std::string>& output, const std::string& want,
           Counts& counts) {
  const std::string result = t["result"];
  const int tc = t["tcId"];
  if (result == "valid") {
    EXPECT_TRUE(output.ok()) << "tcId " << tc << ": " << output.status();
    if (output.ok()) {
      EXPECT_EQ(*output, want) << "tcId " << tc;
    }
    ++counts.valid;
  } else if (result == "invalid") {
    EXPECT_FALSE(output.ok()) << "tcId " << tc << " accepted";
    ++counts.invalid;
  } else {
    if (output.ok()) {
      EXPECT_EQ(*output, want) << "tcId " << tc;
      ++counts.acceptable_accepted;
    } else {
      ++counts.acceptable_refused;
    }
  }
}

// Wycheproof private scalars are minimal big-endian integers (sometimes with
// a leading 00); HPKE's P-256 encoding is exactly 32 bytes.
SecretBytes Scalar32(const json& j) {
  Bytes raw = Hex(j);
  while (raw.size() > 32 && raw.front() == 0) raw.erase(raw.begin());
  Bytes out(32 - std::min<size_t>(raw.size(), 32), 0);
  out.insert(out.end(), raw.begin(), raw.end());
  return SecretBytes::CopyFrom(out);
}

absl::StatusOr<std::string> DhHex(Kem kem, const SecretBytes& sk,
                                  const absl::StatusOr<PublicKey>& pk) {
  if (!pk.ok()) return pk.status();
  auto priv = PrivateKey::Create(kem, sk);
  if (!priv.ok()) return priv.status();
  auto shared = internal::Dh(*priv, *pk, "public");
  if (!shared.ok()) return shared.status();
  return HexOf(*shared);
}

TEST(HpkeWycheproofTest, X25519) {
  json doc = testutil::ReadJson("wycheproof/x25519_test.json");
  ASSERT_TRUE(doc.is_object());
  Counts counts;
  int zero_refused = 0;
  for (const json& group : doc["testGroups"]) {
    for (const json& t : group["tests"]) {
      const std::string shared = t["shared"];
      auto out = DhHex(Kem::kDhkemX25519HkdfSha256, SecretBytes::CopyFrom(Hex(t["private"])),
                       PublicKey::Create(Kem::kDhkemX25519HkdfSha256, Hex(t["public"])));
      if (shared == std::string(64, '0')) {
        // RFC 9180 7.1.4: an all-zero output must be refused, whatever
        // Wycheproof calls it.
        EXPECT_THAT(out, testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                           ::testing::HasSubstr("low-order")))
            << "tcId " << t["tcId"];
        ++zero_refused;
        ++counts.acceptable_refused;
        continue;
      }
      Check(t, out, shared, counts);
    }
  }
  Report("x25519", counts);
  EXPECT_EQ(counts.total(), doc["numberOfTests"].get<int>());
  EXPECT_GT(counts.valid, 0);
  EXPECT_GT(zero_refused, 0);
}

// ecdh_secp256r1_ecpoint_test.json: public keys as raw X9.62 points.
TEST(HpkeWycheproofTest, EcdhP256RawPoints) {
  json doc = testutil::ReadJson("wycheproof/ecdh_secp256r1_ecpoint_test.json");
  ASSERT_TRUE(doc.is_object());
  Counts counts;
  for (const json& group : doc["testGroups"]) {
    for (const json& t : group["tests"]) {
      auto out = DhHex(Kem::kDhkemP256HkdfSha256, Scalar32(t["private"]),
                       PublicKey::Create(Kem::kDhkemP256HkdfSha256, Hex(t["public"])));
      Check(t, out, t["shared"], counts);
    }
  }
  Report("ecdh_secp256r1_ecpoint", counts);
  EXPECT_EQ(counts.total(), doc["numberOfTests"].get<int>());
  EXPECT_GT(counts.valid, 0);
  EXPECT_GT(counts.invalid, 0);
}

// ecdh_secp256r1_test.json: public keys as DER SubjectPublicKeyInfo.
TEST(HpkeWycheproofTest, EcdhP256Spki) {
  json doc = testutil::ReadJson("wycheproof/ecdh_secp256r1_test.json");
  ASSERT_TRUE(doc.is_object());
  Counts counts;
  int unnamed_refused = 0;
  for (const json& group : doc["testGroups"]) {
    for (const json& t : group["tests"]) {
      auto out = DhHex(Kem::kDhkemP256HkdfSha256, Scalar32(t["private"]),
                       PublicKey::FromSpkiDer(Hex(t["public"])));
      Check(t, out, t["shared"], counts);
      // Explicit curve parameters are refused even where Wycheproof would
      // accept them.
      for (const json& flag : t["flags"]) {
        if (flag == "UnnamedCurve") {
          EXPECT_FALSE(out.ok()) << "tcId " << t["tcId"];
          ++unnamed_refused;
        }
      }
    }
  }
  Report("ecdh_secp256r1", counts);
  EXPECT_EQ(counts.total(), doc["numberOfTests"].get<int>());
  EXPECT_GT(unnamed_refused, 0);
  EXPECT_GT(counts.invalid, 0);
}

TEST(HpkeWycheproofTest, HkdfSha256) {
  json doc = testutil::ReadJson("wycheproof/hkdf_sha256_test.json");
  ASSERT_TRUE(doc.is_object());
  ASSERT_OK_AND_ASSIGN(const internal::Hkdf* hkdf, internal::Hkdf::Get(Kdf::kHkdfSha256));
  Counts counts;
  for (const json& group : doc["testGroups"]) {
    for (const json& t : group["tests"]) {
      const Bytes ikm = Hex(t["ikm"]), salt = Hex(t["salt"]), info = Hex(t["info"]);
      absl::StatusOr<std::string> out = [&]() -> absl::StatusOr<std::string> {
        auto prk = hkdf->Extract(salt, {ikm});
        if (!prk.ok()) return prk.status();
        auto okm = hkdf->Expand(prk->Reveal(), {info}, t["size"].get<size_t>());
        if (!okm.ok()) return okm.status();
        return HexOf(*okm);
      }();
      Check(t, out, t["okm"], counts);
    }
  }
  Report("hkdf_sha256", counts);
  EXPECT_EQ(counts.total(), doc["numberOfTests"].get<int>());
  EXPECT_GT(counts.invalid, 0);
}

// AEAD files: key, iv, aad, msg, ct, tag; HPKE uses 96-bit nonces and
// 128-bit tags, and AES-128/256 only.
void RunAead(const std::string& file, const std::string& name) {
  json doc = testutil::ReadJson("wycheproof/" + file);
  ASSERT_TRUE(doc.is_object());
  Counts counts;
  int nonce_refused = 0;
  for (const json& group : doc["testGroups"]) {
    for (const json& t : group["tests"]) {
      const Bytes key = Hex(t["key"]), iv = Hex(t["iv"]), aad = Hex(t["aad"]);
      const Bytes msg = Hex(t["msg"]), ct = Hex(t["ct"]), tag = Hex(t["tag"]);
      const Aead id = name == "chacha20_poly1305" ? Aead::kChaCha20Poly1305
                      : key.size() == 16          ? Aead::kAes128Gcm
                                                  : Aead::kAes256Gcm;
      if (id != Aead::kChaCha20Poly1305 && key.size() != 16 && key.size() != 32) {
        ++counts.skipped;  // AES-192 is not an HPKE AEAD
        continue;
      }
      ASSERT_OK_AND_ASSIGN(const internal::AeadAlgorithm* algorithm,
                           internal::AeadAlgorithm::Get(id));
      ASSERT_OK_AND_ASSIGN(internal::AeadCipher cipher,
                           internal::AeadCipher::Create(*algorithm, key));
      Bytes sealed = ct;
      sealed.insert(sealed.end(), tag.begin(), tag.end());
      if (iv.size() != 12) {
        // Outside HPKE: the layer refuses the nonce instead of using it.
        EXPECT_THAT(
            cipher.Open(iv, aad, sealed),
            testing::StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("nonce")));
        ++nonce_refused;
        ++(t["result"] == "invalid" ? counts.invalid : counts.skipped);
        continue;
      }
      auto opened = cipher.Open(iv, aad, sealed);
      Check(t, opened.ok() ? absl::StatusOr<std::string>(HexOf(*opened)) : opened.status(),
            t["msg"], counts);
      if (t["result"] == "valid") {
        ASSERT_OK_AND_ASSIGN(Bytes resealed, cipher.Seal(iv, aad, msg));
        EXPECT_EQ(HexEncode(resealed), HexEncode(sealed)) << "tcId " << t["tcId"];
      }
    }
  }
  Report(name, counts);
  EXPECT_EQ(counts.total(), doc["numberOfTests"].get<int>());
  EXPECT_GT(counts.valid, 0);
  EXPECT_GT(counts.invalid, 0);
  EXPECT_GT(nonce_refused, 0);
}

TEST(HpkeWycheproofTest, AesGcm) { RunAead("aes_gcm_test.json", "aes_gcm"); }
TEST(HpkeWycheproofTest, ChaCha20Poly1305) {
  RunAead("chacha20_poly1305_test.json", "chacha20_poly1305");
}

}  // namespace
}  // namespace strongroom::kms::hpke
