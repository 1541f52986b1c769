#include "attest/snp/snp_verifier.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/bytes.h"
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
Evidence Gosev() {
  return Milan("milan/gosev_report.bin", "milan/gosev_vcek.der");
}

VerifyContext Ctx(absl::Time at = PinnedTime()) {
  VerifyContext c;
  c.at = at;
  return c;
}

// Each certificate of a PEM bundle as its own DER element.
std::vector<std::string> SplitDer(absl::string_view rel) {
  std::vector<std::string> out;
  auto certs = ParseCertificates(Vec(rel), rel);
  EXPECT_TRUE(certs.ok());
  for (const Certificate& c : *certs) {
    out.emplace_back(AsStringView(c.der()));
  }
  return out;
}
std::string DerNamed(absl::string_view rel, absl::string_view cn) {
  auto certs = ParseCertificates(Vec(rel), rel);
  for (const Certificate& c : *certs) {
    if (c.common_name() == cn) return std::string(AsStringView(c.der()));
  }
  ADD_FAILURE() << "no " << cn << " in " << rel;
  return "";
}

// --- Accepted
// -----------------------------------------------------------------

struct GoodCase {
  const char* report;
  const char* vcek;
  const char* measurement;
  const char* chip_id;
  int bl, snp, ucode;
  bool debug;
};
void PrintTo(const GoodCase& c, std::ostream* os) { *os << c.report; }

class SnpVerifyRealReportTest : public ::testing::TestWithParam<GoodCase> {};

TEST_P(SnpVerifyRealReportTest, VerifiesWithExpectedClaims) {
  const GoodCase& c = GetParam();
  auto v = NewVerifier();
  ASSERT_OK_AND_ASSIGN(Appraisal a, v->Verify(Milan(c.report, c.vcek), Ctx()));
  EXPECT_EQ(a.tee, "snp");
  EXPECT_EQ(a.claims.GetString("snp.product"), "Milan");
  EXPECT_EQ(a.claims.GetString("snp.signing_key"), "vcek");
  EXPECT_EQ(a.claims.GetString("snp.measurement"), c.measurement);
  EXPECT_EQ(a.claims.GetString("snp.chip_id"), c.chip_id);
  EXPECT_EQ(a.claims.GetString("snp.host_data"), std::string(64, '0'));
  EXPECT_EQ(a.claims.GetString("snp.author_key_digest"), std::string(96, '0'));
  EXPECT_EQ(a.claims.GetInt("snp.reported_tcb.bl"), c.bl);
  EXPECT_EQ(a.claims.GetInt("snp.reported_tcb.snp"), c.snp);
  EXPECT_EQ(a.claims.GetInt("snp.reported_tcb.ucode"), c.ucode);
  EXPECT_EQ(a.claims.GetInt("snp.guest_svn"), 0);
  EXPECT_EQ(a.claims.GetBool("snp.policy.debug"), c.debug);
  EXPECT_EQ(a.trust.instance_identity, 2);
  EXPECT_EQ(a.trust.hardware, 2);
  EXPECT_EQ(a.trust.runtime_opaque, 2);
  EXPECT_EQ(a.trust.configuration, c.debug ? 32 : 2);
  EXPECT_EQ(a.status(), c.debug ? TrustTier::kWarning : TrustTier::kAffirming);
}

INSTANTIATE_TEST_SUITE_P(
    Milan, SnpVerifyRealReportTest,
    ::testing::Values(
        GoodCase{
            "milan/gosev_report.bin", "milan/gosev_vcek.der",
            "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf"
            "5b6bdf8a9ece31a5a608eb0cf2e4872b01",
            "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e5378618"
            "4ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d",
            2, 5, 68, true},
        GoodCase{
            "milan/virtee_report.bin", "milan/virtee_vcek.der",
            "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea15"
            "8d3e1a0dc39b2c60bd95b9c480cd81841f",
            "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc"
            "15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6",
            3, 8, 115, false}));

TEST(SnpVerifierTest, ExpectedReportDataIsZeroPadded) {
  auto v = NewVerifier();
  VerifyContext ctx = Ctx();
  ctx.expected_report_data = Bytes{1, 2, 3, 4, 5};
  EXPECT_OK(v->Verify(Gosev(), ctx));
  ctx.expected_report_data = Bytes(64, 0);
  std::copy_n(Bytes{1, 2, 3, 4, 5}.begin(), 5,
              ctx.expected_report_data->begin());
  EXPECT_OK(v->Verify(Gosev(), ctx));
}

