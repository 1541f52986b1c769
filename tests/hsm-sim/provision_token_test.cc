// Tests of hsm-sim/provision-token.sh and SoftHsmToken.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "base/testing/status_matchers.h"
#include "hsm-sim/testing/softhsm_token.h"

namespace strongroom::hsm_sim {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

struct ScriptResult {
  int exit_code = -1;
  std::string out;
};

// Runs provision-token.sh with `args` (no shell metacharacters in them);
// stderr is discarded.
ScriptResult RunScript(const std::string& args) {
  const std::string command = "bash '" + SoftHsmToken::ProvisionScriptPath() +
                              "' " + args + " 2>/dev/null";
  ScriptResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) result.out.append(buf, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

mode_t PermissionBits(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 07777;
  return st.st_mode & 07777;
}

size_t TokenCount(const std::string& dir) {
  size_t count = 0;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(dir + "/tokens", ec)) {
    if (entry.is_directory()) ++count;
  }
  return count;
}

TEST(SoftHsmTokenTest, ProvisionsTokenWithPrivatePinFiles) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SoftHsmToken> token,
                       SoftHsmToken::Create("pin-files"));
  EXPECT_EQ(token->label(), "pin-files");
  EXPECT_EQ(token->pin_file(), token->dir() + "/user.pin");
  EXPECT_EQ(PermissionBits(token->pin_file()), 0600);
  EXPECT_EQ(PermissionBits(token->dir() + "/so.pin"), 0600);
  // 16 random bytes in hex, no newline.
  EXPECT_THAT(token->user_pin(), MatchesRegex("[0-9a-f]{32}"));
  EXPECT_THAT(ReadFile(token->dir() + "/so.pin"), MatchesRegex("[0-9a-f]{32}"));
  EXPECT_NE(token->user_pin(), ReadFile(token->dir() + "/so.pin"));

  const std::string conf = ReadFile(token->conf_path());
  EXPECT_THAT(
      conf, HasSubstr("directories.tokendir = " + token->dir() + "/tokens\n"));
  EXPECT_THAT(conf, HasSubstr("objectstore.backend = file\n"));
  EXPECT_THAT(conf, HasSubstr("log.level = ERROR\n"));
  ASSERT_NE(getenv("SOFTHSM2_CONF"), nullptr);
  EXPECT_EQ(std::string(getenv("SOFTHSM2_CONF")), token->conf_path());
  EXPECT_EQ(TokenCount(token->dir()), 1u);
}

TEST(SoftHsmTokenTest, ScriptIsIdempotent) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SoftHsmToken> token,
                       SoftHsmToken::Create("idempotent"));
  const std::string pin = token->user_pin();
  const std::string args = "--dir '" + token->dir() + "' --label idempotent";

  const ScriptResult again = RunScript(args);
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_THAT(again.out,
              EndsWith("SOFTHSM2_CONF=" + token->conf_path() + "\n"));
  EXPECT_EQ(TokenCount(token->dir()), 1u);
  EXPECT_EQ(token->user_pin(), pin);
  EXPECT_EQ(PermissionBits(token->pin_file()), 0600);

  // A second label in the same directory is a second token with the same PIN.
  const ScriptResult other =
      RunScript("--dir '" + token->dir() + "' --label other");
  EXPECT_EQ(other.exit_code, 0);
  EXPECT_EQ(TokenCount(token->dir()), 2u);
  EXPECT_EQ(token->user_pin(), pin);
}

TEST(ProvisionTokenScriptTest, UsesGivenPins) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SoftHsmToken> scratch,
                       SoftHsmToken::Create("scratch"));
  const std::string dir = scratch->dir() + "/given";
  const ScriptResult result =
      RunScript("--dir '" + dir + "' --label given --pin 1234 --so-pin 5678");
  ASSERT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, "SOFTHSM2_CONF=" + dir + "/softhsm2.conf\n");
  EXPECT_EQ(ReadFile(dir + "/user.pin"), "1234");
  EXPECT_EQ(ReadFile(dir + "/so.pin"), "5678");
  EXPECT_EQ(PermissionBits(dir + "/user.pin"), 0600);
  EXPECT_EQ(TokenCount(dir), 1u);
}

TEST(ProvisionTokenScriptTest, RejectsBadArguments) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SoftHsmToken> scratch,
                       SoftHsmToken::Create("scratch"));
  const std::string dir = scratch->dir() + "/bad";
  EXPECT_NE(RunScript("--dir '" + dir + "'").exit_code, 0);  // no label
  EXPECT_NE(RunScript("--label x").exit_code, 0);            // no dir
  EXPECT_NE(
      RunScript("--dir '" + dir + "' --label 123456789012345678901234567890123")
          .exit_code,
      0);  // 33 bytes
  EXPECT_NE(RunScript("--dir '" + dir + "' --label x --bogus").exit_code, 0);
  EXPECT_EQ(TokenCount(dir), 0u);
}

TEST(SoftHsmTokenTest, DestructorRemovesDirAndRestoresEnvironment) {
  ASSERT_EQ(setenv("SOFTHSM2_CONF", "/before/softhsm2.conf", 1), 0);
  std::string dir;
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<SoftHsmToken> token,
                         SoftHsmToken::Create());
    dir = token->dir();
    EXPECT_EQ(token->label(), "strongroom-test");
    EXPECT_TRUE(std::filesystem::exists(dir));
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  ASSERT_NE(getenv("SOFTHSM2_CONF"), nullptr);
  EXPECT_EQ(std::string(getenv("SOFTHSM2_CONF")), "/before/softhsm2.conf");
  unsetenv("SOFTHSM2_CONF");
}

TEST(SoftHsmTokenTest, ModulePathsPointAtBuiltModules) {
  EXPECT_TRUE(std::filesystem::exists(SoftHsmToken::SoftHsmModulePath()));
  const std::string fault = SoftHsmToken::FaultModulePath();
  EXPECT_EQ(fault.front(), '/');
  EXPECT_THAT(fault, EndsWith("/libstrongroom-fault-pkcs11.so"));
  EXPECT_TRUE(std::filesystem::exists(fault));
}

}  // namespace
}  // namespace strongroom::hsm_sim
