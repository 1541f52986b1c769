// The PKCS#11 layer against the real SoftHSM module.
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "base/testing/status_matchers.h"
#include "kms/pkcs11/ecdsa_der.h"
#include "tests/kms/pkcs11/hsm_fixture.h"

namespace strongroom::kms::pkcs11 {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

class HsmTest : public HsmFixture {
 protected:
  void SetUp() override { SetUpHsm(/*through_fault_module=*/false); }
};

Bytes Iv(uint8_t fill) { return Bytes(12, fill); }

TEST_F(HsmTest, AesGcmRoundTripAndTamperDetection) {
  ASSERT_OK_AND_ASSIGN(KeyHandle key, hsm_->GenerateAesKey(32, {.label = "dek"}));
  Bytes aad = {1, 2, 3};
  Bytes pt(4096, 0x5a);
  ASSERT_OK_AND_ASSIGN(Bytes ct, hsm_->AesGcmEncrypt(key, Iv(1), aad, pt));
  ASSERT_EQ(ct.size(), pt.size() + 16);
  ASSERT_OK_AND_ASSIGN(SecretBytes back, hsm_->AesGcmDecrypt(key, Iv(1), aad, ct));
  EXPECT_EQ(Bytes(back.Reveal().begin(), back.Reveal().end()), pt);

  Bytes tampered = ct;
  tampered[100] ^= 1;
  EXPECT_THAT(hsm_->AesGcmDecrypt(key, Iv(1), aad, tampered),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("C_Decrypt")));
  EXPECT_THAT(hsm_->AesGcmDecrypt(key, Iv(1), Bytes{9}, ct),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("authenticate")));
  EXPECT_THAT(hsm_->AesGcmDecrypt(key, Iv(2), aad, ct),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // The failures did not poison later calls.
  EXPECT_OK(hsm_->AesGcmDecrypt(key, Iv(1), aad, ct));
}

TEST_F(HsmTest, GcmRejectsBadIvAndShortCiphertext) {
  ASSERT_OK_AND_ASSIGN(KeyHandle key, hsm_->GenerateAesKey(32, {.label = "k"}));
  EXPECT_THAT(hsm_->AesGcmEncrypt(key, Bytes(), {}, Bytes{1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("iv must be 12 bytes")));
  EXPECT_THAT(hsm_->AesGcmDecrypt(key, Iv(0), {}, Bytes(15)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shorter than the 16-byte tag")));
  EXPECT_THAT(hsm_->GenerateAesKey(20, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("20 bytes")));
}

TEST_F(HsmTest, GeneratedKeysAreNonExtractable) {
  ASSERT_OK_AND_ASSIGN(KeyHandle root, hsm_->GenerateAesKey(
      32, {.label = "root", .usage = kUsageWrap | kUsageUnwrap}));
  ASSERT_OK_AND_ASSIGN(KeyHandle key, hsm_->GenerateAesKey(32, {.label = "locked"}));
  EXPECT_THAT(hsm_->WrapKey(root, key, WrapMechanism::kRfc3394),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("CKR_KEY_UNEXTRACTABLE")));
}

TEST_F(HsmTest, WrapUnwrapBothMechanisms) {
  ASSERT_OK_AND_ASSIGN(KeyHandle root, hsm_->GenerateAesKey(
      32, {.label = "root", .persistent = true, .usage = kUsageWrap | kUsageUnwrap}));
  for (WrapMechanism m : {WrapMechanism::kRfc3394, WrapMechanism::kRfc5649}) {
    SecretBytes dek = SecretBytes::Random(32);
    ASSERT_OK_AND_ASSIGN(Bytes wrapped, hsm_->WrapSecret(root, dek, m));
    EXPECT_EQ(wrapped.size(), 40u);
    ASSERT_OK_AND_ASSIGN(SecretBytes back, hsm_->UnwrapSecret(root, wrapped, m));
    EXPECT_TRUE(back == dek);
    // Into a key object: it encrypts like the plaintext key does in OpenSSL.
    ASSERT_OK_AND_ASSIGN(KeyHandle obj, hsm_->UnwrapKey(root, wrapped, m,
                                                        {.label = "dek", .extractable = true}));
    EXPECT_EQ(obj.aes_key_bytes, 32u);
    ASSERT_OK_AND_ASSIGN(Bytes rewrapped, hsm_->WrapKey(root, obj, m));
    EXPECT_EQ(rewrapped, wrapped);  // AES-KW is deterministic
    Bytes bad = wrapped;
    bad[5] ^= 0x80;
    EXPECT_THAT(hsm_->UnwrapSecret(root, bad, m), StatusIs(absl::StatusCode::kInvalidArgument));
  }
  EXPECT_THAT(hsm_->WrapSecret(root, SecretBytes::Random(12), WrapMechanism::kRfc3394),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("multiples of 8")));
  EXPECT_THAT(hsm_->UnwrapSecret(root, Bytes(17), WrapMechanism::kRfc3394),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("wrapped key is 17 bytes")));
}

