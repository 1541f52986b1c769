// AkSignatureChecker (attest/tpm/ak_signature.h): the pre-hashed
// EVP_PKEY_verify path with pooled contexts accepts exactly the signatures
// that EVP_DigestSign makes (RSASSA, RSAPSS with the salt lengths a TPM and
// other signers use, ECDSA with r and s of any length), refuses tampered
// ones and other schemes, and keeps doing so when contexts are reused
// across calls and threads and after a failed check.
#include "attest/tpm/ak_signature.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "attest/tpm/tpm_structures.h"
#include "base/bytes.h"
#include "gtest/gtest.h"
#include "tests/attest/tpm/tpm_test_util.h"

namespace strongroom::attest::tpm_internal {
namespace {

using ::strongroom::attest::testing::TpmVecBytes;

std::shared_ptr<EVP_PKEY> Generate(const char* type, const char* param) {
  EVP_PKEY* key = nullptr;
  if (std::string(type) == "RSA") {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
  } else {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", param);
  }
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

// What a signer outside this code makes: EVP_DigestSign.
Bytes Sign(EVP_PKEY* key, const EVP_MD* md, std::span<const uint8_t> msg,
           int padding = 0, int salt_len = 0) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  Bytes sig;
  size_t len = 0;
  if (EVP_DigestSignInit(ctx, &pctx, md, nullptr, key) == 1 &&
      (padding == 0 || EVP_PKEY_CTX_set_rsa_padding(pctx, padding) == 1) &&
      (padding != RSA_PKCS1_PSS_PADDING ||
       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt_len) == 1) &&
      EVP_DigestSign(ctx, nullptr, &len, msg.data(), msg.size()) == 1) {
    sig.resize(len);
    if (EVP_DigestSign(ctx, sig.data(), &len, msg.data(), msg.size()) == 1) {
      sig.resize(len);
    } else {
      sig.clear();
    }
  }
  EVP_MD_CTX_free(ctx);
  return sig;
}

// r and s of a DER ECDSA signature, big-endian, padded to `width` bytes.
void SplitEcdsa(const Bytes& der, size_t width, Bytes* r, Bytes* s) {
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  ASSERT_NE(sig, nullptr);
  r->assign(width, 0);
  s->assign(width, 0);
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), r->data(), static_cast<int>(width));
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), s->data(), static_cast<int>(width));
  ECDSA_SIG_free(sig);
}

const Bytes kMessage = {'t', 'p', 'm', 's', '_', 'a', 't', 't', 'e', 's', 't'};

TEST(AkSignatureCheckerTest, RsassaAndRsapssAsOpensslSignsThem) {
  auto key = Generate("RSA", nullptr);
  ASSERT_NE(key, nullptr);
  AkSignatureChecker checker(key);
  EXPECT_TRUE(checker.is_rsa());
  EXPECT_EQ(checker.bits(), 2048);
  for (uint16_t hash : {kTpmAlgSha256, kTpmAlgSha384, kTpmAlgSha512}) {
    SCOPED_TRACE(TpmAlgName(hash));
    const EVP_MD* md = TpmHashMd(hash);
    const Bytes pkcs1 = Sign(key.get(), md, kMessage, RSA_PKCS1_PADDING);
    ASSERT_FALSE(pkcs1.empty());
    EXPECT_TRUE(checker.VerifyRsa(kTpmAlgRsassa, hash, kMessage, pkcs1));
    // The same block is not a PSS signature, nor one over another hash.
    EXPECT_FALSE(checker.VerifyRsa(kTpmAlgRsapss, hash, kMessage, pkcs1));
    EXPECT_FALSE(checker.VerifyRsa(
        kTpmAlgRsassa, hash == kTpmAlgSha256 ? kTpmAlgSha384 : kTpmAlgSha256,
        kMessage, pkcs1));
    // PSS: salt as long as the digest (what TPMs use), and the maximum.
    for (int salt : {RSA_PSS_SALTLEN_DIGEST, RSA_PSS_SALTLEN_MAX}) {
      const Bytes pss =
          Sign(key.get(), md, kMessage, RSA_PKCS1_PSS_PADDING, salt);
      ASSERT_FALSE(pss.empty());
      EXPECT_TRUE(checker.VerifyRsa(kTpmAlgRsapss, hash, kMessage, pss));
      EXPECT_FALSE(checker.VerifyRsa(kTpmAlgRsassa, hash, kMessage, pss));
    }
    Bytes tampered = pkcs1;
    tampered[100] ^= 0x01;
    EXPECT_FALSE(checker.VerifyRsa(kTpmAlgRsassa, hash, kMessage, tampered));
    Bytes other_message = kMessage;
    other_message[0] ^= 0x01;
    EXPECT_FALSE(checker.VerifyRsa(kTpmAlgRsassa, hash, other_message, pkcs1));
  }
  // Not an RSA scheme, or an RSA key asked for ECDSA.
  const Bytes sig = Sign(key.get(), TpmHashMd(kTpmAlgSha256), kMessage,
                         RSA_PKCS1_PADDING);
  EXPECT_FALSE(checker.VerifyRsa(kTpmAlgEcdsa, kTpmAlgSha256, kMessage, sig));
  EXPECT_FALSE(checker.VerifyEcdsa(kTpmAlgSha256, kMessage, sig, sig));
}

