#include "tests/attest/nvidia/fake_gpu.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>

namespace strongroom::attest::testing {
namespace {

// Test set-up that cannot fail unless OpenSSL is broken.
#define FAKE_GPU_CHECK(cond)                                \
  do {                                                      \
    if (!(cond)) {                                          \
      std::fprintf(stderr, "fake_gpu: %s failed\n", #cond); \
      std::abort();                                         \
    }                                                       \
  } while (false)

std::shared_ptr<EVP_PKEY> NewP384Key() {
  EVP_PKEY* key = EVP_EC_gen("P-384");
  FAKE_GPU_CHECK(key != nullptr);
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

void SetName(X509_NAME* name, const char* cn) {
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Fake GPU"),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn), -1, -1,
                             0);
}

void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  FAKE_GPU_CHECK(ext != nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

std::string ToPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, len);
  BIO_free(bio);
  return out;
}

X509* MakeCert(EVP_PKEY* key, const char* cn, X509* issuer,
               EVP_PKEY* issuer_key, absl::Time not_before,
               absl::Time not_after, bool ca) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), ca ? 1 : 2);
  ASN1_TIME_set(X509_getm_notBefore(cert), absl::ToTimeT(not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert), absl::ToTimeT(not_after));
  SetName(X509_get_subject_name(cert), cn);
  X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer)
                                               : X509_get_subject_name(cert));
  X509_set_pubkey(cert, key);
  if (ca) {
    AddExt(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(cert, cert, NID_key_usage, "critical,keyCertSign");
  } else {
    AddExt(cert, issuer, NID_key_usage, "critical,digitalSignature");
  }
  return cert;
}

void AddFwidExtension(X509* cert, const Bytes& fwid) {
  // SEQUENCE { OCTET STRING fwid }: the FWID as the extension's last
  // OCTET STRING, which is where NVIDIA's leaf carries it.
  Bytes der = {0x30, static_cast<uint8_t>(fwid.size() + 2), 0x04,
               static_cast<uint8_t>(fwid.size())};
  der.insert(der.end(), fwid.begin(), fwid.end());
  ASN1_OBJECT* oid = OBJ_txt2obj("2.23.133.5.4.1", 1);
  ASN1_OCTET_STRING* value = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(value, der.data(), static_cast<int>(der.size()));
  X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, oid, 0, value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  ASN1_OCTET_STRING_free(value);
  ASN1_OBJECT_free(oid);
}

void PutLe(Bytes& out, uint32_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

}  // namespace

FakeGpu::FakeGpu(const FakeGpuOptions& options)
    : root_key_(NewP384Key()), leaf_key_(NewP384Key()) {
  X509* root = MakeCert(root_key_.get(), "Fake GPU Root", nullptr, nullptr,
                        absl::FromUnixSeconds(1500000000),
                        absl::FromUnixSeconds(2500000000), /*ca=*/true);
  FAKE_GPU_CHECK(X509_sign(root, root_key_.get(), EVP_sha384()) > 0);
  X509* leaf =
      MakeCert(leaf_key_.get(), "Fake GPU Device", root, root_key_.get(),
               options.leaf_not_before, options.leaf_not_after, /*ca=*/false);
  if (options.cert_fwid.has_value()) AddFwidExtension(leaf, *options.cert_fwid);
  FAKE_GPU_CHECK(X509_sign(leaf, root_key_.get(), EVP_sha384()) > 0);
  chain_pem_ = ToPem(leaf) + ToPem(root);
  unsigned char* spki = nullptr;
  int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(root), &spki);
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256(spki, n, md);
  OPENSSL_free(spki);
  root_spki_ = HexEncode(md);
  X509_free(leaf);
  X509_free(root);
}

Bytes FakeGpu::BuildReport(const FakeReport& r) const {
  Bytes out = {r.version, 0xE0, 0x01, 0xFF};
  out.insert(out.end(), r.nonce.begin(), r.nonce.end());
  out.push_back(0x00);  // slot 0
  Bytes record;
  for (int i = 1; i <= r.blocks; ++i) {
    record.push_back(static_cast<uint8_t>(i));
    record.push_back(0x01);  // DMTF
    PutLe(record, 3 + 48, 2);
    record.push_back(0x01);  // mutable firmware, digest
    PutLe(record, 48, 2);
    record.insert(record.end(), 48, static_cast<uint8_t>(0x10 + i));
  }
  out.insert(out.end(), {r.version, 0x60, 0x00, 0x00});
  out.push_back(static_cast<uint8_t>(r.blocks));
  PutLe(out, static_cast<uint32_t>(record.size()), 3);
  out.insert(out.end(), record.begin(), record.end());
  out.insert(out.end(), 32, 0x5A);  // responder nonce
  Bytes opaque;
  PutLe(opaque, 3, 2);
  PutLe(opaque, static_cast<uint32_t>(r.driver_version.size() + 1), 2);
  opaque.insert(opaque.end(), r.driver_version.begin(), r.driver_version.end());
  opaque.push_back(0);
  if (r.opaque_fwid.has_value()) {
    PutLe(opaque, 20, 2);
    PutLe(opaque, static_cast<uint32_t>(r.opaque_fwid->size()), 2);
    opaque.insert(opaque.end(), r.opaque_fwid->begin(), r.opaque_fwid->end());
  }
  PutLe(out, static_cast<uint32_t>(opaque.size()), 2);
  out.insert(out.end(), opaque.begin(), opaque.end());

  Bytes message = out;
  if (r.version >= 0x12 && !r.omit_signing_prefix) {
    std::string version = "dmtf-spdm-v1.2.*";
    version[13] = static_cast<char>('0' + (r.version & 0x0F));
    std::string prefix = version + version + version + version;
    prefix += std::string(6, '\0') + "responder-measurements signing";
    uint8_t digest[SHA384_DIGEST_LENGTH];
    SHA384(out.data(), out.size(), digest);
    message.assign(prefix.begin(), prefix.end());
    message.insert(message.end(), digest, digest + sizeof(digest));
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t der_len = 0;
  FAKE_GPU_CHECK(EVP_DigestSignInit(ctx, nullptr, EVP_sha384(), nullptr,
                                    leaf_key_.get()) == 1);
  FAKE_GPU_CHECK(EVP_DigestSign(ctx, nullptr, &der_len, message.data(),
                                message.size()) == 1);
  Bytes der(der_len);
  FAKE_GPU_CHECK(EVP_DigestSign(ctx, der.data(), &der_len, message.data(),
                                message.size()) == 1);
  EVP_MD_CTX_free(ctx);
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len));
  FAKE_GPU_CHECK(sig != nullptr);
  uint8_t rs[96];
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 48);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 48, 48);
  ECDSA_SIG_free(sig);
  out.insert(out.end(), rs, rs + sizeof(rs));
  return out;
}

}  // namespace strongroom::attest::testing
