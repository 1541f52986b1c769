#include "attest/signature_check.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>
#include <thread>
#include <vector>

#include "attest/x509.h"
#include "base/bytes.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace strongroom::attest {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

using Key = std::shared_ptr<EVP_PKEY>;

Bytes AsBytesCopy(absl::string_view text) {
  return Bytes(text.begin(), text.end());
}

Key NewEcKey(const char* curve) {
  EVP_PKEY* key = EVP_EC_gen(curve);
  EXPECT_NE(key, nullptr);
  return Key(key, EVP_PKEY_free);
}

Key NewRsaKey() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  EXPECT_NE(key, nullptr);
  return Key(key, EVP_PKEY_free);
}

// The public half only, as verifiers hold keys.
Key PublicOf(const Key& key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key.get(), &der);
  EXPECT_GT(len, 0);
  const unsigned char* p = der;
  EVP_PKEY* pub = d2i_PUBKEY(nullptr, &p, len);
  OPENSSL_free(der);
  EXPECT_NE(pub, nullptr);
  return Key(pub, EVP_PKEY_free);
}

Bytes Sign(const Key& key, const EVP_MD* md, const Bytes& message) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  Bytes sig;
  if (EVP_DigestSignInit(ctx, nullptr, md, nullptr, key.get()) == 1 &&
      EVP_DigestSign(ctx, nullptr, &len, message.data(), message.size()) ==
          1) {
    sig.resize(len);
    if (EVP_DigestSign(ctx, sig.data(), &len, message.data(),
                       message.size()) == 1) {
      sig.resize(len);
    } else {
      sig.clear();
    }
  }
  EVP_MD_CTX_free(ctx);
  EXPECT_FALSE(sig.empty());
  return sig;
}

// What EVP_DigestVerify says (the reference the fast path must agree with).
bool DigestVerify(const Key& key, const EVP_MD* md, const Bytes& message,
                  const Bytes& sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, key.get()) == 1 &&
      EVP_DigestVerify(ctx, sig.data(), sig.size(), message.data(),
                       message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

// r and s of a DER ECDSA signature, big-endian, each left-padded with
// zeros to `width` bytes.
void SplitDer(const Bytes& der, size_t width, Bytes& r, Bytes& s) {
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  ASSERT_NE(sig, nullptr);
  r.assign(width, 0);
  s.assign(width, 0);
  ASSERT_EQ(BN_bn2binpad(ECDSA_SIG_get0_r(sig), r.data(), width),
            static_cast<int>(width));
  ASSERT_EQ(BN_bn2binpad(ECDSA_SIG_get0_s(sig), s.data(), width),
            static_cast<int>(width));
  ECDSA_SIG_free(sig);
}

Bytes I2dEcdsa(const Bytes& r, const Bytes& s) {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(r.data(), static_cast<int>(r.size()), nullptr),
                 BN_bin2bn(s.data(), static_cast<int>(s.size()), nullptr));
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  Bytes out(der, der + (len > 0 ? len : 0));
  OPENSSL_free(der);
  return out;
}

TEST(EncodeEcdsaSignatureDerTest, MatchesOpenSsl) {
  const std::vector<std::pair<Bytes, Bytes>> cases = {
      {Bytes{0x01}, Bytes{0x7f}},
      {Bytes{0x80}, Bytes{0xff, 0x00}},
      {Bytes{0x00, 0x00, 0x05}, Bytes(48, 0x9c)},    // leading zeros dropped
      {Bytes(72, 0x00), Bytes{0x01}},                 // zero: one 0x00 byte
      {Bytes(32, 0xa5), Bytes(32, 0x5a)},             // P-256 sized
      {Bytes(66, 0xff), Bytes(66, 0xff)},             // long-form length
      {Bytes(24, 0x00), Bytes(48, 0x81)},
  };
  for (const auto& [r, s] : cases) {
    Bytes padded_r(24, 0x00);
    padded_r.insert(padded_r.end(), r.begin(), r.end());
    uint8_t got[kMaxEcdsaSignatureDer];
    const size_t len = EncodeEcdsaSignatureDer(padded_r, s, got);
    EXPECT_EQ(Bytes(got, got + len), I2dEcdsa(r, s))
        << HexEncode(r) << " / " << HexEncode(s);
  }
}

