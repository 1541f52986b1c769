// Every JSON example in docs/policy.md that is a policy (has "require") or
// a reference-value set (has "name" and "values") must be accepted, so the
// documentation cannot drift from the parser.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "attest/policy/policy.h"
#include "attest/policy/reference_values.h"
#include "base/file.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace strongroom::attest {
namespace {

// Bodies of the ```json fenced blocks.
std::vector<std::string> JsonBlocks(const std::string& markdown) {
  std::vector<std::string> blocks;
  std::string current;
  bool in_json = false;
  for (absl::string_view line : absl::StrSplit(markdown, '\n')) {
    if (!in_json && line == "```json") {
      in_json = true;
      current.clear();
    } else if (in_json && line == "```") {
      in_json = false;
      blocks.push_back(current);
    } else if (in_json) {
      current.append(line.data(), line.size());
      current.push_back('\n');
    }
  }
  EXPECT_FALSE(in_json) << "unterminated ```json block";
  return blocks;
}

TEST(DocsExamplesTest, EveryPolicyAndSetExampleIsAccepted) {
  absl::StatusOr<std::string> doc =
      ReadFileToString(std::string(STRONGROOM_DOCS_DIR) + "/policy.md", "docs");
  ASSERT_OK(doc);
  int policies = 0, sets = 0;
  for (const std::string& block : JsonBlocks(*doc)) {
    SCOPED_TRACE(block);
    nlohmann::json j = nlohmann::json::parse(block, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON";
    if (j.is_object() && j.contains("require")) {
      EXPECT_OK(Policy::Parse(block));
      ++policies;
    } else if (j.is_object() && j.contains("name") && j.contains("values")) {
      EXPECT_OK(ParseReferenceValueSet(block));
      ++sets;
    }
  }
  // The reference has at least the SNP, TDX, TPM, composite and dev
  // examples and one set; fewer means the extraction broke.
  EXPECT_GE(policies, 5);
  EXPECT_GE(sets, 1);
}

}  // namespace
}  // namespace strongroom::attest
