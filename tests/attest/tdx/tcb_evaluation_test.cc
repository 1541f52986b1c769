// Intel's TDX TCB level matching and QE identity checks, on synthetic levels
// and on the real collateral.
#include "attest/tdx/tcb_evaluation.h"

#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/attest/tdx/tdx_test_util.h"

namespace strongroom::attest {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_tdx::Vec;
using testing_tdx::VecBytes;

std::array<uint8_t, 16> Svns(std::initializer_list<uint8_t> head) {
  std::array<uint8_t, 16> out{};
  std::copy(head.begin(), head.end(), out.begin());
  return out;
}

TdxTcbLevel Level(std::array<uint8_t, 16> sgx, uint16_t pcesvn,
                  std::array<uint8_t, 16> tdx, const char* status,
                  std::vector<std::string> advisories = {}) {
  TdxTcbLevel l;
  l.sgx_components = sgx;
  l.pcesvn = pcesvn;
  l.tdx_components = tdx;
  l.tcb_status = status;
  l.advisory_ids = std::move(advisories);
  return l;
}

// Levels shaped like Intel's: newest first.
TdxTcbInfo Info() {
  TdxTcbInfo info;
  info.id = "TDX";
  info.version = 3;
  info.has_tdx_module = true;
  info.module_mrsigner = Bytes(48, 0);
  info.module_attributes = Bytes(8, 0);
  info.module_attributes_mask = Bytes(8, 0xff);
  info.tcb_levels = {
      Level(Svns({5, 5}), 11, Svns({3, 0, 5}), "UpToDate"),
      Level(Svns({5, 5}), 11, Svns({3, 0, 4}), "SWHardeningNeeded",
            {"INTEL-SA-1"}),
      Level(Svns({4, 4}), 5, Svns({2, 0, 3}), "OutOfDate",
            {"INTEL-SA-1", "INTEL-SA-2"}),
  };
  return info;
}

PckSgxExtension Pck(std::initializer_list<uint8_t> comps, uint16_t pcesvn) {
  PckSgxExtension p;
  p.cpusvn_components = Svns(comps);
  p.pcesvn = pcesvn;
  return p;
}

TdReportBody Body(std::initializer_list<uint8_t> tee_tcb_svn) {
  TdReportBody b;
  b.tee_tcb_svn = Svns(tee_tcb_svn);
  return b;
}

TEST(TdxTcbTest, HighestMatchingLevelWins) {
  ASSERT_OK_AND_ASSIGN(TcbVerdict v,
                       EvaluateTdxTcb(Info(), Pck({6, 5, 1}, 12), Body({3, 0, 5})));
  EXPECT_EQ(v.status, TcbStatus::kUpToDate);
  EXPECT_TRUE(v.advisory_ids.empty());
}

TEST(TdxTcbTest, TdxComponentsCanPickALowerLevelThanSgx) {
  // SGX matches level 0, but tee_tcb_svn[2] = 4 only satisfies level 1.
  ASSERT_OK_AND_ASSIGN(TcbVerdict v,
                       EvaluateTdxTcb(Info(), Pck({5, 5}, 11), Body({3, 0, 4})));
  EXPECT_EQ(v.status, TcbStatus::kSwHardeningNeeded);
  EXPECT_THAT(v.advisory_ids, ElementsAre("INTEL-SA-1"));
}

TEST(TdxTcbTest, LowPceSvnIsOutOfDate) {
  ASSERT_OK_AND_ASSIGN(TcbVerdict v,
                       EvaluateTdxTcb(Info(), Pck({5, 5}, 10), Body({3, 0, 5})));
  EXPECT_EQ(v.status, TcbStatus::kOutOfDate);
  EXPECT_THAT(v.advisory_ids, ElementsAre("INTEL-SA-1", "INTEL-SA-2"));
}

TEST(TdxTcbTest, BelowEveryLevelIsNotSupported) {
  ASSERT_OK_AND_ASSIGN(TcbVerdict sgx,
                       EvaluateTdxTcb(Info(), Pck({3, 9}, 20), Body({3, 0, 5})));
  EXPECT_EQ(sgx.status, TcbStatus::kNotSupported);
  EXPECT_THAT(sgx.detail, HasSubstr("PCK TCB"));
  ASSERT_OK_AND_ASSIGN(TcbVerdict tdx,
                       EvaluateTdxTcb(Info(), Pck({5, 5}, 11), Body({1, 0, 5})));
  EXPECT_EQ(tdx.status, TcbStatus::kNotSupported);
  EXPECT_THAT(tdx.detail, HasSubstr("tee_tcb_svn 01000500"));
}

TdxTcbInfo InfoWithModule(const char* module_status) {
  TdxTcbInfo info = Info();
  TdxModuleIdentity m;
  m.id = "TDX_01";
  m.mrsigner = Bytes(48, 0);
  m.attributes = Bytes(8, 0);
  m.attributes_mask = Bytes(8, 0xff);
  IsvSvnTcbLevel top{.isvsvn = 6, .tcb_status = "UpToDate"};
  IsvSvnTcbLevel low{.isvsvn = 2, .tcb_status = module_status};
  low.advisory_ids = {"INTEL-SA-9"};
  m.tcb_levels = {top, low};
  info.module_identities = {m};
  return info;
}

TEST(TdxTcbTest, ModuleVersionSkipsFirstTwoBytesAndUsesModuleIdentity) {
  // tee_tcb_svn[0] = 2 is below level 0's TDX component 3, but with module
  // version 1 the first two bytes are judged by the TDX_01 identity.
  TdxTcbInfo info = InfoWithModule("OutOfDate");
  ASSERT_OK_AND_ASSIGN(TcbVerdict v,
                       EvaluateTdxTcb(info, Pck({5, 5}, 11), Body({2, 1, 5})));
  EXPECT_EQ(v.status, TcbStatus::kOutOfDate);  // UpToDate + module OutOfDate
  EXPECT_THAT(v.advisory_ids, ElementsAre("INTEL-SA-9"));
  ASSERT_OK_AND_ASSIGN(TcbVerdict fresh,
                       EvaluateTdxTcb(info, Pck({5, 5}, 11), Body({7, 1, 5})));
  EXPECT_EQ(fresh.status, TcbStatus::kUpToDate);
  ASSERT_OK_AND_ASSIGN(TcbVerdict below,
                       EvaluateTdxTcb(info, Pck({5, 5}, 11), Body({1, 1, 5})));
  EXPECT_EQ(below.status, TcbStatus::kNotSupported);
  ASSERT_OK_AND_ASSIGN(
      TcbVerdict revoked,
      EvaluateTdxTcb(InfoWithModule("Revoked"), Pck({5, 5}, 11), Body({2, 1, 5})));
  EXPECT_EQ(revoked.status, TcbStatus::kRevoked);
}

TEST(TdxTcbTest, ConfigurationNeededWithOutdatedModule) {
  TdxTcbInfo info = InfoWithModule("OutOfDate");
  info.tcb_levels[0].tcb_status = "ConfigurationNeeded";
  ASSERT_OK_AND_ASSIGN(TcbVerdict v,
                       EvaluateTdxTcb(info, Pck({5, 5}, 11), Body({2, 1, 5})));
  EXPECT_EQ(v.status, TcbStatus::kOutOfDateConfigurationNeeded);
}

TEST(TdxTcbTest, ModuleMismatchesAreRefused) {
  EXPECT_THAT(EvaluateTdxTcb(Info(), Pck({5, 5}, 11), Body({3, 2, 5})),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("no module identity TDX_02")));
  TdReportBody body = Body({3, 0, 5});
  body.mrsignerseam[0] = 1;
  EXPECT_THAT(EvaluateTdxTcb(Info(), Pck({5, 5}, 11), body),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("mrsignerseam")));
  body = Body({3, 0, 5});
  body.seam_attributes[7] = 0x80;
  EXPECT_THAT(EvaluateTdxTcb(Info(), Pck({5, 5}, 11), body),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("seam_attributes")));
  TdxTcbInfo odd = Info();
  odd.tcb_levels[0].tcb_status = "Fine";
  EXPECT_THAT(EvaluateTdxTcb(odd, Pck({5, 5}, 11), Body({3, 0, 5})),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("unrecognized tcbStatus 'Fine'")));
}

