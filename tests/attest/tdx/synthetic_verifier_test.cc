// TdxVerifier end to end on quotes re-signed under a generated test PKI
// (synthetic_tdx.h), for what no real vector shows: a revoked PCK or CA, a
// CRL that appears later, chosen TCB levels (OutOfDate, Revoked), an
// outdated QE, a debug TD, and a QE report that does not bind the key.
//
// The quotes keep quote_v4_SPR_E4's header, body and QE report (re-signed);
// the collateral is Intel's TCB info / QE identity bodies (edited where a
// test says so) signed by the test TCB signing key. Time: 2023-06-20, inside
// the real documents' issueDate..nextUpdate.
#include <filesystem>

#include "absl/strings/str_join.h"
#include "attest/tdx/collateral.h"
#include "attest/tdx/quote.h"
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
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing_tdx::At;
using testing_tdx::SyntheticPki;
using testing_tdx::TestCert;
using testing_tdx::Vec;
using testing_tdx::VecBytes;

// Body offsets in a v4 quote.
constexpr size_t kTeeTcbSvn = 48;
constexpr size_t kMrsignerseam = 112;
constexpr size_t kTdAttributes = 168;
constexpr size_t kReportData = 568;

struct CollateralSpec {
  std::string tcb_body;  // "tcbInfo" value
  std::string qe_body;   // "enclaveIdentity" value
  std::vector<const TestCert*> revoked_by_platform_ca;
  std::vector<const TestCert*> revoked_by_root;
};

class SyntheticTdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto q = ParseTdxQuote(VecBytes("gotdx/quote_v4_SPR_E4.dat"));
    ASSERT_TRUE(q.ok()) << q.status();
    base_ = *std::move(q);
    auto certs = ParseCertificates(base_.pck_chain_pem, "chain");
    ASSERT_TRUE(certs.ok());
    auto ext = PckSgxExtensionOf((*certs)[0]);
    ASSERT_TRUE(ext.ok());
    ext_ = *ext;
    // The CPUSVN and PCESVN of the TCB info's UpToDate level.
    ext_.cpusvn_components = {5, 5, 2, 2, 3, 1, 0, 3};
    ext_.pcesvn = 11;
    tcb_file_ = Vec("gotdx/tcbinfo_fmspc_50806f000000.json");
    tcb_body_ = std::string(*RawJsonMember(tcb_file_, "tcbInfo"));
    qe_body_ = std::string(*RawJsonMember(Vec("gotdx/qe_identity_td_qe.json"),
                                          "enclaveIdentity"));
    pki_ = SyntheticPki::Create(ext_, At("2023-01-01T00:00:00Z"),
                                At("2030-01-01T00:00:00Z"));
  }

  CollateralSpec Spec() const { return {tcb_body_, qe_body_, {}, {}}; }

  std::string WriteCollateral(const CollateralSpec& spec,
                              const std::string& into = "") {
    std::string dir = into.empty() ? testing_tdx::MakeTempDir("syn") : into;
    EVP_PKEY* signer = pki_.tcb_signing.key.get();
    testing_tdx::WriteFile(dir + "/tcb.json", testing_tdx::SignCollateral(
                                                  "tcbInfo", spec.tcb_body, signer));
    testing_tdx::WriteFile(dir + "/qe.json", testing_tdx::SignCollateral(
                                                 "enclaveIdentity", spec.qe_body, signer));
    testing_tdx::WriteFile(dir + "/signing.pem", pki_.TcbSigningChainPem());
    testing_tdx::WriteFile(
        dir + "/root.crl",
        testing_tdx::MakeCrlPem(pki_.root, spec.revoked_by_root, kCrlFrom, kCrlTo));
    Bytes pck_crl = testing_tdx::MakeCrlDer(
        pki_.platform_ca, spec.revoked_by_platform_ca, kCrlFrom, kCrlTo);
    testing_tdx::WriteFile(dir + "/pck.crl", AsStringView(pck_crl));
    return dir;
  }

  // The base quote with tee_tcb_svn[2] raised to the UpToDate level's 5.
  Bytes Quote(testing_tdx::QuoteRecipe recipe = {}) {
    auto edit = recipe.edit_signed_data;
    recipe.edit_signed_data = [edit](Bytes& d) {
      d[kTeeTcbSvn + 2] = 5;
      if (edit) edit(d);
    };
    return testing_tdx::BuildQuote(base_, pki_.pck.key.get(),
                                   pki_.PckChainPem(), recipe);
  }

  std::unique_ptr<TdxVerifier> Verifier() {
    auto v = TdxVerifier::Create({.root_spki_sha256 = {pki_.root.SpkiSha256()}});
    EXPECT_TRUE(v.ok());
    return *std::move(v);
  }

  absl::StatusOr<Appraisal> Verify(const Bytes& quote, const std::string& dir,
                                   const TdxVerifier* verifier = nullptr,
                                   absl::Time at = At("2023-06-20T00:00:00Z")) {
    Evidence e{.type = EvidenceType::kTdx,
               .payload = std::string(quote.begin(), quote.end()),
               .collateral_dir = dir};
    std::unique_ptr<TdxVerifier> own;
    if (verifier == nullptr) {
      own = Verifier();
      verifier = own.get();
    }
    return verifier->Verify(e, VerifyContext{.at = at});
  }

  static std::string Edited(const std::string& body,
                            const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = nlohmann::json::parse(body);
    edit(j);
    return j.dump();
  }

  const absl::Time kCrlFrom = At("2023-06-01T00:00:00Z");
  const absl::Time kCrlTo = At("2023-08-01T00:00:00Z");
  TdxQuote base_;
  PckSgxExtension ext_;
  std::string tcb_file_, tcb_body_, qe_body_;
  SyntheticPki pki_;
};

