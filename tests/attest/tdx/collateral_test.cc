// TCB info / QE identity parsing (exact signed bytes) and collateral
// directories recognized by content.
#include "attest/tdx/collateral.h"

#include <openssl/evp.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/attest/tdx/synthetic_tdx.h"
#include "tests/attest/tdx/tdx_test_util.h"

namespace strongroom::attest {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_tdx::At;
using testing_tdx::Vec;

TEST(RawJsonMemberTest, ReturnsExactTextOfTheValue) {
  std::string json =
      " { \"a\" : [1, {\"b\": \"}]\"}] ,\n \"tcbInfo\" :  {\"x\": \"\\\"}\" ,"
      "\"y\":[ ]}\t, \"signature\":\"00\" } ";
  ASSERT_OK_AND_ASSIGN(absl::string_view v, RawJsonMember(json, "tcbInfo"));
  EXPECT_EQ(v, "{\"x\": \"\\\"}\" ,\"y\":[ ]}");
  ASSERT_OK_AND_ASSIGN(absl::string_view s, RawJsonMember(json, "signature"));
  EXPECT_EQ(s, "\"00\"");
}

TEST(RawJsonMemberTest, RefusesAmbiguousOrMalformedDocuments) {
  EXPECT_THAT(RawJsonMember("{\"tcbInfo\":{},\"tcbInfo\":{}}", "tcbInfo"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("repeated key")));
  EXPECT_THAT(RawJsonMember("{\"tcbInfo\":{}} x", "tcbInfo"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("trailing")));
  EXPECT_THAT(RawJsonMember("{\"tcbInfo\":{\"a\":[}}", "tcbInfo"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("mismatched")));
  EXPECT_THAT(RawJsonMember("{\"tcbInfo\":\"abc", "tcbInfo"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unterminated")));
  EXPECT_THAT(RawJsonMember("[1]", "tcbInfo"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not an object")));
  EXPECT_THAT(RawJsonMember("{\"other\":1}", "tcbInfo"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no top-level \"tcbInfo\"")));
  std::string deep = "{\"tcbInfo\":" + std::string(100, '[') +
                     std::string(100, ']') + "}";
  EXPECT_THAT(RawJsonMember(deep, "tcbInfo"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("too deep")));
}

TEST(TcbInfoTest, ParsesRealTdxTcbInfo) {
  std::string file = Vec("gotdx/tcbinfo_fmspc_50806f000000.json");
  ASSERT_OK_AND_ASSIGN(TdxTcbInfo info, ParseTdxTcbInfo(file));
  EXPECT_EQ(info.id, "TDX");
  EXPECT_EQ(info.version, 3);
  EXPECT_EQ(HexEncode(info.fmspc), "50806f000000");
  EXPECT_EQ(HexEncode(info.pce_id), "0000");
  EXPECT_EQ(info.tcb_evaluation_data_number, 15);
  EXPECT_EQ(info.issue_date, At("2023-06-18T08:42:58Z"));
  EXPECT_EQ(info.next_update, At("2023-07-18T08:42:58Z"));
  ASSERT_TRUE(info.has_tdx_module);
  EXPECT_EQ(info.module_mrsigner, Bytes(48, 0));
  ASSERT_EQ(info.tcb_levels.size(), 2u);
  const TdxTcbLevel& top = info.tcb_levels[0];
  EXPECT_EQ(HexEncode(top.sgx_components), "05050202030100030000000000000000");
  EXPECT_EQ(top.pcesvn, 11);
  EXPECT_EQ(HexEncode(top.tdx_components), "03000500000000000000000000000000");
  EXPECT_EQ(top.tcb_status, "UpToDate");
  EXPECT_TRUE(top.advisory_ids.empty());
  const TdxTcbLevel& old = info.tcb_levels[1];
  EXPECT_EQ(old.pcesvn, 5);
  EXPECT_EQ(old.tcb_status, "OutOfDate");
  EXPECT_EQ(old.tcb_date, At("2018-01-04T00:00:00Z"));
  ASSERT_EQ(old.advisory_ids.size(), 13u);
  EXPECT_EQ(old.advisory_ids.front(), "INTEL-SA-00106");
  EXPECT_EQ(old.advisory_ids.back(), "INTEL-SA-00477");

  // The signed bytes are the file's own, and Intel's signature covers them.
  EXPECT_TRUE(absl::StartsWith(file, "{\"tcbInfo\":" + info.signed_body +
                                         ",\"signature\":\""));
  ASSERT_OK_AND_ASSIGN(auto chain,
                       ParseCertificates(Vec("gotdx/tcb_signing_chain_2018.pem"),
                                         "chain"));
  std::span<const uint8_t> sig(info.signature);
  EXPECT_OK(VerifyEcdsaRaw(chain[0].public_key(), EVP_sha256(),
                           AsBytes(info.signed_body), sig.first(32),
                           sig.subspan(32), "tcb info"));
}

// A bad value deep in the levels is named by its path: the level's index,
// the component list and the component's index.
TEST(TcbInfoTest, ABadComponentIsNamedByItsPath) {
  std::string file = Vec("gotdx/tcbinfo_fmspc_50806f000000.json");
  size_t at = file.find("\"tdxtcbcomponents\":[");
  ASSERT_NE(at, std::string::npos);
  at = file.find("\"tdxtcbcomponents\":[", at + 1);  // the second level's
  ASSERT_NE(at, std::string::npos);
  for (int i = 0; i < 4; ++i) {
    at = file.find("\"svn\":", at + 1);
    ASSERT_NE(at, std::string::npos);
  }
  const size_t value = at + 6;
  const size_t end = file.find_first_not_of("0123456789", value);
  file.replace(value, end - value, "300");
  EXPECT_THAT(ParseTdxTcbInfo(file),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tcbLevels[1].tcb.tdxtcbcomponents[3]: svn:")));
}

TEST(TcbInfoTest, ParsesModuleIdentitiesOfTdx15TcbInfo) {
  ASSERT_OK_AND_ASSIGN(
      TdxTcbInfo info,
      ParseTdxTcbInfo(Vec("gotdx/tcbinfo_fmspc_90c06f000000.json")));
  EXPECT_EQ(HexEncode(info.fmspc), "90c06f000000");
  ASSERT_EQ(info.module_identities.size(), 2u);
  EXPECT_EQ(info.module_identities[0].id, "TDX_03");
  const TdxModuleIdentity& m1 = info.module_identities[1];
  EXPECT_EQ(m1.id, "TDX_01");
  ASSERT_EQ(m1.tcb_levels.size(), 3u);
  EXPECT_EQ(m1.tcb_levels[0].isvsvn, 6);
  EXPECT_EQ(m1.tcb_levels[0].tcb_status, "UpToDate");
  EXPECT_EQ(m1.tcb_levels[1].isvsvn, 4);
  EXPECT_THAT(m1.tcb_levels[1].advisory_ids,
              ElementsAre("INTEL-SA-01036", "INTEL-SA-01099"));
}

TEST(QeIdentityTest, ParsesRealTdQeIdentity) {
  ASSERT_OK_AND_ASSIGN(QeIdentity qe,
                       ParseQeIdentity(Vec("gotdx/qe_identity_td_qe.json")));
  EXPECT_EQ(qe.id, "TD_QE");
  EXPECT_EQ(qe.version, 2);
  EXPECT_EQ(qe.miscselect, 0u);
  EXPECT_EQ(qe.miscselect_mask, 0xffffffffu);
  EXPECT_EQ(HexEncode(qe.attributes), "11000000000000000000000000000000");
  EXPECT_EQ(HexEncode(qe.attributes_mask), "fbffffffffffffff0000000000000000");
  EXPECT_EQ(HexEncode(qe.mrsigner),
            "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5");
  EXPECT_EQ(qe.isvprodid, 2);
  ASSERT_EQ(qe.tcb_levels.size(), 1u);
  EXPECT_EQ(qe.tcb_levels[0].isvsvn, 4);
  EXPECT_EQ(qe.issue_date, At("2023-06-08T07:24:59Z"));
}

TEST(CollateralParseTest, WrongOrBrokenDocumentsAreRefused) {
  EXPECT_THAT(ParseTdxTcbInfo(Vec("gotdx/qe_identity_td_qe.json")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tcbInfo")));
  EXPECT_THAT(ParseQeIdentity("{\"enclaveIdentity\":{},\"signature\":\"00\"}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("signature: 1 bytes, want 64")));
  std::string sig(128, 'a');
  EXPECT_THAT(ParseQeIdentity("{\"enclaveIdentity\":{\"id\":\"TD_QE\"},"
                              "\"signature\":\"" + sig + "\"}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("qe identity: version")));
  // 15 instead of 16 TDX components.
  std::string file = Vec("gotdx/tcbinfo_fmspc_50806f000000.json");
  size_t at = file.find("{\"svn\":0},{\"svn\":0}]},\"tcbDate\"");
  ASSERT_NE(at, std::string::npos);
  file.erase(at, 10);
  EXPECT_THAT(ParseTdxTcbInfo(file),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("15 components, want 16")));
}

TEST(CollateralDirTest, RecognizesFilesByContent) {
  ASSERT_OK_AND_ASSIGN(TdxCollateral c, LoadTdxCollateral(testing_tdx::VecPath("gotdx")));
  EXPECT_EQ(c.tcb_infos.size(), 2u);
  EXPECT_EQ(c.qe_identities.size(), 1u);
  ASSERT_EQ(c.crls.size(), 2u);
  std::vector<std::string> issuers{c.crls[0].issuer(), c.crls[1].issuer()};
  EXPECT_THAT(issuers, ::testing::UnorderedElementsAre(
                           HasSubstr("CN=Intel SGX PCK Platform CA"),
                           HasSubstr("CN=Intel SGX Root CA")));
  // Two chain files, signing/platform CA plus the root each.
  EXPECT_EQ(c.certificates.size(), 4u);
  // Quotes and the TD report are not collateral.
  EXPECT_THAT(c.ignored_files,
              ::testing::UnorderedElementsAre(
                  "quote_v4_SPR_E4.dat", "quote_v4_SPR_E4_with_trailing_bytes.dat",
                  "quote_v5_sample.dat", "td_report.dat"));
}

// PEM of a DER CRL.
std::string CrlPem(const std::string& der) {
  std::string b64(4 * ((der.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                reinterpret_cast<const unsigned char*>(der.data()),
                                static_cast<int>(der.size()));
  b64.resize(static_cast<size_t>(n));
  std::string out = "-----BEGIN X509 CRL-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END X509 CRL-----\n";
}

// One PEM file may hold several CRLs (and certificates between them): every
// CRL in it counts, and a broken one is named by its number.
TEST(CollateralDirTest, EveryCrlOfAPemFileIsRead) {
  std::string dir = testing_tdx::MakeTempDir("crls");
  const std::string both = CrlPem(Vec("gotdx/root_ca_crl.der")) +
                           Vec("gotdx/tcb_signing_chain_2018.pem") +
                           CrlPem(Vec("gotdx/pck_platform_crl.der"));
  testing_tdx::WriteFile(dir + "/crls.pem", both);
  ASSERT_OK_AND_ASSIGN(TdxCollateral c, LoadTdxCollateral(dir));
  ASSERT_EQ(c.crls.size(), 2u);
  std::vector<std::string> issuers{c.crls[0].issuer(), c.crls[1].issuer()};
  EXPECT_THAT(issuers, ::testing::UnorderedElementsAre(HasSubstr("CN=Intel SGX PCK Platform CA"),
                                                       HasSubstr("CN=Intel SGX Root CA")));
  EXPECT_EQ(c.certificates.size(), 2u);

  testing_tdx::WriteFile(dir + "/crls.pem",
                         CrlPem(Vec("gotdx/root_ca_crl.der")) +
                             "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");
  EXPECT_THAT(LoadTdxCollateral(dir),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("'crls.pem'"), HasSubstr("PEM CRL #2"))));
}

TEST(CollateralDirTest, NamesAreIrrelevantAndBrokenFilesAreNamed) {
  std::string dir = testing_tdx::MakeTempDir("names");
  testing_tdx::WriteFile(dir + "/a.bin", Vec("gotdx/tcbinfo_fmspc_50806f000000.json"));
  testing_tdx::WriteFile(dir + "/b.json", Vec("gotdx/root_ca_crl.der"));
  ASSERT_OK_AND_ASSIGN(TdxCollateral c, LoadTdxCollateral(dir));
  EXPECT_EQ(c.tcb_infos.size(), 1u);
  EXPECT_EQ(c.crls.size(), 1u);

  // Another kind of JSON object is passed over; one that does not parse
  // (truncated TCB info, say) is named, not passed over.
  testing_tdx::WriteFile(dir + "/notes.json", "{\"note\": \"fetched 2026-11-28\"}");
  ASSERT_OK_AND_ASSIGN(c, LoadTdxCollateral(dir));
  EXPECT_THAT(c.ignored_files, ::testing::ElementsAre("notes.json"));
  const std::string tcb = Vec("gotdx/tcbinfo_fmspc_50806f000000.json");
  testing_tdx::WriteFile(dir + "/d.json", tcb.substr(0, tcb.size() / 2));
  EXPECT_THAT(LoadTdxCollateral(dir),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'d.json'")));
  testing_tdx::WriteFile(dir + "/d.json", tcb + " {}");
  EXPECT_THAT(LoadTdxCollateral(dir),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("'d.json'"), HasSubstr("trailing"))));
  testing_tdx::WriteFile(dir + "/d.json", "{\"enclaveIdentity\": {}, \"enclaveIdentity\": {}}");
  EXPECT_THAT(LoadTdxCollateral(dir),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("'d.json'"), HasSubstr("repeated"))));
  std::filesystem::remove(dir + "/d.json");

  testing_tdx::WriteFile(dir + "/c.txt", "{\"tcbInfo\": 5, \"signature\": \"\"}");
  EXPECT_THAT(LoadTdxCollateral(dir),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'c.txt'")));
  EXPECT_THAT(LoadTdxCollateral(dir + "/missing"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_OK(LoadTdxCollateral(""));
}

}  // namespace
}  // namespace strongroom::attest