TEST(TdxTcbTest, RealV4QuoteIsBelowEveryLevelOfItsTcbInfo) {
  // The PCK of quote_v4_SPR_E4 has CPUSVN components 03030202020100020...
  // (go-tdx-guest's PCK extension test); the TCB info's lowest level needs
  // component 0 >= 5, so Intel's algorithm selects no level.
  ASSERT_OK_AND_ASSIGN(
      TdxTcbInfo info,
      ParseTdxTcbInfo(Vec("gotdx/tcbinfo_fmspc_50806f000000.json")));
  ASSERT_OK_AND_ASSIGN(TdxQuote q,
                       ParseTdxQuote(VecBytes("gotdx/quote_v4_SPR_E4.dat")));
  ASSERT_OK_AND_ASSIGN(auto certs, ParseCertificates(q.pck_chain_pem, "chain"));
  ASSERT_OK_AND_ASSIGN(PckSgxExtension ext, PckSgxExtensionOf(certs[0]));
  EXPECT_EQ(HexEncode(ext.cpusvn_components), "03030202020100020000000000000000");
  EXPECT_EQ(ext.pcesvn, 11);
  ASSERT_OK_AND_ASSIGN(TcbVerdict v, EvaluateTdxTcb(info, ext, q.body));
  EXPECT_EQ(v.status, TcbStatus::kNotSupported);
  EXPECT_THAT(v.detail, HasSubstr("below every TCB level"));
}

