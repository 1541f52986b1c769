// NvidiaVerifier's cache of parsed certificates (keyed by the bytes parsed):
// a warm verifier answers every case as a fresh one does, and a chain that
// changed after it was cached is parsed and checked afresh.
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "attest/nvidia/nvidia_verifier.h"
#include "base/file.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace strongroom::attest {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

std::string Vec(absl::string_view rel) {
  auto s = ReadFileToString(absl::StrCat(STRONGROOM_VECTORS_DIR, "/nvidia/", rel), "vector");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

absl::Time At(absl::string_view rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return t;
}

class NvidiaParseCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bytes = HexDecode(
        std::string(absl::StripAsciiWhitespace(Vec("nvtrust_hopperAttestationReport.hex.txt"))));
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    report_ = *bytes;
    nonce_.assign(report_.begin() + 4, report_.begin() + 36);  // request nonce
    auto certs = ParseCertificates(Vec("nvtrust_hopperCertChain.pem"), "chain");
    ASSERT_TRUE(certs.ok()) << certs.status();
    for (const Certificate& c : *certs) der_.emplace_back(AsStringView(c.der()));
  }

  Evidence Make(std::vector<std::string> certificates) const {
    return Evidence{.type = EvidenceType::kNvidia,
                    .payload = std::string(report_.begin(), report_.end()),
                    .certificates = std::move(certificates)};
  }
  VerifyContext Ctx(absl::string_view at = "2024-06-01T00:00:00Z") const {
    return VerifyContext{.at = At(at), .expected_report_data = nonce_};
  }
  // The device (leaf) certificate with the last byte of its signature
  // changed: it still parses, but no longer verifies under its issuer.
  std::vector<std::string> TamperedLeafChain() const {
    std::vector<std::string> chain = der_;
    chain[0].back() ^= 0x01;
    return chain;
  }

  Bytes report_;
  Bytes nonce_;
  std::vector<std::string> der_;  // leaf first, as in the nvtrust file
};

std::string Outcome(const absl::StatusOr<Appraisal>& a) {
  if (!a.ok()) return a.status().ToString();
  return absl::StrCat("OK ", a->claims.GetString("nvidia.device_cert.fingerprint"), " ",
                      a->warnings.size());
}

TEST_F(NvidiaParseCacheTest, WarmCacheAgreesWithAFreshVerifier) {
  Evidence tampered_report = Make({Vec("nvtrust_hopperCertChain.pem")});
  tampered_report.payload[50] ^= 1;
  std::vector<std::string> without_root(der_.begin(), der_.end() - 1);
  struct Case {
    const char* name;
    Evidence evidence;
    VerifyContext ctx;
  };
  const std::vector<Case> cases = {
      {"pem", Make({Vec("nvtrust_hopperCertChain.pem")}), Ctx()},
      {"der", Make(der_), Ctx()},
      {"tampered_leaf", Make(TamperedLeafChain()), Ctx()},
      {"without_root", Make(without_root), Ctx()},
      {"tampered_report", tampered_report, Ctx()},
      {"before_ica", Make(der_), Ctx("2021-06-01T00:00:00Z")},
      {"pem_again", Make({Vec("nvtrust_hopperCertChain.pem")}), Ctx()},
  };
  ASSERT_OK_AND_ASSIGN(auto cached, NvidiaVerifier::Create({}));
  for (int pass = 0; pass < 2; ++pass) {
    for (const Case& c : cases) {
      SCOPED_TRACE(c.name);
      ASSERT_OK_AND_ASSIGN(auto fresh, NvidiaVerifier::Create({}));
      EXPECT_EQ(Outcome(cached->Verify(c.evidence, c.ctx)),
                Outcome(fresh->Verify(c.evidence, c.ctx)));
    }
  }
}

TEST_F(NvidiaParseCacheTest, ChainChangedAfterItWasCachedIsRefused) {
  ASSERT_OK_AND_ASSIGN(auto verifier, NvidiaVerifier::Create({}));
  ASSERT_OK(verifier->Verify(Make(der_), Ctx()));
  ASSERT_OK(verifier->Verify(Make(der_), Ctx()));
  EXPECT_THAT(verifier->Verify(Make(TamperedLeafChain()), Ctx()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("signature")));
  ASSERT_OK(verifier->Verify(Make(der_), Ctx()));
}

TEST_F(NvidiaParseCacheTest, BoundedCacheKeepsWorking) {
  ASSERT_OK_AND_ASSIGN(auto verifier, NvidiaVerifier::Create({.chain_cache_size = 1}));
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(verifier->Verify(Make(der_), Ctx()));
    ASSERT_OK(verifier->Verify(Make({Vec("nvtrust_hopperCertChain.pem")}), Ctx()));
  }
}

}  // namespace
}  // namespace strongroom::attest
