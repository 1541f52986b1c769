// The object database's RocksDB tuning, on disk: large values go to blob
// files (written once, at flush), every read checks checksums so a flipped
// byte in a blob file is DataLoss rather than wrong data, and compacting
// the segment range removes blob files that hold only deleted segments.
#include "storage/sealed/object_db.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"

namespace strongroom::storage::sealed {
namespace {

namespace fs = std::filesystem;
using ::strongroom::testing::StatusIs;

std::vector<fs::path> BlobFiles(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".blob") out.push_back(e.path());
  }
  return out;
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class ObjectDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(tmp_, strongroom::testing::TempDir::Create("object-db"));
    dir_ = tmp_->path();
    options_.path = dir_ + "/db";
  }
  void TearDown() override {
    db_.reset();
    tmp_.reset();
  }
  // 64 KiB that occur nowhere else in the files.
  static std::string Value(char seed) {
    std::string v(64 << 10, '\0');
    uint32_t x = 0x9e3779b9u ^ static_cast<uint8_t>(seed);
    for (char& c : v) {
      x = x * 1664525u + 1013904223u;
      c = static_cast<char>(x >> 24);
    }
    return v;
  }
  void Put(const std::string& key, const std::string& value) {
    rocksdb::WriteBatch b;
    b.Put(key, value);
    ASSERT_OK(db_->Write(b, /*sync=*/true));
  }

  std::optional<strongroom::testing::TempDir> tmp_;
  std::string dir_;  // tmp_'s path
  StoreOptions options_;
  std::unique_ptr<ObjectDb> db_;
};

TEST_F(ObjectDbTest, LargeValuesGoToBlobFilesWithChecksums) {
  ASSERT_OK_AND_ASSIGN(db_, ObjectDb::Open(options_));
  const std::string key = keys::Segment("space-a", 0);
  const std::string value = Value('a');
  Put(key, value);
  EXPECT_TRUE(BlobFiles(options_.path).empty());  // in the WAL and memtable until a flush
  ASSERT_OK(db_->Flush());
  std::vector<fs::path> blobs = BlobFiles(options_.path);
  ASSERT_EQ(blobs.size(), 1u);
  const std::string blob = ReadAll(blobs[0]);
  const size_t at = blob.find(value);
  ASSERT_NE(at, std::string::npos) << "the value is not stored whole in the blob file";
  ASSERT_OK_AND_ASSIGN(std::string back, db_->Get(key));
  EXPECT_TRUE(back == value);

  // One byte of the stored value flipped on disk: the read fails, naming
  // corruption, instead of returning other bytes.
  db_.reset();
  {
    std::fstream f(blobs[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(at + value.size() / 2));
    const char flipped = static_cast<char>(value[value.size() / 2] ^ 0x01);
    f.write(&flipped, 1);
  }
  ASSERT_OK_AND_ASSIGN(db_, ObjectDb::Open(options_));
  EXPECT_THAT(db_->Get(key), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(ObjectDbTest, CompactingDeletedSegmentsRemovesTheirBlobFile) {
  ASSERT_OK_AND_ASSIGN(db_, ObjectDb::Open(options_));
  Put(keys::Segment("space-a", 0), Value('a'));
  Put(keys::Segment("space-a", 1), Value('b'));
  ASSERT_OK(db_->Flush());
  ASSERT_EQ(BlobFiles(options_.path).size(), 1u);
  rocksdb::WriteBatch del;
  del.DeleteRange(keys::SegmentsOf("space-a"), keys::SegmentsEnd("space-a"));
  ASSERT_OK(db_->Write(del, /*sync=*/true));
  ASSERT_OK(db_->Flush());
  ASSERT_OK(db_->CompactSegments());
  EXPECT_TRUE(BlobFiles(options_.path).empty());
  EXPECT_THAT(db_->Get(keys::Segment("space-a", 0)), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace strongroom::storage::sealed