TEST(SnpVerifierTest, CertificatesInAnyOrderAndFormat) {
  auto v = NewVerifier({.max_cached_chains = 0});
  Evidence e = Gosev();
  // ARK, ASK, then the VCEK, each DER on its own; plus the other report's
  // VCEK, which must be passed over.
  std::vector<std::string> parts = SplitDer("milan/ask_ark_milan.pem");
  e.certificates = {parts[1], parts[0], Vec("milan/virtee_vcek.der"),
                    Vec("milan/gosev_vcek.der")};
  EXPECT_OK(v->Verify(e, Ctx()));
  Evidence w = Milan("milan/virtee_report.bin", "milan/gosev_vcek.der");
  w.certificates.push_back(Vec("milan/virtee_vcek.der"));
  EXPECT_OK(v->Verify(w, Ctx()));
}

// --- Refused
// ------------------------------------------------------------------

struct BadCase {
  const char* name;
  std::function<void(Evidence&, VerifyContext&)> mutate;
  absl::StatusCode code;
  const char* reason;
};
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

void FlipByte(Evidence& e, size_t off) { e.payload[off] ^= 0x01; }
void SetKeyInfo(Evidence& e, uint32_t v) { PutLe32(e.payload, 0x48, v); }

const std::vector<BadCase>& BadCases() {
  using C = absl::StatusCode;
  static const auto* cases = new std::vector<BadCase>{
      {"FlippedSignatureR",
       [](Evidence& e, VerifyContext&) { FlipByte(e, 0x2A0); },
       C::kPermissionDenied, "snp report: signature does not verify"},
      {"FlippedSignatureS",
       [](Evidence& e, VerifyContext&) { FlipByte(e, 0x2E8 + 10); },
       C::kPermissionDenied, "snp report: signature does not verify"},
      {"FlippedMeasurement",
       [](Evidence& e, VerifyContext&) { FlipByte(e, 0x90); },
       C::kPermissionDenied, "snp report: signature does not verify"},
      {"FlippedReportData",
       [](Evidence& e, VerifyContext&) { FlipByte(e, 0x50 + 63); },
       C::kPermissionDenied, "snp report: signature does not verify"},
      {"ZeroSignature",
       [](Evidence& e, VerifyContext&) {
         std::fill(e.payload.begin() + 0x2A0, e.payload.end(), '\0');
       },
       C::kPermissionDenied, "signature is all zero"},
      {"WrongVcek",
       [](Evidence& e, VerifyContext&) {
         e.certificates[0] = Vec("milan/virtee_vcek.der");
       },
       C::kPermissionDenied, "does not match the VCEK hwID"},
      {"TamperedVcekLegacy",
       [](Evidence& e, VerifyContext&) {
         e.certificates[0] =
             Vec("negative/trustee_test-vcek-invalid-legacy.der");
       },
       C::kPermissionDenied,
       "'SEV-VCEK': signature does not verify under 'SEV-Milan'"},
      {"TamperedVcekNew",
       [](Evidence& e, VerifyContext&) {
         e.certificates[0] = Vec("negative/trustee_test-vcek-invalid-new.der");
       },
       C::kPermissionDenied,
       "'SEV-VCEK': signature does not verify under 'SEV-Milan'"},
      {"ExpiredAtVerificationTime",
       [](Evidence&, VerifyContext& c) { c.at = At("2050-01-01T00:00:00Z"); },
       C::kPermissionDenied, "'SEV-VCEK' expired at 2029-09-24"},
      {"BeforeValidity",
       [](Evidence&, VerifyContext& c) { c.at = At("2021-06-01T00:00:00Z"); },
       C::kPermissionDenied, "'SEV-VCEK' is not yet valid"},
      {"WrongReportData",
       [](Evidence&, VerifyContext& c) {
         c.expected_report_data = Bytes{1, 2, 3, 4, 6};
       },
       C::kPermissionDenied, "report_data does not match"},
      {"ReportDataLongerThanField",
       [](Evidence&, VerifyContext& c) {
         c.expected_report_data = Bytes(65, 0);
       },
       C::kInvalidArgument, "expected_report_data is 65 bytes"},
      {"Truncated", [](Evidence& e, VerifyContext&) { e.payload.resize(1000); },
       C::kInvalidArgument, "truncated: 1000 bytes"},
      {"Oversized", [](Evidence& e, VerifyContext&) { e.payload += "xx"; },
       C::kInvalidArgument, "2 trailing bytes"},
      {"Version1",
       [](Evidence& e, VerifyContext&) { PutLe32(e.payload, 0, 1); },
       C::kInvalidArgument, "version: 1 is older"},
      {"VersionFfff",
       [](Evidence& e, VerifyContext&) { PutLe32(e.payload, 0, 0xffff); },
       C::kInvalidArgument, "version: 65535 is not a known report version"},
      {"BadSigAlgo",
       [](Evidence& e, VerifyContext&) { PutLe32(e.payload, 0x34, 2); },
       C::kInvalidArgument, "signature_algo: 2"},
      {"ReportedTcbChanged",
       // bl 2 -> 3: the report is no longer what the VCEK was issued for
       // (and no longer what was signed); the TCB reason comes first.
       [](Evidence& e, VerifyContext&) { e.payload[0x180] = 3; },
       C::kPermissionDenied,
       "reported_tcb.bl is 3 but the VCEK was issued for bl 2"},
      {"ChipIdChanged", [](Evidence& e, VerifyContext&) { FlipByte(e, 0x1A0); },
       C::kPermissionDenied, "does not match the VCEK hwID"},
      {"VlekReportWithVcek",
       [](Evidence& e, VerifyContext&) { SetKeyInfo(e, 1u << 2); },
       C::kPermissionDenied,
       "signing_key is VLEK (1) but only a VCEK certificate"},
      {"UnsignedReport",
       [](Evidence& e, VerifyContext&) { SetKeyInfo(e, 7u << 2); },
       C::kPermissionDenied, "signing_key is none (7)"},
      {"GenoaArkForMilanVcek",
       [](Evidence& e, VerifyContext&) {
         e.certificates = {Vec("milan/gosev_vcek.der"),
                           DerNamed("milan/ask_ark_milan.pem", "SEV-Milan"),
                           DerNamed("genoa/ask_ark_genoa.pem", "ARK-Genoa")};
       },
       C::kPermissionDenied, "supplied root is 'ARK-Genoa'"},
      {"GenoaChainForMilanVcek",
       [](Evidence& e, VerifyContext&) {
         e.certificates[1] = Vec("genoa/ask_ark_genoa.pem");
       },
       C::kPermissionDenied, "supplied intermediate is 'SEV-Genoa'"},
      {"MissingVcek",
       [](Evidence& e, VerifyContext&) {
         e.certificates.erase(e.certificates.begin());
       },
       C::kFailedPrecondition, "no VCEK certificate supplied"},
      {"MissingAsk",
       [](Evidence& e, VerifyContext&) {
         e.certificates[1] = DerNamed("milan/ask_ark_milan.pem", "ARK-Milan");
       },
       C::kFailedPrecondition, "no ASK 'SEV-Milan'"},
      {"MissingArk",
       [](Evidence& e, VerifyContext&) {
         e.certificates[1] = DerNamed("milan/ask_ark_milan.pem", "SEV-Milan");
       },
       C::kFailedPrecondition, "no ARK 'ARK-Milan'"},
      {"CpuidSaysTurin",
       [](Evidence& e, VerifyContext&) {
         PutLe32(e.payload, 0, 3);
         e.payload[0x188] = 0x1A;
       },
       C::kPermissionDenied, "is Turin but the VCEK is for Milan"},
      {"GarbageCertificate",
       [](Evidence& e, VerifyContext&) {
         e.certificates.push_back("\x30\x03\x02\x01\x01");
       },
       C::kInvalidArgument, "snp evidence certificates[2]"},
      {"TimeNotSet",
       [](Evidence&, VerifyContext& c) { c.at = absl::InfinitePast(); },
       C::kInvalidArgument, "verification time"},
      {"WrongEvidenceType",
       [](Evidence& e, VerifyContext&) { e.type = EvidenceType::kTdx; },
       C::kInvalidArgument, "evidence type is 'tdx'"},
  };
  return *cases;
}

class SnpVerifyRejectTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(SnpVerifyRejectTest, RefusesWithTheSpecificReason) {
  auto v = NewVerifier();
  Evidence e = Gosev();
  VerifyContext ctx = Ctx();
  ctx.expected_report_data = Bytes{1, 2, 3, 4, 5};
  ASSERT_OK(v->Verify(e, ctx));  // the unmodified case passes
  GetParam().mutate(e, ctx);
  // A fresh verifier, so no chain cache is involved.
  EXPECT_THAT(NewVerifier()->Verify(e, ctx),
              StatusIs(GetParam().code, HasSubstr(GetParam().reason)));
}

INSTANTIATE_TEST_SUITE_P(All, SnpVerifyRejectTest,
                         ::testing::ValuesIn(BadCases()), [](const auto& info) {
                           return std::string(info.param.name);
                         });

// A report correctly signed by a VCEK whose chain is sound except that its
// root is not AMD's.
TEST(SnpVerifierTest, ForgedChainToLookAlikeRootIsRefused) {
  KeyPtr ark_key = NewP384Key(), ask_key = NewP384Key(),
         vcek_key = NewP384Key();
  Bytes hwid(64, 0x5a);
  Certificate ark = MakeCert({.subject_cn = "ARK-Milan",
                              .issuer_cn = "ARK-Milan",
                              .subject_key = ark_key.get(),
                              .issuer_key = ark_key.get(),
                              .ca = true});
  Certificate ask = MakeCert({.subject_cn = "SEV-Milan",
                              .issuer_cn = "ARK-Milan",
                              .subject_key = ask_key.get(),
                              .issuer_key = ark_key.get(),
                              .ca = true});
  Certificate vcek =
      MakeCert({.subject_cn = "SEV-VCEK",
                .issuer_cn = "SEV-Milan",
                .subject_key = vcek_key.get(),
                .issuer_key = ask_key.get(),
                .extensions = {{"1.3.6.1.4.1.3704.1.2", DerIa5("Milan-B0")},
                               {"1.3.6.1.4.1.3704.1.3.1", DerInt(2)},
                               {"1.3.6.1.4.1.3704.1.3.2", DerInt(0)},
                               {"1.3.6.1.4.1.3704.1.3.3", DerInt(5)},
                               {"1.3.6.1.4.1.3704.1.3.8", DerInt(68)},
                               {"1.3.6.1.4.1.3704.1.4", hwid}}});
  Evidence e;
  e.type = EvidenceType::kSevSnp;
  e.payload = Vec("milan/gosev_report.bin");
  std::copy(hwid.begin(), hwid.end(), e.payload.begin() + 0x1A0);
  SignReport(e.payload, vcek_key.get());
  // Our signing matches the PSP's encoding (r, s little-endian).
  ASSERT_OK_AND_ASSIGN(SnpReport report, ParseSnpReport(AsBytes(e.payload)));
  ASSERT_OK(VerifySnpReportSignature(report, vcek.public_key()));

  e.certificates = {std::string(AsStringView(vcek.der())),
                    std::string(AsStringView(ask.der())),
                    std::string(AsStringView(ark.der()))};
  EXPECT_THAT(NewVerifier()->Verify(e, Ctx()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("'ARK-Milan' is not a pinned trust anchor")));
}