TEST_F(SyntheticTdxTest, UpToDatePlatformIsAffirming) {
  ASSERT_OK_AND_ASSIGN(Appraisal a, Verify(Quote(), WriteCollateral(Spec())));
  EXPECT_EQ(a.claims.GetString("tdx.tcb_status"), "UpToDate");
  EXPECT_EQ(a.claims.GetString("tdx.qe_tcb_status"), "UpToDate");
  EXPECT_EQ(a.claims.GetString("tdx.tcb_date"), "2023-02-15T00:00:00Z");
  EXPECT_EQ(a.claims.GetString("tdx.advisory_ids"), "");
  EXPECT_EQ(a.claims.GetString("tdx.tee_tcb_svn"),
            "03000500000000000000000000000000");
  EXPECT_THAT(a.warnings, IsEmpty());
  EXPECT_EQ(a.trust.hardware, 2);
  EXPECT_EQ(a.status(), TrustTier::kAffirming);
}

TEST_F(SyntheticTdxTest, RevokedPckIsRefused) {
  CollateralSpec spec = Spec();
  spec.revoked_by_platform_ca = {&pki_.pck};
  EXPECT_THAT(Verify(Quote(), WriteCollateral(spec)),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("certificate 'Test SGX PCK Certificate' is "
                                 "revoked by 'Test SGX PCK Platform CA'")));
}

TEST_F(SyntheticTdxTest, RevokedPlatformCaIsRefused) {
  CollateralSpec spec = Spec();
  spec.revoked_by_root = {&pki_.platform_ca};
  EXPECT_THAT(Verify(Quote(), WriteCollateral(spec)),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("'Test SGX PCK Platform CA' is revoked")));
}

TEST_F(SyntheticTdxTest, RevocationAfterACachedSuccessIsHonored) {
  auto verifier = Verifier();
  Bytes quote = Quote();
  std::string dir = WriteCollateral(Spec());
  ASSERT_OK(Verify(quote, dir, verifier.get()));
  ASSERT_EQ(verifier->cached_chains(), 1u);
  CollateralSpec revoked = Spec();
  revoked.revoked_by_platform_ca = {&pki_.pck};
  WriteCollateral(revoked, dir);  // same files, new PCK CRL
  EXPECT_THAT(Verify(quote, dir, verifier.get()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("revoked")));
}

