#include "attest/snp/vcek.h"

#include <string>
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

Certificate One(absl::string_view rel) {
  auto certs = ParseCertificates(Vec(rel), rel);
  EXPECT_TRUE(certs.ok()) << certs.status();
  EXPECT_EQ(certs->size(), 1u);
  return certs->front();
}
std::vector<Certificate> All(absl::string_view rel) {
  auto certs = ParseCertificates(Vec(rel), rel);
  EXPECT_TRUE(certs.ok()) << certs.status();
  return *certs;
}
const Certificate& Named(const std::vector<Certificate>& certs,
                         absl::string_view cn) {
  for (const Certificate& c : certs) {
    if (c.common_name() == cn) return c;
  }
  ADD_FAILURE() << "no " << cn;
  return certs.front();
}
Bytes Counting(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i);
  return b;
}
SnpReport Report(absl::string_view rel) {
  auto r = ParseSnpReport(AsBytes(Vec(rel)));
  EXPECT_TRUE(r.ok()) << r.status();
  return *r;
}

// --- Pinned roots -----------------------------------------------------------

struct PinCase {
  SnpProduct product;
  const char* bundle;
};
void PrintTo(const PinCase& c, std::ostream* os) { *os << c.bundle; }
class PinnedArkTest : public ::testing::TestWithParam<PinCase> {};

TEST_P(PinnedArkTest, ConstantIsTheVectorArksSpki) {
  std::vector<Certificate> certs = All(GetParam().bundle);
  ASSERT_EQ(certs.size(), 2u);
  const Certificate& ark =
      Named(certs, std::string("ARK-") +
                       std::string(SnpProductName(GetParam().product)));
  EXPECT_TRUE(ark.SelfSigned());
  EXPECT_EQ(ark.SpkiSha256Hex(), PinnedArkSpkiSha256(GetParam().product));
}

INSTANTIATE_TEST_SUITE_P(
    All, PinnedArkTest,
    ::testing::Values(
        PinCase{SnpProduct::kMilan, "milan/ask_ark_milan.pem"},
        PinCase{SnpProduct::kMilan, "milan/asvk_ark_milan_vlek.pem"},
        PinCase{SnpProduct::kGenoa, "genoa/ask_ark_genoa.pem"},
        PinCase{SnpProduct::kGenoa, "genoa/asvk_ark_genoa_vlek.pem"},
        PinCase{SnpProduct::kTurin, "turin/ask_ark_turin.pem"},
        PinCase{SnpProduct::kTurin, "turin/asvk_ark_turin_vlek.pem"}));

TEST(PinnedArkTest, ProductsHaveDistinctRoots) {
  EXPECT_NE(PinnedArkSpkiSha256(SnpProduct::kMilan),
            PinnedArkSpkiSha256(SnpProduct::kGenoa));
  EXPECT_NE(PinnedArkSpkiSha256(SnpProduct::kGenoa),
            PinnedArkSpkiSha256(SnpProduct::kTurin));
}

// --- Extension decoding -----------------------------------------------------

TEST(VcekDecodeTest, RealMilanVceks) {
  ASSERT_OK_AND_ASSIGN(auto k,
                       DecodeSnpEndorsementKey(One("milan/gosev_vcek.der")));
  EXPECT_EQ(k.kind, SnpSigningKey::kVcek);
  EXPECT_EQ(k.product, SnpProduct::kMilan);
  EXPECT_EQ(k.product_name, "Milan-B0");
  EXPECT_FALSE(k.tcb.fmc.has_value());
  EXPECT_EQ(k.tcb.bl, 2);
  EXPECT_EQ(k.tcb.tee, 0);
  EXPECT_EQ(k.tcb.snp, 5);
  EXPECT_EQ(k.tcb.ucode, 68);
  ASSERT_TRUE(k.hwid.has_value());
  EXPECT_EQ(HexEncode(*k.hwid),
            HexEncode(Report("milan/gosev_report.bin").chip_id));

  ASSERT_OK_AND_ASSIGN(k,
                       DecodeSnpEndorsementKey(One("milan/virtee_vcek.der")));
  EXPECT_EQ(k.tcb.bl, 3);
  EXPECT_EQ(k.tcb.snp, 8);
  EXPECT_EQ(k.tcb.ucode, 115);
  EXPECT_EQ(HexEncode(*k.hwid),
            HexEncode(Report("milan/virtee_report.bin").chip_id));
}