TEST(SnpVerifierTest, VcekReportWithOnlyAVlekIsRefused) {
  KeyPtr key = NewP384Key();
  Certificate vlek =
      MakeCert({.subject_cn = "SEV-VLEK",
                .issuer_cn = "SEV-VLEK-Milan",
                .subject_key = key.get(),
                .issuer_key = key.get(),
                .extensions = {{"1.3.6.1.4.1.3704.1.3.1", DerInt(2)},
                               {"1.3.6.1.4.1.3704.1.3.2", DerInt(0)},
                               {"1.3.6.1.4.1.3704.1.3.3", DerInt(5)},
                               {"1.3.6.1.4.1.3704.1.3.8", DerInt(68)}}});
  Evidence e = Gosev();
  e.certificates = {std::string(AsStringView(vlek.der())),
                    Vec("milan/asvk_ark_milan_vlek.pem")};
  EXPECT_THAT(NewVerifier()->Verify(e, Ctx()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("signing_key is VCEK (0) but only a VLEK "
                                 "certificate was supplied")));
}

// --- Collateral directory
// ------------------------------------------------------

class CollateralDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("snp_collateral_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "nested");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Put(const std::string& name, const std::string& data) {
    std::ofstream(dir_ / name, std::ios::binary) << data;
  }
  std::filesystem::path dir_;
};

