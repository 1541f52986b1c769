// HPKE key encodings: raw RFC 9180 encodings, SPKI / PKCS#8 / PEM, and the
// validation of each (lengths, point format, curve membership, scalar range,
// foreign key types, encrypted PKCS#8).
#include "kms/hpke/keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "base/testing/status_matchers.h"
#include "kms/hpke/dhkem.h"
#include "kms/hpke/hpke.h"
#include "tests/kms/hpke/test_util.h"

namespace strongroom::kms::hpke {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using testutil::Hex;
using testutil::HexOf;
using testutil::SecretHex;

constexpr Kem kP256 = Kem::kDhkemP256HkdfSha256;
constexpr Kem kX25519 = Kem::kDhkemX25519HkdfSha256;
constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

std::string ReadVector(const std::string& rel) {
  auto s = ReadFileToString(testutil::VectorPath(rel), "vector");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

// Big-endian 32-byte encoding of a P-256 group constant (from OpenSSL, not
// typed in): the field prime p or the order n.
Bytes P256Constant(bool order) {
  EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  BIGNUM* p = BN_new();
  EC_GROUP_get_curve(group, p, nullptr, nullptr, nullptr);
  Bytes out(32);
  BN_bn2binpad(order ? EC_GROUP_get0_order(group) : p, out.data(), 32);
  BN_free(p);
  EC_GROUP_free(group);
  return out;
}

// A DER SPKI / PKCS#8 of a key OpenSSL generates for `type` / `param`.
struct ForeignKey {
  Bytes spki;
  SecretBytes pkcs8;
};
ForeignKey Foreign(const char* type, const char* curve) {
  EVP_PKEY* pkey = curve != nullptr ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve)
                                    : EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  EXPECT_NE(pkey, nullptr);
  ForeignKey out;
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey, &der);
  out.spki.assign(der, der + len);
  OPENSSL_free(der);
  PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(pkey);
  der = nullptr;
  len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
  out.pkcs8 = SecretBytes::CopyFrom(std::span<const uint8_t>(der, len));
  OPENSSL_clear_free(der, len);
  PKCS8_PRIV_KEY_INFO_free(p8);
  EVP_PKEY_free(pkey);
  return out;
}

TEST(HpkePublicKeyTest, P256RejectsWrongLengthAndFormat) {
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair(kP256));
  Bytes good = pair.public_key.Serialize();
  ASSERT_EQ(good.size(), 65u);
  EXPECT_OK(PublicKey::Create(kP256, good));

  EXPECT_THAT(PublicKey::Create(kP256, Bytes(good.begin(), good.end() - 1), "pkR"),
              StatusIs(kInvalid, HasSubstr("pkR: expected 65 bytes")));
  Bytes longer = good;
  longer.push_back(0);
  EXPECT_THAT(PublicKey::Create(kP256, longer, "pkR"), StatusIs(kInvalid, HasSubstr("got 66")));
  // The compressed form of the same point (33 bytes) is refused by length;
  // a 65-byte string with a compressed / hybrid / infinity prefix by format.
  EXPECT_THAT(PublicKey::Create(kP256, Bytes(good.begin(), good.begin() + 33)), StatusIs(kInvalid));
  for (uint8_t prefix : {0x00, 0x02, 0x03, 0x06, 0x07}) {
    Bytes bad = good;
    bad[0] = prefix;
    EXPECT_THAT(PublicKey::Create(kP256, bad, "pkR"),
                StatusIs(kInvalid, HasSubstr("uncompressed")));
  }
  EXPECT_THAT(PublicKey::Create(kP256, Bytes(65, 0)), StatusIs(kInvalid));
  EXPECT_THAT(PublicKey::Create(kP256, {}), StatusIs(kInvalid));
}

TEST(HpkePublicKeyTest, P256RejectsPointsOffTheCurve) {
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair(kP256));
  Bytes off = pair.public_key.Serialize();
  off[64] ^= 0x01;  // y changed: (x, y') is not on the curve
  EXPECT_THAT(PublicKey::Create(kP256, off, "enc"),
              StatusIs(kInvalid, HasSubstr("enc: not a point on P-256")));
  // x = p (not a field element), y from a valid point.
  Bytes x_is_p = pair.public_key.Serialize();
  Bytes p = P256Constant(false);
  std::copy(p.begin(), p.end(), x_is_p.begin() + 1);
  EXPECT_THAT(PublicKey::Create(kP256, x_is_p, "enc"), StatusIs(kInvalid, HasSubstr("enc")));
  // (0, 0) is not on P-256 either.
  Bytes zero(65, 0);
  zero[0] = 0x04;
  EXPECT_THAT(PublicKey::Create(kP256, zero), StatusIs(kInvalid));
}

