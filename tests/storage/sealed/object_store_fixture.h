// Test support for ObjectStore: a store on a real RocksDB in a per-test temp
// dir with a fake key directory and a pinned clock, dataset ds1 (key k1,
// release policy train-only) of kOwner, and uploads of whole objects sealed
// here (sealed_test_util.h) under one random data key.
//
//   class MyTest : public testing::ObjectStoreFixture {
//    protected:
//     MyTest() : ObjectStoreFixture("my-test-") {}
//   };
//
// Not thread-safe; one fixture per test, as GoogleTest makes them.
#ifndef STRONGROOM_TESTS_STORAGE_SEALED_OBJECT_STORE_FIXTURE_H_
#define STRONGROOM_TESTS_STORAGE_SEALED_OBJECT_STORE_FIXTURE_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/secret_bytes.h"
#include "base/status_macros.h"
#include "base/testing/status_matchers.h"
#include "storage/sealed/object_store.h"
#include "tests/storage/sealed/sealed_test_util.h"

namespace strongroom::storage::sealed::testing {

inline const kms::Caller kOwner{"spiffe://t/owner", kms::Role::kOwner};

// Seals `plain` under `data_key` as the object that upload `up` (of dataset
// `dataset_id`) reserved, then streams it in as `who`: OpenUpload with
// `token`, every segment, Commit. Returns the first error on the way.
inline absl::StatusOr<v1::ObjectInfo> UploadSealed(
    ObjectStore& store, const kms::Caller& who, const v1::Upload& up, const std::string& dataset_id,
    const SecretBytes& data_key, const std::string& plain, const std::string& token = "",
    bool stage = false) {
  ASSIGN_OR_RETURN(SealedParts parts, Seal(data_key, dataset_id, up.name(), up.version(), plain));
  v1::PutObjectStart start;
  start.set_upload_id(up.upload_id());
  start.set_header(std::string(AsStringView(parts.header_bytes)));
  start.set_token(token);
  ASSIGN_OR_RETURN(auto upload, store.OpenUpload(who, start));
  for (const std::string& s : parts.segments) RETURN_IF_ERROR(upload->AppendSegment(AsBytes(s)));
  v1::PutObjectFinish finish;
  finish.set_segment_count(parts.segments.size());
  finish.set_stream_bytes(parts.stream_bytes);
  finish.set_stage(stage);
  return upload->Commit(finish);
}

class ObjectStoreFixture : public ::testing::Test {
 protected:
  // The store lives in TempDir()/{dir_prefix}{test name}.
  explicit ObjectStoreFixture(std::string dir_prefix) : dir_prefix_(std::move(dir_prefix)) {}

  void SetUp() override {
    dir_ = ::testing::TempDir() + "/" + dir_prefix_ +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    keys_.AddKey("keys/k1", kOwner.principal, 1);
    options_.path = dir_;
    options_.min_segment_size = 4096;
    Reopen();
    v1::CreateDatasetRequest r;
    r.set_dataset_id("ds1");
    r.set_key("k1");
    r.set_release_policy("train-only");
    ASSERT_OK(store_->CreateDataset(kOwner, r).status());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Closes the store and opens it again on the same directory.
  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<ObjectStore>> s = ObjectStore::Open(options_, &keys_, clock_);
    ASSERT_OK(s.status());
    store_ = *std::move(s);
  }

  // UploadSealed into this store under data_key_.
  absl::StatusOr<v1::ObjectInfo> SealAndUpload(const kms::Caller& who, const v1::Upload& up,
                                               const std::string& dataset_id,
                                               const std::string& plain,
                                               const std::string& token = "", bool stage = false) {
    return UploadSealed(*store_, who, up, dataset_id, data_key_, plain, token, stage);
  }

  const std::string dir_prefix_;
  std::string dir_;
  FakeKeyDirectory keys_;
  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  StoreOptions options_;
  std::unique_ptr<ObjectStore> store_;
  const SecretBytes data_key_ = SecretBytes::Random(32);
};

}  // namespace strongroom::storage::sealed::testing

#endif  // STRONGROOM_TESTS_STORAGE_SEALED_OBJECT_STORE_FIXTURE_H_
