// TsmAttester against an emulated configfs-tsm tree: a temporary directory
// driven through the real file operations, plus the kernel's side (populate
// an entry on mkdir, bump `generation` on writes, produce outblob from
// inblob) done by a wrapper. The outblob is a real vector: the go-sev-guest
// SNP report or the go-tdx-guest quote, with the inblob put in its
// REPORT_DATA like a TSM would; for the tests that verify the result, the
// binding is chosen so that this leaves the signed report unchanged.
#include "client/tsm_attester.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "attest/snp/snp_report.h"
#include "attest/tdx/quote.h"
#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"
#include "tests/client/snp_test_util.h"

namespace strongroom::client {
namespace {

namespace fs = std::filesystem;
using ::strongroom::testing::StatusIs;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using testing::CertTable;
using testing::MilanChain;
using testing::TrimZeros;
using testing::VerifySnpItem;
using testing::Vector;

constexpr size_t kSnpReportDataOffset = 0x50;
constexpr size_t kTdxReportDataOffset = 568;  // v4 quote: header 48 + body 520

class FakeConfigfsTsm final : public TsmFilesystem {
 public:
  FakeConfigfsTsm(std::string root, std::string provider, std::string report,
                  size_t report_data_offset, std::string auxblob)
      : root_(std::move(root)),
        provider_(std::move(provider)),
        report_(std::move(report)),
        offset_(report_data_offset),
        auxblob_(std::move(auxblob)) {}

  // Knobs.
  bool put_inblob_in_report = true;  // what a TSM does
  int races = 0;  // outblob reads during which "another writer" bumps generation

  // What the attester did.
  int mkdirs = 0, rmdirs = 0;
  std::vector<std::string> inblobs;
  std::optional<std::string> privlevel;

  bool IsDirectory(const std::string& path) override { return real_.IsDirectory(path); }

  absl::Status MakeDirectory(const std::string& path) override {
    RETURN_IF_ERROR(real_.MakeDirectory(path));
    if (fs::path(path).parent_path() != fs::path(root_)) return absl::OkStatus();
    ++mkdirs;
    const bool snp = provider_ == "sev_guest";
    Create(path + "/provider", provider_ + "\n");
    Create(path + "/generation", "0\n");
    Create(path + "/inblob", "");
    Create(path + "/outblob", "");
    if (snp) {
      Create(path + "/privlevel", "");
      Create(path + "/privlevel_floor", "0\n");
      Create(path + "/auxblob", "");
    }
    return absl::OkStatus();
  }

  absl::Status RemoveDirectory(const std::string& path) override {
    // configfs drops an item's attributes with it.
    ++rmdirs;
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) return absl::InternalError(ec.message());
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    const std::string dir = fs::path(path).parent_path();
    const std::string name = fs::path(path).filename();
    if (name == "outblob") {
      if (inblobs.empty()) return absl::UnavailableError("outblob before inblob: EINVAL");
      if (races > 0) {
        --races;
        RETURN_IF_ERROR(Bump(dir));
      }
      std::string report = report_;
      if (put_inblob_in_report) {
        std::string data = inblobs.back();
        data.resize(64, '\0');
        report.replace(offset_, 64, data);
      }
      return report;
    }
    if (name == "auxblob" && real_.ReadFile(path).ok()) return auxblob_;
    return real_.ReadFile(path);
  }

  absl::Status WriteFile(const std::string& path, absl::string_view data) override {
    const std::string dir = fs::path(path).parent_path();
    const std::string name = fs::path(path).filename();
    if (name == "inblob" && data.size() > 64) return absl::UnavailableError("inblob: EINVAL");
    RETURN_IF_ERROR(real_.WriteFile(path, data));  // fails for absent attributes
    if (name == "inblob") inblobs.emplace_back(data);
    if (name == "privlevel") privlevel = std::string(data);
    return Bump(dir);
  }

 private:
  void Create(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr) << path;
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  absl::Status Bump(const std::string& dir) {
    ASSIGN_OR_RETURN(std::string g, real_.ReadFile(dir + "/generation"));
    uint64_t n = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(g), &n)) return absl::InternalError(g);
    return real_.WriteFile(dir + "/generation", absl::StrCat(n + 1, "\n"));
  }

  TsmFilesystem& real_ = TsmFilesystem::Real();
  std::string root_, provider_, report_;
  size_t offset_;
  std::string auxblob_;
};

class TsmAttesterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(tmp_, strongroom::testing::TempDir::Create("tsm-test"));
    dir_ = tmp_->path();
    root_ = dir_ + "/sys/kernel/config/tsm/report";
    fs::create_directories(root_);
  }
  void TearDown() override { tmp_.reset(); }

  std::unique_ptr<FakeConfigfsTsm> Snp() {
    return std::make_unique<FakeConfigfsTsm>(root_, "sev_guest",
                                             Vector("sev-snp/milan/gosev_report.bin"),
                                             kSnpReportDataOffset, CertTable(MilanChain()));
  }
  std::unique_ptr<FakeConfigfsTsm> Tdx() {
    return std::make_unique<FakeConfigfsTsm>(root_, "tdx_guest",
                                             Vector("tdx/gotdx/quote_v4_SPR_E4.dat"),
                                             kTdxReportDataOffset, "");
  }
  TsmAttesterOptions Options(TsmFilesystem* fs) {
    TsmAttesterOptions o;
    o.report_dir = root_;
    o.filesystem = fs;
    return o;
  }
  bool RootIsEmpty() { return fs::is_empty(root_); }

  std::optional<strongroom::testing::TempDir> tmp_;
  std::string dir_, root_;  // tmp_'s path, the fake configfs in it
};

TEST_F(TsmAttesterTest, SnpEvidenceFromARealReportVerifiesForTheBinding) {
  auto tsm = Snp();
  ASSERT_OK_AND_ASSIGN(auto attester, TsmAttester::Create(TsmProvider::kSevGuest, Options(tsm.get())));
  EXPECT_EQ(attester->type(), "snp");
  // The binding the vector report was made for (its REPORT_DATA, zero-padded).
  const std::string vector = Vector("sev-snp/milan/gosev_report.bin");
  ASSERT_OK_AND_ASSIGN(attest::SnpReport parsed, attest::ParseSnpReport(AsBytes(vector)));
  const Bytes binding = TrimZeros(parsed.report_data);
  ASSERT_LT(binding.size(), 64u);

  ASSERT_OK_AND_ASSIGN(auto items, attester->Attest(binding));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].type(), "snp");
  EXPECT_EQ(items[0].payload(), vector);
  EXPECT_THAT(items[0].certificates(), ElementsAreArray(MilanChain()));
  ASSERT_EQ(tsm->inblobs.size(), 1u);
  EXPECT_EQ(tsm->inblobs[0], std::string(AsStringView(parsed.report_data)));  // padded to 64
  EXPECT_FALSE(tsm->privlevel.has_value());
  EXPECT_EQ(tsm->mkdirs, 1);
  EXPECT_EQ(tsm->rmdirs, 1);
  EXPECT_TRUE(RootIsEmpty());

  EXPECT_OK(VerifySnpItem(items[0], binding));
  Bytes other = binding;
  other[0] ^= 1;
  EXPECT_THAT(VerifySnpItem(items[0], other), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(TsmAttesterTest, TdxQuoteFromARealVectorCarriesTheBinding) {
  auto tsm = Tdx();
  ASSERT_OK_AND_ASSIGN(auto attester, TsmAttester::Create(TsmProvider::kTdxGuest, Options(tsm.get())));
  EXPECT_EQ(attester->type(), "tdx");
  const std::string vector = Vector("tdx/gotdx/quote_v4_SPR_E4.dat");
  ASSERT_OK_AND_ASSIGN(attest::TdxQuote quote, attest::ParseTdxQuote(AsBytes(vector)));
  const Bytes binding(quote.body.report_data.begin(), quote.body.report_data.end());
  ASSERT_OK_AND_ASSIGN(auto items, attester->Attest(binding));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].type(), "tdx");
  EXPECT_EQ(items[0].payload(), vector);
  EXPECT_EQ(items[0].certificates_size(), 0);
  EXPECT_TRUE(RootIsEmpty());
}

TEST_F(TsmAttesterTest, ShortBindingIsZeroPaddedIntoTheReport) {
  auto tsm = Snp();
  ASSERT_OK_AND_ASSIGN(auto attester, TsmAttester::Create(TsmProvider::kSevGuest, Options(tsm.get())));
  Bytes binding(32);
  for (size_t i = 0; i < binding.size(); ++i) binding[i] = static_cast<uint8_t>(0xa0 + i);
  ASSERT_OK_AND_ASSIGN(auto items, attester->Attest(binding));
  ASSERT_OK_AND_ASSIGN(attest::SnpReport r, attest::ParseSnpReport(AsBytes(items[0].payload())));
  Bytes expected = binding;
  expected.resize(64, 0);
  EXPECT_EQ(Bytes(r.report_data.begin(), r.report_data.end()), expected);
  EXPECT_EQ(tsm->inblobs[0], std::string(AsStringView(expected)));
}

