#include "tests/attest/snp/test_util.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/x509v3.h>

#include "base/file.h"
#include "gtest/gtest.h"

namespace strongroom::attest::snp_test {

std::string VecPath(absl::string_view rel) {
  return std::string(STRONGROOM_VECTORS_DIR) + "/sev-snp/" + std::string(rel);
}

std::string Vec(absl::string_view rel) {
  auto s = ReadFileToString(VecPath(rel), "vector");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

absl::Time At(absl::string_view rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return t;
}

absl::Time PinnedTime() { return At("2025-06-01T00:00:00Z"); }

void PutLe32(std::string& report, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) report[off + i] = static_cast<char>(v >> (8 * i));
}
void PutLe64(std::string& report, size_t off, uint64_t v) {
  for (int i = 0; i < 8; ++i) report[off + i] = static_cast<char>(v >> (8 * i));
}

KeyPtr NewP384Key() {
  EVP_PKEY* k = EVP_EC_gen("P-384");
  EXPECT_NE(k, nullptr);
  return KeyPtr(k, EVP_PKEY_free);
}

namespace {
X509_NAME* Name(absl::string_view cn) {
  X509_NAME* n = X509_NAME_new();
  X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Test"), -1,
                             -1, 0);
  std::string s(cn);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(s.c_str()),
                             -1, -1, 0);
  return n;
}
}  // namespace

Certificate MakeCert(const FakeCert& spec) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_NAME* subject = Name(spec.subject_cn);
  X509_NAME* issuer = Name(spec.issuer_cn);
  X509_set_subject_name(x, subject);
  X509_set_issuer_name(x, issuer);
  X509_NAME_free(subject);
  X509_NAME_free(issuer);
  ASN1_TIME_set(X509_getm_notBefore(x), absl::ToTimeT(spec.not_before));
  ASN1_TIME_set(X509_getm_notAfter(x), absl::ToTimeT(spec.not_after));
  X509_set_pubkey(x, spec.subject_key);
  if (spec.ca) {
    X509_EXTENSION* bc = X509V3_EXT_conf_nid(
        nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, bc, -1);
    X509_EXTENSION_free(bc);
  }
  for (const auto& [oid, value] : spec.extensions) {
    ASN1_OBJECT* obj = OBJ_txt2obj(oid.c_str(), 1);
    ASN1_OCTET_STRING* data = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(data, value.data(), static_cast<int>(value.size()));
    X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, obj, 0, data);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(data);
    ASN1_OBJECT_free(obj);
  }
  EXPECT_GT(X509_sign(x, spec.issuer_key, EVP_sha384()), 0);
  unsigned char* der = nullptr;
  int n = i2d_X509(x, &der);
  X509_free(x);
  auto cert = Certificate::FromDer({der, static_cast<size_t>(n)}, "fake");
  OPENSSL_free(der);
  EXPECT_TRUE(cert.ok()) << cert.status();
  return *cert;
}

Bytes DerInt(uint8_t v) {
  if (v & 0x80) return {0x02, 0x02, 0x00, v};
  return {0x02, 0x01, v};
}

Bytes DerIa5(absl::string_view s) {
  Bytes out(2 + s.size());
  out[0] = 0x16;
  out[1] = static_cast<uint8_t>(s.size());
  for (size_t i = 0; i < s.size(); ++i) out[2 + i] = static_cast<uint8_t>(s[i]);
  return out;
}

void SignReport(std::string& report, EVP_PKEY* key) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t sig_len = 0;
  ASSERT_EQ(EVP_DigestSignInit(ctx, nullptr, EVP_sha384(), nullptr, key), 1);
  ASSERT_EQ(EVP_DigestSign(
                ctx, nullptr, &sig_len,
                reinterpret_cast<const unsigned char*>(report.data()), 0x2A0),
            1);
  Bytes der(sig_len);
  ASSERT_EQ(EVP_DigestSign(
                ctx, der.data(), &sig_len,
                reinterpret_cast<const unsigned char*>(report.data()), 0x2A0),
            1);
  EVP_MD_CTX_free(ctx);
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig_len));
  ASSERT_NE(sig, nullptr);
  auto put = [&](const BIGNUM* bn, size_t off) {
    unsigned char le[72] = {0};
    ASSERT_EQ(BN_bn2lebinpad(bn, le, sizeof(le)), 72);
    for (size_t i = 0; i < 72; ++i) report[off + i] = static_cast<char>(le[i]);
  };
  put(ECDSA_SIG_get0_r(sig), 0x2A0);
  put(ECDSA_SIG_get0_s(sig), 0x2E8);
  ECDSA_SIG_free(sig);
}

}  // namespace strongroom::attest::snp_test