TEST(EncodeEcdsaSignatureDerTest, RefusesWhatNoCurveSigns) {
  uint8_t out[kMaxEcdsaSignatureDer];
  EXPECT_EQ(EncodeEcdsaSignatureDer(Bytes(), Bytes{1}, out), 0u);
  EXPECT_EQ(EncodeEcdsaSignatureDer(Bytes{1}, Bytes(), out), 0u);
  EXPECT_EQ(EncodeEcdsaSignatureDer(Bytes(67, 1), Bytes{1}, out), 0u);
  // 67 bytes with a leading zero are 66 significant bytes.
  Bytes r(67, 1);
  r[0] = 0;
  EXPECT_GT(EncodeEcdsaSignatureDer(r, Bytes{1}, out), 0u);
  // Too small an output buffer.
  uint8_t tiny[8];
  EXPECT_EQ(EncodeEcdsaSignatureDer(Bytes(32, 1), Bytes(32, 1), tiny), 0u);
}

TEST(VerifyMessageSignatureTest, AgreesWithDigestVerify) {
  const Bytes message = AsBytesCopy("the signed bytes");
  struct Case {
    Key key;
    const EVP_MD* md;
  };
  const std::vector<Case> cases = {{NewEcKey("P-256"), EVP_sha256()},
                                   {NewEcKey("P-384"), EVP_sha384()},
                                   {NewRsaKey(), EVP_sha256()}};
  for (const Case& c : cases) {
    const Key pub = PublicOf(c.key);
    const Bytes sig = Sign(c.key, c.md, message);
    ASSERT_TRUE(DigestVerify(pub, c.md, message, sig));
    // Legacy and fetched digests alike; twice, so the second uses the
    // context the first left.
    EXPECT_TRUE(VerifyMessageSignature(pub.get(), c.md, message, sig));
    EXPECT_TRUE(
        VerifyMessageSignature(pub.get(), FetchedDigestFor(c.md), message, sig));

    Bytes bad_message = message;
    bad_message[0] ^= 1;
    EXPECT_FALSE(VerifyMessageSignature(pub.get(), c.md, bad_message, sig));
    EXPECT_EQ(ERR_peek_error(), 0u);
    Bytes bad_sig = sig;
    bad_sig[bad_sig.size() / 2] ^= 0x10;
    EXPECT_EQ(VerifyMessageSignature(pub.get(), c.md, message, bad_sig),
              DigestVerify(pub, c.md, message, bad_sig));
    EXPECT_FALSE(VerifyMessageSignature(pub.get(), c.md, message, Bytes()));
    // A failed check does not spoil the next one.
    EXPECT_TRUE(VerifyMessageSignature(pub.get(), c.md, message, sig));
    // Another digest than the one signed.
    EXPECT_FALSE(VerifyMessageSignature(pub.get(), EVP_sha512(), message, sig));
  }
}

TEST(VerifyMessageSignatureTest, NonCanonicalDerRefusedLikeDigestVerify) {
  const Key key = NewEcKey("P-256");
  const Key pub = PublicOf(key);
  const Bytes message = AsBytesCopy("m");
  Bytes sig = Sign(key, EVP_sha256(), message);
  // A trailing byte after the SEQUENCE.
  sig.push_back(0x00);
  EXPECT_FALSE(DigestVerify(pub, EVP_sha256(), message, sig));
  EXPECT_FALSE(VerifyMessageSignature(pub.get(), EVP_sha256(), message, sig));
}

