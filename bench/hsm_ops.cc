#include "bench/hsm_ops.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <atomic>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/secret_bytes.h"
#include "base/status_macros.h"
#include "kms/pkcs11/ecdsa_der.h"
#include "kms/pkcs11/errors.h"

namespace strongroom::bench {
namespace {

using kms::pkcs11::EcCurve;
using kms::pkcs11::HashAlg;
using kms::pkcs11::Hsm;
using kms::pkcs11::KeyOptions;
using kms::pkcs11::RvToStatus;
using kms::pkcs11::WrapMechanism;

constexpr WrapMechanism kWrap = WrapMechanism::kRfc3394;

absl::Status CheckSize(const char* what, size_t got, size_t want) {
  if (got == want) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, " is ", got, " bytes, expected ", want));
}

// A fresh 96-bit IV per op (deterministic construction, NIST SP 800-38D 8.2.1):
// a 32-bit tag unique to this sequence || a 64-bit counter. Every sequence in
// the process gets its own tag, so no IV repeats under the benchmark's key.
class IvSequence {
 public:
  IvSequence() {
    static std::atomic<uint32_t> next_tag{1};
    const uint32_t tag = next_tag.fetch_add(1, std::memory_order_relaxed);
    std::memcpy(iv_.data(), &tag, sizeof(tag));
  }
  std::span<const uint8_t> Next() {
    ++counter_;
    std::memcpy(iv_.data() + 4, &counter_, sizeof(counter_));
    return iv_;
  }

 private:
  std::array<uint8_t, 12> iv_{};
  uint64_t counter_ = 0;
};

// --- Direct forms: the module calls the layer makes, nothing more. ----------

// Hsm::WrapKey: C_WrapKey.
absl::StatusOr<size_t> DirectWrap(const DirectSession& s, CK_OBJECT_HANDLE wrapping,
                                  CK_OBJECT_HANDLE key, std::span<uint8_t> out) {
  CK_MECHANISM mech = {CKM_AES_KEY_WRAP, nullptr, 0};
  CK_ULONG len = out.size();
  CK_RV rv = s.fn()->C_WrapKey(s.handle(), &mech, wrapping, key, out.data(), &len);
  if (rv != CKR_OK) return RvToStatus("C_WrapKey", rv);
  return len;
}

// Hsm::UnwrapSecret: C_UnwrapKey to a temporary object with the layer's
// template, C_GetAttributeValue(CKA_VALUE), C_DestroyObject.
absl::StatusOr<size_t> DirectUnwrapSecret(const DirectSession& s, CK_OBJECT_HANDLE wrapping,
                                          std::span<const uint8_t> wrapped,
                                          std::span<uint8_t> value) {
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_GENERIC_SECRET;
  CK_BBOOL no = CK_FALSE;
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE tmpl[] = {
      {CKA_CLASS, &cls, sizeof(cls)},   {CKA_KEY_TYPE, &type, sizeof(type)},
      {CKA_TOKEN, &no, sizeof(no)},     {CKA_PRIVATE, &yes, sizeof(yes)},
      {CKA_SENSITIVE, &no, sizeof(no)}, {CKA_EXTRACTABLE, &yes, sizeof(yes)},
  };
  CK_MECHANISM mech = {CKM_AES_KEY_WRAP, nullptr, 0};
  CK_OBJECT_HANDLE temp = CK_INVALID_HANDLE;
  CK_RV rv = s.fn()->C_UnwrapKey(s.handle(), &mech, wrapping, const_cast<uint8_t*>(wrapped.data()),
                                 wrapped.size(), tmpl, std::size(tmpl), &temp);
  if (rv != CKR_OK) return RvToStatus("C_UnwrapKey", rv);
  CK_ATTRIBUTE attr = {CKA_VALUE, value.data(), value.size()};
  rv = s.fn()->C_GetAttributeValue(s.handle(), temp, &attr, 1);
  CK_RV destroy_rv = s.fn()->C_DestroyObject(s.handle(), temp);
  if (rv != CKR_OK) return RvToStatus("C_GetAttributeValue", rv, "CKA_VALUE");
  if (destroy_rv != CKR_OK) return RvToStatus("C_DestroyObject", destroy_rv);
  return attr.ulValueLen;
}

// Hsm::AesGcmEncrypt with no AAD: C_EncryptInit(CKM_AES_GCM) + C_Encrypt.
absl::StatusOr<size_t> DirectGcmEncrypt(const DirectSession& s, CK_OBJECT_HANDLE key,
                                        std::span<const uint8_t> iv,
                                        std::span<const uint8_t> plaintext,
                                        std::span<uint8_t> out) {
  CK_GCM_PARAMS params;
  params.pIv = const_cast<uint8_t*>(iv.data());
  params.ulIvLen = iv.size();
  params.ulIvBits = iv.size() * 8;
  params.pAAD = nullptr;
  params.ulAADLen = 0;
  params.ulTagBits = 128;
  CK_MECHANISM mech = {CKM_AES_GCM, &params, sizeof(params)};
  CK_RV rv = s.fn()->C_EncryptInit(s.handle(), &mech, key);
  if (rv != CKR_OK) return RvToStatus("C_EncryptInit", rv);
  CK_ULONG len = out.size();
  rv = s.fn()->C_Encrypt(s.handle(), const_cast<uint8_t*>(plaintext.data()), plaintext.size(),
                         out.data(), &len);
  if (rv != CKR_OK) return RvToStatus("C_Encrypt", rv);
  return len;
}

