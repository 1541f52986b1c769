// PrincipalFromPem: which name in a client certificate is the principal, and
// which certificates name none (a CN must never stand in for a URI SAN).
#include "server/peer_identity.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/testing/status_matchers.h"

namespace strongroom::server {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

struct CertSpec {
  // Each CN as (ASN.1 string type, bytes).
  std::vector<std::pair<int, std::string>> cns;
  // Each subjectAltName extension as its general names: (GEN_URI/GEN_DNS, value).
  std::vector<std::vector<std::pair<int, std::string>>> san_extensions;
};

std::string MakeCertPem(const CertSpec& spec) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* subject = X509_get_subject_name(cert);
  for (const auto& [type, bytes] : spec.cns) {
    X509_NAME_ENTRY* e = X509_NAME_ENTRY_create_by_NID(
        nullptr, NID_commonName, type, reinterpret_cast<const unsigned char*>(bytes.data()),
        static_cast<int>(bytes.size()));
    X509_NAME_add_entry(subject, e, -1, 0);
    X509_NAME_ENTRY_free(e);
  }
  X509_set_issuer_name(cert, subject);
  for (const auto& names : spec.san_extensions) {
    GENERAL_NAMES* gens = sk_GENERAL_NAME_new_null();
    for (const auto& [type, value] : names) {
      GENERAL_NAME* gen = GENERAL_NAME_new();
      ASN1_IA5STRING* s = ASN1_IA5STRING_new();
      ASN1_STRING_set(s, value.data(), static_cast<int>(value.size()));
      GENERAL_NAME_set0_value(gen, type, s);
      sk_GENERAL_NAME_push(gens, gen);
    }
    X509_EXTENSION* ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    GENERAL_NAMES_free(gens);
  }
  X509_sign(cert, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  X509_free(cert);
  EVP_PKEY_free(key);
  return pem;
}

constexpr int kUtf8 = V_ASN1_UTF8STRING;

TEST(PrincipalFromPemTest, TheUriSanIsThePrincipalAndTheCnIsIgnored) {
  EXPECT_EQ(PrincipalFromPem(MakeCertPem({{{kUtf8, "admin"}},
                                          {{{GEN_URI, "spiffe://strongroom/admin"}}}}))
                .value_or("FAILED"),
            "spiffe://strongroom/admin");
  // Other names beside the one URI are fine.
  EXPECT_EQ(PrincipalFromPem(MakeCertPem({{{kUtf8, "x"}},
                                          {{{GEN_DNS, "w.example"},
                                            {GEN_URI, "spiffe://strongroom/w"}}}}))
                .value_or("FAILED"),
            "spiffe://strongroom/w");
}

TEST(PrincipalFromPemTest, ACnAloneNamesAPlainPrincipal) {
  EXPECT_EQ(PrincipalFromPem(MakeCertPem({{{kUtf8, "alice"}}, {}})).value_or("FAILED"), "alice");
  EXPECT_EQ(PrincipalFromPem(MakeCertPem({{{V_ASN1_PRINTABLESTRING, "bob 2"}}, {}}))
                .value_or("FAILED"),
            "bob 2");
}

// CAs that vet SANs often let the requester choose the CN: a CN shaped like
// a URI principal would otherwise be that principal.
TEST(PrincipalFromPemTest, ACnCannotClaimAUriPrincipal) {
  EXPECT_THAT(PrincipalFromPem(MakeCertPem({{{kUtf8, "spiffe://strongroom/admin"}}, {}})),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("CN holds ':' or '/'")));
  // A SAN without a URI does not fall back to the CN either.
  EXPECT_THAT(PrincipalFromPem(MakeCertPem({{{kUtf8, "admin"}}, {{{GEN_DNS, "admin.example"}}}})),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("without a URI")));
}

TEST(PrincipalFromPemTest, AmbiguousCertificatesNameNobody) {
  EXPECT_THAT(PrincipalFromPem(MakeCertPem(
                  {{}, {{{GEN_URI, "spiffe://strongroom/a"}, {GEN_URI, "spiffe://strongroom/b"}}}})),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("more than one URI")));
  EXPECT_THAT(PrincipalFromPem(MakeCertPem({{},
                                            {{{GEN_URI, "spiffe://strongroom/a"}},
                                             {{GEN_URI, "spiffe://strongroom/b"}}}})),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("more than one subjectAltName")));
  EXPECT_THAT(PrincipalFromPem(MakeCertPem({{{kUtf8, "alice"}, {kUtf8, "admin"}}, {}})),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("more than one CN")));
  EXPECT_THAT(PrincipalFromPem(MakeCertPem({{}, {}})),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("neither a URI SAN nor a CN")));
}

TEST(PrincipalFromPemTest, ControlBytesAndOddStringTypesAreRefused) {
  EXPECT_THAT(PrincipalFromPem(MakeCertPem(
                  {{}, {{{GEN_URI, std::string("spiffe://strongroom/admin\0x", 27)}}}})),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("control character")));
  EXPECT_THAT(PrincipalFromPem(MakeCertPem({{}, {{{GEN_URI, ""}}}})),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("is empty")));
  EXPECT_THAT(PrincipalFromPem(MakeCertPem({{{kUtf8, "ad\nmin"}}, {}})),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("control character")));
  EXPECT_THAT(PrincipalFromPem(MakeCertPem({{{V_ASN1_BMPSTRING, std::string("\0a\0b", 4)}}, {}})),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not a UTF8String")));
}

}  // namespace
}  // namespace strongroom::server