TEST(VcekDecodeTest, TurinVcekHasFmcAndShortHwid) {
  ASSERT_OK_AND_ASSIGN(
      auto k, DecodeSnpEndorsementKey(One("turin/virtee_vcek_turin.der")));
  EXPECT_EQ(k.product, SnpProduct::kTurin);
  EXPECT_EQ(k.product_name, "Turin");
  EXPECT_EQ(k.tcb.fmc, 0);
  EXPECT_EQ(k.tcb.bl, 0);
  EXPECT_EQ(k.tcb.tee, 0);
  EXPECT_EQ(k.tcb.snp, 0);
  EXPECT_EQ(k.tcb.ucode, 9);
  ASSERT_TRUE(k.hwid.has_value());
  EXPECT_EQ(HexEncode(*k.hwid), "1e550a8ee5cf9f4d");
}

// The trustee negatives carry odd encodings: a two-byte INTEGER (0x00a9) and
// a hwID either raw or wrapped in an OCTET STRING. Both decode to the same id.
TEST(VcekDecodeTest, NegativeVectorsOddEncodings) {
  ASSERT_OK_AND_ASSIGN(
      auto legacy, DecodeSnpEndorsementKey(
                       One("negative/trustee_test-vcek-invalid-legacy.der")));
  EXPECT_EQ(legacy.tcb.bl, 3);
  EXPECT_EQ(legacy.tcb.snp, 10);
  EXPECT_EQ(legacy.tcb.ucode, 169);
  EXPECT_EQ(*legacy.hwid, Counting(64));
  ASSERT_OK_AND_ASSIGN(auto wrapped,
                       DecodeSnpEndorsementKey(
                           One("negative/trustee_test-vcek-invalid-new.der")));
  EXPECT_EQ(wrapped.tcb.ucode, 30);
  EXPECT_EQ(*wrapped.hwid, Counting(64));
}

TEST(VcekDecodeTest, LeafKinds) {
  EXPECT_EQ(SnpLeafKindOf(One("milan/gosev_vcek.der")), SnpSigningKey::kVcek);
  for (const Certificate& c : All("milan/ask_ark_milan.pem")) {
    EXPECT_EQ(SnpLeafKindOf(c), std::nullopt) << c.common_name();
  }
  for (const Certificate& c : All("milan/asvk_ark_milan_vlek.pem")) {
    EXPECT_EQ(SnpLeafKindOf(c), std::nullopt) << c.common_name();
    EXPECT_THAT(DecodeSnpEndorsementKey(c),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("not a VCEK or VLEK")));
  }
}

// A VCEK-shaped certificate with the given extensions (made here; AMD's are
// all well formed).
std::vector<std::pair<std::string, Bytes>> GoodExtensions() {
  return {{"1.3.6.1.4.1.3704.1.2", DerIa5("Milan-B0")},
          {"1.3.6.1.4.1.3704.1.3.1", DerInt(2)},
          {"1.3.6.1.4.1.3704.1.3.2", DerInt(0)},
          {"1.3.6.1.4.1.3704.1.3.3", DerInt(5)},
          {"1.3.6.1.4.1.3704.1.3.8", DerInt(200)},
          {"1.3.6.1.4.1.3704.1.4", Counting(64)}};
}
void Replace(std::vector<std::pair<std::string, Bytes>>& exts,
             const std::string& oid, Bytes value) {
  for (auto& [o, v] : exts) {
    if (o == oid) v = std::move(value);
  }
}

struct BadExtCase {
  const char* name;
  const char* oid;
  Bytes value;  // empty: drop the extension
  const char* issuer;
  const char* reason;
};
void PrintTo(const BadExtCase& c, std::ostream* os) { *os << c.name; }

class VcekBadExtensionTest : public ::testing::TestWithParam<BadExtCase> {};

TEST_P(VcekBadExtensionTest, IsInvalidArgumentNamingTheExtension) {
  const BadExtCase& c = GetParam();
  KeyPtr key = NewP384Key();
  auto exts = GoodExtensions();
  if (c.value.empty()) {
    std::erase_if(exts, [&](const auto& e) { return e.first == c.oid; });
  } else {
    Replace(exts, c.oid, c.value);
  }
  Certificate cert = MakeCert({.subject_cn = "SEV-VCEK",
                               .issuer_cn = c.issuer,
                               .subject_key = key.get(),
                               .issuer_key = key.get(),
                               .extensions = exts});
  EXPECT_THAT(
      DecodeSnpEndorsementKey(cert),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.reason)));
}

