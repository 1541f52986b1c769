#include "attest/x509.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "attest/signature_check.h"

namespace strongroom::attest {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string NameToString(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, len);
}

// `if_unreadable` when OpenSSL cannot read `t` (it parses a certificate
// whose time text is malformed): the bound that makes the time fail closed,
// InfiniteFuture for a start and InfinitePast for an end.
absl::Time Asn1ToTime(const ASN1_TIME* t, absl::Time if_unreadable) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return if_unreadable;
  return absl::FromUnixSeconds(timegm(&tm));
}

std::string DrainOpensslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (out.empty()) out = buf;
  }
  return out;
}

}  // namespace

std::string Sha256Hex(std::span<const uint8_t> data) {
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256(data.data(), data.size(), md);
  return HexEncode(md);
}

absl::StatusOr<Certificate> Certificate::FromDer(std::span<const uint8_t> der,
                                                 absl::string_view field) {
  const unsigned char* p = der.data();
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (x == nullptr) {
    DrainOpensslErrors();
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not a DER X.509 certificate (", der.size(),
                     " bytes)"));
  }
  std::shared_ptr<X509> owned(x, X509_free);
  size_t used = static_cast<size_t>(p - der.data());
  if (used != der.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", der.size() - used,
                     " trailing bytes after the certificate"));
  }
  return Certificate(std::move(owned),
                     std::make_shared<const Bytes>(der.begin(), der.end()));
}

EVP_PKEY* Certificate::public_key() const {
  return X509_get0_pubkey(x509_.get());
}
std::string Certificate::subject() const {
  return NameToString(X509_get_subject_name(x509_.get()));
}
std::string Certificate::issuer() const {
  return NameToString(X509_get_issuer_name(x509_.get()));
}
std::string Certificate::common_name() const {
  X509_NAME* name = X509_get_subject_name(x509_.get());
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return subject();
  ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) return subject();
  std::string out(reinterpret_cast<char*>(utf8), n);
  OPENSSL_free(utf8);
  return out;
}
absl::Time Certificate::not_before() const {
  return Asn1ToTime(X509_get0_notBefore(x509_.get()), absl::InfiniteFuture());
}
absl::Time Certificate::not_after() const {
  return Asn1ToTime(X509_get0_notAfter(x509_.get()), absl::InfinitePast());
}
std::string Certificate::SpkiSha256Hex() const {
  unsigned char* der = nullptr;
  int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x509_.get()), &der);
  if (n <= 0) return "";
  std::string out = Sha256Hex({der, static_cast<size_t>(n)});
  OPENSSL_free(der);
  return out;
}
std::string Certificate::FingerprintHex() const { return Sha256Hex(*der_); }

std::optional<Bytes> Certificate::Extension(absl::string_view oid) const {
  ASN1_OBJECT* obj = OBJ_txt2obj(std::string(oid).c_str(), 1);
  if (obj == nullptr) return std::nullopt;
  int idx = X509_get_ext_by_OBJ(x509_.get(), obj, -1);
  ASN1_OBJECT_free(obj);
  if (idx < 0) return std::nullopt;
  X509_EXTENSION* ext = X509_get_ext(x509_.get(), idx);
  ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext);
  const uint8_t* p = ASN1_STRING_get0_data(data);
  return Bytes(p, p + ASN1_STRING_length(data));
}

bool Certificate::SelfSigned() const {
  if (X509_NAME_cmp(X509_get_subject_name(x509_.get()),
                    X509_get_issuer_name(x509_.get())) != 0) {
    return false;
  }
  bool ok = X509_verify(x509_.get(), public_key()) == 1;
  DrainOpensslErrors();
  return ok;
}

absl::StatusOr<std::vector<Certificate>> ParseCertificates(
    absl::string_view data, absl::string_view field) {
  std::vector<Certificate> out;
  if (data.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": empty"));
  }
  if (!absl::StrContains(data, "-----BEGIN")) {
    auto cert = Certificate::FromDer(AsBytes(data), field);
    if (!cert.ok()) return cert.status();
    out.push_back(*std::move(cert));
    return out;
  }
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  while (true) {
    X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (x == nullptr) {
      unsigned long err = ERR_peek_last_error();
      DrainOpensslErrors();
      if (ERR_GET_REASON(err) == PEM_R_NO_START_LINE && !out.empty()) break;
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": PEM certificate #", out.size() + 1, " does not parse"));
    }
    unsigned char* der = nullptr;
    int n = i2d_X509(x, &der);
    X509_free(x);
    if (n <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": PEM certificate #", out.size() + 1, " does not encode"));
    }
    auto cert =
        Certificate::FromDer({der, static_cast<size_t>(n)},
                             absl::StrCat(field, " #", out.size() + 1));
    OPENSSL_free(der);
    if (!cert.ok()) return cert.status();
    out.push_back(*std::move(cert));
  }
  return out;
}

