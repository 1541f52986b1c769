#include "tests/attest/tdx/synthetic_tdx.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace strongroom::attest::testing_tdx {
namespace {

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, len);
  BIO_free(bio);
  return out;
}

// DER TLV with a definite length.
Bytes Tlv(uint8_t tag, std::span<const uint8_t> content) {
  Bytes out{tag};
  size_t n = content.size();
  if (n < 0x80) {
    out.push_back(static_cast<uint8_t>(n));
  } else {
    Bytes len;
    for (size_t v = n; v > 0; v >>= 8) len.insert(len.begin(), v & 0xff);
    out.push_back(static_cast<uint8_t>(0x80 | len.size()));
    out.insert(out.end(), len.begin(), len.end());
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

Bytes Oid(absl::string_view dotted) {
  std::vector<uint64_t> arcs;
  for (absl::string_view part : absl::StrSplit(dotted, '.')) {
    uint64_t v = 0;
    EXPECT_TRUE(absl::SimpleAtoi(part, &v));
    arcs.push_back(v);
  }
  Bytes content;
  auto base128 = [&content](uint64_t v) {
    Bytes tmp{static_cast<uint8_t>(v & 0x7f)};
    for (v >>= 7; v > 0; v >>= 7) {
      tmp.insert(tmp.begin(), static_cast<uint8_t>(0x80 | (v & 0x7f)));
    }
    content.insert(content.end(), tmp.begin(), tmp.end());
  };
  base128(arcs[0] * 40 + arcs[1]);
  for (size_t i = 2; i < arcs.size(); ++i) base128(arcs[i]);
  return Tlv(0x06, content);
}

Bytes Integer(uint32_t v) {
  Bytes content;
  do {
    content.insert(content.begin(), static_cast<uint8_t>(v & 0xff));
    v >>= 8;
  } while (v > 0);
  if (content[0] & 0x80) content.insert(content.begin(), 0);
  return Tlv(0x02, content);
}

Bytes Concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes Item(absl::string_view oid, const Bytes& value) {
  return Tlv(0x30, Concat({Oid(oid), value}));
}

X509_NAME* Name(absl::string_view cn) {
  X509_NAME* name = X509_NAME_new();
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(
                                 std::string(cn).c_str()),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(
      name, "O", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>("Strongroom Test"), -1, -1, 0);
  return name;
}

// A certificate for `key` named `cn`, issued by `issuer` (self-signed when
// null).
TestCert MakeCert(absl::string_view cn, PkeyPtr key, const TestCert* issuer,
                  long serial, bool ca, absl::Time nb, absl::Time na,
                  const Bytes* sgx_ext = nullptr) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_NAME* subject = Name(cn);
  X509_set_subject_name(x, subject);
  X509_set_issuer_name(
      x, issuer ? X509_get_subject_name(issuer->cert.get()) : subject);
  X509_NAME_free(subject);
  ASN1_TIME_set(X509_getm_notBefore(x), absl::ToTimeT(nb));
  ASN1_TIME_set(X509_getm_notAfter(x), absl::ToTimeT(na));
  X509_set_pubkey(x, key.get());
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? issuer->cert.get() : x, x, nullptr, nullptr,
                 0);
  X509_EXTENSION* bc = X509V3_EXT_conf_nid(
      nullptr, &ctx, NID_basic_constraints,
      ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  X509_add_ext(x, bc, -1);
  X509_EXTENSION_free(bc);
  if (sgx_ext != nullptr) {
    ASN1_OBJECT* obj = OBJ_txt2obj(kSgxExtensionOid, 1);
    ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(os, sgx_ext->data(), static_cast<int>(sgx_ext->size()));
    X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, obj, 0, os);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
  }
  EVP_PKEY* signer = issuer ? issuer->key.get() : key.get();
  EXPECT_GT(X509_sign(x, signer, EVP_sha256()), 0);
  return TestCert{std::move(key), X509Ptr(x, X509_free)};
}

