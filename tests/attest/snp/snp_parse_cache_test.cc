// SnpVerifier's cache of parsed certificates: keyed by the bytes parsed, so
// a changed certificate or collateral file is always parsed afresh, and a
// warm verifier answers exactly as one with the cache off.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "attest/snp/snp_verifier.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/attest/snp/test_util.h"

namespace strongroom::attest {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using namespace snp_test;  // NOLINT

std::unique_ptr<SnpVerifier> NewVerifier(SnpVerifierOptions o = {}) {
  auto v = SnpVerifier::Create(o);
  EXPECT_TRUE(v.ok()) << v.status();
  return *std::move(v);
}

Evidence Milan(absl::string_view report, absl::string_view vcek) {
  Evidence e;
  e.type = EvidenceType::kSevSnp;
  e.payload = Vec(report);
  e.certificates = {Vec(vcek), Vec("milan/ask_ark_milan.pem")};
  return e;
}

VerifyContext Ctx(absl::Time at = PinnedTime()) {
  VerifyContext c;
  c.at = at;
  return c;
}

std::string Outcome(const absl::StatusOr<Appraisal>& a) {
  if (!a.ok()) return a.status().ToString();
  return absl::StrCat("OK ", a->claims.GetString("snp.chip_id"), " ",
                      a->claims.GetString("snp.measurement"), " ", a->warnings.size());
}

// The VCEK with the last byte of its signature changed: it still parses.
std::string TamperedVcek() {
  std::string der = Vec("milan/virtee_vcek.der");
  der.back() ^= 0x01;
  return der;
}

TEST(SnpParseCacheTest, WarmCacheAgreesWithNoCache) {
  Evidence swapped = Milan("milan/virtee_report.bin", "milan/gosev_vcek.der");
  Evidence tampered_vcek = Milan("milan/virtee_report.bin", "milan/virtee_vcek.der");
  tampered_vcek.certificates[0] = TamperedVcek();
  Evidence tampered_report = Milan("milan/virtee_report.bin", "milan/virtee_vcek.der");
  tampered_report.payload[0x90] ^= 1;
  Evidence genoa_chain = Milan("milan/virtee_report.bin", "milan/virtee_vcek.der");
  genoa_chain.certificates[1] = Vec("genoa/ask_ark_genoa.pem");
  Evidence garbage = Milan("milan/virtee_report.bin", "milan/virtee_vcek.der");
  garbage.certificates[1] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  struct Case {
    const char* name;
    Evidence evidence;
    VerifyContext ctx;
  };
  const std::vector<Case> cases = {
      {"virtee", Milan("milan/virtee_report.bin", "milan/virtee_vcek.der"), Ctx()},
      {"gosev", Milan("milan/gosev_report.bin", "milan/gosev_vcek.der"), Ctx()},
      {"other_chips_vcek", swapped, Ctx()},
      {"tampered_vcek", tampered_vcek, Ctx()},
      {"tampered_report", tampered_report, Ctx()},
      {"genoa_chain", genoa_chain, Ctx()},
      {"garbage", garbage, Ctx()},
      {"expired", Milan("milan/virtee_report.bin", "milan/virtee_vcek.der"),
       Ctx(At("2050-01-01T00:00:00Z"))},
      {"virtee_again", Milan("milan/virtee_report.bin", "milan/virtee_vcek.der"), Ctx()},
  };
  // Both see the same calls, so their chain caches (which may stand in for
  // an ASK/ARK left out, see snp_verifier.h) hold the same chains; only the
  // parse cache differs.
  auto cached = NewVerifier();
  auto reference = NewVerifier({.max_cached_parses = 0});
  for (int pass = 0; pass < 2; ++pass) {
    for (const Case& c : cases) {
      SCOPED_TRACE(c.name);
      EXPECT_EQ(Outcome(cached->Verify(c.evidence, c.ctx)),
                Outcome(reference->Verify(c.evidence, c.ctx)));
    }
  }
  EXPECT_EQ(cached->chain_cache_hits(), reference->chain_cache_hits());
}

TEST(SnpParseCacheTest, TamperedCertificateAfterAWarmCacheIsRefused) {
  auto v = NewVerifier();
  Evidence good = Milan("milan/virtee_report.bin", "milan/virtee_vcek.der");
  ASSERT_OK(v->Verify(good, Ctx()));
  Evidence bad = good;
  bad.certificates[0] = TamperedVcek();
  EXPECT_THAT(v->Verify(bad, Ctx()), StatusIs(absl::StatusCode::kPermissionDenied,
                                              HasSubstr("signature does not verify")));
  ASSERT_OK(v->Verify(good, Ctx()));
}

class SnpCollateralParseCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("snp_parse_cache_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Put(const std::string& name, const std::string& data) {
    std::ofstream(dir_ / name, std::ios::binary) << data;
  }
  std::filesystem::path dir_;
};

TEST_F(SnpCollateralParseCacheTest, ChangedFileIsParsedAfresh) {
  Put("vcek.der", Vec("milan/virtee_vcek.der"));
  Put("chain.pem", Vec("milan/ask_ark_milan.pem"));
  Evidence e;
  e.type = EvidenceType::kSevSnp;
  e.payload = Vec("milan/virtee_report.bin");
  e.collateral_dir = dir_.string();
  auto v = NewVerifier();
  ASSERT_OK(v->Verify(e, Ctx()));
  ASSERT_OK(v->Verify(e, Ctx()));
  // The same file now holds another chip's VCEK.
  Put("vcek.der", Vec("milan/gosev_vcek.der"));
  EXPECT_THAT(v->Verify(e, Ctx()), StatusIs(absl::StatusCode::kPermissionDenied));
  // ...or a tampered copy of the right one.
  Put("vcek.der", TamperedVcek());
  EXPECT_THAT(v->Verify(e, Ctx()), StatusIs(absl::StatusCode::kPermissionDenied,
                                            HasSubstr("signature does not verify")));
  // ...or nothing at all.
  std::filesystem::remove(dir_ / "vcek.der");
  EXPECT_THAT(v->Verify(e, Ctx()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no VCEK")));
  Put("vcek.der", Vec("milan/virtee_vcek.der"));
  ASSERT_OK(v->Verify(e, Ctx()));
}

TEST(SnpParseCacheTest, BoundedCacheKeepsWorking) {
  auto v = NewVerifier({.max_cached_parses = 1});
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(v->Verify(Milan("milan/virtee_report.bin", "milan/virtee_vcek.der"), Ctx()));
    ASSERT_OK(v->Verify(Milan("milan/gosev_report.bin", "milan/gosev_vcek.der"), Ctx()));
  }
}

}  // namespace
}  // namespace strongroom::attest