INSTANTIATE_TEST_SUITE_P(
    All, VcekBadExtensionTest,
    ::testing::Values(BadExtCase{"BlMissing",
                                 "1.3.6.1.4.1.3704.1.3.1",
                                 {},
                                 "SEV-Milan",
                                 "blSPL: missing"},
                      BadExtCase{"UcodeAsOctetString",
                                 "1.3.6.1.4.1.3704.1.3.8",
                                 {0x04, 0x01, 0x44},
                                 "SEV-Milan",
                                 "ucodeSPL: not a DER INTEGER"},
                      BadExtCase{"SnpTrailingByte",
                                 "1.3.6.1.4.1.3704.1.3.3",
                                 {0x02, 0x01, 0x05, 0x00},
                                 "SEV-Milan",
                                 "snpSPL: not a DER INTEGER"},
                      BadExtCase{"TeeTooLarge",
                                 "1.3.6.1.4.1.3704.1.3.2",
                                 {0x02, 0x02, 0x01, 0x2c},
                                 "SEV-Milan",
                                 "teeSPL: 300 is outside"},
                      BadExtCase{"BlNegative",
                                 "1.3.6.1.4.1.3704.1.3.1",
                                 {0x02, 0x01, 0xff},
                                 "SEV-Milan",
                                 "blSPL: -1 is outside"},
                      BadExtCase{"HwidShort", "1.3.6.1.4.1.3704.1.4",
                                 Bytes(63, 1), "SEV-Milan", "hwID: 63 bytes"},
                      BadExtCase{"ProductNameNotIa5",
                                 "1.3.6.1.4.1.3704.1.2",
                                 {0x0c, 0x02, 'M', 'i'},
                                 "SEV-Milan",
                                 "productName: not a DER IA5String"},
                      BadExtCase{"ProductMismatch", "1.3.6.1.4.1.3704.1.2",
                                 DerIa5("Genoa-B1"), "SEV-Milan",
                                 "productName 'Genoa-B1' does not match"},
                      BadExtCase{"TurinWithoutFmc", "1.3.6.1.4.1.3704.1.2",
                                 DerIa5("Turin"), "SEV-Turin",
                                 "fmcSPL: missing"}),
    [](const auto& info) { return std::string(info.param.name); });

// --- TCB and chip id against the report --------------------------------------

struct TcbCase {
  const char* component;
  int byte;  // Milan layout byte of that component
};
void PrintTo(const TcbCase& c, std::ostream* os) { *os << c.component; }
class ReportedTcbTest : public ::testing::TestWithParam<TcbCase> {};

TEST_P(ReportedTcbTest, AnyChangedComponentIsRefused) {
  SnpReport r = Report("milan/gosev_report.bin");
  ASSERT_OK_AND_ASSIGN(auto k,
                       DecodeSnpEndorsementKey(One("milan/gosev_vcek.der")));
  ASSERT_OK(CheckReportedTcb(r, k));
  r.reported_tcb ^= uint64_t{1} << (8 * GetParam().byte);
  EXPECT_THAT(
      CheckReportedTcb(r, k),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr(std::string("reported_tcb.") + GetParam().component)));
}

INSTANTIATE_TEST_SUITE_P(Milan, ReportedTcbTest,
                         ::testing::Values(TcbCase{"bl", 0}, TcbCase{"tee", 1},
                                           TcbCase{"snp", 6},
                                           TcbCase{"ucode", 7}),
                         [](const auto& info) {
                           return std::string(info.param.component);
                         });

TEST(ReportedTcbTest, ReservedBytesAreNotCompared) {
  SnpReport r = Report("milan/gosev_report.bin");
  ASSERT_OK_AND_ASSIGN(auto k,
                       DecodeSnpEndorsementKey(One("milan/gosev_vcek.der")));
  r.reported_tcb ^= uint64_t{0xff} << 16;
  EXPECT_OK(CheckReportedTcb(r, k));
}

TEST(ReportedTcbTest, TurinLayout) {
  // The Turin VCEK says fmc 0, bl 0, tee 0, snp 0, ucode 9.
  ASSERT_OK_AND_ASSIGN(
      auto k, DecodeSnpEndorsementKey(One("turin/virtee_vcek_turin.der")));
  SnpReport r = Report("milan/gosev_report.bin");
  r.reported_tcb = uint64_t{9} << 56;
  EXPECT_OK(CheckReportedTcb(r, k));
  r.reported_tcb = (uint64_t{9} << 56) | 1;  // byte 0 is fmc on Turin
  EXPECT_THAT(CheckReportedTcb(r, k),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("reported_tcb.fmc is 1")));
  r.reported_tcb = (uint64_t{9} << 56) | (uint64_t{4} << 24);  // byte 3: snp
  EXPECT_THAT(CheckReportedTcb(r, k),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("reported_tcb.snp is 4")));
  r.reported_tcb =
      (uint64_t{9} << 56) | (uint64_t{4} << 48);  // byte 6: reserved
  EXPECT_OK(CheckReportedTcb(r, k));
}