X509_CRL* MakeCrl(const TestCert& issuer,
                  const std::vector<const TestCert*>& revoked, absl::Time tu,
                  absl::Time nu) {
  X509_CRL* crl = X509_CRL_new();
  X509_CRL_set_version(crl, 1);
  X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer.cert.get()));
  ASN1_TIME* t1 = ASN1_TIME_set(nullptr, absl::ToTimeT(tu));
  ASN1_TIME* t2 = ASN1_TIME_set(nullptr, absl::ToTimeT(nu));
  X509_CRL_set1_lastUpdate(crl, t1);
  X509_CRL_set1_nextUpdate(crl, t2);
  for (const TestCert* c : revoked) {
    X509_REVOKED* r = X509_REVOKED_new();
    X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(c->cert.get()));
    X509_REVOKED_set_revocationDate(r, t1);
    X509_CRL_add0_revoked(crl, r);
  }
  ASN1_TIME_free(t1);
  ASN1_TIME_free(t2);
  X509_CRL_sort(crl);
  EXPECT_GT(X509_CRL_sign(crl, issuer.key.get(), EVP_sha256()), 0);
  return crl;
}

void PutLe16(Bytes& out, uint16_t v) {
  out.push_back(v & 0xff);
  out.push_back(v >> 8);
}
void PutLe32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back((v >> (8 * i)) & 0xff);
}

}  // namespace

PkeyPtr NewP256Key() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  EXPECT_NE(key, nullptr);
  return PkeyPtr(key, EVP_PKEY_free);
}

Bytes RawPublicPoint(EVP_PKEY* key) {
  uint8_t buf[65];
  size_t len = 0;
  EXPECT_EQ(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, buf,
                                            sizeof(buf), &len),
            1);
  EXPECT_EQ(len, 65u);
  return Bytes(buf + 1, buf + 65);
}

Bytes SignRaw(EVP_PKEY* key, std::span<const uint8_t> message) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key), 1);
  EXPECT_EQ(EVP_DigestSign(ctx, nullptr, &len, message.data(), message.size()),
            1);
  Bytes der(len);
  EXPECT_EQ(
      EVP_DigestSign(ctx, der.data(), &len, message.data(), message.size()), 1);
  EVP_MD_CTX_free(ctx);
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
  Bytes out(64);
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), out.data(), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), out.data() + 32, 32);
  ECDSA_SIG_free(sig);
  return out;
}

Bytes Sha256(std::span<const uint8_t> data) {
  Bytes out(32);
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr);
  return out;
}

Bytes SgxExtensionDer(const PckSgxExtension& ext) {
  const std::string base = std::string(kSgxExtensionOid) + ".";
  Bytes tcb;
  for (int i = 0; i < 16; ++i) {
    Bytes item = Item(absl::StrCat(base, "2.", i + 1),
                      Integer(ext.cpusvn_components[i]));
    tcb.insert(tcb.end(), item.begin(), item.end());
  }
  Bytes pcesvn = Item(base + "2.17", Integer(ext.pcesvn));
  Bytes cpusvn = Item(base + "2.18", Tlv(0x04, ext.cpusvn));
  tcb = Concat({tcb, pcesvn, cpusvn});
  Bytes body = Concat({
      Item(base + "1", Tlv(0x04, ext.ppid)),
      Item(base + "2", Tlv(0x30, tcb)),
      Item(base + "3", Tlv(0x04, ext.pce_id)),
      Item(base + "4", Tlv(0x04, ext.fmspc)),
      Item(base + "5", Tlv(0x0a, Bytes{static_cast<uint8_t>(ext.sgx_type)})),
  });
  return Tlv(0x30, body);
}

std::string TestCert::Pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert.get());
  return BioToString(bio);
}

std::string TestCert::SpkiSha256() const {
  unsigned char* der = nullptr;
  int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &der);
  Bytes digest = Sha256({der, static_cast<size_t>(n)});
  OPENSSL_free(der);
  return HexEncode(digest);
}

SyntheticPki SyntheticPki::Create(const PckSgxExtension& ext,
                                  absl::Time not_before, absl::Time not_after) {
  SyntheticPki p;
  p.root = MakeCert("Test SGX Root CA", NewP256Key(), nullptr, 1, true,
                    not_before, not_after);
  p.platform_ca = MakeCert("Test SGX PCK Platform CA", NewP256Key(), &p.root,
                           2, true, not_before, not_after);
  Bytes der = SgxExtensionDer(ext);
  p.pck = MakeCert("Test SGX PCK Certificate", NewP256Key(), &p.platform_ca,
                   0x1234, false, not_before, not_after, &der);
  p.tcb_signing = MakeCert("Test SGX TCB Signing", NewP256Key(), &p.root, 3,
                           false, not_before, not_after);
  return p;
}

