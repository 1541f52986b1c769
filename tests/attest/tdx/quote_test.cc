// ParseTdxQuote against the real v4/v5 quotes (fields from QUOTE_FIELDS.md)
// and malformed variants of them, each refused with its specific reason.
#include "attest/tdx/quote.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/attest/tdx/tdx_test_util.h"

namespace strongroom::attest {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using testing_tdx::VecBytes;

// QUOTE_FIELDS.md: "file gotdx/<name> len N" then "  <field> @<off>: <hex>"
// lines; also "header: version=4 ... user_data=<hex>".
std::map<std::string, std::map<std::string, std::string>> QuoteFields() {
  std::map<std::string, std::map<std::string, std::string>> out;
  std::string current;
  for (absl::string_view line :
       absl::StrSplit(testing_tdx::Vec("QUOTE_FIELDS.md"), '\n')) {
    if (absl::ConsumePrefix(&line, "file gotdx/")) {
      current = std::string(line.substr(0, line.find(' ')));
      continue;
    }
    if (current.empty()) continue;
    absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(line);
    if (absl::ConsumePrefix(&trimmed, "header: ")) {
      for (absl::string_view kv : absl::StrSplit(trimmed, ' ')) {
        std::pair<std::string, std::string> p = absl::StrSplit(kv, '=');
        out[current]["header." + p.first] = p.second;
      }
      continue;
    }
    size_t at = trimmed.find(" @");
    size_t colon = trimmed.find(": ");
    if (at == absl::string_view::npos || colon == absl::string_view::npos ||
        at > colon || trimmed.find(' ') != at) {
      continue;
    }
    out[current][std::string(trimmed.substr(0, at))] =
        std::string(trimmed.substr(colon + 2));
  }
  return out;
}

struct FieldCase {
  const char* file;
  int version;
  uint16_t body_type;
  size_t size;
};

class QuoteFieldsTest : public ::testing::TestWithParam<FieldCase> {};

TEST_P(QuoteFieldsTest, MatchesQuoteFieldsDoc) {
  const FieldCase& c = GetParam();
  auto fields = QuoteFields()[c.file];
  ASSERT_GE(fields.size(), 17u) << "QUOTE_FIELDS.md section for " << c.file;
  Bytes raw = VecBytes(std::string("gotdx/") + c.file);
  ASSERT_EQ(raw.size(), c.size);
  ASSERT_OK_AND_ASSIGN(TdxQuote q, ParseTdxQuote(raw));
  EXPECT_EQ(q.header.version, c.version);
  EXPECT_EQ(std::to_string(q.header.version), fields["header.version"]);
  EXPECT_EQ(std::to_string(q.header.att_key_type),
            fields["header.att_key_type"]);
  EXPECT_EQ(fields["header.tee_type"], "0x81");
  EXPECT_EQ(HexEncode(q.header.qe_vendor_id), fields["header.qe_vendor_id"]);
  EXPECT_EQ(HexEncode(q.header.user_data), fields["header.user_data"]);
  EXPECT_EQ(q.body_type, c.body_type);
  const TdReportBody& b = q.body;
  EXPECT_EQ(HexEncode(b.tee_tcb_svn), fields["tee_tcb_svn"]);
  EXPECT_EQ(HexEncode(b.mrseam), fields["mrseam"]);
  EXPECT_EQ(HexEncode(b.mrsignerseam), fields["mrsignerseam"]);
  EXPECT_EQ(HexEncode(b.seam_attributes), fields["seam_attributes"]);
  EXPECT_EQ(HexEncode(b.td_attributes), fields["td_attributes"]);
  EXPECT_EQ(HexEncode(b.xfam), fields["xfam"]);
  EXPECT_EQ(HexEncode(b.mrtd), fields["mrtd"]);
  EXPECT_EQ(HexEncode(b.mrconfigid), fields["mrconfigid"]);
  EXPECT_EQ(HexEncode(b.mrowner), fields["mrowner"]);
  EXPECT_EQ(HexEncode(b.mrownerconfig), fields["mrownerconfig"]);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(HexEncode(b.rtmr[i]), fields["rtmr" + std::to_string(i)]) << i;
  }
  EXPECT_EQ(HexEncode(b.report_data), fields["report_data"]);
  if (c.body_type == kTdxBodyTypeTdx15) {
    ASSERT_TRUE(b.tee_tcb_svn2 && b.mrservicetd);
    EXPECT_EQ(HexEncode(*b.tee_tcb_svn2), fields["tee_tcb_svn2"]);
    EXPECT_EQ(HexEncode(*b.mrservicetd), fields["mrservicetd"]);
  } else {
    EXPECT_FALSE(b.tee_tcb_svn2 || b.mrservicetd);
  }
  // The doc's "signed bytes 0..N" and the QE report / auth data sizes.
  EXPECT_EQ(q.signed_data.size(), c.version == 4 ? 632u : 702u);
  EXPECT_EQ(q.qe_report_raw.size(), 384u);
  EXPECT_EQ(q.qe_auth_data.size(), 32u);
  EXPECT_EQ(q.quote_size, c.size);
  EXPECT_EQ(q.trailing_bytes, 0u);
  EXPECT_TRUE(absl::StartsWith(q.pck_chain_pem, "-----BEGIN CERTIFICATE-----"));
}