TEST(ChipIdTest, MatchMismatchAndMasked) {
  SnpReport r = Report("milan/gosev_report.bin");
  ASSERT_OK_AND_ASSIGN(auto own,
                       DecodeSnpEndorsementKey(One("milan/gosev_vcek.der")));
  ASSERT_OK_AND_ASSIGN(auto other,
                       DecodeSnpEndorsementKey(One("milan/virtee_vcek.der")));
  EXPECT_OK(CheckChipId(r, own));
  EXPECT_THAT(CheckChipId(r, other),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("chip_id 3ac3fe21")));
  r.chip_id[63] ^= 1;
  EXPECT_THAT(CheckChipId(r, own),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("hwID")));
  r.chip_id.fill(0);  // MASK_CHIP_ID
  EXPECT_OK(CheckChipId(r, other));
}

TEST(ChipIdTest, TurinComparesTheFirstEightBytes) {
  ASSERT_OK_AND_ASSIGN(
      auto k, DecodeSnpEndorsementKey(One("turin/virtee_vcek_turin.der")));
  SnpReport r = Report("milan/gosev_report.bin");
  r.chip_id.fill(0);
  std::copy(k.hwid->begin(), k.hwid->end(), r.chip_id.begin());
  EXPECT_OK(CheckChipId(r, k));
  r.chip_id[7] ^= 1;
  EXPECT_THAT(CheckChipId(r, k), StatusIs(absl::StatusCode::kPermissionDenied));
}

// --- Chains ------------------------------------------------------------------

absl::StatusOr<SnpChain> Chain(absl::string_view leaf,
                               std::vector<Certificate> pool, absl::Time at) {
  auto key = DecodeSnpEndorsementKey(One(leaf));
  if (!key.ok()) return key.status();
  return VerifySnpChain(*key, pool, at, PinnedArkSpkiSha256(key->product));
}

TEST(SnpChainTest, MilanAndTurinVceksChainToTheirArks) {
  ASSERT_OK_AND_ASSIGN(SnpChain milan,
                       Chain("milan/gosev_vcek.der",
                             All("milan/ask_ark_milan.pem"), PinnedTime()));
  ASSERT_EQ(milan.certs.size(), 3u);
  EXPECT_EQ(milan.certs[1].common_name(), "SEV-Milan");
  EXPECT_EQ(milan.certs[2].common_name(), "ARK-Milan");
  EXPECT_EQ(milan.valid_from, milan.certs[0].not_before());
  EXPECT_EQ(milan.valid_until, milan.certs[0].not_after());

  ASSERT_OK_AND_ASSIGN(SnpChain turin,
                       Chain("turin/virtee_vcek_turin.der",
                             All("turin/ask_ark_turin.pem"), PinnedTime()));
  EXPECT_EQ(turin.certs[2].common_name(), "ARK-Turin");
}

TEST(SnpChainTest, WrongProductRootOrIntermediateIsNamed) {
  std::vector<Certificate> milan = All("milan/ask_ark_milan.pem");
  std::vector<Certificate> genoa = All("genoa/ask_ark_genoa.pem");
  std::vector<Certificate> mixed{Named(milan, "SEV-Milan"),
                                 Named(genoa, "ARK-Genoa")};
  EXPECT_THAT(
      Chain("milan/gosev_vcek.der", mixed, PinnedTime()),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr("needs root 'ARK-Milan', but the supplied root "
                         "is 'ARK-Genoa'")));
  EXPECT_THAT(Chain("milan/gosev_vcek.der", genoa, PinnedTime()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("the supplied intermediate is 'SEV-Genoa'")));
  // The ASVK is not the VCEK's issuer.
  EXPECT_THAT(Chain("milan/gosev_vcek.der",
                    All("milan/asvk_ark_milan_vlek.pem"), PinnedTime()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("'SEV-VLEK-Milan'")));
}

TEST(SnpChainTest, MissingLinksAreFailedPrecondition) {
  std::vector<Certificate> milan = All("milan/ask_ark_milan.pem");
  EXPECT_THAT(
      Chain("milan/gosev_vcek.der", {Named(milan, "ARK-Milan")}, PinnedTime()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("no ASK 'SEV-Milan'")));
  EXPECT_THAT(
      Chain("milan/gosev_vcek.der", {Named(milan, "SEV-Milan")}, PinnedTime()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("no ARK 'ARK-Milan'")));
}