TEST_F(SyntheticTdxTest, NewerCrlTakesOverInsideACachedWindow) {
  auto verifier = Verifier();
  Bytes quote = Quote();
  std::string dir = WriteCollateral(Spec());
  // A second PCK CRL, current from 2023-06-25, revoking the PCK.
  Bytes newer = testing_tdx::MakeCrlDer(pki_.platform_ca, {&pki_.pck},
                                        At("2023-06-25T00:00:00Z"), kCrlTo);
  testing_tdx::WriteFile(dir + "/pck-newer.crl", AsStringView(newer));
  ASSERT_OK(Verify(quote, dir, verifier.get(), At("2023-06-20T00:00:00Z")));
  EXPECT_THAT(Verify(quote, dir, verifier.get(), At("2023-06-30T00:00:00Z")),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("revoked")));
  // And back inside the first window, the cache still answers correctly.
  EXPECT_OK(Verify(quote, dir, verifier.get(), At("2023-06-21T00:00:00Z")));
}

TEST_F(SyntheticTdxTest, OutOfDateTcbLevelIsAWarning) {
  // PCESVN 10 misses the UpToDate level (11) and meets the OutOfDate one (5).
  ext_.pcesvn = 10;
  pki_ = SyntheticPki::Create(ext_, At("2023-01-01T00:00:00Z"),
                              At("2030-01-01T00:00:00Z"));
  ASSERT_OK_AND_ASSIGN(Appraisal a, Verify(Quote(), WriteCollateral(Spec())));
  EXPECT_EQ(a.claims.GetString("tdx.tcb_status"), "OutOfDate");
  ASSERT_OK_AND_ASSIGN(TdxTcbInfo info, ParseTdxTcbInfo(tcb_file_));
  EXPECT_EQ(a.claims.GetString("tdx.advisory_ids"),
            absl::StrJoin(info.tcb_levels[1].advisory_ids, ","));
  EXPECT_EQ(a.claims.GetString("tdx.tcb_date"), "2018-01-04T00:00:00Z");
  EXPECT_EQ(a.trust.hardware, 32);
  EXPECT_EQ(a.status(), TrustTier::kWarning);
  EXPECT_THAT(a.warnings, Contains(HasSubstr("tdx tcb status OutOfDate")));
}

TEST_F(SyntheticTdxTest, RevokedTcbLevelIsContraindicated) {
  CollateralSpec spec = Spec();
  spec.tcb_body = Edited(tcb_body_, [](nlohmann::json& j) {
    j["tcbLevels"][0]["tcbStatus"] = "Revoked";
  });
  ASSERT_OK_AND_ASSIGN(Appraisal a, Verify(Quote(), WriteCollateral(spec)));
  EXPECT_EQ(a.claims.GetString("tdx.tcb_status"), "Revoked");
  EXPECT_EQ(a.trust.hardware, 96);
  EXPECT_EQ(a.status(), TrustTier::kContraindicated);
}

TEST_F(SyntheticTdxTest, OutdatedQeMakesThePlatformOutOfDate) {
  CollateralSpec spec = Spec();
  spec.qe_body = Edited(qe_body_, [](nlohmann::json& j) {
    nlohmann::json top = j["tcbLevels"][0];
    top["tcb"]["isvsvn"] = 5;
    nlohmann::json old = j["tcbLevels"][0];
    old["tcbStatus"] = "OutOfDate";
    old["advisoryIDs"] = {"INTEL-SA-00999"};
    j["tcbLevels"] = {top, old};
  });
  ASSERT_OK_AND_ASSIGN(Appraisal a, Verify(Quote(), WriteCollateral(spec)));
  EXPECT_EQ(a.claims.GetString("tdx.qe_tcb_status"), "OutOfDate");
  EXPECT_EQ(a.claims.GetString("tdx.tcb_status"), "OutOfDate");
  EXPECT_EQ(a.claims.GetString("tdx.advisory_ids"), "INTEL-SA-00999");
  EXPECT_EQ(a.trust.hardware, 32);
}

