#include "base/file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"

namespace strongroom {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(tmp_, strongroom::testing::TempDir::Create("strongroom-file-test"));
    dir_ = tmp_->path();
  }
  void TearDown() override { tmp_.reset(); }
  size_t Entries() const {
    return static_cast<size_t>(std::distance(std::filesystem::directory_iterator(dir_),
                                             std::filesystem::directory_iterator()));
  }
  std::optional<strongroom::testing::TempDir> tmp_;
  std::string dir_;  // tmp_'s path
};

TEST_F(FileTest, WriteFileAtomicallyReplacesTheWholeFileWithItsMode) {
  const std::string path = dir_ + "/jwks.json";
  {
    std::ofstream old(path);
    old << "an older and much longer content that must not survive in part";
  }
  chmod(path.c_str(), 0600);
  ASSERT_OK(WriteFileAtomically(path, "new", 0644, "broker.jwks_file"));
  ASSERT_OK_AND_ASSIGN(std::string got, ReadFileToString(path, "test"));
  EXPECT_EQ(got, "new");
  struct stat st = {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_EQ(Entries(), 1u);  // no temporary file left beside it
  ASSERT_OK(WriteFileAtomically(path, "", 0600, "x"));
  ASSERT_OK_AND_ASSIGN(got, ReadFileToString(path, "test"));
  EXPECT_EQ(got, "");
}

TEST_F(FileTest, WriteFileAtomicallyFailureNamesTheFieldAndLeavesNothing) {
  EXPECT_THAT(WriteFileAtomically(dir_ + "/missing/out.pb", "x", 0600, "--output-dir"),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("--output-dir: cannot write '" + dir_ + "/missing/out.pb'")));
  // Renaming over a directory fails after the data was written: the
  // temporary file is removed, the directory stays.
  std::filesystem::create_directory(dir_ + "/taken");
  EXPECT_THAT(WriteFileAtomically(dir_ + "/taken", "x", 0600, "audit.key_file"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("rename")));
  EXPECT_EQ(Entries(), 1u);
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/taken"));
}

TEST_F(FileTest, PrivateKeyFilesMustNotBeReadableByOthers) {
  const std::string key = dir_ + "/tls.key";
  { std::ofstream(key) << "-----BEGIN PRIVATE KEY-----\n"; }
  chmod(key.c_str(), 0644);
  EXPECT_THAT(CheckPrivateFileMode(key, "server.tls.key"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("server.tls.key: file '" + key + "' has mode 0644")));
  chmod(key.c_str(), 0640);
  EXPECT_THAT(CheckPrivateFileMode(key, "--key"), StatusIs(absl::StatusCode::kPermissionDenied));
  chmod(key.c_str(), 0600);
  EXPECT_OK(CheckPrivateFileMode(key, "--key"));
  EXPECT_THAT(CheckPrivateFileMode(dir_, "--key"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a regular file")));
  EXPECT_THAT(CheckPrivateFileMode(dir_ + "/none", "--key"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace strongroom