absl::StatusOr<Crl> Crl::Parse(absl::string_view data,
                               absl::string_view field) {
  X509_CRL* crl = nullptr;
  if (absl::StrContains(data, "-----BEGIN")) {
    BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr);
  } else {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
    crl = d2i_X509_CRL(nullptr, &p, static_cast<long>(data.size()));
  }
  if (crl == nullptr) {
    DrainOpensslErrors();
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not an X.509 CRL (", data.size(), " bytes)"));
  }
  return Crl(std::shared_ptr<X509_CRL>(crl, X509_CRL_free));
}

absl::StatusOr<std::vector<Crl>> Crl::ParseAllPem(absl::string_view data, absl::string_view field) {
  constexpr absl::string_view kBegin = "-----BEGIN X509 CRL-----";
  size_t expected = 0;
  for (size_t at = data.find(kBegin); at != absl::string_view::npos;
       at = data.find(kBegin, at + kBegin.size())) {
    ++expected;
  }
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  std::vector<Crl> out;
  while (out.size() < expected) {
    // Skips blocks of other kinds (certificates) to the next CRL.
    X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr);
    if (crl == nullptr) {
      DrainOpensslErrors();
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": PEM CRL #", out.size() + 1, " does not decode"));
    }
    out.push_back(Crl(std::shared_ptr<X509_CRL>(crl, X509_CRL_free)));
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": no PEM CRL"));
  return out;
}

std::string Crl::issuer() const {
  return NameToString(X509_CRL_get_issuer(crl_.get()));
}

