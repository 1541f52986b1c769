// DecodeNvidiaReportPayload: the report as binary or as hex text (nvtrust's
// sample form), decoded on every verification.
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "attest/nvidia/spdm_report.h"
#include "base/file.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace strongroom::attest {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

std::string SampleHex() {
  auto s = ReadFileToString(
      absl::StrCat(STRONGROOM_VECTORS_DIR, "/nvidia/nvtrust_hopperAttestationReport.hex.txt"),
      "vector");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

TEST(ReportPayloadTest, HexTextDecodesLikeHexDecode) {
  const std::string hex = SampleHex();
  ASSERT_OK_AND_ASSIGN(Bytes want, HexDecode(std::string(absl::StripAsciiWhitespace(hex))));
  ASSERT_OK_AND_ASSIGN(Bytes got, DecodeNvidiaReportPayload(hex));
  EXPECT_EQ(got, want);
  // Upper case, and whitespace of every kind anywhere between digits.
  std::string spaced;
  for (size_t i = 0; i < hex.size(); ++i) {
    spaced.push_back(absl::ascii_toupper(hex[i]));
    if (i % 7 == 3) spaced.append(" \t\r\n\f\v");
  }
  ASSERT_OK_AND_ASSIGN(Bytes from_spaced, DecodeNvidiaReportPayload(spaced));
  EXPECT_EQ(from_spaced, want);
  // Binary reports pass through unchanged.
  ASSERT_OK_AND_ASSIGN(Bytes binary,
                       DecodeNvidiaReportPayload(std::string(want.begin(), want.end())));
  EXPECT_EQ(binary, want);
}

TEST(ReportPayloadTest, MalformedHexIsNamed) {
  EXPECT_THAT(DecodeNvidiaReportPayload("11e0 0g"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("nvidia report: payload: hex text has a non-hex byte at offset 6")));
  EXPECT_THAT(DecodeNvidiaReportPayload("11e0\n0"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("nvidia report: payload: hex string has odd length 5")));
  EXPECT_THAT(DecodeNvidiaReportPayload(""), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(Bytes two, DecodeNvidiaReportPayload(" 1 1\ne0 "));
  EXPECT_EQ(two, (Bytes{0x11, 0xe0}));
}

}  // namespace
}  // namespace strongroom::attest
