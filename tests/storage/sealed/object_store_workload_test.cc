// ObjectStore and workloads: reads and uploads only with the authorizer's
// consent (the key broker's dataset token in the server), asked before the
// dataset is looked up; uploads stay bound to the workload that began them
// and the token is checked again when the stream starts; nothing else.
// RocksDB in a temp dir, a fake key directory and a fake authorizer.
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/sealed/object_store.h"
#include "tests/storage/sealed/object_store_fixture.h"

namespace strongroom::storage::sealed {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using testing::kOwner;

const kms::Caller kWorkload{"spiffe://t/workload", kms::Role::kWorkload};
const kms::Caller kWorkload2{"spiffe://t/workload2", kms::Role::kWorkload};

// Accepts token "read:{dataset}" for reads and "write:{dataset}" for
// uploads, from kWorkload and kWorkload2; records what it was asked, and
// for which objects.
struct FakeAuthorizer final : ObjectReadAuthorizer {
  absl::Status AuthorizeWorkloadRead(const kms::Caller& c, absl::string_view token,
                                     absl::string_view dataset, absl::string_view object) override {
    asked.insert(absl::StrCat("read ", dataset));
    objects.push_back(std::string(object));
    return token == absl::StrCat("read:", dataset) ? absl::OkStatus()
                                                   : absl::PermissionDeniedError("refused: x");
  }
  absl::Status AuthorizeWorkloadWrite(const kms::Caller& c, absl::string_view token,
                                      absl::string_view dataset,
                                      absl::string_view object) override {
    asked.insert(absl::StrCat("write ", dataset));
    objects.push_back(std::string(object));
    return token == absl::StrCat("write:", dataset) ? absl::OkStatus()
                                                    : absl::PermissionDeniedError("refused: x");
  }
  std::set<std::string> asked;
  std::vector<std::string> objects;
};

class ObjectStoreWorkloadTest : public testing::ObjectStoreFixture {
 protected:
  ObjectStoreWorkloadTest() : ObjectStoreFixture("object-store-wl-") {}

  absl::StatusOr<v1::Upload> Begin(const kms::Caller& who, const std::string& token,
                                   const std::string& dataset = "ds1") {
    v1::BeginUploadRequest b;
    b.set_dataset(dataset);
    b.set_name("out/r.bin");
    b.set_token(token);
    return store_->BeginUpload(who, b);
  }

  // Streams `plain` into an upload begun earlier.
  absl::StatusOr<v1::ObjectInfo> Stream(const kms::Caller& who, const v1::Upload& up,
                                        const std::string& token, const std::string& plain) {
    return SealAndUpload(who, up, "ds1", plain, token);
  }

  absl::Status Read(const kms::Caller& who, const std::string& dataset, const std::string& token) {
    v1::GetObjectRequest r;
    r.set_dataset(dataset);
    r.set_name("out/r.bin");
    r.set_token(token);
    return store_->OpenRead(who, r).status();
  }