INSTANTIATE_TEST_SUITE_P(
    RealQuotes, QuoteFieldsTest,
    ::testing::Values(FieldCase{"quote_v4_SPR_E4.dat", 4, 2, 4935},
                      FieldCase{"quote_v5_sample.dat", 5, 3, 5006}));

TEST(QuoteTest, QeReportFieldsDecode) {
  ASSERT_OK_AND_ASSIGN(TdxQuote q,
                       ParseTdxQuote(VecBytes("gotdx/quote_v4_SPR_E4.dat")));
  // From QUOTE_FIELDS.md's "QE report:" line.
  EXPECT_EQ(HexEncode(q.qe_report.cpusvn), "04040d0f03ff00030000000000000000");
  EXPECT_EQ(q.qe_report.miscselect, 0u);
  EXPECT_EQ(HexEncode(q.qe_report.attributes),
            "1500000000000000e700000000000000");
  EXPECT_EQ(HexEncode(q.qe_report.mrsigner),
            "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5");
  EXPECT_EQ(q.qe_report.isvprodid, 2);
  EXPECT_EQ(q.qe_report.isvsvn, 4);
  // td_attributes 0000004000000000 little-endian: bit 30 (PKS) only.
  EXPECT_EQ(q.body.TdAttributes(), uint64_t{1} << 30);
}

TEST(QuoteTest, TrailingBytesAreCountedNotParsed) {
  Bytes raw = VecBytes("gotdx/quote_v4_SPR_E4_with_trailing_bytes.dat");
  ASSERT_OK_AND_ASSIGN(TdxQuote q, ParseTdxQuote(raw));
  EXPECT_EQ(q.quote_size, 4935u);
  EXPECT_EQ(q.trailing_bytes, raw.size() - 4935u);
  EXPECT_EQ(q.trailing_bytes, 39u);
}

// v4 offsets: signature data length at 632, cert data type/size at 764/766,
// QE auth data size at 1218, PCK cert data type/size at 1252/1254.
void PutLe(Bytes& q, size_t off, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) q[off + i] = (v >> (8 * i)) & 0xff;
}

struct MalformedCase {
  const char* name;
  size_t offset;
  uint64_t value;
  int width;
  const char* field;
  const char* why;
};

class MalformedQuoteTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedQuoteTest, RefusedWithReason) {
  const MalformedCase& c = GetParam();
  Bytes raw = VecBytes("gotdx/quote_v4_SPR_E4.dat");
  ASSERT_EQ(raw.size(), 4935u);
  PutLe(raw, c.offset, c.value, c.width);
  EXPECT_THAT(ParseTdxQuote(raw),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(c.field), HasSubstr(c.why))));
}

