// TdxVerifier's caches never let evidence pass that the uncached verifier
// refuses: a warm verifier is compared with one whose caches are off, and
// collateral that changes or lapses under a warm cache is refused.
//
// Pinned times as in tdx_verifier_test.cc: quote_v4_SPR_E4 at 2023-06-20,
// when all of gotdx is current; quote_v5_sample at 2026-02-15 with the CRL
// and QE identity checks relaxed.
#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "attest/tdx/tdx_verifier.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/attest/tdx/synthetic_tdx.h"
#include "tests/attest/tdx/tdx_test_util.h"

namespace strongroom::attest {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using testing_tdx::At;
using testing_tdx::Vec;
using testing_tdx::VecPath;

constexpr char kTcbInfo[] = "tcbinfo_fmspc_50806f000000.json";

std::unique_ptr<TdxVerifier> MakeVerifier(TdxVerifierOptions options = {}) {
  auto v = TdxVerifier::Create(std::move(options));
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *std::move(v) : nullptr;
}

Evidence V4(const std::string& dir = VecPath("gotdx")) {
  return Evidence{.type = EvidenceType::kTdx,
                  .payload = Vec("gotdx/quote_v4_SPR_E4.dat"),
                  .collateral_dir = dir};
}

Evidence V5(std::vector<std::string> certificates) {
  return Evidence{.type = EvidenceType::kTdx,
                  .payload = Vec("gotdx/quote_v5_sample.dat"),
                  .certificates = std::move(certificates),
                  .collateral_dir = VecPath("gotdx")};
}

VerifyContext Ctx(absl::string_view at) { return VerifyContext{.at = At(at)}; }

// A copy of gotdx (quotes included).
std::string CopyGotdx(absl::string_view tag) {
  std::string dir = testing_tdx::MakeTempDir(tag);
  for (const auto& entry : std::filesystem::directory_iterator(VecPath("gotdx"))) {
    const std::string name = entry.path().filename().string();
    testing_tdx::WriteFile(dir + "/" + name, Vec("gotdx/" + name));
  }
  return dir;
}

// Status, claims and warnings of one verification, for comparing two
// verifiers.
std::string Outcome(const absl::StatusOr<Appraisal>& a) {
  if (!a.ok()) return a.status().ToString();
  std::string out = absl::StrCat("OK tier=", static_cast<int>(a->status()), "\n");
  absl::StrAppend(&out, a->claims.ToJson().dump(), "\n");
  for (const std::string& w : a->warnings) absl::StrAppend(&out, "warning: ", w, "\n");
  return out;
}

struct Scenario {
  std::string name;
  Evidence evidence;
  VerifyContext ctx;
};

std::vector<Scenario> Scenarios() {
  Evidence tampered = V4();
  tampered.payload[646] ^= 1;  // quote signature
  Evidence qe_tampered = V4();
  qe_tampered.payload[1194] ^= 1;  // QE report signature
  const std::string v5_signer = Vec("common/intel_sgx_tcb_signing_2025.pem");
  const std::string root = Vec("common/intel_sgx_root_ca.pem");
  Evidence with_root = V4();
  with_root.certificates = {root};
  return {
      {"v4", V4(), Ctx("2023-06-20T00:00:00Z")},
      {"v4_with_root", with_root, Ctx("2023-06-20T00:00:00Z")},
      {"v4_crl_lapsed", V4(), Ctx("2023-07-20T00:00:00Z")},
      {"v4_before_tcb_info", V4(), Ctx("2023-06-10T00:00:00Z")},
      {"v4_pck_expired", V4(), Ctx("2030-01-01T00:00:00Z")},
      {"v4_pck_not_yet_valid", V4(), Ctx("2022-01-01T00:00:00Z")},
      {"v4_quote_signature", tampered, Ctx("2023-06-20T00:00:00Z")},
      {"v4_qe_signature", qe_tampered, Ctx("2023-06-20T00:00:00Z")},
      {"v5_with_2025_signer", V5({v5_signer}), Ctx("2026-02-15T00:00:00Z")},
      {"v5_only_2018_signer", V5({}), Ctx("2026-02-15T00:00:00Z")},
      {"v4_again", V4(), Ctx("2023-06-20T00:00:00Z")},
  };
}

TEST(TdxVerifierCacheTest, WarmCacheAgreesWithNoCache) {
  for (bool relaxed : {false, true}) {
    SCOPED_TRACE(relaxed ? "relaxed" : "strict");
    TdxVerifierOptions options{.require_crls = !relaxed, .require_qe_identity = !relaxed};
    auto cached = MakeVerifier(options);
    options.max_cached_chains = 0;
    auto uncached = MakeVerifier(options);
    // Twice through, in an order that has every scenario follow others
    // whose results are cached.
    for (int pass = 0; pass < 2; ++pass) {
      for (const Scenario& s : Scenarios()) {
        SCOPED_TRACE(s.name);
        EXPECT_EQ(Outcome(cached->Verify(s.evidence, s.ctx)),
                  Outcome(uncached->Verify(s.evidence, s.ctx)));
      }
    }
  }
}

TEST(TdxVerifierCacheTest, UnchangedCollateralIsReadOnce) {
  auto verifier = MakeVerifier();
  ASSERT_OK(verifier->Verify(V4(), Ctx("2023-06-20T00:00:00Z")));
  ASSERT_OK(verifier->Verify(V4(), Ctx("2023-06-21T00:00:00Z")));
  // shared/vectors is old enough for its stat() to be trusted.
  EXPECT_EQ(verifier->collateral_reads(), 1u);
  EXPECT_EQ(verifier->cached_chains(), 1u);
}

TEST(TdxVerifierCacheTest, LapsedCollateralIsRefusedWithAWarmCache) {
  auto verifier = MakeVerifier();
  ASSERT_OK(verifier->Verify(V4(), Ctx("2023-06-20T00:00:00Z")));
  // The PCK CRL's nextUpdate is 2023-07-08.
  EXPECT_THAT(verifier->Verify(V4(), Ctx("2023-07-09T00:00:00Z")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no CRL from")));
  auto relaxed = MakeVerifier({.require_crls = false});
  ASSERT_OK(relaxed->Verify(V4(), Ctx("2023-06-20T00:00:00Z")));
  // The TCB info's nextUpdate is 2023-07-18, the QE identity's 2023-07-08.
  EXPECT_THAT(relaxed->Verify(V4(), Ctx("2023-07-19T00:00:00Z")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("TCB info for FMSPC 50806f000000 is not current")));
  EXPECT_THAT(
      relaxed->Verify(V4(), Ctx("2023-07-09T00:00:00Z")),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("QE identity is not current")));
  ASSERT_OK(verifier->Verify(V4(), Ctx("2023-06-20T00:00:00Z")));
}

TEST(TdxVerifierCacheTest, ChangedCollateralIsRefusedWithAWarmCache) {
  const std::string dir = CopyGotdx("cache_changed");
  auto verifier = MakeVerifier();
  ASSERT_OK(verifier->Verify(V4(dir), Ctx("2023-06-20T00:00:00Z")));
  ASSERT_OK(verifier->Verify(V4(dir), Ctx("2023-06-20T00:00:00Z")));

  // Same size, mtime put back: only the content and ctime differ.
  const std::string path = dir + "/" + kTcbInfo;
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  const std::string file = Vec(std::string("gotdx/") + kTcbInfo);
  const std::string tampered = absl::StrReplaceAll(file, {{"\"pcesvn\":11", "\"pcesvn\":10"}});
  ASSERT_EQ(tampered.size(), file.size());
  testing_tdx::WriteFile(path, tampered);
  struct timespec times[2] = {st.st_mtim, st.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  EXPECT_THAT(verifier->Verify(V4(dir), Ctx("2023-06-20T00:00:00Z")),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("TCB info: signature does not verify")));

  // Put back, then take the PCK CRL away.
  testing_tdx::WriteFile(path, file);
  ASSERT_OK(verifier->Verify(V4(dir), Ctx("2023-06-20T00:00:00Z")));
  std::filesystem::remove(dir + "/pck_platform_crl.der");
  EXPECT_THAT(verifier->Verify(V4(dir), Ctx("2023-06-20T00:00:00Z")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("no CRL from 'Intel SGX PCK Platform CA'")));

  // And without the TCB signing chain nothing signs the TCB info, although
  // its signature was verified (and remembered) before.
  testing_tdx::WriteFile(dir + "/pck_platform_crl.der", Vec("gotdx/pck_platform_crl.der"));
  ASSERT_OK(verifier->Verify(V4(dir), Ctx("2023-06-20T00:00:00Z")));
  std::filesystem::remove(dir + "/tcb_signing_chain_2018.pem");
  EXPECT_THAT(
      verifier->Verify(V4(dir), Ctx("2023-06-20T00:00:00Z")),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no TCB signing certificate")));
}

TEST(TdxVerifierCacheTest, RememberedSignatureStillNeedsACurrentSigningChain) {
  auto verifier = MakeVerifier({.require_crls = false, .require_qe_identity = false});
  const std::string signer_2025 = Vec("common/intel_sgx_tcb_signing_2025.pem");
  ASSERT_OK(verifier->Verify(V5({signer_2025}), Ctx("2026-02-15T00:00:00Z")));
  // The 2018 certificate (same key) verified the signature in that call too,
  // but its chain expired on 2025-05-21.
  EXPECT_THAT(verifier->Verify(V5({}), Ctx("2026-02-15T00:00:00Z")),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("TCB info: signed, but")));
  ASSERT_OK(verifier->Verify(V5({signer_2025}), Ctx("2026-02-15T00:00:00Z")));
}

TEST(TdxVerifierCacheTest, CachesAreBounded) {
  auto verifier = MakeVerifier({.max_cached_chains = 1});
  const std::string other = CopyGotdx("cache_bound");
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(verifier->Verify(V4(), Ctx("2023-06-20T00:00:00Z")));
    ASSERT_OK(verifier->Verify(V4(other), Ctx("2023-06-20T00:00:00Z")));
  }
  EXPECT_EQ(verifier->cached_chains(), 1u);
}

}  // namespace
}  // namespace strongroom::attest