TEST(AkSignatureCheckerTest, EcdsaWithAnyLengthOfRAndS) {
  for (const char* curve : {"P-256", "P-384"}) {
    SCOPED_TRACE(curve);
    auto key = Generate("EC", curve);
    ASSERT_NE(key, nullptr);
    const size_t width = std::string(curve) == "P-256" ? 32 : 48;
    AkSignatureChecker checker(key);
    EXPECT_TRUE(checker.is_ec());
    // Enough signatures that some r or s has a leading zero byte or its top
    // bit set (DER then needs a 0x00).
    for (int i = 0; i < 64; ++i) {
      const Bytes der = Sign(key.get(), TpmHashMd(kTpmAlgSha256), kMessage);
      Bytes r, s;
      SplitEcdsa(der, width, &r, &s);
      EXPECT_TRUE(checker.VerifyEcdsa(kTpmAlgSha256, kMessage, r, s));
      // Fixed width with extra leading zeros, as a TPM may send them.
      Bytes r_long(2, 0);
      r_long.insert(r_long.end(), r.begin(), r.end());
      EXPECT_TRUE(checker.VerifyEcdsa(kTpmAlgSha256, kMessage, r_long, s));
      EXPECT_FALSE(checker.VerifyEcdsa(kTpmAlgSha256, kMessage, s, r));
      EXPECT_FALSE(checker.VerifyEcdsa(kTpmAlgSha384, kMessage, r, s));
      EXPECT_FALSE(checker.VerifyRsa(kTpmAlgRsassa, kTpmAlgSha256, kMessage,
                                     der));
    }
    EXPECT_FALSE(checker.VerifyEcdsa(kTpmAlgSha256, kMessage, {}, {}));
  }
}

// The DER this file writes is the DER OpenSSL writes, for r and s with and
// without leading zeros and top bits.
TEST(AkSignatureCheckerTest, EcdsaDerIsOpensslsDer) {
  for (int i = 0; i < 500; ++i) {
    Bytes r(1 + i % 66), s(1 + (i * 7) % 66);
    RAND_bytes(r.data(), static_cast<int>(r.size()));
    RAND_bytes(s.data(), static_cast<int>(s.size()));
    if (i % 3 == 0) r[0] = 0;
    if (i % 5 == 0) s[0] |= 0x80;
    if (i % 11 == 0) std::fill(r.begin(), r.end(), 0);
    ECDSA_SIG* sig = ECDSA_SIG_new();
    ECDSA_SIG_set0(sig, BN_bin2bn(r.data(), static_cast<int>(r.size()), nullptr),
                   BN_bin2bn(s.data(), static_cast<int>(s.size()), nullptr));
    unsigned char* want = nullptr;
    const int want_len = i2d_ECDSA_SIG(sig, &want);
    ECDSA_SIG_free(sig);
    ASSERT_GT(want_len, 0);
    uint8_t got[kMaxEcdsaSignatureDer];
    const size_t got_len = EncodeEcdsaSignatureDer(r, s, got);
    EXPECT_EQ(Bytes(got, got + got_len), Bytes(want, want + want_len))
        << "r=" << HexEncode(r) << " s=" << HexEncode(s);
    OPENSSL_free(want);
  }
  uint8_t out[kMaxEcdsaSignatureDer];
  EXPECT_EQ(EncodeEcdsaSignatureDer(Bytes(67, 1), Bytes(1, 1), out), 0u);
  EXPECT_EQ(EncodeEcdsaSignatureDer(Bytes(), Bytes(1, 1), out), 0u);
}

