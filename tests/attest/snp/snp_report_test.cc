#include "attest/snp/snp_report.h"

#include <string>

#include "base/bytes.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/attest/snp/test_util.h"

namespace strongroom::attest {
namespace {

using snp_test::PutLe32;
using snp_test::Vec;
using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

// Expected values from shared/vectors/sev-snp/REPORT_FIELDS.md.
struct FieldCase {
  const char* file;
  uint64_t policy;
  const char* report_data;
  const char* measurement;
  const char* report_id;
  const char* chip_id;
  int bl, tee, snp, ucode;
  int major, minor, build;
  bool debug;
};
void PrintTo(const FieldCase& c, std::ostream* os) { *os << c.file; }

const FieldCase kFieldCases[] = {
    {"milan/gosev_report.bin", 0xb0000,
     "0102030405000000000000000000000000000000000000000000000000000000"
     "0000000000000000000000000000000000000000000000000000000000000000",
     "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9e"
     "ce31a5a608eb0cf2e4872b01",
     "8edc638e1857c555d21f6b11bda3c8b1b5a09dba4852b4c8ee7aa2f16f22cc0a",
     "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e5378618"
     "4ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d",
     2, 0, 5, 68, 1, 49, 3, true},
    {"milan/virtee_report.bin", 0x30000,
     "d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c64581"
     "0b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd",
     "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc3"
     "9b2c60bd95b9c480cd81841f",
     "92b3b47d59f0a2a10a74c5678868a80238cf593c01a82f3cffb878e904c28d5b",
     "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc"
     "15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6",
     3, 0, 8, 115, 1, 52, 4, false},
};

class SnpReportFieldsTest : public ::testing::TestWithParam<FieldCase> {};

TEST_P(SnpReportFieldsTest, DecodesEveryListedField) {
  const FieldCase& c = GetParam();
  std::string bytes = Vec(c.file);
  ASSERT_OK_AND_ASSIGN(SnpReport r, ParseSnpReport(AsBytes(bytes)));
  EXPECT_EQ(r.version, 2u);
  EXPECT_EQ(r.guest_svn, 0u);
  EXPECT_EQ(r.policy, c.policy);
  EXPECT_EQ(r.vmpl, 0u);
  EXPECT_EQ(r.signature_algo, 1u);
  EXPECT_EQ(r.platform_info, 1u);
  EXPECT_EQ(r.key_info, 0u);
  EXPECT_EQ(r.signing_key(), SnpSigningKey::kVcek);
  EXPECT_FALSE(r.cpuid_fam_id.has_value());  // v2 has no CPUID fields
  EXPECT_FALSE(r.launch_mit_vector.has_value());

  Claims claims = SnpReportClaims(r, SnpProduct::kMilan);
  EXPECT_EQ(claims.GetString("snp.report_data"), c.report_data);
  EXPECT_EQ(claims.GetString("snp.measurement"), c.measurement);
  EXPECT_EQ(claims.GetString("snp.report_id"), c.report_id);
  EXPECT_EQ(claims.GetString("snp.chip_id"), c.chip_id);
  EXPECT_EQ(claims.GetString("snp.id_key_digest"), std::string(96, '0'));
  EXPECT_EQ(claims.GetString("snp.signing_key"), "vcek");
  EXPECT_EQ(claims.GetInt("snp.version"), 2);
  EXPECT_EQ(claims.GetInt("snp.vmpl"), 0);
  EXPECT_EQ(claims.GetBool("snp.policy.debug"), c.debug);
  EXPECT_TRUE(claims.GetBool("snp.policy.smt"));
  EXPECT_FALSE(claims.GetBool("snp.policy.migrate_ma"));
  EXPECT_FALSE(claims.GetBool("snp.policy.single_socket"));
  EXPECT_TRUE(claims.GetBool("snp.platform_info.smt_enabled"));
  EXPECT_FALSE(claims.GetBool("snp.platform_info.tsme_enabled"));
  for (const char* tcb : {"snp.reported_tcb", "snp.current_tcb",
                          "snp.committed_tcb", "snp.launch_tcb"}) {
    SCOPED_TRACE(tcb);
    EXPECT_EQ(claims.GetInt(std::string(tcb) + ".bl"), c.bl);
    EXPECT_EQ(claims.GetInt(std::string(tcb) + ".tee"), c.tee);
    EXPECT_EQ(claims.GetInt(std::string(tcb) + ".snp"), c.snp);
    EXPECT_EQ(claims.GetInt(std::string(tcb) + ".ucode"), c.ucode);
    EXPECT_FALSE(claims.Has(std::string(tcb) + ".fmc"));
  }
  EXPECT_EQ(claims.GetInt("snp.current_major"), c.major);
  EXPECT_EQ(claims.GetInt("snp.current_minor"), c.minor);
  EXPECT_EQ(claims.GetInt("snp.current_build"), c.build);
  EXPECT_EQ(claims.GetInt("snp.committed_major"), c.major);
  EXPECT_EQ(claims.GetInt("snp.committed_minor"), c.minor);
  EXPECT_EQ(claims.GetInt("snp.committed_build"), c.build);
}

INSTANTIATE_TEST_SUITE_P(Milan, SnpReportFieldsTest,
                         ::testing::ValuesIn(kFieldCases));

struct BadReportCase {
  const char* name;
  void (*mutate)(std::string&);
  const char* reason;
};
void PrintTo(const BadReportCase& c, std::ostream* os) { *os << c.name; }

const BadReportCase kBadReports[] = {
    {"Empty", [](std::string& r) { r.clear(); }, "truncated: 0 bytes"},
    {"Truncated", [](std::string& r) { r.resize(1183); }, "truncated: 1183"},
    {"TruncatedToSignedPart", [](std::string& r) { r.resize(0x2A0); },
     "truncated: 672"},
    {"Oversized", [](std::string& r) { r.push_back('\0'); },
     "1 trailing bytes"},
    {"Version0", [](std::string& r) { PutLe32(r, 0, 0); },
     "version: 0 is older"},
    {"Version1", [](std::string& r) { PutLe32(r, 0, 1); },
     "version: 1 is older"},
    {"VersionFfff", [](std::string& r) { PutLe32(r, 0, 0xffff); },
     "version: 65535 is not a known report version"},
    {"SigAlgo0", [](std::string& r) { PutLe32(r, 0x34, 0); },
     "signature_algo: 0 is not ECDSA P-384"},
    {"SigAlgo2", [](std::string& r) { PutLe32(r, 0x34, 2); },
     "signature_algo: 2 is not ECDSA P-384"},
    {"ReservedSigningKey", [](std::string& r) { PutLe32(r, 0x48, 3u << 2); },
     "signing_key: 3 is reserved"},
};

class SnpReportRejectTest : public ::testing::TestWithParam<BadReportCase> {};

TEST_P(SnpReportRejectTest, NamesTheFieldAtFault) {
  std::string r = Vec("milan/gosev_report.bin");
  GetParam().mutate(r);
  EXPECT_THAT(ParseSnpReport(AsBytes(r)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(GetParam().reason)));
}

INSTANTIATE_TEST_SUITE_P(All, SnpReportRejectTest,
                         ::testing::ValuesIn(kBadReports),
                         [](const auto& info) {
                           return std::string(info.param.name);
                         });

TEST(SnpReportTest, LaterVersionsDecodeTheirExtraFields) {
  std::string r = Vec("milan/gosev_report.bin");
  PutLe32(r, 0, 5);
  r[0x188] = 0x19;  // CPUID family
  r[0x189] = 0x11;  // model (Genoa)
  r[0x18A] = 0x01;
  r[0x1F8] = 0x07;  // launch_mit_vector
  r[0x200] = 0x03;  // current_mit_vector
  ASSERT_OK_AND_ASSIGN(SnpReport rep, ParseSnpReport(AsBytes(r)));
  EXPECT_EQ(rep.version, 5u);
  EXPECT_EQ(rep.cpuid_fam_id, 0x19);
  EXPECT_EQ(rep.cpuid_mod_id, 0x11);
  EXPECT_EQ(rep.cpuid_step, 0x01);
  EXPECT_EQ(rep.launch_mit_vector, 7u);
  EXPECT_EQ(rep.current_mit_vector, 3u);
  EXPECT_EQ(SnpProductFromCpuid(rep), SnpProduct::kGenoa);
  Claims c = SnpReportClaims(rep, SnpProduct::kGenoa);
  EXPECT_EQ(c.GetInt("snp.cpuid_fam_id"), 0x19);
  EXPECT_EQ(c.GetInt("snp.launch_mit_vector"), 7);

  r[0x189] = 0x01;
  ASSERT_OK_AND_ASSIGN(rep, ParseSnpReport(AsBytes(r)));
  EXPECT_EQ(SnpProductFromCpuid(rep), SnpProduct::kMilan);
  r[0x188] = 0x1A;
  ASSERT_OK_AND_ASSIGN(rep, ParseSnpReport(AsBytes(r)));
  EXPECT_EQ(SnpProductFromCpuid(rep), SnpProduct::kTurin);
  EXPECT_EQ(SnpUnknownCpuidWarning(rep), std::nullopt);
  r[0x188] = 0x17;  // not an SNP family
  ASSERT_OK_AND_ASSIGN(rep, ParseSnpReport(AsBytes(r)));
  EXPECT_EQ(SnpProductFromCpuid(rep), std::nullopt);
  // The product check is skipped, and the appraisal says so.
  EXPECT_THAT(
      SnpUnknownCpuidWarning(rep),
      ::testing::Optional(::testing::HasSubstr("CPUID family/model 23/1 names no product")));
  r[0x188] = 0x00;  // a v3+ report whose firmware left the CPUID empty
  ASSERT_OK_AND_ASSIGN(rep, ParseSnpReport(AsBytes(r)));
  EXPECT_EQ(SnpUnknownCpuidWarning(rep), std::nullopt);
  PutLe32(r, 0, 2);  // v2 carries no CPUID: nothing to warn about
  ASSERT_OK_AND_ASSIGN(rep, ParseSnpReport(AsBytes(r)));
  EXPECT_EQ(SnpUnknownCpuidWarning(rep), std::nullopt);
}

TEST(SnpReportTest, KeyInfoBits) {
  std::string r = Vec("milan/gosev_report.bin");
  PutLe32(r, 0x48, 1u | 2u | (1u << 2));
  ASSERT_OK_AND_ASSIGN(SnpReport rep, ParseSnpReport(AsBytes(r)));
  EXPECT_TRUE(rep.author_key_en());
  EXPECT_TRUE(rep.mask_chip_key());
  EXPECT_EQ(rep.signing_key(), SnpSigningKey::kVlek);
  PutLe32(r, 0x48, 7u << 2);
  ASSERT_OK_AND_ASSIGN(rep, ParseSnpReport(AsBytes(r)));
  EXPECT_EQ(rep.signing_key(), SnpSigningKey::kNone);
  EXPECT_FALSE(rep.author_key_en());
}

// TCB_VERSION layouts from the SNP ABI spec: Milan/Genoa bl,tee,-,-,-,-,snp,
// ucode; Turin fmc,bl,tee,snp,-,-,-,ucode (byte 0 first).
TEST(SnpReportTest, TcbLayoutDependsOnProduct) {
  const uint64_t raw = 0x0807060504030201;
  SnpTcb milan = DecodeSnpTcb(raw, SnpProduct::kMilan);
  EXPECT_FALSE(milan.fmc.has_value());
  EXPECT_EQ(milan.bl, 1);
  EXPECT_EQ(milan.tee, 2);
  EXPECT_EQ(milan.snp, 7);
  EXPECT_EQ(milan.ucode, 8);
  SnpTcb genoa = DecodeSnpTcb(raw, SnpProduct::kGenoa);
  EXPECT_EQ(genoa.snp, 7);
  SnpTcb turin = DecodeSnpTcb(raw, SnpProduct::kTurin);
  EXPECT_EQ(turin.fmc, 1);
  EXPECT_EQ(turin.bl, 2);
  EXPECT_EQ(turin.tee, 3);
  EXPECT_EQ(turin.snp, 4);
  EXPECT_EQ(turin.ucode, 8);

  std::string r = Vec("milan/gosev_report.bin");
  ASSERT_OK_AND_ASSIGN(SnpReport rep, ParseSnpReport(AsBytes(r)));
  Claims c = SnpReportClaims(rep, SnpProduct::kTurin);
  EXPECT_TRUE(c.Has("snp.reported_tcb.fmc"));
  EXPECT_TRUE(c.Has("snp.launch_tcb.fmc"));
}

TEST(SnpReportTest, PolicyBits) {
  SnpPolicy p = DecodeSnpPolicy((1ull << 19) | (1ull << 18) | (1ull << 20) |
                                (1ull << 16) | 0x0102);
  EXPECT_TRUE(p.debug);
  EXPECT_TRUE(p.migrate_ma);
  EXPECT_TRUE(p.single_socket);
  EXPECT_TRUE(p.smt);
  EXPECT_EQ(p.abi_major, 1);
  EXPECT_EQ(p.abi_minor, 2);
  SnpPolicy q = DecodeSnpPolicy(1ull << 17);  // the must-be-one bit only
  EXPECT_FALSE(q.debug || q.migrate_ma || q.single_socket || q.smt);
}

TEST(SnpReportTest, ProductNames) {
  EXPECT_EQ(SnpProductFromName("Milan-B0"), SnpProduct::kMilan);
  EXPECT_EQ(SnpProductFromName("Genoa-B1"), SnpProduct::kGenoa);
  EXPECT_EQ(SnpProductFromName("Turin"), SnpProduct::kTurin);
  EXPECT_EQ(SnpProductFromName("Rome"), std::nullopt);
  EXPECT_EQ(SnpProductFromName("milan"), std::nullopt);
  EXPECT_EQ(SnpProductName(SnpProduct::kTurin), "Turin");
}

}  // namespace
}  // namespace strongroom::attest
