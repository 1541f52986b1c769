// PositionalName (cli/command.h): the names usage errors give positional
// arguments, read from each command's synopsis; every real command names
// every argument it takes.
#include "cli/command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strongroom::cli {
namespace {

TEST(PositionalNameTest, ReadsTheSynopsis) {
  EXPECT_EQ(PositionalName("DATASET/NAME[@VERSION] OUT [--range START-END] [--quiet]", 0),
            "DATASET/NAME[@VERSION]");
  EXPECT_EQ(PositionalName("DATASET/NAME[@VERSION] OUT [--range START-END] [--quiet]", 1), "OUT");
  EXPECT_EQ(PositionalName("DATASET/NAME[@VERSION] OUT [--range START-END]", 2), "");
  EXPECT_EQ(PositionalName("KEY (POLICY | none) [--version N]", 1), "POLICY|none");
  EXPECT_EQ(PositionalName("FILE (--trusted-key PEM.. | --allow-unpinned) [--known-head S:H]", 0),
            "FILE");
  EXPECT_EQ(PositionalName("FILE (--trusted-key PEM.. | --allow-unpinned) [--known-head S:H]", 1),
            "");
  // A flag's value is not an argument; an optional one is.
  EXPECT_EQ(PositionalName("--type T KEY [OUT]", 0), "KEY");
  EXPECT_EQ(PositionalName("--type T KEY [OUT]", 1), "OUT");
  EXPECT_EQ(PositionalName("[DATASET[/PREFIX]] [--all-versions]", 0), "DATASET[/PREFIX]");
  EXPECT_EQ(PositionalName("(NAME | --file POLICY.json) --type T", 0), "NAME");
  // A repeated group names its arguments again, in turn.
  const std::string put = "DATASET/NAME FILE [DATASET/NAME FILE]... [--key KEY]";
  EXPECT_EQ(PositionalName(put, 0), "DATASET/NAME");
  EXPECT_EQ(PositionalName(put, 1), "FILE");
  EXPECT_EQ(PositionalName(put, 2), "DATASET/NAME");
  EXPECT_EQ(PositionalName(put, 5), "FILE");
  EXPECT_EQ(PositionalName("", 0), "");
}

TEST(PositionalNameTest, EveryCommandNamesEachArgument) {
  std::vector<Command> all;
  for (auto* list : {&SystemCommands, &KeyCommands, &CryptoCommands, &AuditCommands,
                     &AttestCommands, &ObjectCommands, &WorkloadCommands, &BrokerCommands}) {
    for (Command& c : (*list)()) all.push_back(std::move(c));
  }
  ASSERT_GT(all.size(), 20u);
  for (const Command& c : all) {
    for (size_t i = 0; i < std::min<size_t>(c.max_args, 6); ++i) {
      const std::string name = PositionalName(c.synopsis, i);
      EXPECT_FALSE(name.empty()) << c.name << " '" << c.synopsis << "' argument " << i + 1;
      EXPECT_EQ(name.find("--"), std::string::npos) << c.name << ": " << name;
    }
  }
}

}  // namespace
}  // namespace strongroom::cli