// Hsm::EcdsaSign(kSha256) without the DER encoding: SHA-256 in software,
// C_SignInit(CKM_ECDSA) + C_Sign. Writes r || s.
absl::StatusOr<size_t> DirectEcdsaSign(const DirectSession& s, CK_OBJECT_HANDLE key,
                                       std::span<const uint8_t> message, std::span<uint8_t> out) {
  uint8_t digest[32];
  unsigned int digest_len = 0;
  if (EVP_Digest(message.data(), message.size(), digest, &digest_len, EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("EVP_Digest(SHA-256) failed");
  }
  CK_MECHANISM mech = {CKM_ECDSA, nullptr, 0};
  CK_RV rv = s.fn()->C_SignInit(s.handle(), &mech, key);
  if (rv != CKR_OK) return RvToStatus("C_SignInit", rv);
  CK_ULONG len = out.size();
  rv = s.fn()->C_Sign(s.handle(), digest, digest_len, out.data(), &len);
  if (rv != CKR_OK) return RvToStatus("C_Sign", rv);
  return len;
}

// --- Op factories. ------------------------------------------------------------

// Each direct thread owns one session for the whole run, plus its buffers.
struct DirectThread {
  std::unique_ptr<DirectSession> session;
  IvSequence ivs;
  Bytes out;
};

OpFactory DirectFactory(const DirectPkcs11& direct, size_t out_bytes,
                        std::function<absl::Status(DirectThread&)> op) {
  return [&direct, out_bytes, op = std::move(op)](int) -> absl::StatusOr<Op> {
    auto state = std::make_shared<DirectThread>();
    ASSIGN_OR_RETURN(state->session, direct.OpenSession());
    state->out.resize(out_bytes);
    return Op([state, op] { return op(*state); });
  };
}

}  // namespace