TEST(QeIdentityTest, RealQeMatchesTdQeIdentity) {
  ASSERT_OK_AND_ASSIGN(QeIdentity id,
                       ParseQeIdentity(Vec("gotdx/qe_identity_td_qe.json")));
  ASSERT_OK_AND_ASSIGN(TdxQuote q,
                       ParseTdxQuote(VecBytes("gotdx/quote_v4_SPR_E4.dat")));
  ASSERT_OK_AND_ASSIGN(TcbVerdict v, EvaluateQeIdentity(id, q.qe_report));
  EXPECT_EQ(v.status, TcbStatus::kUpToDate);

  QeReport r = q.qe_report;
  r.isvsvn = 3;
  ASSERT_OK_AND_ASSIGN(TcbVerdict old, EvaluateQeIdentity(id, r));
  EXPECT_EQ(old.status, TcbStatus::kNotSupported);

  r = q.qe_report;
  r.mrsigner[5] ^= 1;
  EXPECT_THAT(EvaluateQeIdentity(id, r),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("mrsigner")));
  r = q.qe_report;
  r.isvprodid = 1;
  EXPECT_THAT(EvaluateQeIdentity(id, r),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("isvprodid")));
  r = q.qe_report;
  r.attributes[0] |= 0x02;  // a bit under the mask (DEBUG)
  EXPECT_THAT(EvaluateQeIdentity(id, r),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("attributes")));
  r = q.qe_report;
  r.attributes[0] ^= 0x04;  // masked out (0xfb): ignored
  EXPECT_OK(EvaluateQeIdentity(id, r));
  r = q.qe_report;
  r.miscselect = 1;
  EXPECT_THAT(EvaluateQeIdentity(id, r),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("miscselect")));
}

TEST(ConvergeTest, QeStatusFoldsIntoPlatformStatus) {
  auto verdict = [](TcbStatus s) {
    TcbVerdict v;
    v.status = s;
    return v;
  };
  EXPECT_EQ(ConvergeWithQe(verdict(TcbStatus::kSwHardeningNeeded),
                           verdict(TcbStatus::kOutOfDate)).status,
            TcbStatus::kOutOfDate);
  EXPECT_EQ(ConvergeWithQe(verdict(TcbStatus::kConfigurationAndSwHardeningNeeded),
                           verdict(TcbStatus::kOutOfDate)).status,
            TcbStatus::kOutOfDateConfigurationNeeded);
  EXPECT_EQ(ConvergeWithQe(verdict(TcbStatus::kUpToDate),
                           verdict(TcbStatus::kRevoked)).status,
            TcbStatus::kRevoked);
  EXPECT_EQ(ConvergeWithQe(verdict(TcbStatus::kConfigurationNeeded),
                           verdict(TcbStatus::kUpToDate)).status,
            TcbStatus::kConfigurationNeeded);
  TcbVerdict qe = verdict(TcbStatus::kOutOfDate);
  qe.advisory_ids = {"INTEL-SA-7"};
  TcbVerdict platform = verdict(TcbStatus::kUpToDate);
  platform.advisory_ids = {"INTEL-SA-7", "INTEL-SA-3"};
  EXPECT_THAT(ConvergeWithQe(platform, qe).advisory_ids,
              ElementsAre("INTEL-SA-7", "INTEL-SA-3"));
}

TEST(TcbStatusTest, NamesRoundTrip) {
  for (TcbStatus s :
       {TcbStatus::kUpToDate, TcbStatus::kSwHardeningNeeded,
        TcbStatus::kConfigurationNeeded,
        TcbStatus::kConfigurationAndSwHardeningNeeded, TcbStatus::kOutOfDate,
        TcbStatus::kOutOfDateConfigurationNeeded, TcbStatus::kRevoked}) {
    EXPECT_EQ(TcbStatusFromName(TcbStatusName(s)), s);
  }
  EXPECT_EQ(TcbStatusName(TcbStatus::kSwHardeningNeeded), "SWHardeningNeeded");
  EXPECT_FALSE(TcbStatusFromName("uptodate").has_value());
}

}  // namespace
}  // namespace strongroom::attest