TEST_F(SyntheticTdxTest, DebugTdIsDecodedAndFlagged) {
  testing_tdx::QuoteRecipe recipe;
  recipe.edit_signed_data = [](Bytes& d) { d[kTdAttributes] |= 0x01; };
  ASSERT_OK_AND_ASSIGN(Appraisal a, Verify(Quote(recipe), WriteCollateral(Spec())));
  EXPECT_TRUE(a.claims.GetBool("tdx.td_attributes.debug"));
  EXPECT_EQ(a.claims.GetString("tdx.td_attributes"), "0100004000000000");
  EXPECT_TRUE(a.claims.GetBool("tdx.td_attributes.pks"));
  EXPECT_EQ(a.trust.configuration, 32);
  EXPECT_EQ(a.trust.runtime_opaque, 32);
  EXPECT_EQ(a.status(), TrustTier::kWarning);
  EXPECT_THAT(a.warnings, Contains(HasSubstr("debug TD")));
}

TEST_F(SyntheticTdxTest, QeReportNotBindingTheAttestationKeyIsRefused) {
  testing_tdx::QuoteRecipe recipe;
  recipe.bind_attestation_key = false;  // QE report signed, but for another key
  EXPECT_THAT(Verify(Quote(recipe), WriteCollateral(Spec())),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("does not bind the attestation key")));
}

TEST_F(SyntheticTdxTest, ShortExpectedReportDataIsZeroPadded) {
  testing_tdx::QuoteRecipe recipe;
  recipe.edit_signed_data = [](Bytes& d) {
    std::fill(d.begin() + kReportData, d.begin() + kReportData + 32, 0xab);
    std::fill(d.begin() + kReportData + 32, d.begin() + kReportData + 64, 0);
  };
  Bytes quote = Quote(recipe);
  Evidence e{.type = EvidenceType::kTdx,
             .payload = std::string(quote.begin(), quote.end()),
             .collateral_dir = WriteCollateral(Spec())};
  VerifyContext ctx{.at = At("2023-06-20T00:00:00Z"),
                    .expected_report_data = Bytes(32, 0xab)};
  auto verifier = Verifier();
  EXPECT_OK(verifier->Verify(e, ctx));
  ctx.expected_report_data = Bytes(32, 0xac);
  EXPECT_THAT(verifier->Verify(e, ctx),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("report_data")));
}

TEST_F(SyntheticTdxTest, CollateralSignedByAnUnknownKeyIsRefused) {
  std::string dir = WriteCollateral(Spec());
  testing_tdx::PkeyPtr stranger = testing_tdx::NewP256Key();
  testing_tdx::WriteFile(dir + "/tcb.json", testing_tdx::SignCollateral(
                                                "tcbInfo", tcb_body_, stranger.get()));
  EXPECT_THAT(Verify(Quote(), dir),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("TCB info: signature does not verify under any")));
}

TEST_F(SyntheticTdxTest, PckKeyCannotSignCollateral) {
  std::string dir = WriteCollateral(Spec());
  testing_tdx::WriteFile(dir + "/tcb.json", testing_tdx::SignCollateral(
                                                "tcbInfo", tcb_body_, pki_.pck.key.get()));
  EXPECT_THAT(Verify(Quote(), dir),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("TCB info: signature does not verify")));
}

TEST_F(SyntheticTdxTest, PceIdAndModuleSignerMustMatchTheTcbInfo) {
  ext_.pce_id = {0, 1};
  pki_ = SyntheticPki::Create(ext_, At("2023-01-01T00:00:00Z"),
                              At("2030-01-01T00:00:00Z"));
  EXPECT_THAT(Verify(Quote(), WriteCollateral(Spec())),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("pceId")));
  ext_.pce_id = {0, 0};
  pki_ = SyntheticPki::Create(ext_, At("2023-01-01T00:00:00Z"),
                              At("2030-01-01T00:00:00Z"));
  testing_tdx::QuoteRecipe recipe;
  recipe.edit_signed_data = [](Bytes& d) { d[kMrsignerseam] = 0x42; };
  EXPECT_THAT(Verify(Quote(recipe), WriteCollateral(Spec())),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("mrsignerseam")));
}

}  // namespace
}  // namespace strongroom::attest