TEST_F(CollateralDirTest, FindsTheRightVcekAmongFilesRecognizedByContent) {
  Put("a.bin", Vec("milan/virtee_vcek.der"));
  Put("b", Vec("milan/gosev_vcek.der"));
  Put("chain.txt", Vec("milan/ask_ark_milan.pem"));
  Put("genoa.pem", Vec("genoa/ask_ark_genoa.pem"));
  Put("turin.crt", Vec("turin/virtee_vcek_turin.der"));
  Put("notes.md", "not a certificate\n");
  Put("empty", "");
  auto v = NewVerifier();
  for (const char* report :
       {"milan/gosev_report.bin", "milan/virtee_report.bin"}) {
    SCOPED_TRACE(report);
    Evidence e;
    e.type = EvidenceType::kSevSnp;
    e.payload = Vec(report);
    e.collateral_dir = dir_.string();
    ASSERT_OK_AND_ASSIGN(Appraisal a, v->Verify(e, Ctx()));
    EXPECT_EQ(a.claims.GetString("snp.product"), "Milan");
  }
}

TEST_F(CollateralDirTest, CombinesWithEvidenceCertificates) {
  Put("chain.pem", Vec("milan/ask_ark_milan.pem"));
  Evidence e = Gosev();
  e.certificates = {Vec("milan/gosev_vcek.der")};
  e.collateral_dir = dir_.string();
  EXPECT_OK(NewVerifier()->Verify(e, Ctx()));
}

TEST_F(CollateralDirTest, WithoutTheVcekIsFailedPrecondition) {
  Put("chain.pem", Vec("milan/ask_ark_milan.pem"));
  Evidence e = Gosev();
  e.certificates.clear();
  e.collateral_dir = dir_.string();
  EXPECT_THAT(
      NewVerifier()->Verify(e, Ctx()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no VCEK")));
  e.collateral_dir = (dir_ / "does-not-exist").string();
  EXPECT_THAT(NewVerifier()->Verify(e, Ctx()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("cannot be read")));
}

// --- Chain cache
// ---------------------------------------------------------------

TEST(SnpChainCacheTest, HitThenExpiredTimeStillRefused) {
  auto v = NewVerifier();
  ASSERT_OK(v->Verify(Gosev(), Ctx()));
  EXPECT_EQ(v->chain_cache_hits(), 0u);
  ASSERT_OK(v->Verify(Gosev(), Ctx(At("2026-01-01T00:00:00Z"))));
  EXPECT_EQ(v->chain_cache_hits(), 1u);
  // The cached chain stands in for the ASK/ARK...
  Evidence only_vcek = Gosev();
  only_vcek.certificates = {Vec("milan/gosev_vcek.der")};
  ASSERT_OK(v->Verify(only_vcek, Ctx()));
  EXPECT_EQ(v->chain_cache_hits(), 2u);
  // ...but never at a time when the chain is not valid.
  EXPECT_THAT(
      v->Verify(Gosev(), Ctx(At("2050-01-01T00:00:00Z"))),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("expired")));
  EXPECT_THAT(
      v->Verify(only_vcek, Ctx(At("2029-09-25T00:00:00Z"))),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("expired")));
  EXPECT_THAT(v->Verify(Gosev(), Ctx(At("2021-06-01T00:00:00Z"))),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("not yet valid")));
  EXPECT_EQ(v->chain_cache_hits(), 2u);
  // Nor does it vouch for a report the cached VCEK did not sign.
  Evidence tampered = Gosev();
  tampered.payload[0x90] ^= 1;
  EXPECT_THAT(v->Verify(tampered, Ctx()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("signature does not verify")));
  // A tampered VCEK is a different leaf: no cache entry, refused afresh.
  Evidence bad = Gosev();
  bad.certificates[0] = Vec("negative/trustee_test-vcek-invalid-new.der");
  EXPECT_THAT(
      v->Verify(bad, Ctx()),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr("signature does not verify under 'SEV-Milan'")));
}

TEST(SnpChainCacheTest, DisabledCacheNeverHits) {
  auto v = NewVerifier({.max_cached_chains = 0});
  ASSERT_OK(v->Verify(Gosev(), Ctx()));
  ASSERT_OK(v->Verify(Gosev(), Ctx()));
  EXPECT_EQ(v->chain_cache_hits(), 0u);
}

TEST(SnpChainCacheTest, ConcurrentVerifies) {
  auto v = NewVerifier({.max_cached_chains = 1});
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        Evidence e = (t + i) % 2 == 0 ? Gosev()
                                      : Milan("milan/virtee_report.bin",
                                              "milan/virtee_vcek.der");
        if (v->Verify(e, Ctx()).ok()) ok.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 20);
}

}  // namespace
}  // namespace strongroom::attest