TEST_F(TsmAttesterTest, ReportForOtherDataIsRefused) {
  auto tsm = Snp();
  tsm->put_inblob_in_report = false;  // a device that ignores inblob
  ASSERT_OK_AND_ASSIGN(auto attester, TsmAttester::Create(TsmProvider::kSevGuest, Options(tsm.get())));
  EXPECT_THAT(attester->Attest(Bytes(32, 0x11)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("report_data")));
  EXPECT_TRUE(RootIsEmpty());
}

TEST_F(TsmAttesterTest, GenerationRaceIsRetriedThenGivenUp) {
  auto tsm = Snp();
  tsm->races = 1;
  ASSERT_OK_AND_ASSIGN(auto attester, TsmAttester::Create(TsmProvider::kSevGuest, Options(tsm.get())));
  ASSERT_OK(attester->Attest(Bytes(32, 0x22)));
  EXPECT_EQ(tsm->inblobs.size(), 2u);  // written again after the race

  tsm->races = 10;
  EXPECT_THAT(attester->Attest(Bytes(32, 0x22)),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("generation")));
  EXPECT_TRUE(RootIsEmpty());
}

TEST_F(TsmAttesterTest, PrivlevelIsWrittenAndCounted) {
  auto tsm = Snp();
  TsmAttesterOptions o = Options(tsm.get());
  o.privlevel = 2;
  ASSERT_OK_AND_ASSIGN(auto attester, TsmAttester::Create(TsmProvider::kSevGuest, o));
  ASSERT_OK(attester->Attest(Bytes(32, 0x33)));
  EXPECT_EQ(tsm->privlevel, "2");
  EXPECT_EQ(tsm->inblobs.size(), 1u);  // two writes, generation +2: no race seen
}

TEST_F(TsmAttesterTest, WrongProviderIsRefused) {
  auto tsm = Snp();
  ASSERT_OK_AND_ASSIGN(auto attester, TsmAttester::Create(TsmProvider::kTdxGuest, Options(tsm.get())));
  EXPECT_THAT(attester->Attest(Bytes(32, 1)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("sev_guest")));
  EXPECT_TRUE(tsm->inblobs.empty());
  EXPECT_TRUE(RootIsEmpty());
}

TEST_F(TsmAttesterTest, CorruptCertificateTableIsInternal) {
  std::string table = CertTable(MilanChain());
  table.resize(30);  // cut inside the second entry
  FakeConfigfsTsm tsm(root_, "sev_guest", Vector("sev-snp/milan/gosev_report.bin"),
                      kSnpReportDataOffset, table);
  ASSERT_OK_AND_ASSIGN(auto attester, TsmAttester::Create(TsmProvider::kSevGuest, Options(&tsm)));
  EXPECT_THAT(attester->Attest(Bytes(32, 1)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("auxblob")));
}

TEST_F(TsmAttesterTest, BadOptionsAndMissingConfigfs) {
  auto tsm = Snp();
  TsmAttesterOptions o = Options(tsm.get());
  o.report_dir = dir_ + "/no/such/dir";
  EXPECT_THAT(TsmAttester::Create(TsmProvider::kSevGuest, o),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("/no/such/dir")));
  o = Options(tsm.get());
  o.privlevel = 1;
  EXPECT_THAT(TsmAttester::Create(TsmProvider::kTdxGuest, o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("privlevel")));
  o.privlevel = 4;
  EXPECT_THAT(TsmAttester::Create(TsmProvider::kSevGuest, o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("privlevel")));
  ASSERT_OK_AND_ASSIGN(auto attester, TsmAttester::Create(TsmProvider::kSevGuest, Options(tsm.get())));
  EXPECT_THAT(attester->Attest(Bytes(65, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("binding")));
  EXPECT_EQ(tsm->mkdirs, 0);
}

TEST_F(TsmAttesterTest, RealFilesystemOnAPlainDirectoryFailsCleanly) {
  // Without a kernel behind it, a plain directory has no attributes: the
  // attester reports the missing file and leaves nothing behind.
  TsmAttesterOptions o;
  o.report_dir = root_;
  ASSERT_OK_AND_ASSIGN(auto attester, TsmAttester::Create(TsmProvider::kSevGuest, o));
  EXPECT_THAT(attester->Attest(Bytes(32, 1)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("provider")));
  EXPECT_TRUE(RootIsEmpty());
}

}  // namespace
}  // namespace strongroom::client