  FakeAuthorizer authorizer_;
};

TEST_F(ObjectStoreWorkloadTest, UploadsNeedTheAuthorizerAndAToken) {
  EXPECT_THAT(Begin(kWorkload, "write:ds1"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("key broker")));
  store_->SetReadAuthorizer(&authorizer_);
  EXPECT_THAT(Begin(kWorkload, ""),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token is empty")));
  EXPECT_THAT(Begin(kWorkload, "read:ds1"), StatusIs(absl::StatusCode::kPermissionDenied));
  // A dataset that does not exist is refused by the authorizer, not found
  // by the store: the workload learns nothing about it.
  EXPECT_THAT(Begin(kWorkload, "write:ds1", "nope"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("refused")));
  EXPECT_THAT(Read(kWorkload, "nope", "read:ds1"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("refused")));
  EXPECT_TRUE(authorizer_.asked.count("write nope"));
  EXPECT_TRUE(authorizer_.asked.count("read nope"));
  // A malformed request is refused before the token is checked (a check the
  // broker audits as allowed): the authorizer is not asked at all.
  authorizer_.asked.clear();
  v1::BeginUploadRequest bad;
  bad.set_dataset("ds1");
  bad.set_name("../escape");
  bad.set_token("write:ds1");
  EXPECT_THAT(store_->BeginUpload(kWorkload, bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name")));
  bad.set_name("fine");
  (*bad.mutable_labels())[""] = "v";
  EXPECT_THAT(store_->BeginUpload(kWorkload, bad), StatusIs(absl::StatusCode::kInvalidArgument));
  // The same for a read of a malformed name with a good token.
  v1::GetObjectRequest get;
  get.set_dataset("ds1");
  get.set_token("read:ds1");
  for (const char* name : {"../escape", ""}) {
    get.set_name(name);
    EXPECT_THAT(store_->OpenRead(kWorkload, get).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name")));
  }
  EXPECT_TRUE(authorizer_.asked.empty());
}

TEST_F(ObjectStoreWorkloadTest, WorkloadUploadCommitsAsAnOrdinaryObject) {
  store_->SetReadAuthorizer(&authorizer_);
  ASSERT_OK_AND_ASSIGN(v1::Upload up, Begin(kWorkload, "write:ds1"));
  ASSERT_OK_AND_ASSIGN(v1::SealedUploadRecord rec, store_->LookupUpload(up.upload_id()));
  EXPECT_TRUE(rec.workload());
  EXPECT_EQ(rec.principal(), kWorkload.principal);
  EXPECT_EQ(rec.version(), 1u);
  // The token is checked again at the stream's start.
  EXPECT_THAT(Stream(kWorkload, up, "", "result"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token is empty")));
  EXPECT_THAT(Stream(kWorkload, up, "read:ds1", "result"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // Another workload cannot stream into it.
  EXPECT_THAT(Stream(kWorkload2, up, "write:ds1", "result"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("another principal")));
  ASSERT_OK_AND_ASSIGN(v1::ObjectInfo info, Stream(kWorkload, up, "write:ds1", "result"));
  EXPECT_EQ(info.creator(), kWorkload.principal);
  EXPECT_EQ(info.version(), 1u);
  EXPECT_THAT(store_->LookupUpload(up.upload_id()), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(v1::SealedObjectRecord obj, store_->LookupObject("ds1", "out/r.bin", 0));
  EXPECT_EQ(obj.info().creator(), kWorkload.principal);
  // The owner reads it; the workload reads it with a read token.
  v1::GetObjectRequest get;
  get.set_dataset("ds1");
  get.set_name("out/r.bin");
  EXPECT_OK(store_->OpenRead(kOwner, get).status());
  authorizer_.objects.clear();
  EXPECT_OK(Read(kWorkload, "ds1", "read:ds1"));
  // Each check names the object the request is for (the broker audits it).
  EXPECT_THAT(authorizer_.objects, ElementsAre("GetObject out/r.bin (latest)"));
}

// The objects the authorizer is told of, for its audit record: a staged set
// names every member.
TEST_F(ObjectStoreWorkloadTest, TheAuthorizerIsToldWhichObjects) {
  store_->SetReadAuthorizer(&authorizer_);
  ASSERT_OK_AND_ASSIGN(v1::Upload up, Begin(kWorkload, "write:ds1"));
  ASSERT_OK(SealAndUpload(kWorkload, up, "ds1", "result", "write:ds1", /*stage=*/true).status());
  v1::CommitUploadsRequest commit;
  commit.add_upload_ids(up.upload_id());
  commit.set_token("write:ds1");
  ASSERT_OK(store_->CommitUploads(kWorkload, commit).status());
  v1::GetObjectRequest get;
  get.set_dataset("ds1");
  get.set_name("out/r.bin");
  get.set_version(1);
  get.set_token("read:ds1");
  ASSERT_OK(store_->OpenRead(kWorkload, get).status());
  EXPECT_THAT(authorizer_.objects,
              ElementsAre("BeginUpload out/r.bin",
                          absl::StrCat("PutObject out/r.bin@1 (upload ", up.upload_id(), ")"),
                          "CommitUploads out/r.bin@1", "GetObject out/r.bin@1"));
}

TEST_F(ObjectStoreWorkloadTest, AnOwnersUploadIsNotAWorkloadsAndWorkloadsDoNothingElse) {
  store_->SetReadAuthorizer(&authorizer_);
  ASSERT_OK_AND_ASSIGN(v1::Upload owners, Begin(kOwner, ""));
  ASSERT_OK_AND_ASSIGN(v1::SealedUploadRecord rec, store_->LookupUpload(owners.upload_id()));
  EXPECT_FALSE(rec.workload());
  EXPECT_THAT(Stream(kWorkload, owners, "write:ds1", "x"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_OK(Stream(kOwner, owners, "", "x").status());
  v1::DeleteObjectRequest del;
  del.set_dataset("ds1");
  del.set_name("out/r.bin");
  del.set_version(1);
  EXPECT_THAT(store_->DeleteObject(kWorkload, del), StatusIs(absl::StatusCode::kPermissionDenied));
  v1::StatObjectRequest stat;
  stat.set_dataset("ds1");
  stat.set_name("out/r.bin");
  EXPECT_THAT(store_->StatObject(kWorkload, stat), StatusIs(absl::StatusCode::kPermissionDenied));
  v1::ListObjectsRequest ls;
  ls.set_dataset("ds1");
  EXPECT_THAT(store_->ListObjects(kWorkload, ls), StatusIs(absl::StatusCode::kPermissionDenied));
  v1::BeginRekeyRequest rekey;
  rekey.set_dataset("ds1");
  rekey.set_name("out/r.bin");
  EXPECT_THAT(store_->BeginRekey(kWorkload, rekey), StatusIs(absl::StatusCode::kPermissionDenied));
  // The same answer for a dataset that does not exist.
  del.set_dataset("nope");
  EXPECT_THAT(store_->DeleteObject(kWorkload, del), StatusIs(absl::StatusCode::kPermissionDenied));
  v1::GetDatasetRequest get_ds;
  get_ds.set_name("nope");
  EXPECT_THAT(store_->GetDataset(kWorkload, get_ds), StatusIs(absl::StatusCode::kPermissionDenied));
}

}  // namespace
}  // namespace strongroom::storage::sealed