TEST(VerifyMessageSignatureTest, NullKeyOrDigest) {
  const Bytes message = AsBytesCopy("m");
  EXPECT_FALSE(VerifyMessageSignature(nullptr, EVP_sha256(), message,
                                      Bytes{0x30, 0x00}));
  const Key key = NewEcKey("P-256");
  const Bytes sig = Sign(key, EVP_sha256(), message);
  EXPECT_FALSE(VerifyMessageSignature(key.get(), nullptr, message, sig));
}

TEST(VerifyMessageSignatureTest, ContextsPerThreadStayBounded) {
  const Bytes message = AsBytesCopy("bounded");
  for (size_t i = 0; i < kVerifyContextsPerThread + 5; ++i) {
    const Key key = NewEcKey("P-256");
    const Bytes sig = Sign(key, EVP_sha256(), message);
    EXPECT_TRUE(VerifyMessageSignature(key.get(), EVP_sha256(), message, sig));
    EXPECT_LE(ThreadVerifyContextCount(), kVerifyContextsPerThread);
  }
  EXPECT_EQ(ThreadVerifyContextCount(), kVerifyContextsPerThread);
}

// A key freed by its owner stays alive while a context refers to it, so no
// new key can take its address and be checked with the old key's context.
TEST(VerifyMessageSignatureTest, NewKeyNeverCheckedWithAnOldKeysContext) {
  const Bytes message = AsBytesCopy("identity");
  for (int i = 0; i < 40; ++i) {
    Key a = NewEcKey("P-256");
    const Bytes sig_a = Sign(a, EVP_sha256(), message);
    ASSERT_TRUE(VerifyMessageSignature(a.get(), EVP_sha256(), message, sig_a));
    a.reset();
    const Key b = NewEcKey("P-256");
    const Bytes sig_b = Sign(b, EVP_sha256(), message);
    EXPECT_FALSE(
        VerifyMessageSignature(b.get(), EVP_sha256(), message, sig_a));
    EXPECT_TRUE(VerifyMessageSignature(b.get(), EVP_sha256(), message, sig_b));
  }
}

TEST(VerifyMessageSignatureTest, ThreadsShareKeysNotContexts) {
  const Key key = NewEcKey("P-256");
  const Key pub = PublicOf(key);
  const Bytes message = AsBytesCopy("threads");
  const Bytes sig = Sign(key, EVP_sha256(), message);
  Bytes bad = message;
  bad[0] ^= 1;
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (!VerifyMessageSignature(pub.get(), EVP_sha256(), message, sig)) {
          ++failures[t];
        }
        if (i % 7 == 0 &&
            VerifyMessageSignature(pub.get(), EVP_sha256(), bad, sig)) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

TEST(VerifyEcdsaRawTest, RawRAndSWithPadding) {
  const Key key = NewEcKey("P-384");
  const Key pub = PublicOf(key);
  const Bytes message = AsBytesCopy("a report");
  const Bytes der = Sign(key, EVP_sha384(), message);
  Bytes r, s;
  SplitDer(der, 72, r, s);  // as SEV-SNP carries them
  EXPECT_OK(VerifyEcdsaRaw(pub.get(), EVP_sha384(), message, r, s, "x"));
  Bytes bad = message;
  bad.back() ^= 1;
  EXPECT_THAT(VerifyEcdsaRaw(pub.get(), EVP_sha384(), bad, r, s, "x"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("x: signature does not verify")));
  EXPECT_THAT(VerifyEcdsaRaw(pub.get(), EVP_sha256(), message, r, s, "x"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(VerifyEcdsaRaw(pub.get(), EVP_sha384(), message, Bytes(), s, "x"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(
      VerifyEcdsaRaw(pub.get(), EVP_sha384(), message, Bytes(80, 1), s, "x"),
      StatusIs(absl::StatusCode::kPermissionDenied));
  // s and r swapped.
  EXPECT_THAT(VerifyEcdsaRaw(pub.get(), EVP_sha384(), message, s, r, "x"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_OK(VerifyEcdsaRaw(pub.get(), EVP_sha384(), message, r, s, "x"));
}

}  // namespace
}  // namespace strongroom::attest