EVP_PKEY* PublicKeyFromPoint(EcCurve curve, const Bytes& point) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                  curve == EcCurve::kP256 ? "prime256v1" : "secp384r1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY_fromdata_init(ctx);
  EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return pkey;
}

bool OpenSslVerify(EcCurve curve, const Bytes& point, const EVP_MD* md, const Bytes& msg,
                   const Bytes& der) {
  EVP_PKEY* pkey = PublicKeyFromPoint(curve, point);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = pkey != nullptr && EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, pkey) == 1 &&
            EVP_DigestVerify(ctx, der.data(), der.size(), msg.data(), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  return ok;
}

class HsmEcTest : public HsmTest, public ::testing::WithParamInterface<EcCurve> {};

TEST_P(HsmEcTest, EcdsaSignaturesVerifyInOpenSslAndInTheHsm) {
  EcCurve curve = GetParam();
  HashAlg hash = curve == EcCurve::kP256 ? HashAlg::kSha256 : HashAlg::kSha384;
  const EVP_MD* md = curve == EcCurve::kP256 ? EVP_sha256() : EVP_sha384();
  ASSERT_OK_AND_ASSIGN(EcKeyPair pair, hsm_->GenerateEcKeyPair(
      curve, {.label = "signer", .usage = kUsageSign}));
  EXPECT_EQ(pair.public_point.size(), 1 + 2 * (curve == EcCurve::kP256 ? 32u : 48u));
  Bytes msg = {'h', 'e', 'l', 'l', 'o'};
  ASSERT_OK_AND_ASSIGN(Bytes der, hsm_->EcdsaSign(pair.private_key, hash, msg));
  EXPECT_EQ(der[0], 0x30);
  EXPECT_TRUE(OpenSslVerify(curve, pair.public_point, md, msg, der));
  EXPECT_OK(hsm_->EcdsaVerify(pair.public_key, hash, msg, der));
  Bytes other = msg;
  other[0] = 'j';
  EXPECT_FALSE(OpenSslVerify(curve, pair.public_point, md, other, der));
  EXPECT_THAT(hsm_->EcdsaVerify(pair.public_key, hash, other, der),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not verify")));
}

// A session copy of a persistent key signs as the original, is not found
// where the token object is looked up, and is gone after a reload, when the
// original still signs.
TEST_F(HsmTest, SessionCopyOfAPersistentKeySignsAsTheOriginal) {
  ASSERT_OK_AND_ASSIGN(
      EcKeyPair pair,
      hsm_->GenerateEcKeyPair(EcCurve::kP256,
                              {.label = "copied", .persistent = true, .usage = kUsageSign}));
  ASSERT_OK_AND_ASSIGN(KeyHandle copy, hsm_->CopyToSession(pair.private_key));
  EXPECT_FALSE(copy.persistent);
  EXPECT_NE(copy.handle, pair.private_key.handle);
  EXPECT_THAT(hsm_->CopyToSession(copy),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("already a session key")));
  const Bytes msg = {'t', 'o', 'k', 'e', 'n'};
  ASSERT_OK_AND_ASSIGN(Bytes der, hsm_->EcdsaSign(copy, HashAlg::kSha256, msg));
  EXPECT_TRUE(OpenSslVerify(EcCurve::kP256, pair.public_point, EVP_sha256(), msg, der));
  // Lookups of the token object see one key with that label, not the copy.
  ASSERT_OK_AND_ASSIGN(KeyHandle found, hsm_->FindKey(KeyKind::kEcPrivate, "copied"));
  EXPECT_EQ(found.handle, pair.private_key.handle);

  ASSERT_OK(hsm_->Reload());
  EXPECT_THAT(hsm_->EcdsaSign(copy, HashAlg::kSha256, msg),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("re-initialized")));
  ASSERT_OK_AND_ASSIGN(der, hsm_->EcdsaSign(pair.private_key, HashAlg::kSha256, msg));
  EXPECT_TRUE(OpenSslVerify(EcCurve::kP256, pair.public_point, EVP_sha256(), msg, der));
  ASSERT_OK_AND_ASSIGN(KeyHandle again, hsm_->CopyToSession(pair.private_key));
  ASSERT_OK_AND_ASSIGN(der, hsm_->EcdsaSign(again, HashAlg::kSha256, msg));
  EXPECT_TRUE(OpenSslVerify(EcCurve::kP256, pair.public_point, EVP_sha256(), msg, der));
  ASSERT_OK(hsm_->DestroyKey(again));
  EXPECT_FALSE(hsm_->EcdsaSign(again, HashAlg::kSha256, msg).ok());
  EXPECT_OK(hsm_->EcdsaSign(pair.private_key, HashAlg::kSha256, msg).status());
}