TEST(HpkePublicKeyTest, X25519LengthAndUnknownKem) {
  EXPECT_OK(PublicKey::Create(kX25519, Bytes(32, 9)));
  EXPECT_THAT(PublicKey::Create(kX25519, Bytes(31, 9), "enc"),
              StatusIs(kInvalid, HasSubstr("enc: expected 32 bytes")));
  EXPECT_THAT(PublicKey::Create(kX25519, Bytes(33, 9)), StatusIs(kInvalid));
  EXPECT_THAT(PublicKey::Create(static_cast<Kem>(0x0011), Bytes(97, 4)),
              StatusIs(kInvalid, HasSubstr("0x0011")));
}

TEST(HpkePrivateKeyTest, P256ScalarMustBeInRange) {
  EXPECT_THAT(PrivateKey::Create(kP256, SecretBytes(32)),
              StatusIs(kInvalid, HasSubstr("[1, n-1]")));
  const Bytes n = P256Constant(true);
  EXPECT_THAT(PrivateKey::Create(kP256, SecretBytes::CopyFrom(n)),
              StatusIs(kInvalid, HasSubstr("[1, n-1]")));
  Bytes n_minus_1 = n;
  n_minus_1[31] -= 1;  // n is odd, so no borrow
  EXPECT_OK(PrivateKey::Create(kP256, SecretBytes::CopyFrom(n_minus_1)));
  Bytes one(32, 0);
  one[31] = 1;
  ASSERT_OK_AND_ASSIGN(PrivateKey sk_one, PrivateKey::Create(kP256, SecretBytes::CopyFrom(one)));
  // 1 * G is the generator, as OpenSSL encodes it.
  EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  Bytes g(65);
  EC_POINT_point2oct(group, EC_GROUP_get0_generator(group), POINT_CONVERSION_UNCOMPRESSED, g.data(),
                     g.size(), nullptr);
  EC_GROUP_free(group);
  EXPECT_EQ(sk_one.public_key().Serialize(), g);

  EXPECT_THAT(PrivateKey::Create(kP256, SecretBytes(31)),
              StatusIs(kInvalid, HasSubstr("private_key: expected 32 bytes")));
  EXPECT_THAT(PrivateKey::Create(kX25519, SecretBytes(33)), StatusIs(kInvalid));
}

TEST(HpkePrivateKeyTest, DeriveKeyPairNeedsNskBytesOfIkm) {
  EXPECT_THAT(DeriveKeyPair(kX25519, SecretBytes(31)), StatusIs(kInvalid, HasSubstr("ikm")));
  ASSERT_OK_AND_ASSIGN(KeyPair a, DeriveKeyPair(kP256, SecretBytes(32)));
  ASSERT_OK_AND_ASSIGN(KeyPair b, DeriveKeyPair(kP256, SecretBytes(32)));
  EXPECT_EQ(a.public_key, b.public_key);  // deterministic
  ASSERT_OK_AND_ASSIGN(KeyPair c, GenerateKeyPair(kP256));
  ASSERT_OK_AND_ASSIGN(KeyPair d, GenerateKeyPair(kP256));
  EXPECT_FALSE(c.public_key == d.public_key);  // random
}

