// CollateralDirectoryCache: the parse of a collateral directory is reused
// only while nothing in the directory changed, and a change is seen even
// when it keeps the file's size and mtime.
#include "attest/tdx/collateral_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/attest/tdx/synthetic_tdx.h"
#include "tests/attest/tdx/tdx_test_util.h"

namespace strongroom::attest {
namespace {

using ::strongroom::testing::StatusIs;
using tdx_internal::CollateralDirectoryCache;
using tdx_internal::CollateralSnapshot;
using ::testing::HasSubstr;
using testing_tdx::Vec;

constexpr char kTcbInfo[] = "tcbinfo_fmspc_50806f000000.json";
constexpr char kQeIdentity[] = "qe_identity_td_qe.json";

// A copy of the collateral files of shared/vectors/tdx/gotdx.
std::string CopyCollateral(absl::string_view tag) {
  std::string dir = testing_tdx::MakeTempDir(tag);
  for (const char* name : {kTcbInfo, kQeIdentity, "pck_platform_crl.der", "root_ca_crl.der",
                           "pck_crl_issuer_chain.pem", "tcb_signing_chain_2018.pem"}) {
    testing_tdx::WriteFile(dir + "/" + name, Vec(absl::StrCat("gotdx/", name)));
  }
  return dir;
}

struct timespec MtimeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mtim;
}

// With racy_window zero the cache trusts a stamp as soon as it is taken,
// which is only sound on a filesystem whose timestamps tick between two
// changes. The kernel stamps files from a coarse clock (a few ms), so these
// tests let it tick before they change what was loaded; with the default
// window the cache needs no such help (RecentFilesAreComparedByContent).
void LetTheClockTick() { absl::SleepFor(absl::Milliseconds(50)); }

// Puts back a file's mtime (its ctime moves on regardless).
void SetMtime(const std::string& path, struct timespec mtime) {
  struct timespec times[2] = {mtime, mtime};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

// The TCB info with one TCB level changed; same length, so same size.
std::string TamperedTcbInfo() {
  std::string file = Vec(std::string("gotdx/") + kTcbInfo);
  std::string tampered = absl::StrReplaceAll(file, {{"\"pcesvn\":11", "\"pcesvn\":10"}});
  EXPECT_NE(tampered, file);
  EXPECT_EQ(tampered.size(), file.size());
  return tampered;
}

TEST(CollateralDirectoryCacheTest, SameParseAsTheLoader) {
  const std::string dir = testing_tdx::VecPath("gotdx");
  CollateralDirectoryCache cache(4);
  ASSERT_OK_AND_ASSIGN(auto snap, cache.Load(dir));
  ASSERT_OK_AND_ASSIGN(TdxCollateral direct, LoadTdxCollateral(dir));
  const TdxCollateral& c = snap->collateral;
  ASSERT_EQ(c.tcb_infos.size(), direct.tcb_infos.size());
  for (size_t i = 0; i < c.tcb_infos.size(); ++i) {
    EXPECT_EQ(c.tcb_infos[i].signed_body, direct.tcb_infos[i].signed_body);
  }
  ASSERT_EQ(c.qe_identities.size(), direct.qe_identities.size());
  EXPECT_EQ(c.crls.size(), direct.crls.size());
  ASSERT_EQ(c.certificates.size(), direct.certificates.size());
  for (size_t i = 0; i < c.certificates.size(); ++i) {
    EXPECT_EQ(c.certificates[i].der(), direct.certificates[i].der());
    EXPECT_EQ(snap->certificates->certs[i].der(), direct.certificates[i].der());
  }
  EXPECT_EQ(c.ignored_files, direct.ignored_files);
  // The vectors are old enough to be trusted by stat alone: no second read.
  ASSERT_OK_AND_ASSIGN(auto again, cache.Load(dir));
  EXPECT_EQ(again, snap);
  EXPECT_EQ(cache.reads(), 1u);
}

TEST(CollateralDirectoryCacheTest, UnchangedDirectoryIsNotReadAgain) {
  const std::string dir = CopyCollateral("unchanged");
  CollateralDirectoryCache cache(4, /*racy_window=*/absl::ZeroDuration());
  ASSERT_OK_AND_ASSIGN(auto first, cache.Load(dir));
  ASSERT_OK_AND_ASSIGN(auto second, cache.Load(dir));
  EXPECT_EQ(first, second);
  EXPECT_EQ(cache.reads(), 1u);
  EXPECT_EQ(cache.parses(), 1u);
}

TEST(CollateralDirectoryCacheTest, RewriteWithSameSizeAndMtimeIsSeen) {
  const std::string dir = CopyCollateral("rewrite");
  const std::string path = dir + "/" + kTcbInfo;
  CollateralDirectoryCache cache(4, absl::ZeroDuration());
  ASSERT_OK_AND_ASSIGN(auto before, cache.Load(dir));
  const struct timespec mtime = MtimeOf(path);
  LetTheClockTick();
  testing_tdx::WriteFile(path, TamperedTcbInfo());
  SetMtime(path, mtime);
  ASSERT_OK_AND_ASSIGN(auto after, cache.Load(dir));
  EXPECT_EQ(cache.reads(), 2u);
  EXPECT_EQ(cache.parses(), 2u);
  ASSERT_EQ(after->collateral.tcb_infos.size(), 1u);
  EXPECT_THAT(after->collateral.tcb_infos[0].signed_body, HasSubstr("\"pcesvn\":10"));
  EXPECT_THAT(before->collateral.tcb_infos[0].signed_body, HasSubstr("\"pcesvn\":11"));
}

TEST(CollateralDirectoryCacheTest, AddedRemovedAndReplacedFilesAreSeen) {
  const std::string dir = CopyCollateral("entries");
  CollateralDirectoryCache cache(4, absl::ZeroDuration());
  ASSERT_OK_AND_ASSIGN(auto snap, cache.Load(dir));
  EXPECT_EQ(snap->collateral.qe_identities.size(), 1u);

  LetTheClockTick();
  testing_tdx::WriteFile(dir + "/zz_second_qe.json", Vec(std::string("gotdx/") + kQeIdentity));
  ASSERT_OK_AND_ASSIGN(snap, cache.Load(dir));
  EXPECT_EQ(snap->collateral.qe_identities.size(), 2u);

  LetTheClockTick();
  std::filesystem::remove(dir + "/pck_platform_crl.der");
  ASSERT_OK_AND_ASSIGN(snap, cache.Load(dir));
  EXPECT_EQ(snap->collateral.crls.size(), 1u);

  // Replaced by rename (a new inode), the way collateral fetchers update.
  LetTheClockTick();
  testing_tdx::WriteFile(dir + "/new.tmp", TamperedTcbInfo());
  std::filesystem::rename(dir + "/new.tmp", dir + "/" + kTcbInfo);
  ASSERT_OK_AND_ASSIGN(snap, cache.Load(dir));
  EXPECT_THAT(snap->collateral.tcb_infos[0].signed_body, HasSubstr("\"pcesvn\":10"));
}

TEST(CollateralDirectoryCacheTest, RepointedSymlinkIsSeen) {
  const std::string dir = CopyCollateral("symlink");
  const std::string store = testing_tdx::MakeTempDir("symlink_store");
  testing_tdx::WriteFile(store + "/old.json", Vec(std::string("gotdx/") + kTcbInfo));
  testing_tdx::WriteFile(store + "/new.json", TamperedTcbInfo());
  std::filesystem::remove(dir + "/" + kTcbInfo);
  std::filesystem::create_symlink(store + "/old.json", dir + "/" + kTcbInfo);
  CollateralDirectoryCache cache(4, absl::ZeroDuration());
  ASSERT_OK_AND_ASSIGN(auto snap, cache.Load(dir));
  EXPECT_THAT(snap->collateral.tcb_infos[0].signed_body, HasSubstr("\"pcesvn\":11"));
  // A file the link points to changes: the link itself does not.
  const struct timespec mtime = MtimeOf(store + "/old.json");
  LetTheClockTick();
  testing_tdx::WriteFile(store + "/old.json", TamperedTcbInfo());
  SetMtime(store + "/old.json", mtime);
  ASSERT_OK_AND_ASSIGN(snap, cache.Load(dir));
  EXPECT_THAT(snap->collateral.tcb_infos[0].signed_body, HasSubstr("\"pcesvn\":10"));
}

TEST(CollateralDirectoryCacheTest, RecentFilesAreComparedByContent) {
  // With the default window, files written just now are not trusted by
  // their stat: every Load reads them, but unchanged content is not parsed
  // again, and changed content always is.
  const std::string dir = CopyCollateral("racy");
  CollateralDirectoryCache cache(4);
  ASSERT_OK_AND_ASSIGN(auto first, cache.Load(dir));
  ASSERT_OK_AND_ASSIGN(auto second, cache.Load(dir));
  EXPECT_EQ(cache.reads(), 2u);
  EXPECT_EQ(cache.parses(), 1u);
  EXPECT_EQ(first, second);
  testing_tdx::WriteFile(dir + "/" + kTcbInfo, TamperedTcbInfo());
  ASSERT_OK_AND_ASSIGN(auto third, cache.Load(dir));
  EXPECT_EQ(cache.parses(), 2u);
  EXPECT_THAT(third->collateral.tcb_infos[0].signed_body, HasSubstr("\"pcesvn\":10"));
}

TEST(CollateralDirectoryCacheTest, ErrorsAreNotCached) {
  const std::string dir = CopyCollateral("errors");
  const std::string path = dir + "/" + kTcbInfo;
  CollateralDirectoryCache cache(4, absl::ZeroDuration());
  ASSERT_OK(cache.Load(dir));
  const std::string good = Vec(std::string("gotdx/") + kTcbInfo);
  LetTheClockTick();
  testing_tdx::WriteFile(path, "{\"tcbInfo\": 5, \"signature\": \"\"}");
  EXPECT_THAT(cache.Load(dir), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(kTcbInfo)));
  EXPECT_THAT(cache.Load(dir), StatusIs(absl::StatusCode::kInvalidArgument));
  testing_tdx::WriteFile(path, good);
  ASSERT_OK_AND_ASSIGN(auto snap, cache.Load(dir));
  EXPECT_EQ(snap->collateral.tcb_infos.size(), 1u);
  EXPECT_THAT(cache.Load(dir + "/missing"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(auto empty, cache.Load(""));
  EXPECT_TRUE(empty->collateral.tcb_infos.empty());
  EXPECT_TRUE(empty->collateral.certificates.empty());
}

TEST(CollateralDirectoryCacheTest, DisabledCacheParsesEveryTime) {
  const std::string dir = CopyCollateral("disabled");
  CollateralDirectoryCache cache(0, absl::ZeroDuration());
  ASSERT_OK(cache.Load(dir));
  ASSERT_OK(cache.Load(dir));
  EXPECT_EQ(cache.reads(), 2u);
  EXPECT_EQ(cache.parses(), 2u);
}

TEST(CollateralDirectoryCacheTest, BoundedNumberOfDirectories) {
  CollateralDirectoryCache cache(2, absl::ZeroDuration());
  std::vector<std::string> dirs;
  for (int i = 0; i < 3; ++i) dirs.push_back(CopyCollateral(absl::StrCat("bound", i)));
  for (const std::string& d : dirs) ASSERT_OK(cache.Load(d));
  EXPECT_EQ(cache.parses(), 3u);
  // The third emptied the map: the first is parsed again, the third is not.
  ASSERT_OK(cache.Load(dirs[2]));
  EXPECT_EQ(cache.parses(), 3u);
  ASSERT_OK(cache.Load(dirs[0]));
  EXPECT_EQ(cache.parses(), 4u);
}

}  // namespace
}  // namespace strongroom::attest