TEST_P(HsmEcTest, EcdhMatchesOpenSsl) {
  EcCurve curve = GetParam();
  ASSERT_OK_AND_ASSIGN(EcKeyPair pair, hsm_->GenerateEcKeyPair(
      curve, {.label = "kex", .usage = kUsageDerive}));
  EVP_PKEY* peer = EVP_EC_gen(curve == EcCurve::kP256 ? "P-256" : "P-384");
  ASSERT_NE(peer, nullptr);
  Bytes peer_point(200);
  size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_octet_string_param(peer, OSSL_PKEY_PARAM_PUB_KEY, peer_point.data(),
                                            peer_point.size(), &len), 1);
  peer_point.resize(len);
  ASSERT_OK_AND_ASSIGN(SecretBytes hsm_secret, hsm_->EcdhDerive(pair.private_key, peer_point));

  EVP_PKEY* ours = PublicKeyFromPoint(curve, pair.public_point);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(peer, nullptr);
  ASSERT_EQ(EVP_PKEY_derive_init(ctx), 1);
  ASSERT_EQ(EVP_PKEY_derive_set_peer(ctx, ours), 1);
  size_t secret_len = 0;
  EVP_PKEY_derive(ctx, nullptr, &secret_len);
  Bytes expected(secret_len);
  ASSERT_EQ(EVP_PKEY_derive(ctx, expected.data(), &secret_len), 1);
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(ours);
  EVP_PKEY_free(peer);
  EXPECT_EQ(Bytes(hsm_secret.Reveal().begin(), hsm_secret.Reveal().end()), expected);
  EXPECT_THAT(hsm_->EcdhDerive(pair.private_key, Bytes(10, 4)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("uncompressed")));
}

INSTANTIATE_TEST_SUITE_P(Curves, HsmEcTest, ::testing::Values(EcCurve::kP256, EcCurve::kP384),
                         [](const auto& info) {
                           return info.param == EcCurve::kP256 ? "P256" : "P384";
                         });

TEST_F(HsmTest, PersistentKeysAreFoundByLabelAndDestroyed) {
  ASSERT_OK_AND_ASSIGN(KeyHandle key, hsm_->GenerateAesKey(
      32, {.label = "persisted", .persistent = true}));
  ASSERT_OK_AND_ASSIGN(KeyHandle found, hsm_->FindKey(KeyKind::kAes, "persisted"));
  EXPECT_EQ(found.id, key.id);
  EXPECT_EQ(found.aes_key_bytes, 32u);
  ASSERT_OK_AND_ASSIGN(Bytes ct, hsm_->AesGcmEncrypt(key, Iv(3), {}, Bytes{1, 2}));
  EXPECT_OK(hsm_->AesGcmDecrypt(found, Iv(3), {}, ct));
  ASSERT_OK(hsm_->DestroyKey(found));
  EXPECT_THAT(hsm_->FindKey(KeyKind::kAes, "persisted"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("'persisted'")));
  EXPECT_THAT(hsm_->AesGcmEncrypt(key, Iv(3), {}, Bytes{1}),
              StatusIs(absl::StatusCode::kNotFound));
}