absl::StatusOr<HsmFixture> CreateHsmFixture(Hsm& hsm) {
  HsmFixture f;
  KeyOptions root;
  root.label = "bench-root";
  root.usage = kms::pkcs11::kUsageWrap | kms::pkcs11::kUsageUnwrap;
  ASSIGN_OR_RETURN(f.root, hsm.GenerateAesKey(32, root));
  KeyOptions target;
  target.label = "bench-wrapped";
  target.extractable = true;
  ASSIGN_OR_RETURN(f.target, hsm.GenerateAesKey(32, target));
  KeyOptions gcm;
  gcm.label = "bench-gcm";
  ASSIGN_OR_RETURN(f.gcm, hsm.GenerateAesKey(32, gcm));
  KeyOptions ec;
  ec.label = "bench-ecdsa";
  ec.usage = kms::pkcs11::kUsageSign;
  ASSIGN_OR_RETURN(f.ec, hsm.GenerateEcKeyPair(EcCurve::kP256, ec));
  ASSIGN_OR_RETURN(f.wrapped, hsm.WrapKey(f.root, f.target, kWrap));
  RETURN_IF_ERROR(CheckSize("wrapped key", f.wrapped.size(), kWrappedKeyBytes));
  f.plaintext.resize(kGcmPlaintextBytes);
  f.message.resize(kSignedMessageBytes);
  if (RAND_bytes(f.plaintext.data(), f.plaintext.size()) != 1 ||
      RAND_bytes(f.message.data(), f.message.size()) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  return f;
}

std::vector<HsmOp> HsmOps(Hsm& hsm, const DirectPkcs11& direct, const HsmFixture& f) {
  Hsm* h = &hsm;
  const HsmFixture* fx = &f;
  std::vector<HsmOp> ops;

  ops.push_back({"wrap",
                 [h, fx](int) -> absl::StatusOr<Op> {
                   return Op([h, fx]() -> absl::Status {
                     ASSIGN_OR_RETURN(Bytes wrapped, h->WrapKey(fx->root, fx->target, kWrap));
                     return CheckSize("wrapped key", wrapped.size(), kWrappedKeyBytes);
                   });
                 },
                 DirectFactory(direct, kWrappedKeyBytes + 8, [fx](DirectThread& t) -> absl::Status {
                   ASSIGN_OR_RETURN(
                       size_t n, DirectWrap(*t.session, fx->root.handle, fx->target.handle, t.out));
                   return CheckSize("wrapped key", n, kWrappedKeyBytes);
                 })});

  ops.push_back({"unwrap",
                 [h, fx](int) -> absl::StatusOr<Op> {
                   return Op([h, fx]() -> absl::Status {
                     ASSIGN_OR_RETURN(SecretBytes key,
                                      h->UnwrapSecret(fx->root, fx->wrapped, kWrap));
                     return CheckSize("unwrapped key", key.size(), 32);
                   });
                 },
                 // Same buffer size as the layer's (the wrapped length), wiped like SecretBytes.
                 DirectFactory(direct, kWrappedKeyBytes, [fx](DirectThread& t) -> absl::Status {
                   absl::StatusOr<size_t> n =
                       DirectUnwrapSecret(*t.session, fx->root.handle, fx->wrapped, t.out);
                   OPENSSL_cleanse(t.out.data(), t.out.size());
                   if (!n.ok()) return n.status();
                   return CheckSize("unwrapped key", *n, 32);
                 })});

  ops.push_back({"aes_gcm_4k",
                 [h, fx](int) -> absl::StatusOr<Op> {
                   return Op([h, fx, ivs = IvSequence()]() mutable -> absl::Status {
                     ASSIGN_OR_RETURN(Bytes ct,
                                      h->AesGcmEncrypt(fx->gcm, ivs.Next(), {}, fx->plaintext));
                     return CheckSize("AES-GCM output", ct.size(), kGcmOutputBytes);
                   });
                 },
                 DirectFactory(direct, kGcmOutputBytes, [fx](DirectThread& t) -> absl::Status {
                   ASSIGN_OR_RETURN(size_t n, DirectGcmEncrypt(*t.session, fx->gcm.handle,
                                                               t.ivs.Next(), fx->plaintext, t.out));
                   return CheckSize("AES-GCM output", n, kGcmOutputBytes);
                 })});

  ops.push_back(
      {"ecdsa_p256_sign",
       [h, fx](int) -> absl::StatusOr<Op> {
         return Op([h, fx]() -> absl::Status {
           ASSIGN_OR_RETURN(Bytes der,
                            h->EcdsaSign(fx->ec.private_key, HashAlg::kSha256, fx->message));
           if (der.size() < 8 || der.size() > 72) {
             return absl::InternalError(absl::StrCat("DER signature is ", der.size(), " bytes"));
           }
           return absl::OkStatus();
         });
       },
       DirectFactory(direct, kEcdsaP256RawBytes, [fx](DirectThread& t) -> absl::Status {
         ASSIGN_OR_RETURN(
             size_t n, DirectEcdsaSign(*t.session, fx->ec.private_key.handle, fx->message, t.out));
         return CheckSize("raw ECDSA signature", n, kEcdsaP256RawBytes);
       })});
  return ops;
}

absl::Status CheckLayerMatchesDirect(Hsm& hsm, const DirectPkcs11& direct, const HsmFixture& f) {
  auto mismatch = [](absl::string_view op, absl::string_view what) {
    return absl::FailedPreconditionError(
        absl::StrCat(op, ": layer and direct PKCS#11 disagree: ", what));
  };
  ASSIGN_OR_RETURN(std::unique_ptr<DirectSession> s, direct.OpenSession());

  Bytes wrapped(kWrappedKeyBytes + 8);
  ASSIGN_OR_RETURN(size_t n, DirectWrap(*s, f.root.handle, f.target.handle, wrapped));
  wrapped.resize(n);
  if (wrapped != f.wrapped) return mismatch("wrap", "different wrapped bytes");

  ASSIGN_OR_RETURN(SecretBytes layer_key, hsm.UnwrapSecret(f.root, f.wrapped, kWrap));
  SecretBytes direct_key(kWrappedKeyBytes);
  ASSIGN_OR_RETURN(n, DirectUnwrapSecret(*s, f.root.handle, f.wrapped, direct_key.RevealMutable()));
  direct_key.Shrink(n);
  if (layer_key != direct_key) return mismatch("unwrap", "different key bytes");

  IvSequence ivs;
  std::span<const uint8_t> iv = ivs.Next();
  ASSIGN_OR_RETURN(Bytes layer_ct, hsm.AesGcmEncrypt(f.gcm, iv, {}, f.plaintext));
  Bytes direct_ct(kGcmOutputBytes);
  ASSIGN_OR_RETURN(n, DirectGcmEncrypt(*s, f.gcm.handle, iv, f.plaintext, direct_ct));
  direct_ct.resize(n);
  if (layer_ct != direct_ct) return mismatch("aes_gcm_4k", "different ciphertext for one IV");

  Bytes raw(kEcdsaP256RawBytes);
  ASSIGN_OR_RETURN(n, DirectEcdsaSign(*s, f.ec.private_key.handle, f.message, raw));
  raw.resize(n);
  ASSIGN_OR_RETURN(Bytes der, kms::pkcs11::EcdsaRawToDer(raw));
  if (absl::Status v = hsm.EcdsaVerify(f.ec.public_key, HashAlg::kSha256, f.message, der);
      !v.ok()) {
    return mismatch("ecdsa_p256_sign", v.message());
  }
  return absl::OkStatus();
}

}  // namespace strongroom::bench
