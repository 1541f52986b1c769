#include "absl/strings/string_view.h"
#include "base/log.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace strongroom {
namespace {

class CapturingSink {
 public:
  CapturingSink() {
    old_ = SetLogSink([this](absl::string_view line) { lines_.emplace_back(line); });
  }
  ~CapturingSink() { SetLogSink(std::move(old_)); }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  LogSink old_;
  std::vector<std::string> lines_;
};

TEST(LogTest, EmitsOneJsonObjectPerEvent) {
  CapturingSink sink;
  LogInfo("hsm.connected", {{"token", "t1"}, {"slot", 7}, {"ok", true}, {"ratio", 0.5}});
  ASSERT_EQ(sink.lines().size(), 1u);
  nlohmann::json j = nlohmann::json::parse(sink.lines()[0]);
  EXPECT_EQ(j["event"], "hsm.connected");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["token"], "t1");
  EXPECT_EQ(j["slot"], 7);
  EXPECT_EQ(j["ok"], true);
  EXPECT_TRUE(j.contains("ts"));
}

TEST(LogTest, LevelFiltering) {
  CapturingSink sink;
  SetMinLogLevel(LogLevel::kWarning);
  LogInfo("dropped");
  LogError("kept");
  SetMinLogLevel(LogLevel::kInfo);
  ASSERT_EQ(sink.lines().size(), 1u);
  EXPECT_NE(sink.lines()[0].find("kept"), std::string::npos);
}

TEST(LogTest, QuotesAndControlCharactersAreEscaped) {
  CapturingSink sink;
  LogInfo("x", {{"label", "a\"b\nc"}});
  nlohmann::json j = nlohmann::json::parse(sink.lines()[0]);
  EXPECT_EQ(j["label"], "a\"b\nc");
}

TEST(LogTest, ParseLogLevel) {
  LogLevel l;
  EXPECT_TRUE(ParseLogLevel("debug", &l));
  EXPECT_EQ(l, LogLevel::kDebug);
  EXPECT_FALSE(ParseLogLevel("verbose", &l));
}

}  // namespace
}  // namespace strongroom