// A key known only by its CKA_ID (as the KMS keeps HSM versions) is resolved
// through a handle cache; destroying it drops the cached handle, so a later
// object with the same id is found rather than the dead handle used.
TEST_F(HsmTest, DestroyingAKeyForgetsItsCachedHandle) {
  const Bytes id = {0x51, 0x52, 0x53};
  ASSERT_OK(hsm_->GenerateAesKey(32, {.label = "first", .id = id, .persistent = true}).status());
  KeyHandle by_id;
  by_id.kind = KeyKind::kAes;
  by_id.persistent = true;
  by_id.id = id;
  by_id.label = "by-id";
  by_id.aes_key_bytes = 32;
  ASSERT_OK(hsm_->AesGcmEncrypt(by_id, Iv(5), {}, Bytes{1}).status());  // cached now
  EXPECT_OK(hsm_->CheckKeyExists(by_id));
  ASSERT_OK(hsm_->DestroyKey(by_id));
  ASSERT_OK_AND_ASSIGN(KeyHandle second,
                       hsm_->GenerateAesKey(32, {.label = "second", .id = id, .persistent = true}));
  ASSERT_OK_AND_ASSIGN(Bytes ct, hsm_->AesGcmEncrypt(by_id, Iv(5), {}, Bytes{2}));
  EXPECT_OK(hsm_->AesGcmDecrypt(second, Iv(5), {}, ct).status());
  ASSERT_OK(hsm_->DestroyKey(second));
  EXPECT_THAT(hsm_->CheckKeyExists(by_id),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no longer in the token")));
  KeyHandle session_key;
  session_key.persistent = false;
  EXPECT_THAT(hsm_->CheckKeyExists(session_key), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(HsmTest, ReloadKeepsPersistentKeysAndDropsSessionKeys) {
  ASSERT_OK_AND_ASSIGN(KeyHandle persistent, hsm_->GenerateAesKey(
      32, {.label = "p", .persistent = true}));
  ASSERT_OK_AND_ASSIGN(KeyHandle session_key, hsm_->GenerateAesKey(32, {.label = "s"}));
  ASSERT_OK_AND_ASSIGN(Bytes ct, hsm_->AesGcmEncrypt(persistent, Iv(4), {}, Bytes{7}));
  ASSERT_OK(hsm_->Reload());
  ASSERT_OK_AND_ASSIGN(TokenStatus status, hsm_->GetTokenStatus());
  EXPECT_EQ(status.generation, 2u);
  EXPECT_OK(hsm_->AesGcmDecrypt(persistent, Iv(4), {}, ct));
  EXPECT_THAT(hsm_->AesGcmEncrypt(session_key, Iv(4), {}, Bytes{7}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("re-initialized")));
}

TEST_F(HsmTest, ConcurrentCallersShareABoundedPool) {
  hsm_.reset();
  HsmOptions options{hsm_sim::SoftHsmToken::SoftHsmModulePath(), token_->label(),
                     {.file = token_->pin_file()}, 3};
  ASSERT_OK_AND_ASSIGN(hsm_, Hsm::Create(options));
  ASSERT_OK_AND_ASSIGN(KeyHandle key, hsm_->GenerateAesKey(32, {.label = "shared"}));
  std::atomic<int> failures{0};
  std::atomic<size_t> max_open{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        Bytes pt(64, static_cast<uint8_t>(t));
        Bytes iv = Iv(static_cast<uint8_t>(i));
        iv[0] = static_cast<uint8_t>(t);
        auto ct = hsm_->AesGcmEncrypt(key, iv, {}, pt);
        auto back = ct.ok() ? hsm_->AesGcmDecrypt(key, iv, {}, *ct)
                            : absl::StatusOr<SecretBytes>(ct.status());
        if (!back.ok() || Bytes(back->Reveal().begin(), back->Reveal().end()) != pt) ++failures;
        size_t open = hsm_->OpenSessionCount();
        size_t prev = max_open.load();
        while (open > prev && !max_open.compare_exchange_weak(prev, open)) {}
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(max_open.load(), 4u);  // 3 pooled + the key-owner session
}

TEST_F(HsmTest, RandomBytes) {
  ASSERT_OK_AND_ASSIGN(SecretBytes a, hsm_->GenerateRandom(32));
  ASSERT_OK_AND_ASSIGN(SecretBytes b, hsm_->GenerateRandom(32));
  EXPECT_FALSE(a == b);
  EXPECT_THAT(hsm_->GenerateRandom(0), StatusIs(absl::StatusCode::kInvalidArgument));
}

// --- Creating the Hsm: module, token and PIN errors ---------------------------

class HsmCreateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(token_, hsm_sim::SoftHsmToken::Create("create-test"));
  }
  HsmOptions Options() {
    return {hsm_sim::SoftHsmToken::SoftHsmModulePath(), token_->label(),
            {.file = token_->pin_file()}, 4};
  }
  std::unique_ptr<hsm_sim::SoftHsmToken> token_;
};

TEST_F(HsmCreateTest, UnknownTokenLabelListsTheTokens) {
  HsmOptions o = Options();
  o.token_label = "nope";
  EXPECT_THAT(Hsm::Create(o), StatusIs(absl::StatusCode::kNotFound,
                                       ::testing::AllOf(HasSubstr("'nope'"),
                                                        HasSubstr("'create-test'"))));
}

TEST_F(HsmCreateTest, MissingModule) {
  HsmOptions o = Options();
  o.module_path = "/nonexistent/libpkcs11.so";
  EXPECT_THAT(Hsm::Create(o), StatusIs(absl::StatusCode::kNotFound,
                                       HasSubstr("/nonexistent/libpkcs11.so")));
}

TEST_F(HsmCreateTest, WrongPinIsPermissionDeniedAndNotEchoed) {
  std::string pin_path = token_->dir() + "/wrong.pin";
  {
    std::ofstream(pin_path) << "definitely-wrong-pin-4711";
  }
  chmod(pin_path.c_str(), 0600);
  HsmOptions o = Options();
  o.pin.file = pin_path;
  auto hsm = Hsm::Create(o);
  EXPECT_THAT(hsm, StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("CKR_PIN_INCORRECT")));
  EXPECT_THAT(std::string(hsm.status().message()),
              ::testing::Not(HasSubstr("definitely-wrong-pin-4711")));
}

TEST_F(HsmCreateTest, PinFileReadableByOthersIsRefused) {
  chmod(token_->pin_file().c_str(), 0644);
  EXPECT_THAT(Hsm::Create(Options()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("chmod 600")));
}

TEST_F(HsmCreateTest, PinFromEnvironment) {
  setenv("STRONGROOM_TEST_PIN", token_->user_pin().c_str(), 1);
  HsmOptions o = Options();
  o.pin = {.env_var = "STRONGROOM_TEST_PIN"};
  EXPECT_OK(Hsm::Create(o));
  o.pin = {.env_var = "STRONGROOM_TEST_PIN_UNSET"};
  EXPECT_THAT(Hsm::Create(o), StatusIs(absl::StatusCode::kNotFound,
                                       HasSubstr("STRONGROOM_TEST_PIN_UNSET")));
  o.pin = {};
  EXPECT_THAT(Hsm::Create(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("exactly one")));
  // A value that cannot name a variable (a boolean, or the PIN itself) is
  // refused without being echoed.
  setenv("true", token_->user_pin().c_str(), 1);
  o.pin = {.env_var = "true"};
  EXPECT_THAT(Hsm::Create(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("not an environment variable name")));
  o.pin = {.env_var = "1234-5678"};
  absl::StatusOr<std::unique_ptr<Hsm>> bad = Hsm::Create(o);
  ASSERT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(bad.status().message()), Not(HasSubstr("1234")));
  unsetenv("true");
}

TEST(EcdsaDerTest, StrictParsing) {
  Bytes raw(64, 0x11);
  ASSERT_OK_AND_ASSIGN(Bytes der, EcdsaRawToDer(raw));
  ASSERT_OK_AND_ASSIGN(Bytes back, EcdsaDerToRaw(der, 32));
  EXPECT_EQ(back, raw);
  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_THAT(EcdsaDerToRaw(trailing, 32), StatusIs(absl::StatusCode::kInvalidArgument,
                                                    HasSubstr("trailing")));
  EXPECT_THAT(EcdsaDerToRaw(der, 16), StatusIs(absl::StatusCode::kInvalidArgument,
                                               HasSubstr("wider")));
  EXPECT_THAT(EcdsaDerToRaw(Bytes{0x30, 0x00}, 32), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace strongroom::kms::pkcs11