std::string SyntheticPki::PckChainPem() const {
  return pck.Pem() + platform_ca.Pem() + root.Pem();
}
std::string SyntheticPki::TcbSigningChainPem() const {
  return tcb_signing.Pem() + root.Pem();
}

std::string MakeCrlPem(const TestCert& issuer,
                       const std::vector<const TestCert*>& revoked,
                       absl::Time this_update, absl::Time next_update) {
  X509_CRL* crl = MakeCrl(issuer, revoked, this_update, next_update);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_CRL(bio, crl);
  X509_CRL_free(crl);
  return BioToString(bio);
}

Bytes MakeCrlDer(const TestCert& issuer,
                 const std::vector<const TestCert*>& revoked,
                 absl::Time this_update, absl::Time next_update) {
  X509_CRL* crl = MakeCrl(issuer, revoked, this_update, next_update);
  unsigned char* der = nullptr;
  int n = i2d_X509_CRL(crl, &der);
  Bytes out(der, der + n);
  OPENSSL_free(der);
  X509_CRL_free(crl);
  return out;
}

std::string SignCollateral(absl::string_view key, absl::string_view body,
                           EVP_PKEY* signer) {
  Bytes sig = SignRaw(signer, AsBytes(body));
  return absl::StrCat("{\"", key, "\":", body, ",\"signature\":\"",
                      HexEncode(sig), "\"}");
}

Bytes BuildQuote(const TdxQuote& base, EVP_PKEY* pck_key,
                 const std::string& pck_chain_pem, const QuoteRecipe& recipe) {
  PkeyPtr ak = NewP256Key();
  Bytes ak_point = RawPublicPoint(ak.get());
  Bytes signed_data = base.signed_data;
  if (recipe.edit_signed_data) recipe.edit_signed_data(signed_data);
  Bytes qe_report = base.qe_report_raw;
  if (recipe.bind_attestation_key) {
    Bytes preimage = ak_point;
    preimage.insert(preimage.end(), base.qe_auth_data.begin(),
                    base.qe_auth_data.end());
    Bytes digest = Sha256(preimage);
    std::memcpy(qe_report.data() + 320, digest.data(), 32);
    std::memset(qe_report.data() + 352, 0, 32);
  }
  Bytes qe_sig = SignRaw(pck_key, qe_report);
  Bytes quote_sig = SignRaw(ak.get(), signed_data);

  Bytes inner = qe_report;
  inner.insert(inner.end(), qe_sig.begin(), qe_sig.end());
  PutLe16(inner, static_cast<uint16_t>(base.qe_auth_data.size()));
  inner.insert(inner.end(), base.qe_auth_data.begin(), base.qe_auth_data.end());
  PutLe16(inner, kTdxCertDataPckChain);
  PutLe32(inner, static_cast<uint32_t>(pck_chain_pem.size()));
  inner.insert(inner.end(), pck_chain_pem.begin(), pck_chain_pem.end());

  Bytes sig_data = quote_sig;
  sig_data.insert(sig_data.end(), ak_point.begin(), ak_point.end());
  PutLe16(sig_data, kTdxCertDataQeReport);
  PutLe32(sig_data, static_cast<uint32_t>(inner.size()));
  sig_data.insert(sig_data.end(), inner.begin(), inner.end());

  Bytes quote = signed_data;
  PutLe32(quote, static_cast<uint32_t>(sig_data.size()));
  quote.insert(quote.end(), sig_data.begin(), sig_data.end());
  return quote;
}

namespace {
// Removes the directories MakeTempDir made when the test binary exits.
struct TempDirs {
  std::vector<std::string> paths;
  ~TempDirs() {
    for (const std::string& p : paths) {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  }
};
TempDirs& Made() {
  static TempDirs dirs;
  return dirs;
}
}  // namespace

std::string MakeTempDir(absl::string_view tag) {
  std::string pattern = absl::StrCat(::testing::TempDir(), "tdx_", tag,
                                     "_XXXXXX");
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  char* dir = mkdtemp(buf.data());
  EXPECT_NE(dir, nullptr) << pattern;
  if (dir == nullptr) return std::string();
  Made().paths.emplace_back(dir);
  return dir;
}

void WriteFile(const std::string& path, absl::string_view content) {
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  EXPECT_TRUE(out.good()) << path;
}

}  // namespace strongroom::attest::testing_tdx
