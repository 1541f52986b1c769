// Test support for the SEV-SNP / TDX attester tests: vector files, PEM to
// DER, a host certificate table (GHCB MSG_REPORT_REQ layout) built from
// real certificates, and the server's check of what an attester produced.
#ifndef STRONGROOM_TESTS_CLIENT_SNP_TEST_UTIL_H_
#define STRONGROOM_TESTS_CLIENT_SNP_TEST_UTIL_H_

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "attest/appraisal.h"
#include "attest/evidence.h"
#include "attest/snp/snp_verifier.h"
#include "base/bytes.h"
#include "base/file.h"
#include "base/status_macros.h"

namespace strongroom::client::testing {

inline std::string Vector(const std::string& rel) {
  auto data = ReadFileToString(std::string(STRONGROOM_VECTORS_DIR) + "/" + rel, "vector");
  EXPECT_TRUE(data.ok()) << data.status();
  return data.ok() ? *data : "";
}

// Every certificate in a PEM file, as DER.
inline std::vector<std::string> PemToDer(const std::string& pem) {
  std::vector<std::string> out;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    unsigned char* der = nullptr;
    int n = i2d_X509(x, &der);
    out.emplace_back(reinterpret_cast<char*>(der), n);
    OPENSSL_free(der);
    X509_free(x);
  }
  BIO_free(bio);
  return out;
}

// The Milan VCEK (go-sev-guest) and its ASK and ARK, DER, in that order.
inline std::vector<std::string> MilanChain() {
  std::vector<std::string> certs = {Vector("sev-snp/milan/gosev_vcek.der")};
  for (std::string& c : PemToDer(Vector("sev-snp/milan/ask_ark_milan.pem"))) {
    certs.push_back(std::move(c));
  }
  return certs;
}

// A certificate table: one entry per blob (GUIDs from the GHCB spec for
// VCEK, ASK, ARK in that order, then made-up ones), the zero terminator, then
// the blobs.
inline std::string CertTable(const std::vector<std::string>& blobs) {
  static const char* kGuids[] = {"63da758de6644564adc5f4b93be8accd",
                                 "4ab7b379bbac4fe4a02f05aef327c782",
                                 "c0b406a4a803495297433fb6014cd0ae"};
  std::string table((blobs.size() + 1) * 24, '\0');
  size_t offset = table.size();
  for (size_t i = 0; i < blobs.size(); ++i) {
    Bytes guid = *HexDecode(i < 3 ? kGuids[i] : "0102030405060708090a0b0c0d0e0f10");
    std::copy(guid.begin(), guid.end(), table.begin() + i * 24);
    for (int b = 0; b < 4; ++b) {
      table[i * 24 + 16 + b] = static_cast<char>((offset >> (8 * b)) & 0xff);
      table[i * 24 + 20 + b] = static_cast<char>((blobs[i].size() >> (8 * b)) & 0xff);
    }
    offset += blobs[i].size();
  }
  for (const std::string& b : blobs) table += b;
  return table;
}

inline absl::Time At(const char* rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return t;
}

// Checks an "snp" evidence item (report and certificate chain) with a new
// SnpVerifier at 2026-01-01, when the Milan vectors' chain is valid,
// expecting `report_data` in the report.
inline absl::StatusOr<attest::Appraisal> VerifySnpItem(const v1::EvidenceItem& item,
                                                       const Bytes& report_data) {
  attest::Evidence e;
  e.type = attest::EvidenceType::kSevSnp;
  e.payload = item.payload();
  e.certificates.assign(item.certificates().begin(), item.certificates().end());
  ASSIGN_OR_RETURN(auto verifier, attest::SnpVerifier::Create({}));
  attest::VerifyContext ctx;
  ctx.at = At("2026-01-01T00:00:00Z");
  ctx.expected_report_data = report_data;
  return verifier->Verify(e, ctx);
}

// The shortest prefix of a 64-byte REPORT_DATA that zero-pads back to it.
inline Bytes TrimZeros(std::span<const uint8_t> report_data) {
  Bytes b(report_data.begin(), report_data.end());
  while (!b.empty() && b.back() == 0) b.pop_back();
  return b;
}

}  // namespace strongroom::client::testing

#endif  // STRONGROOM_TESTS_CLIENT_SNP_TEST_UTIL_H_
