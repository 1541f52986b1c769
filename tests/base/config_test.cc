#include "base/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/testing/status_matchers.h"

namespace strongroom {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ConfigTest, ReadsTypedFields) {
  ASSERT_OK_AND_ASSIGN(ConfigNode root, ConfigNode::Parse(R"(
hsm:
  module: /usr/lib/softhsm/libsofthsm2.so
  max_sessions: 8
  strict: yes
  destroy_wait: 30d
  roles: [admin, auditor]
)"));
  ASSERT_OK_AND_ASSIGN(ConfigNode hsm, root.GetSection("hsm"));
  ASSERT_OK_AND_ASSIGN(std::string module, hsm.GetString("module"));
  EXPECT_EQ(module, "/usr/lib/softhsm/libsofthsm2.so");
  ASSERT_OK_AND_ASSIGN(int64_t n, hsm.GetInt("max_sessions", 1, 1, 64));
  EXPECT_EQ(n, 8);
  ASSERT_OK_AND_ASSIGN(bool strict, hsm.GetBool("strict", false));
  EXPECT_TRUE(strict);
  ASSERT_OK_AND_ASSIGN(absl::Duration d, hsm.GetDuration("destroy_wait", absl::Hours(1)));
  EXPECT_EQ(d, absl::Hours(24 * 30));
  ASSERT_OK_AND_ASSIGN(auto roles, hsm.GetStringList("roles"));
  EXPECT_THAT(roles, ::testing::ElementsAre("admin", "auditor"));
  ASSERT_OK_AND_ASSIGN(int64_t fallback, hsm.GetInt("absent", 7, 0, 10));
  EXPECT_EQ(fallback, 7);
}

TEST(ConfigTest, ErrorsNameTheFullFieldPath) {
  ASSERT_OK_AND_ASSIGN(ConfigNode root, ConfigNode::Parse(R"(
server:
  listen: [1, 2]
  workers: many
  tls:
    port: 99999
)", "strongroomd.yaml"));
  ASSERT_OK_AND_ASSIGN(ConfigNode server, root.GetSection("server"));
  EXPECT_THAT(server.GetString("listen"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("config field 'server.listen': expected a string")));
  EXPECT_THAT(server.GetInt("workers", 1, 1, 8),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'server.workers'")));
  ASSERT_OK_AND_ASSIGN(ConfigNode tls, server.GetSection("tls"));
  EXPECT_THAT(tls.GetInt("port", 0, 0, 65535),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'server.tls.port': value 99999 is outside")));
  EXPECT_THAT(tls.GetString("cert"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'server.tls.cert': is required")));
  EXPECT_THAT(server.GetString("listen"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("strongroomd.yaml")));
}

TEST(ConfigTest, UnknownKeysAreRejected) {
  ASSERT_OK_AND_ASSIGN(ConfigNode root, ConfigNode::Parse("hsm:\n  modul: x\n"));
  ASSERT_OK_AND_ASSIGN(ConfigNode hsm, root.GetSection("hsm"));
  EXPECT_THAT(hsm.AllowOnly({"module", "token_label"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'hsm.modul': unknown field")));
  EXPECT_OK(root.AllowOnly({"hsm"}));
}

// yaml-cpp would keep both and let lookups see one: a second `store:` block
// appended to a file must not be ignored silently.
TEST(ConfigTest, KeysGivenTwiceAreRejectedWithTheirPath) {
  EXPECT_THAT(ConfigNode::Parse("listen: a\nstore: {x: 1}\nlisten: b\n", "s.yaml"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("s.yaml: config field 'listen': given twice (again at line 3)")));
  EXPECT_THAT(ConfigNode::Parse("hsm:\n  module: a\n  pin: 1\n  module: b\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'hsm.module': given twice")));
  EXPECT_THAT(
      ConfigNode::Parse("principals:\n  - {name: a, role: admin, name: b}\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'principals[0].name': given twice")));
  // The same key in different mappings is fine.
  EXPECT_OK(ConfigNode::Parse("a: {x: 1}\nb: {x: 2}\nc: [{x: 1}, {x: 2}]\n").status());
}

TEST(ConfigTest, SyntaxErrorsGiveLineAndColumn) {
  EXPECT_THAT(ConfigNode::Parse("a: [1, 2\nb: 3\n", "bad.yaml"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("bad.yaml"), HasSubstr("line"))));
  EXPECT_THAT(ConfigNode::Parse("- 1\n- 2\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be a mapping")));
}

TEST(ConfigTest, BadDurationAndListItems) {
  ASSERT_OK_AND_ASSIGN(ConfigNode root,
                       ConfigNode::Parse("ttl: soon\nnames: [a, {b: 1}]\nneg: -5s\n"));
  EXPECT_THAT(root.GetDuration("ttl", absl::Seconds(1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'ttl'")));
  EXPECT_THAT(root.GetDuration("neg", absl::Seconds(1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("negative")));
  EXPECT_THAT(root.GetStringList("names"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'names[1]'")));
}

// Inputs that used to be read as something else: a second document, a
// key that is not a name, a day count that overflows, "inf", a field with no
// value, an empty required string.
TEST(ConfigTest, AmbiguousOrOutOfRangeInputIsRefused) {
  EXPECT_THAT(ConfigNode::Parse("logging: {level: info}\n---\nbogus: 1\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2 YAML documents")));
  EXPECT_THAT(ConfigNode::Parse("? [a]\n: 1\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("a sequence, not a name")));
  EXPECT_THAT(ConfigNode::Parse("kms:\n  ? {x: 1}\n  : 1\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'kms': a key at line 2")));
  ASSERT_OK_AND_ASSIGN(
      ConfigNode root,
      ConfigNode::Parse("long: 768614336404564651d\ninf: inf\nok: 36500d\nnone:\nempty: \"\"\n"
                        "n:\nb:\nl:\n"));
  EXPECT_THAT(root.GetDuration("long", absl::Seconds(1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("longer than 100 years")));
  EXPECT_THAT(root.GetDuration("inf", absl::Seconds(1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("longer than 100 years")));
  EXPECT_EQ(root.GetDuration("ok", absl::Seconds(1)).value_or(absl::ZeroDuration()),
            absl::Hours(24 * 36500));
  EXPECT_THAT(root.GetDuration("none", absl::Seconds(1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'none': has no value")));
  EXPECT_THAT(root.GetString("none", "x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(root.GetInt("n", 1, 0, 10), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(root.GetBool("b", true), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(root.GetStringList("l"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(root.GetSection("n"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(root.GetList("b"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(root.GetString("empty"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'empty': is empty")));
  // Optional or not, "" is not the default (leaving the field out is).
  EXPECT_THAT(root.GetString("empty", "fallback"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'empty': is empty (leave the field out for its default)")));
  EXPECT_EQ(root.GetString("absent", "fallback").value_or("error"), "fallback");
}

TEST(ConfigTest, MissingFileIsNotFound) {
  EXPECT_THAT(ConfigNode::LoadFile("/nonexistent/strongroom.yaml"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/strongroom.yaml")));
}

}  // namespace
}  // namespace strongroom