// The P-256 DH on EC_POINTs (internal::Dh, used by Seal and Open) agrees
// with OpenSSL's ECDH through EVP_PKEY_derive on the same keys, generated
// (whose OpenSSL objects are built on first use here) and imported alike.
TEST(HpkePrivateKeyTest, P256DhAgreesWithOpenSslEcdh) {
  for (int i = 0; i < 16; ++i) {
    ASSERT_OK_AND_ASSIGN(KeyPair a, GenerateKeyPair(kP256));
    ASSERT_OK_AND_ASSIGN(KeyPair b, i % 2 == 0 ? GenerateKeyPair(kP256)
                                               : DeriveKeyPair(kP256, SecretBytes::Random(32)));
    ASSERT_OK_AND_ASSIGN(SecretBytes ours, internal::Dh(a.private_key, b.public_key, "peer"));
    ASSERT_OK_AND_ASSIGN(SecretBytes theirs, internal::Dh(b.private_key, a.public_key, "peer"));
    EXPECT_TRUE(ours.Equals(theirs));

    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, a.private_key.evp_pkey(), nullptr);
    ASSERT_NE(ctx, nullptr);
    ASSERT_EQ(EVP_PKEY_derive_init(ctx), 1);
    ASSERT_EQ(EVP_PKEY_derive_set_peer(ctx, b.public_key.evp_pkey()), 1);
    SecretBytes evp(32);
    size_t len = evp.size();
    ASSERT_EQ(EVP_PKEY_derive(ctx, evp.RevealMutable().data(), &len), 1);
    EVP_PKEY_CTX_free(ctx);
    ASSERT_EQ(len, 32u);
    EXPECT_TRUE(ours.Equals(evp)) << "key pair " << i;
  }
}

class HpkeEncodingTest : public ::testing::TestWithParam<Kem> {};

TEST_P(HpkeEncodingTest, SpkiAndPemRoundTrip) {
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair(GetParam()));
  ASSERT_OK_AND_ASSIGN(Bytes der, pair.public_key.ToSpkiDer());
  ASSERT_OK_AND_ASSIGN(PublicKey from_der, PublicKey::FromSpkiDer(der));
  EXPECT_EQ(from_der, pair.public_key);
  ASSERT_OK_AND_ASSIGN(std::string pem, pair.public_key.ToPem());
  EXPECT_TRUE(absl::StartsWith(pem, "-----BEGIN PUBLIC KEY-----\n")) << pem;
  ASSERT_OK_AND_ASSIGN(PublicKey from_pem, PublicKey::FromPem(pem));
  EXPECT_EQ(from_pem, pair.public_key);

  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_THAT(PublicKey::FromSpkiDer(trailing, "spki"),
              StatusIs(kInvalid, HasSubstr("spki: 1 trailing bytes")));
  EXPECT_THAT(PublicKey::FromSpkiDer(Bytes(der.begin(), der.end() - 1), "spki"),
              StatusIs(kInvalid, HasSubstr("spki")));
  EXPECT_THAT(PublicKey::FromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
              StatusIs(kInvalid));
}

TEST_P(HpkeEncodingTest, Pkcs8RoundTripKeepsTheSerializedKey) {
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair(GetParam()));
  ASSERT_OK_AND_ASSIGN(SecretBytes der, pair.private_key.ToPkcs8Der());
  ASSERT_OK_AND_ASSIGN(PrivateKey from_der, PrivateKey::FromPkcs8Der(der));
  EXPECT_EQ(from_der.Serialize(), pair.private_key.Serialize());
  EXPECT_EQ(from_der.public_key(), pair.public_key);

  ASSERT_OK_AND_ASSIGN(SecretBytes pem, pair.private_key.ToPkcs8Pem());
  const std::string text(AsStringView(pem.Reveal()));
  EXPECT_TRUE(absl::StartsWith(text, "-----BEGIN PRIVATE KEY-----\n"));
  ASSERT_OK_AND_ASSIGN(PrivateKey from_pem, PrivateKey::FromPkcs8Pem(pem));
  EXPECT_EQ(from_pem.Serialize(), pair.private_key.Serialize());

  // The PEM body is the DER.
  std::string body;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, "-----")) body += std::string(line);
  }
  ASSERT_OK_AND_ASSIGN(Bytes decoded, Base64Decode(body));
  EXPECT_EQ(HexEncode(decoded), HexOf(der));

  SecretBytes trailing(der.size() + 1);
  std::copy(der.Reveal().begin(), der.Reveal().end(), trailing.RevealMutable().begin());
  EXPECT_THAT(PrivateKey::FromPkcs8Der(trailing), StatusIs(kInvalid, HasSubstr("trailing")));
  EXPECT_THAT(PrivateKey::FromPkcs8Der(SecretBytes(10)), StatusIs(kInvalid));
  EXPECT_THAT(PrivateKey::FromPkcs8Pem(SecretBytes()), StatusIs(kInvalid));
  // A public key is not a private key.
  ASSERT_OK_AND_ASSIGN(Bytes spki, pair.public_key.ToSpkiDer());
  EXPECT_THAT(PrivateKey::FromPkcs8Der(SecretBytes::CopyFrom(spki)), StatusIs(kInvalid));
}