// Contexts are reused across calls and threads (never two at once), a
// failed check does not return its context, and the pool stays bounded.
TEST(AkSignatureCheckerTest, PooledContextsAcrossThreadsAndFailures) {
  auto key = Generate("RSA", nullptr);
  ASSERT_NE(key, nullptr);
  AkSignatureChecker checker(key);
  const Bytes good = Sign(key.get(), TpmHashMd(kTpmAlgSha256), kMessage,
                          RSA_PKCS1_PADDING);
  Bytes bad = good;
  bad[7] ^= 0x40;
  EXPECT_TRUE(checker.VerifyRsa(kTpmAlgRsassa, kTpmAlgSha256, kMessage, good));
  EXPECT_EQ(checker.idle_contexts(), 1u);
  EXPECT_FALSE(checker.VerifyRsa(kTpmAlgRsassa, kTpmAlgSha256, kMessage, bad));
  EXPECT_EQ(checker.idle_contexts(), 0u);  // the failed one was freed
  EXPECT_TRUE(checker.VerifyRsa(kTpmAlgRsassa, kTpmAlgSha256, kMessage, good));

  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        const bool use_bad = (i + t) % 4 == 0;
        const bool ok = checker.VerifyRsa(kTpmAlgRsassa, kTpmAlgSha256,
                                          kMessage, use_bad ? bad : good);
        if (ok == use_bad) wrong.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(checker.idle_contexts(), AkSignatureChecker::kMaxIdle);
  // Sequential calls reuse one context rather than growing the pool.
  EXPECT_TRUE(checker.VerifyRsa(kTpmAlgRsassa, kTpmAlgSha256, kMessage, good));
  const size_t idle = checker.idle_contexts();
  EXPECT_GE(idle, 1u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(
        checker.VerifyRsa(kTpmAlgRsassa, kTpmAlgSha256, kMessage, good));
  }
  EXPECT_EQ(checker.idle_contexts(), idle);
}

// The recorded swtpm quotes verify through the checker with their AKs.
TEST(AkSignatureCheckerTest, RecordedSwtpmQuotes) {
  for (const char* alg : {"rsa", "ecc"}) {
    SCOPED_TRACE(alg);
    auto pub = ParseTpmPublicBlob(TpmVecBytes(std::string("swtpm/ak_") + alg +
                                              ".pub"));
    ASSERT_TRUE(pub.ok()) << pub.status();
    auto key = TpmPublicKey(*pub);
    ASSERT_TRUE(key.ok()) << key.status();
    AkSignatureChecker checker(*key);
    const Bytes quote =
        TpmVecBytes(std::string("swtpm/quote_") + alg + ".attest");
    auto sig = ParseTpmtSignature(
        TpmVecBytes(std::string("swtpm/quote_") + alg + ".sig"));
    ASSERT_TRUE(sig.ok()) << sig.status();
    Bytes other = quote;
    other.back() ^= 0x01;
    if (sig->sig_alg == kTpmAlgEcdsa) {
      EXPECT_TRUE(
          checker.VerifyEcdsa(sig->hash_alg, quote, sig->ecdsa_r, sig->ecdsa_s));
      EXPECT_FALSE(
          checker.VerifyEcdsa(sig->hash_alg, other, sig->ecdsa_r, sig->ecdsa_s));
    } else {
      EXPECT_TRUE(checker.VerifyRsa(sig->sig_alg, sig->hash_alg, quote,
                                    sig->rsa_signature));
      EXPECT_FALSE(checker.VerifyRsa(sig->sig_alg, sig->hash_alg, other,
                                     sig->rsa_signature));
    }
  }
}

}  // namespace
}  // namespace strongroom::attest::tpm_internal
