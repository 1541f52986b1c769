#include "attest/nvidia/opaque_data.h"

#include "attest/nvidia/spdm_report.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace strongroom::attest {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(NvidiaOpaqueDataTest, SplitsFields) {
  const Bytes data = {0x03, 0x00, 0x03, 0x00, '5',  '5',
                      0x00, 0x0b, 0x00, 0x01, 0x00, 0x55};
  ASSERT_OK_AND_ASSIGN(auto fields, ParseNvidiaOpaqueData(data));
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].type, 3);
  EXPECT_THAT(fields[0].value, ElementsAre('5', '5', 0x00));
  EXPECT_EQ(fields[1].type, 11);
  EXPECT_THAT(fields[1].value, ElementsAre(0x55));
  EXPECT_OK(ParseNvidiaOpaqueData({}));
}

TEST(NvidiaOpaqueDataTest, RefusesOverruns) {
  EXPECT_THAT(ParseNvidiaOpaqueData(Bytes{0x03, 0x00, 0x05, 0x00, 'a'}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("field type 3 at offset 0 has length 5")));
  EXPECT_THAT(ParseNvidiaOpaqueData(Bytes{0x03, 0x00, 0x00}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("truncated field header")));
}

TEST(NvidiaOpaqueDataTest, VbiosVersionAsNvtrustPrintsIt) {
  // nvtrust: little-endian integer, low four bytes high to low, then byte 4.
  EXPECT_EQ(FormatNvidiaVbiosVersion(
                Bytes{0x00, 0x9f, 0x00, 0x96, 0x01, 0x00, 0x00, 0x00}),
            "96.00.9f.00.01");
  EXPECT_EQ(FormatNvidiaVbiosVersion(Bytes{0x01, 0x02}), "0102");
}

TEST(NvidiaOpaqueDataTest, ClaimsByKind) {
  std::vector<NvidiaOpaqueField> fields = {
      {3, {'5', '5', '0', 0, 0}},  // text, NULs trimmed
      {17, {0x01, 'x'}},           // text field that is not text: hex
      {11, {0x55}},                // binary: hex
      {200, {0xab}},               // unnamed
      {3, {'9', 0}},               // duplicate
  };
  Claims claims;
  std::vector<std::string> warnings;
  AddNvidiaOpaqueClaims(fields, "p.", claims, warnings);
  EXPECT_EQ(claims.GetString("p.driver_version"), "550");
  EXPECT_EQ(claims.GetString("p.project"), "0178");
  EXPECT_EQ(claims.GetString("p.nvdec0_status"), "55");
  EXPECT_EQ(claims.GetString("p.type_200"), "ab");
  EXPECT_EQ(claims.size(), 4u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("driver_version appears more than once"));
}

TEST(NvidiaReportPayloadTest, BinaryOrHex) {
  ASSERT_OK_AND_ASSIGN(Bytes bin, DecodeNvidiaReportPayload("\x11\xe0"));
  EXPECT_THAT(bin, ElementsAre(0x11, 0xe0));
  ASSERT_OK_AND_ASSIGN(Bytes hex, DecodeNvidiaReportPayload(" 11E0\n"));
  EXPECT_THAT(hex, ElementsAre(0x11, 0xe0));
  EXPECT_THAT(DecodeNvidiaReportPayload(""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(DecodeNvidiaReportPayload("11e"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("odd")));
}

TEST(NvidiaReportPayloadTest, RequestOnlyIsTruncatedResponse) {
  Bytes request = {0x11, 0xe0, 0x01, 0xff};
  request.resize(kSpdmRequestSize, 0);
  EXPECT_THAT(ParseSpdmMeasurementReport(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("response: truncated")));
}

}  // namespace
}  // namespace strongroom::attest