// GenerateKeyPair makes keys directly (EVP_PKEY_keygen / random X25519
// bytes), not through DeriveKeyPair: the serialized private key must be the
// key OpenSSL uses, and the public half (built lazily) must be its point.
TEST_P(HpkeEncodingTest, GeneratedKeyPairIsConsistent) {
  const Kem kem = GetParam();
  ASSERT_OK_AND_ASSIGN(Suite suite, Suite::Create(kem, Kdf::kHkdfSha256, Aead::kAes256Gcm));
  for (int i = 0; i < 8; ++i) {
    ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair(kem));
    EXPECT_EQ(pair.public_key, pair.private_key.public_key());
    ASSERT_EQ(pair.public_key.Serialize().size(), KemPublicKeySize(kem));
    if (kem == kP256) EXPECT_EQ(pair.public_key.Serialize()[0], 0x04);
    // Re-importing the serialized scalar (P-256: range-checked) gives the
    // same public key, and that key opens what was sealed to the original.
    SecretBytes serialized = pair.private_key.Serialize();
    ASSERT_EQ(serialized.size(), KemPrivateKeySize(kem));
    ASSERT_OK_AND_ASSIGN(PrivateKey reimported, PrivateKey::Create(kem, serialized));
    EXPECT_EQ(reimported.public_key(), pair.public_key);
    const Bytes info = {'i'}, aad = {'a'}, pt = {'m', 's', 'g'};
    ASSERT_OK_AND_ASSIGN(Sealed sealed, Seal(suite, pair.public_key, info, aad, pt));
    EXPECT_EQ(sealed.enc.size(), KemEncSize(kem));
    ASSERT_OK_AND_ASSIGN(SecretBytes opened,
                         Open(suite, reimported, sealed.enc, info, aad, sealed.ciphertext));
    EXPECT_EQ(HexOf(opened), HexEncode(pt));
    // The lazily built public key encodes like an imported one.
    ASSERT_OK_AND_ASSIGN(Bytes spki, pair.public_key.ToSpkiDer());
    ASSERT_OK_AND_ASSIGN(PublicKey imported, PublicKey::FromSpkiDer(spki));
    ASSERT_OK_AND_ASSIGN(Bytes spki_again, imported.ToSpkiDer());
    EXPECT_EQ(HexEncode(spki), HexEncode(spki_again));
  }
}

