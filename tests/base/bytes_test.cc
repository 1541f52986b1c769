#include "base/bytes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/testing/status_matchers.h"

namespace strongroom {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

TEST(BytesTest, HexRoundTrip) {
  Bytes b = {0x00, 0x7f, 0xab, 0xff};
  EXPECT_EQ(HexEncode(b), "007fabff");
  ASSERT_OK_AND_ASSIGN(Bytes back, HexDecode("007FabfF"));
  EXPECT_EQ(back, b);
}

TEST(BytesTest, HexDecodeNamesTheFieldAndOffset) {
  EXPECT_THAT(HexDecode("abc", "report_data"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("report_data")));
  EXPECT_THAT(HexDecode("abzz", "nonce"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offset 2")));
}

TEST(BytesTest, Base64) {
  EXPECT_EQ(Base64Encode(AsBytes("hello")), "aGVsbG8=");
  EXPECT_EQ(Base64UrlEncode(Bytes{0xfb, 0xff}), "-_8");
}

}  // namespace
}  // namespace strongroom