TEST(SnpChainTest, TamperedVceksFailTheAskSignature) {
  for (const char* f : {"negative/trustee_test-vcek-invalid-legacy.der",
                        "negative/trustee_test-vcek-invalid-new.der"}) {
    SCOPED_TRACE(f);
    EXPECT_THAT(
        Chain(f, All("milan/ask_ark_milan.pem"), PinnedTime()),
        StatusIs(absl::StatusCode::kPermissionDenied,
                 HasSubstr("signature does not verify under 'SEV-Milan'")));
  }
}

TEST(SnpChainTest, ValidityAtTheGivenTime) {
  EXPECT_THAT(
      Chain("milan/gosev_vcek.der", All("milan/ask_ark_milan.pem"),
            At("2050-01-01T00:00:00Z")),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("expired")));
  EXPECT_THAT(Chain("milan/gosev_vcek.der", All("milan/ask_ark_milan.pem"),
                    At("2021-06-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("'SEV-VCEK' is not yet valid")));
}

// A complete look-alike chain (ARK-Milan -> SEV-Milan -> SEV-VCEK) that is
// correctly signed but rooted in a key AMD does not hold.
struct FakeChain {
  KeyPtr ark_key = NewP384Key(), ask_key = NewP384Key(),
         leaf_key = NewP384Key();
  Certificate ark, ask, leaf;
  FakeChain(absl::string_view inter_cn, absl::string_view leaf_cn)
      : ark(MakeCert({.subject_cn = "ARK-Milan",
                      .issuer_cn = "ARK-Milan",
                      .subject_key = ark_key.get(),
                      .issuer_key = ark_key.get(),
                      .ca = true})),
        ask(MakeCert({.subject_cn = std::string(inter_cn),
                      .issuer_cn = "ARK-Milan",
                      .subject_key = ask_key.get(),
                      .issuer_key = ark_key.get(),
                      .ca = true})),
        leaf(MakeCert({.subject_cn = std::string(leaf_cn),
                       .issuer_cn = std::string(inter_cn),
                       .subject_key = leaf_key.get(),
                       .issuer_key = ask_key.get(),
                       .extensions = GoodExtensions()})) {}
};

TEST(SnpChainTest, LookAlikeRootIsNotPinned) {
  FakeChain fake("SEV-Milan", "SEV-VCEK");
  ASSERT_OK_AND_ASSIGN(auto key, DecodeSnpEndorsementKey(fake.leaf));
  std::vector<Certificate> pool{fake.ask, fake.ark};
  EXPECT_THAT(VerifySnpChain(key, pool, PinnedTime(),
                             PinnedArkSpkiSha256(SnpProduct::kMilan)),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("'ARK-Milan' is not a pinned trust anchor")));
  // Everything else about it is sound: pinning its own key accepts it.
  EXPECT_OK(VerifySnpChain(key, pool, PinnedTime(), fake.ark.SpkiSha256Hex()));
  // With the real ARK also present, the real (pinned) one is tried first and
  // the fake ASK still does not chain to it.
  pool.push_back(Named(All("milan/ask_ark_milan.pem"), "ARK-Milan"));
  EXPECT_THAT(VerifySnpChain(key, pool, PinnedTime(),
                             PinnedArkSpkiSha256(SnpProduct::kMilan)),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(SnpChainTest, VlekChainsThroughTheAsvk) {
  FakeChain fake("SEV-VLEK-Milan", "SEV-VLEK");
  ASSERT_OK_AND_ASSIGN(auto key, DecodeSnpEndorsementKey(fake.leaf));
  EXPECT_EQ(key.kind, SnpSigningKey::kVlek);
  // An ASK is not a VLEK's issuer.
  std::vector<Certificate> ask_pool = All("milan/ask_ark_milan.pem");
  EXPECT_THAT(
      VerifySnpChain(key, ask_pool, PinnedTime(),
                     PinnedArkSpkiSha256(SnpProduct::kMilan)),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr("needs ASVK 'SEV-VLEK-Milan', but the supplied "
                         "intermediate is 'SEV-Milan'")));
  std::vector<Certificate> asvk_pool{fake.ask, fake.ark};
  ASSERT_OK_AND_ASSIGN(
      SnpChain chain,
      VerifySnpChain(key, asvk_pool, PinnedTime(), fake.ark.SpkiSha256Hex()));
  EXPECT_EQ(chain.certs[1].common_name(), "SEV-VLEK-Milan");
}

}  // namespace
}  // namespace strongroom::attest