// Key generation contexts are pooled and a generated public key builds its
// OpenSSL object on first use: both must hold up under concurrent callers.
TEST_P(HpkeEncodingTest, ConcurrentGenerateSealOpen) {
  const Kem kem = GetParam();
  ASSERT_OK_AND_ASSIGN(Suite suite, Suite::Create(kem, Kdf::kHkdfSha256, Aead::kAes256Gcm));
  // Fresh, so the threads race to build its public OpenSSL key.
  ASSERT_OK_AND_ASSIGN(KeyPair recipient, GenerateKeyPair(kem));
  constexpr int kThreads = 4;
  constexpr int kIterations = 20;
  std::atomic<int> failures{0};
  std::vector<std::vector<Bytes>> generated(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const Bytes pt = {static_cast<uint8_t>(t)};
      for (int i = 0; i < kIterations; ++i) {
        auto pair = GenerateKeyPair(kem);
        auto sealed = Seal(suite, recipient.public_key, {}, {}, pt);
        if (!pair.ok() || !sealed.ok()) {
          ++failures;
          continue;
        }
        generated[t].push_back(pair->public_key.Serialize());
        auto opened = Open(suite, recipient.private_key, sealed->enc, {}, {}, sealed->ciphertext);
        if (!opened.ok() || HexOf(*opened) != HexEncode(pt)) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<Bytes> distinct;
  for (const auto& keys : generated) distinct.insert(keys.begin(), keys.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads * kIterations));
}

INSTANTIATE_TEST_SUITE_P(Kems, HpkeEncodingTest, ::testing::Values(kP256, kX25519),
                         [](const auto& info) {
                           return info.param == kP256 ? std::string("P256") : std::string("X25519");
                         });

TEST(HpkeContainerTest, X25519VectorKeyKeepsItsUnclampedBytesThroughPkcs8) {
  nlohmann::json file =
      testutil::ReadJson("hpke/test-vectors.rfc9180.base-psk.p256-x25519.hkdfsha256.json");
  ASSERT_TRUE(file.is_array());
  int checked = 0;
  for (const nlohmann::json& e : file) {
    if (e["kem_id"].get<int>() != 0x20) continue;
    ASSERT_OK_AND_ASSIGN(PrivateKey sk, PrivateKey::Create(kX25519, SecretHex(e["skRm"])));
    ASSERT_OK_AND_ASSIGN(SecretBytes der, sk.ToPkcs8Der());
    ASSERT_OK_AND_ASSIGN(PrivateKey back, PrivateKey::FromPkcs8Der(der));
    EXPECT_EQ(HexOf(back.Serialize()), e["skRm"].get<std::string>());
    EXPECT_EQ(HexEncode(back.public_key().Serialize()), e["pkRm"].get<std::string>());
    ++checked;
  }
  EXPECT_EQ(checked, 8);
}

TEST(HpkeContainerTest, RealP256PemFromTheTpmVectors) {
  const std::string pem = ReadVector("tpm/swtpm/ak_ecc_pub.pem");
  ASSERT_OK_AND_ASSIGN(PublicKey key, PublicKey::FromPem(pem, "ak"));
  EXPECT_EQ(key.kem(), kP256);
  // The point is the x / y that tpm2_readpublic printed for the same key.
  std::string x, y;
  for (absl::string_view line :
       absl::StrSplit(ReadVector("tpm/swtpm/ak_ecc_readpublic.txt"), '\n')) {
    if (absl::StartsWith(line, "x: ")) x = std::string(line.substr(3));
    if (absl::StartsWith(line, "y: ")) y = std::string(line.substr(3));
  }
  ASSERT_EQ(x.size(), 64u);
  ASSERT_EQ(y.size(), 64u);
  EXPECT_EQ(HexEncode(key.Serialize()), "04" + x + y);
  // Re-encoding gives back the file (named curve, uncompressed point).
  ASSERT_OK_AND_ASSIGN(std::string again, key.ToPem());
  EXPECT_EQ(again, pem);
}

TEST(HpkeContainerTest, ForeignKeyTypesAreRefused) {
  const std::string rsa = ReadVector("tpm/swtpm/ak_rsa_pub.pem");
  EXPECT_THAT(PublicKey::FromPem(rsa, "ak"), StatusIs(kInvalid, HasSubstr("ak: key type RSA")));

  ForeignKey p384 = Foreign("EC", "P-384");
  EXPECT_THAT(PublicKey::FromSpkiDer(p384.spki), StatusIs(kInvalid, HasSubstr("P-256")));
  EXPECT_THAT(PrivateKey::FromPkcs8Der(p384.pkcs8), StatusIs(kInvalid, HasSubstr("P-256")));

  ForeignKey ed25519 = Foreign("ED25519", nullptr);
  EXPECT_THAT(PublicKey::FromSpkiDer(ed25519.spki), StatusIs(kInvalid, HasSubstr("ED25519")));
  EXPECT_THAT(PrivateKey::FromPkcs8Der(ed25519.pkcs8), StatusIs(kInvalid));
}

TEST(HpkeContainerTest, EncryptedPkcs8IsRefusedWithoutPrompting) {
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair(kP256));
  BIO* bio = BIO_new(BIO_s_mem());
  char password[] = "password";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio, pair.private_key.evp_pkey(), EVP_aes_256_cbc(),
                                          password, 8, nullptr, nullptr),
            1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, len);
  BIO_free(bio);
  ASSERT_TRUE(absl::StrContains(pem, "ENCRYPTED PRIVATE KEY"));
  EXPECT_THAT(PrivateKey::FromPkcs8Pem(SecretBytes::CopyFrom(AsBytes(pem))),
              StatusIs(kInvalid, HasSubstr("unencrypted PKCS#8")));
}

}  // namespace
}  // namespace strongroom::kms::hpke