INSTANTIATE_TEST_SUITE_P(
    Fields, MalformedQuoteTest,
    ::testing::Values(
        MalformedCase{"Version3", 0, 3, 2, "version", "3 is not supported"},
        MalformedCase{"Version6", 0, 6, 2, "version", "6 is not supported"},
        MalformedCase{"AttKeyP384", 2, 3, 2, "att_key_type", "not supported"},
        MalformedCase{"TeeTypeSgx", 4, 0, 4, "tee_type", "is not TDX"},
        MalformedCase{"SigDataLenHuge", 632, 0xffffffff, 4,
                      "signature_data_len", "declares 4294967295 bytes"},
        MalformedCase{"SigDataLenShort", 632, 4298, 4, "cert_data_size",
                      "declares 4165"},
        MalformedCase{"CertDataSizeHuge", 766, 0x7fffffff, 4, "cert_data_size",
                      "declares 2147483647"},
        MalformedCase{"CertDataSizeShort", 766, 4164, 4, "cert_data_size",
                      "leaves 4165"},
        MalformedCase{"CertDataTypePck", 764, 5, 2, "cert_data_type",
                      "5 is not supported"},
        MalformedCase{"QeAuthSizeHuge", 1218, 0xffff, 2, "qe_auth_data_size",
                      "declares 65535"},
        MalformedCase{"PckDataTypeNested", 1252, 6, 2, "pck_cert_data_type",
                      "6 is not supported"},
        MalformedCase{"PckDataSizeHuge", 1254, 0x10000, 4,
                      "pck_cert_data_size", "declares 65536"},
        MalformedCase{"PckDataSizeShort", 1254, 100, 4, "pck_cert_data_size",
                      "leaves 3677"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(QuoteTest, ATruncatedRtmrIsNamedWithItsIndex) {
  // The v4 TD report body starts at 48; its RTMRs at 48 + 328, 48 bytes each.
  Bytes raw = VecBytes("gotdx/quote_v4_SPR_E4.dat");
  EXPECT_THAT(ParseTdxQuote(std::span<const uint8_t>(raw).first(48 + 328 + 2 * 48 + 8)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rtmr[2]")));
}

TEST(QuoteTest, EveryTruncationIsRefused) {
  Bytes raw = VecBytes("gotdx/quote_v4_SPR_E4.dat");
  for (size_t len = 0; len < raw.size(); len += 7) {
    auto q = ParseTdxQuote(std::span<const uint8_t>(raw).first(len));
    ASSERT_THAT(q, StatusIs(absl::StatusCode::kInvalidArgument)) << len;
  }
  EXPECT_THAT(ParseTdxQuote(std::span<const uint8_t>(raw).first(40)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("header: truncated")));
  EXPECT_THAT(ParseTdxQuote(std::span<const uint8_t>(raw).first(300)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("truncated")));
  // Cut inside the PEM chain: the signature data length no longer fits.
  EXPECT_THAT(ParseTdxQuote(std::span<const uint8_t>(raw).first(4000)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("signature_data_len: declares 4299")));
}

TEST(QuoteTest, V5BodyTypeAndSizeAreChecked) {
  Bytes raw = VecBytes("gotdx/quote_v5_sample.dat");
  Bytes sgx = raw;
  PutLe(sgx, 48, 1, 2);  // body type 1: an SGX enclave report
  EXPECT_THAT(ParseTdxQuote(sgx),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("body_type: 1 is not supported")));
  Bytes size = raw;
  PutLe(size, 50, 584, 4);  // type 3 with the TDX 1.0 size
  EXPECT_THAT(ParseTdxQuote(size),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("body_size: 584 does not match body type 3")));
}

TEST(QuoteTest, TdReportIsNotAQuote) {
  Bytes report = VecBytes("gotdx/td_report.dat");
  ASSERT_EQ(report.size(), 1024u);
  EXPECT_THAT(ParseTdxQuote(report),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tdx quote: version")));
  EXPECT_THAT(ParseTdxQuote({}), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("header: truncated")));
}

}  // namespace
}  // namespace strongroom::attest