namespace {

absl::Status CheckValidity(const Certificate& c, absl::Time at) {
  if (at < c.not_before()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "certificate '", c.common_name(), "' is not yet valid at ",
        absl::FormatTime(absl::RFC3339_sec, at, absl::UTCTimeZone()),
        " (notBefore ",
        absl::FormatTime(absl::RFC3339_sec, c.not_before(), absl::UTCTimeZone()),
        ")"));
  }
  if (at > c.not_after()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "certificate '", c.common_name(), "' expired at ",
        absl::FormatTime(absl::RFC3339_sec, c.not_after(), absl::UTCTimeZone()),
        " (verification time ",
        absl::FormatTime(absl::RFC3339_sec, at, absl::UTCTimeZone()), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckRevocation(const Certificate& cert, const Certificate& issuer,
                             const ChainCheck& check) {
  const Crl* found = nullptr;
  for (const Crl& crl : check.crls) {
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()),
                      X509_get_subject_name(issuer.get())) == 0) {
      found = &crl;
      break;
    }
  }
  if (found == nullptr) {
    if (!check.require_crls) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "no CRL from '", issuer.common_name(), "' to check '",
        cert.common_name(), "'"));
  }
  if (X509_CRL_verify(found->get(), issuer.public_key()) != 1) {
    DrainOpensslErrors();
    return absl::PermissionDeniedError(absl::StrCat(
        "CRL from '", issuer.common_name(), "' has a bad signature"));
  }
  absl::Time this_update =
      Asn1ToTime(X509_CRL_get0_lastUpdate(found->get()), absl::InfiniteFuture());
  const ASN1_TIME* next = X509_CRL_get0_nextUpdate(found->get());
  if (check.at < this_update ||
      (next != nullptr && check.at > Asn1ToTime(next, absl::InfinitePast()))) {
    return absl::PermissionDeniedError(absl::StrCat(
        "CRL from '", issuer.common_name(),
        "' is not current at the verification time"));
  }
  X509_REVOKED* revoked = nullptr;
  if (X509_CRL_get0_by_cert(found->get(), &revoked, cert.get()) == 1) {
    return absl::PermissionDeniedError(absl::StrCat(
        "certificate '", cert.common_name(), "' is revoked by '",
        issuer.common_name(), "'"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status VerifyChain(std::span<const Certificate> chain,
                         const ChainCheck& check) {
  if (chain.empty()) {
    return absl::InvalidArgumentError("certificate chain: empty");
  }
  for (size_t i = 0; i < chain.size(); ++i) {
    const Certificate& cert = chain[i];
    if (absl::Status s = CheckValidity(cert, check.at); !s.ok()) return s;
    bool is_root = i + 1 == chain.size();
    const Certificate& issuer = is_root ? cert : chain[i + 1];
    if (X509_NAME_cmp(X509_get_issuer_name(cert.get()),
                      X509_get_subject_name(issuer.get())) != 0) {
      return absl::PermissionDeniedError(absl::StrCat(
          "certificate '", cert.common_name(), "' names issuer '",
          cert.issuer(), "' but the next certificate is '", issuer.subject(),
          "'"));
    }
    if (X509_verify(cert.get(), issuer.public_key()) != 1) {
      DrainOpensslErrors();
      return absl::PermissionDeniedError(absl::StrCat(
          "certificate '", cert.common_name(),
          "': signature does not verify under '", issuer.common_name(), "'"));
    }
    if (i > 0 && X509_check_ca(cert.get()) == 0) {
      return absl::PermissionDeniedError(absl::StrCat(
          "certificate '", cert.common_name(),
          "' signs another certificate but is not a CA"));
    }
    if (!is_root) {
      if (absl::Status s = CheckRevocation(cert, issuer, check); !s.ok()) {
        return s;
      }
    }
  }
  const Certificate& root = chain.back();
  if (!check.pinned_roots.empty()) {
    std::string spki = root.SpkiSha256Hex();
    bool pinned = false;
    for (const std::string& p : check.pinned_roots) pinned |= (p == spki);
    if (!pinned) {
      return absl::PermissionDeniedError(absl::StrCat(
          "root certificate '", root.common_name(),
          "' is not a pinned trust anchor (SPKI sha256 ", spki, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Certificate>> BuildAndVerifyChain(
    const Certificate& leaf, std::span<const Certificate> pool,
    const ChainCheck& check) {
  std::vector<Certificate> chain{leaf};
  while (!chain.back().SelfSigned()) {
    if (chain.size() > 8) {
      return absl::PermissionDeniedError("certificate chain longer than 8");
    }
    const Certificate& cur = chain.back();
    const Certificate* next = nullptr;
    for (const Certificate& cand : pool) {
      if (X509_NAME_cmp(X509_get_issuer_name(cur.get()),
                        X509_get_subject_name(cand.get())) != 0) {
        continue;
      }
      if (X509_verify(cur.get(), cand.public_key()) == 1) {
        next = &cand;
        break;
      }
      DrainOpensslErrors();
    }
    if (next == nullptr) {
      return absl::PermissionDeniedError(absl::StrCat(
          "no certificate verifies the signature of '", cur.common_name(),
          "' (issuer '", cur.issuer(), "')"));
    }
    chain.push_back(*next);
  }
  if (absl::Status s = VerifyChain(chain, check); !s.ok()) return s;
  return chain;
}

absl::Status VerifyEcdsaRaw(EVP_PKEY* key, const EVP_MD* digest_alg,
                            std::span<const uint8_t> message,
                            std::span<const uint8_t> r,
                            std::span<const uint8_t> s,
                            absl::string_view what) {
  // An r or s that cannot be encoded (empty, or over 66 significant bytes)
  // is no valid signature under any supported curve.
  uint8_t der[kMaxEcdsaSignatureDer];
  const size_t der_len = EncodeEcdsaSignatureDer(r, s, der);
  if (der_len == 0 ||
      !VerifyMessageSignature(key, digest_alg, message, {der, der_len})) {
    return absl::PermissionDeniedError(
        absl::StrCat(what, ": signature does not verify"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<EVP_PKEY>> EcPublicKeyFromPoint(
    int curve_nid, std::span<const uint8_t> point, absl::string_view field) {
  Bytes encoded;
  if (!point.empty() && point[0] == 0x04 && point.size() % 2 == 1) {
    encoded.assign(point.begin(), point.end());
  } else {
    encoded.push_back(0x04);
    encoded.insert(encoded.end(), point.begin(), point.end());
  }
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                  OBJ_nid2sn(curve_nid), 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                   encoded.data(), encoded.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* key = nullptr;
  bool ok = ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  if (ok) {
    // fromdata does not check that the point is on the curve.
    EVP_PKEY_CTX* check = EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr);
    ok = EVP_PKEY_public_check(check) == 1;
    EVP_PKEY_CTX_free(check);
  }
  DrainOpensslErrors();
  if (!ok) {
    EVP_PKEY_free(key);
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": not a valid ", OBJ_nid2sn(curve_nid), " public point (",
        point.size(), " bytes)"));
  }
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

absl::StatusOr<std::shared_ptr<EVP_PKEY>> PublicKeyFromPem(
    absl::string_view pem, absl::string_view field) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    DrainOpensslErrors();
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not a PEM public key"));
  }
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

}  // namespace strongroom::attest
