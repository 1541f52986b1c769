#include "base/subcommands.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace strongroom {
namespace {

std::vector<std::string> g_seen;
std::string g_ran;

int RunA(const std::vector<std::string>& args) {
  g_ran = "a";
  g_seen = args;
  return 7;
}
int RunB(const std::vector<std::string>& args) {
  g_ran = "b";
  g_seen = args;
  return 0;
}

constexpr Subcommand kCommands[] = {{"alpha", "first", RunA}, {"beta", "second", RunB}};
constexpr SubcommandTool kTool = {"tool", kCommands, "footer line", /*usage_exit=*/2};

int Dispatch(std::vector<std::string> words) {
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  return RunSubcommand(kTool, static_cast<int>(argv.size()), argv.data());
}

TEST(SubcommandsTest, RunsTheNamedOneWithTheRestOfTheArguments) {
  g_ran.clear();
  EXPECT_EQ(Dispatch({"tool", "alpha", "--x", "1"}), 7);
  EXPECT_EQ(g_ran, "a");
  EXPECT_EQ(g_seen, (std::vector<std::string>{"--x", "1"}));
  EXPECT_EQ(Dispatch({"tool", "beta"}), 0);
  EXPECT_EQ(g_ran, "b");
  EXPECT_TRUE(g_seen.empty());
}

TEST(SubcommandsTest, NoneOrAnUnknownOneIsAUsageErrorThatRunsNothing) {
  g_ran.clear();
  testing::internal::CaptureStderr();
  EXPECT_EQ(Dispatch({"tool"}), 2);
  EXPECT_EQ(Dispatch({"tool", "gamma", "alpha"}), 2);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(g_ran.empty());
  EXPECT_NE(err.find("tool: unknown subcommand 'gamma'"), std::string::npos) << err;
  EXPECT_NE(err.find("usage: tool SUBCOMMAND"), std::string::npos) << err;
}

TEST(SubcommandsTest, UsageListsEverySubcommandAndTheFooter) {
  testing::internal::CaptureStdout();
  PrintSubcommandUsage(kTool, stdout);
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("  alpha  first\n"), std::string::npos) << out;
  EXPECT_NE(out.find("  beta   second\n"), std::string::npos) << out;
  EXPECT_NE(out.find("footer line"), std::string::npos) << out;
}

TEST(SubcommandsTest, HelpWords) {
  std::string tool = "tool", help = "help", dash = "--help", h = "-h", alpha = "alpha";
  char* a1[] = {tool.data(), help.data()};
  char* a2[] = {tool.data(), dash.data()};
  char* a3[] = {tool.data(), h.data()};
  char* a4[] = {tool.data(), alpha.data()};
  EXPECT_TRUE(WantsSubcommandHelp(2, a1));
  EXPECT_TRUE(WantsSubcommandHelp(2, a2));
  EXPECT_TRUE(WantsSubcommandHelp(2, a3));
  EXPECT_FALSE(WantsSubcommandHelp(2, a4));
  EXPECT_FALSE(WantsSubcommandHelp(1, a4));
}

}  // namespace
}  // namespace strongroom
