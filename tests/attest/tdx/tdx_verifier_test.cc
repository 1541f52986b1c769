// TdxVerifier on the real quotes and collateral in shared/vectors/tdx.
//
// Pinned times: quote_v4_SPR_E4 at 2023-06-20T00:00:00Z, where every piece
// of its collateral is current (TCB info 2023-06-18..07-18, QE identity and
// PCK CRL 2023-06-08..07-08, root CA CRL 2023-04-03..2024-04-02, TCB
// signing 2018 certificate until 2025-05-21, PCK 2022-09-20..2029-09-20).
// quote_v5_sample has no such time: its PCK is from 2026-01-27 and its TCB
// info 2026-02-01..03-03, but the only CRLs and QE identity are from 2023.
// It is checked at 2026-02-15 against what is valid for its own chain (PCK
// chain, TCB info signed by the 2025 TCB signing certificate), with the CRL
// and QE identity checks relaxed, and refused when they are required.
#include "attest/tdx/tdx_verifier.h"

#include <filesystem>
#include <thread>

#include "absl/strings/str_replace.h"
#include "attest/tdx/quote.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/attest/tdx/synthetic_tdx.h"
#include "tests/attest/tdx/tdx_test_util.h"

namespace strongroom::attest {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing_tdx::At;
using testing_tdx::Vec;
using testing_tdx::VecBytes;
using testing_tdx::VecPath;

constexpr char kV4Time[] = "2023-06-20T00:00:00Z";
constexpr char kV5Time[] = "2026-02-15T00:00:00Z";

std::unique_ptr<TdxVerifier> MakeVerifier(TdxVerifierOptions options = {}) {
  auto v = TdxVerifier::Create(std::move(options));
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *std::move(v) : nullptr;
}

Evidence V4Evidence(const Bytes& quote) {
  Evidence e;
  e.type = EvidenceType::kTdx;
  e.payload.assign(quote.begin(), quote.end());
  e.collateral_dir = VecPath("gotdx");
  return e;
}

VerifyContext At4() { return VerifyContext{.at = At(kV4Time)}; }

// A copy of gotdx without `skip` and with `replace` (name -> content).
std::string CopyGotdx(absl::string_view tag, std::vector<std::string> skip,
                      std::map<std::string, std::string> replace = {}) {
  std::string dir = testing_tdx::MakeTempDir(tag);
  for (const auto& entry :
       std::filesystem::directory_iterator(VecPath("gotdx"))) {
    std::string name = entry.path().filename().string();
    if (std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
    auto it = replace.find(name);
    testing_tdx::WriteFile(dir + "/" + name,
                           it != replace.end() ? it->second
                                               : Vec("gotdx/" + name));
  }
  return dir;
}

TEST(TdxVerifierTest, PinnedRootIsTheIntelSgxRootCa) {
  ASSERT_OK_AND_ASSIGN(auto root, ParseCertificates(Vec("common/intel_sgx_root_ca.pem"), "root"));
  EXPECT_EQ(root[0].SpkiSha256Hex(), kIntelSgxRootSpkiSha256);
}

TEST(TdxVerifierTest, CreateRefusesBadRoots) {
  EXPECT_THAT(TdxVerifier::Create({.root_spki_sha256 = {}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(TdxVerifier::Create({.root_spki_sha256 = {"abc"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'abc'")));
}

TEST(TdxVerifierTest, V4QuoteVerifiesWithFullCollateral) {
  auto verifier = MakeVerifier();
  Bytes quote = VecBytes("gotdx/quote_v4_SPR_E4.dat");
  ASSERT_OK_AND_ASSIGN(Appraisal a, verifier->Verify(V4Evidence(quote), At4()));
  EXPECT_EQ(a.tee, "tdx");
  const Claims& c = a.claims;
  // QUOTE_FIELDS.md.
  EXPECT_EQ(c.GetInt("tdx.version"), 4);
  EXPECT_EQ(c.GetString("tdx.mrtd"),
            "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f"
            "22fc00b8dcd404bc10d5e119d7215cbb");
  EXPECT_EQ(c.GetString("tdx.rtmr0"),
            "2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976"
            "823adf08f833c1e50b51779c6593f32a");
  EXPECT_EQ(c.GetString("tdx.rtmr1"),
            "2c700b8ba9b85783f8be9fb9443647bdc0bb3c50747f06297cc6538c25a5f589"
            "c4b56d035c59107c6bc5800db2cacb61");
  EXPECT_EQ(c.GetString("tdx.rtmr2"),
            "8652f0caaba7e215ea442dc36a4499d8fec3362f3a0b2ca151cbe4b3e6466fe5"
            "9c7368b3c2287fc7c3bf5c924eb4424e");
  EXPECT_EQ(c.GetString("tdx.rtmr3"), std::string(96, '0'));
  EXPECT_EQ(c.GetString("tdx.mrseam"),
            "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9"
            "a89b4869a9fab60fbe9d0c5a5363c656");
  EXPECT_EQ(c.GetString("tdx.mrsignerseam"), std::string(96, '0'));
  EXPECT_EQ(c.GetString("tdx.mrconfigid"), std::string(96, '0'));
  EXPECT_EQ(c.GetString("tdx.mrowner"), std::string(96, '0'));
  EXPECT_EQ(c.GetString("tdx.mrownerconfig"), std::string(96, '0'));
  EXPECT_EQ(c.GetString("tdx.report_data"),
            "6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545"
            "eb7406a38d1eed313b987a467dacead6f0c87a6d766c66f6f29f8acb281f1113");
  EXPECT_EQ(c.GetString("tdx.td_attributes"), "0000004000000000");
  EXPECT_FALSE(c.GetBool("tdx.td_attributes.debug"));
  EXPECT_TRUE(c.GetBool("tdx.td_attributes.pks"));
  EXPECT_FALSE(c.GetBool("tdx.td_attributes.sept_ve_disable"));
  EXPECT_EQ(c.GetString("tdx.xfam"), "e71a060000000000");
  EXPECT_EQ(c.GetString("tdx.tee_tcb_svn"), "03000400000000000000000000000000");
  EXPECT_EQ(c.GetString("tdx.fmspc"), "50806f000000");
  EXPECT_FALSE(c.Has("tdx.mrservicetd"));
  // The QE matches the TD_QE identity's only level (isvsvn 4).
  EXPECT_EQ(c.GetString("tdx.qe_tcb_status"), "UpToDate");
  // The platform is below every level of its TCB info (tcb_evaluation_test
  // derives this): authentic but contraindicated.
  EXPECT_EQ(c.GetString("tdx.tcb_status"), "NotSupported");
  EXPECT_EQ(c.GetString("tdx.advisory_ids"), "");
  EXPECT_EQ(a.trust.instance_identity, 2);
  EXPECT_EQ(a.trust.hardware, 96);
  EXPECT_EQ(a.trust.runtime_opaque, 2);
  EXPECT_EQ(a.status(), TrustTier::kContraindicated);
  EXPECT_THAT(a.warnings, Contains(HasSubstr("below every TCB level")));
  // The real PCK CRL and root CA CRL were consulted and revoke nothing here.
  EXPECT_THAT(a.warnings, Not(Contains(HasSubstr("revocation"))));
}

TEST(TdxVerifierTest, RealPckIsNotOnTheRealPckCrl) {
  ASSERT_OK_AND_ASSIGN(Crl crl, Crl::Parse(Vec("gotdx/pck_platform_crl.der"), "crl"));
  ASSERT_GT(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl.get())), 0)
      << "the CRL revokes other PCKs, so passing it means something";
  ASSERT_OK_AND_ASSIGN(TdxQuote q, ParseTdxQuote(VecBytes("gotdx/quote_v4_SPR_E4.dat")));
  ASSERT_OK_AND_ASSIGN(auto certs, ParseCertificates(q.pck_chain_pem, "chain"));
  X509_REVOKED* entry = nullptr;
  EXPECT_EQ(X509_CRL_get0_by_cert(crl.get(), &entry, certs[0].get()), 0);
  // And without the CRLs the same verification is refused (required).
  std::string dir = CopyGotdx("nocrl", {"pck_platform_crl.der"});
  Evidence e = V4Evidence(VecBytes("gotdx/quote_v4_SPR_E4.dat"));
  e.collateral_dir = dir;
  EXPECT_THAT(MakeVerifier()->Verify(e, At4()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("no CRL from 'Intel SGX PCK Platform CA'")));
}

TEST(TdxVerifierTest, TrailingBytesVerifyWithAWarning) {
  Bytes quote = VecBytes("gotdx/quote_v4_SPR_E4_with_trailing_bytes.dat");
  ASSERT_OK_AND_ASSIGN(Appraisal a, MakeVerifier()->Verify(V4Evidence(quote), At4()));
  EXPECT_THAT(a.warnings, Contains(HasSubstr("39 trailing bytes")));
  EXPECT_EQ(a.claims.GetString("tdx.fmspc"), "50806f000000");
}

struct FlipCase {
  const char* name;
  size_t offset;
  const char* why;
};

class TamperedQuoteTest : public ::testing::TestWithParam<FlipCase> {};

TEST_P(TamperedQuoteTest, RefusedWithReason) {
  Bytes quote = VecBytes("gotdx/quote_v4_SPR_E4.dat");
  quote[GetParam().offset] ^= 0x01;
  EXPECT_THAT(MakeVerifier()->Verify(V4Evidence(quote), At4()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr(GetParam().why)));
}

INSTANTIATE_TEST_SUITE_P(
    V4, TamperedQuoteTest,
    ::testing::Values(
        FlipCase{"QuoteSignature", 636 + 10, "quote signature"},
        FlipCase{"Mrtd", 184, "quote signature"},
        FlipCase{"HeaderUserData", 30, "quote signature"},
        FlipCase{"QeReportMrenclave", 770 + 64, "QE report signature"},
        FlipCase{"QeReportSignature", 1154 + 40, "QE report signature"},
        FlipCase{"QeAuthData", 1220, "does not bind the attestation key"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(TdxVerifierTest, ReportDataMustMatchWhenExpected) {
  auto verifier = MakeVerifier();
  ASSERT_OK_AND_ASSIGN(TdxQuote q, ParseTdxQuote(VecBytes("gotdx/quote_v4_SPR_E4.dat")));
  Evidence e = V4Evidence(VecBytes("gotdx/quote_v4_SPR_E4.dat"));
  VerifyContext ctx = At4();
  ctx.expected_report_data = Bytes(q.body.report_data.begin(), q.body.report_data.end());
  EXPECT_OK(verifier->Verify(e, ctx));
  ctx.expected_report_data->back() ^= 1;
  EXPECT_THAT(verifier->Verify(e, ctx),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("report_data")));
  // A 32-byte expectation is zero-padded, and this quote's tail is not zero.
  ctx.expected_report_data = Bytes(q.body.report_data.begin(), q.body.report_data.begin() + 32);
  EXPECT_THAT(verifier->Verify(e, ctx),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("report_data")));
  ctx.expected_report_data = Bytes(65, 0);
  EXPECT_THAT(verifier->Verify(e, ctx), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TdxVerifierTest, MalformedQuotesAreInvalidArgument) {
  auto verifier = MakeVerifier();
  Bytes quote = VecBytes("gotdx/quote_v4_SPR_E4.dat");
  Bytes v3 = quote;
  v3[0] = 3;
  EXPECT_THAT(verifier->Verify(V4Evidence(v3), At4()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("version: 3")));
  Bytes sgx = quote;
  sgx[4] = 0x00;
  EXPECT_THAT(verifier->Verify(V4Evidence(sgx), At4()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tee_type")));
  Bytes cut(quote.begin(), quote.begin() + 2000);
  EXPECT_THAT(verifier->Verify(V4Evidence(cut), At4()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("declares")));
  EXPECT_THAT(verifier->Verify(V4Evidence(VecBytes("gotdx/td_report.dat")), At4()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("version")));
  Evidence wrong_type = V4Evidence(quote);
  wrong_type.type = EvidenceType::kSevSnp;
  EXPECT_THAT(verifier->Verify(wrong_type, At4()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(verifier->Verify(V4Evidence(quote), VerifyContext{}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("time")));
}

TEST(TdxVerifierTest, TamperedTcbInfoSignatureFails) {
  std::string file = Vec("gotdx/tcbinfo_fmspc_50806f000000.json");
  std::string tampered = absl::StrReplaceAll(file, {{"\"pcesvn\":11", "\"pcesvn\":10"}});
  ASSERT_NE(tampered, file);
  std::string dir = CopyGotdx("tampered", {}, {{"tcbinfo_fmspc_50806f000000.json", tampered}});
  Evidence e = V4Evidence(VecBytes("gotdx/quote_v4_SPR_E4.dat"));
  e.collateral_dir = dir;
  EXPECT_THAT(MakeVerifier()->Verify(e, At4()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("TCB info: signature does not verify")));
}

TEST(TdxVerifierTest, TamperedQeIdentityIsRefusedEvenWhenOptional) {
  std::string file = Vec("gotdx/qe_identity_td_qe.json");
  std::string tampered = absl::StrReplaceAll(file, {{"\"isvprodid\":2", "\"isvprodid\":3"}});
  ASSERT_NE(tampered, file);
  std::string dir = CopyGotdx("tamperedqe", {}, {{"qe_identity_td_qe.json", tampered}});
  Evidence e = V4Evidence(VecBytes("gotdx/quote_v4_SPR_E4.dat"));
  e.collateral_dir = dir;
  EXPECT_THAT(MakeVerifier({.require_qe_identity = false})->Verify(e, At4()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("QE identity: signature does not verify")));
}

TEST(TdxVerifierTest, MissingTcbInfoForFmspcIsFailedPrecondition) {
  std::string dir = CopyGotdx("notcb", {"tcbinfo_fmspc_50806f000000.json"});
  Evidence e = V4Evidence(VecBytes("gotdx/quote_v4_SPR_E4.dat"));
  e.collateral_dir = dir;
  EXPECT_THAT(MakeVerifier()->Verify(e, At4()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("no TDX TCB info for FMSPC 50806f000000")));
}

TEST(TdxVerifierTest, QeIdentityRequiredUnlessRelaxed) {
  std::string dir = CopyGotdx("noqe", {"qe_identity_td_qe.json"});
  Evidence e = V4Evidence(VecBytes("gotdx/quote_v4_SPR_E4.dat"));
  e.collateral_dir = dir;
  EXPECT_THAT(MakeVerifier()->Verify(e, At4()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("no TD_QE identity")));
  ASSERT_OK_AND_ASSIGN(Appraisal a, MakeVerifier({.require_qe_identity = false})->Verify(e, At4()));
  EXPECT_FALSE(a.claims.Has("tdx.qe_tcb_status"));
  EXPECT_THAT(a.warnings, Contains(HasSubstr("QE TCB status not evaluated")));
}

TEST(TdxVerifierTest, ExpiredCollateralAtThePinnedTime) {
  Evidence e = V4Evidence(VecBytes("gotdx/quote_v4_SPR_E4.dat"));
  VerifyContext later{.at = At("2023-07-20T00:00:00Z")};
  // The PCK CRL (nextUpdate 2023-07-08) is the first to lapse.
  EXPECT_THAT(MakeVerifier()->Verify(e, later),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("covers 2023-06-08T07:27:52Z .. 2023-07-08T07:27:52Z")));
  // Without CRLs, the TCB info (nextUpdate 2023-07-18) is next.
  EXPECT_THAT(MakeVerifier({.require_crls = false})->Verify(e, later),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("TCB info for FMSPC 50806f000000 is not current")));
  // Before the TCB info was issued.
  EXPECT_THAT(MakeVerifier({.require_crls = false})->Verify(e, VerifyContext{.at = At("2023-06-10T00:00:00Z")}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("issueDate 2023-06-18T08:42:58Z")));
}

TEST(TdxVerifierTest, ChainIsCheckedAtTheGivenTimeEvenWhenCached) {
  auto verifier = MakeVerifier({.require_crls = false, .require_qe_identity = false});
  Evidence e = V4Evidence(VecBytes("gotdx/quote_v4_SPR_E4.dat"));
  ASSERT_OK(verifier->Verify(e, At4()));
  ASSERT_OK(verifier->Verify(e, At4()));
  EXPECT_EQ(verifier->cached_chains(), 1u);
  // The PCK leaf expires 2029-09-20: a cached chain must not pass after it.
  EXPECT_THAT(verifier->Verify(e, VerifyContext{.at = At("2030-01-01T00:00:00Z")}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("expired")));
  // Nor before the leaf's notBefore (2022-09-20).
  EXPECT_THAT(verifier->Verify(e, VerifyContext{.at = At("2022-01-01T00:00:00Z")}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("not yet valid")));
}

TEST(TdxVerifierTest, AnotherPinnedRootRefusesTheChain) {
  auto verifier = MakeVerifier({.root_spki_sha256 = {std::string(64, 'a')}});
  EXPECT_THAT(verifier->Verify(V4Evidence(VecBytes("gotdx/quote_v4_SPR_E4.dat")), At4()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("pinned")));
}

TEST(TdxVerifierTest, ConcurrentVerificationsAgree) {
  auto verifier = MakeVerifier();
  Evidence e = V4Evidence(VecBytes("gotdx/quote_v4_SPR_E4.dat"));
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { results[i] = verifier->Verify(e, At4()).status(); });
  }
  for (auto& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_OK(s);
}

Evidence V5Evidence() {
  Evidence e;
  e.type = EvidenceType::kTdx;
  e.payload = Vec("gotdx/quote_v5_sample.dat");
  e.collateral_dir = VecPath("gotdx");
  // The TCB info of 2026 is signed by the re-issued TCB signing certificate.
  e.certificates = {Vec("common/intel_sgx_tcb_signing_2025.pem")};
  return e;
}

TEST(TdxVerifierTest, V5RefusedWhenStaleCrlsAreRequired) {
  EXPECT_THAT(MakeVerifier()->Verify(V5Evidence(), VerifyContext{.at = At(kV5Time)}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("no CRL from 'Intel SGX PCK Platform CA' current at "
                                 "2026-02-15T00:00:00Z")));
  EXPECT_THAT(MakeVerifier({.require_crls = false})->Verify(V5Evidence(), VerifyContext{.at = At(kV5Time)}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("QE identity is not current")));
}

TEST(TdxVerifierTest, V5VerifiesAgainstCollateralValidForItsChain) {
  auto verifier = MakeVerifier({.require_crls = false, .require_qe_identity = false});
  ASSERT_OK_AND_ASSIGN(Appraisal a, verifier->Verify(V5Evidence(), VerifyContext{.at = At(kV5Time)}));
  const Claims& c = a.claims;
  EXPECT_EQ(c.GetInt("tdx.version"), 5);
  EXPECT_EQ(c.GetString("tdx.mrtd"),
            "7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb0"
            "01a1ced3ee19747dda8f750c3bc8f876");
  EXPECT_EQ(c.GetString("tdx.rtmr0"),
            "5c8daf76063a71ac8fcef4067564661fc682ed7944c7a5d21dbbced02f61ceff"
            "4ba0678c6aef3bdae8cbc614cec24619");
  EXPECT_EQ(c.GetString("tdx.report_data"),
            "945eaacf5abc1f719d8666a942fda03d1edcb4490277396093dc5a5289ab9f1e"
            "094aed63060cd4a4933a4dd537ed1255c9c79ecb3ed82cd1b486233e31c25c3a");
  EXPECT_EQ(c.GetString("tdx.tee_tcb_svn"), "0b010400000000000000000000000000");
  EXPECT_EQ(c.GetString("tdx.tee_tcb_svn2"), "0d010400000000000000000000000000");
  EXPECT_EQ(c.GetString("tdx.mrservicetd"), std::string(96, '0'));
  EXPECT_EQ(c.GetString("tdx.td_attributes"), "0000001000000000");
  EXPECT_TRUE(c.GetBool("tdx.td_attributes.sept_ve_disable"));
  EXPECT_FALSE(c.GetBool("tdx.td_attributes.debug"));
  EXPECT_EQ(c.GetString("tdx.fmspc"), "90c06f000000");
  EXPECT_FALSE(c.Has("tdx.qe_tcb_status"));
  // PCK CPUSVN components 04040202040100050..., PCESVN 13 meet the first
  // level (03030202040100050..., 13); tee_tcb_svn[1] = 1 so bytes 0-1 go to
  // module identity TDX_01, where svn 0x0b >= 6 is UpToDate, and byte 2
  // (4) >= 3: UpToDate with no advisories.
  EXPECT_EQ(c.GetString("tdx.tcb_status"), "UpToDate");
  EXPECT_EQ(c.GetString("tdx.advisory_ids"), "");
  // Skipped checks are reported and cap the hardware claim at "warning".
  EXPECT_THAT(a.warnings, Contains(HasSubstr("revocation not checked")));
  EXPECT_THAT(a.warnings, Contains(HasSubstr("QE TCB status not evaluated")));
  EXPECT_EQ(a.trust.hardware, 32);
  EXPECT_EQ(a.status(), TrustTier::kWarning);
}

TEST(TdxVerifierTest, V5TcbInfoNeedsACurrentSigningCertificate) {
  Evidence e = V5Evidence();
  e.certificates.clear();  // only the 2018 certificate, expired 2025-05-21
  EXPECT_THAT(MakeVerifier({.require_crls = false, .require_qe_identity = false})
                  ->Verify(e, VerifyContext{.at = At(kV5Time)}),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("TCB info: signed, but")));
}

}  // namespace
}  // namespace strongroom::attest
