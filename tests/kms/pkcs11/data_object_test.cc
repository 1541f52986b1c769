// Token data objects (Hsm::ReadDataObjects / ReplaceDataObjects) against the
// real SoftHSM module: made on first use, replaced (never left with none),
// kept in the token across a new login, and private.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "base/testing/status_matchers.h"
#include "kms/pkcs11/attributes.h"
#include "kms/pkcs11/errors.h"
#include "tests/kms/pkcs11/hsm_fixture.h"

namespace strongroom::kms::pkcs11 {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class DataObjectTest : public HsmFixture {
 protected:
  void SetUp() override { SetUpHsm(/*through_fault_module=*/false); }

  // Creates a data object labelled `label` directly: as a replacement cut
  // short leaves one (private, application "strongroom"), or as another
  // application, or a session without the PIN, might.
  absl::Status CreateRaw(absl::string_view label, bool is_private, absl::string_view application,
                         const Bytes& value) {
    return hsm_->Run("test", [&](Session& s) {
      AttributeList attrs;
      attrs.Ulong(CKA_CLASS, CKO_DATA)
          .Bool(CKA_TOKEN, true)
          .Bool(CKA_PRIVATE, is_private)
          .Text(CKA_LABEL, label)
          .Text(CKA_APPLICATION, application)
          .Data(CKA_VALUE, value);
      CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
      return RvToStatus("C_CreateObject",
                        s.fn->C_CreateObject(s.handle, attrs.data(), attrs.size(), &h));
    });
  }

  // The values of the data objects labelled `label`, sorted, expected readable.
  std::vector<Bytes> Read(absl::string_view label) {
    absl::StatusOr<std::vector<Bytes>> v = hsm_->ReadDataObjects(label);
    EXPECT_OK(v.status());
    std::vector<Bytes> out = v.value_or(std::vector<Bytes>{});
    std::sort(out.begin(), out.end());
    return out;
  }

  // The CKA_PRIVATE of the one data object labelled `label`.
  absl::StatusOr<bool> IsPrivate(absl::string_view label) {
    CK_BBOOL is_private = CK_FALSE;
    absl::Status s = hsm_->Run("test", [&](Session& s) -> absl::Status {
      CK_OBJECT_CLASS cls = CKO_DATA;
      CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                             {CKA_LABEL, const_cast<char*>(label.data()), label.size()}};
      CK_RV rv = s.fn->C_FindObjectsInit(s.handle, tmpl, 2);
      if (rv != CKR_OK) return RvToStatus("C_FindObjectsInit", rv);
      CK_OBJECT_HANDLE h[2];
      CK_ULONG n = 0;
      rv = s.fn->C_FindObjects(s.handle, h, 2, &n);
      s.fn->C_FindObjectsFinal(s.handle);
      if (rv != CKR_OK || n != 1) return absl::NotFoundError("not exactly one object");
      CK_ATTRIBUTE a = {CKA_PRIVATE, &is_private, sizeof(is_private)};
      return RvToStatus("C_GetAttributeValue", s.fn->C_GetAttributeValue(s.handle, h[0], &a, 1));
    });
    if (!s.ok()) return s;
    return is_private == CK_TRUE;
  }
};

TEST_F(DataObjectTest, AbsentUntilWrittenThenReplaced) {
  EXPECT_THAT(Read("mark"), IsEmpty());
  ASSERT_OK(hsm_->ReplaceDataObjects("mark", Bytes{1, 2, 3}));
  EXPECT_THAT(Read("mark"), ElementsAre(Bytes{1, 2, 3}));
  ASSERT_OK(hsm_->ReplaceDataObjects("mark", Bytes(40, 7)));
  EXPECT_THAT(Read("mark"), ElementsAre(Bytes(40, 7)));  // the first one destroyed
  EXPECT_THAT(Read("other"), IsEmpty());
  ASSERT_OK_AND_ASSIGN(bool is_private, IsPrivate("mark"));
  EXPECT_TRUE(is_private);
}

TEST_F(DataObjectTest, KeptInTheTokenAcrossANewLogin) {
  ASSERT_OK(hsm_->ReplaceDataObjects("mark", Bytes{4, 5}));
  hsm_.reset();
  HsmOptions options{
      hsm_sim::SoftHsmToken::SoftHsmModulePath(), token_->label(), {.file = token_->pin_file()}, 2};
  ASSERT_OK_AND_ASSIGN(hsm_, Hsm::Create(options));
  EXPECT_THAT(Read("mark"), ElementsAre(Bytes{4, 5}));
  ASSERT_OK(hsm_->Reload());
  EXPECT_THAT(Read("mark"), ElementsAre(Bytes{4, 5}));
}

TEST_F(DataObjectTest, BadLabelsAndSizesAreRefused) {
  EXPECT_THAT(hsm_->ReplaceDataObjects("", Bytes{1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("label is empty")));
  EXPECT_THAT(hsm_->ReplaceDataObjects("mark", Bytes{}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("value of 0 bytes")));
  EXPECT_THAT(hsm_->ReplaceDataObjects("mark", Bytes(4097, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("value of 4097 bytes")));
  EXPECT_THAT(Read("mark"), IsEmpty());
}

// Objects left beside each other by a replacement cut short after its
// creation are all read, and the next replacement leaves only its own.
TEST_F(DataObjectTest, ObjectsLeftUnderOneLabelAreReadAndThenReplaced) {
  ASSERT_OK(hsm_->ReplaceDataObjects("mark", Bytes{1}));
  ASSERT_OK(CreateRaw("mark", /*is_private=*/true, "strongroom", Bytes{9, 9}));
  EXPECT_THAT(Read("mark"), ElementsAre(Bytes{1}, Bytes{9, 9}));
  ASSERT_OK(hsm_->ReplaceDataObjects("mark", Bytes{2}));
  EXPECT_THAT(Read("mark"), ElementsAre(Bytes{2}));
}

// A public object (which a session without the PIN can make) or another
// application's under the same label is neither read nor destroyed.
TEST_F(DataObjectTest, PublicObjectsAndOtherApplicationsAreIgnored) {
  ASSERT_OK(CreateRaw("mark", /*is_private=*/false, "strongroom", Bytes{6}));
  ASSERT_OK(CreateRaw("mark", /*is_private=*/true, "other-app", Bytes{7}));
  EXPECT_THAT(Read("mark"), IsEmpty());
  ASSERT_OK(hsm_->ReplaceDataObjects("mark", Bytes{1}));
  EXPECT_THAT(Read("mark"), ElementsAre(Bytes{1}));
  ASSERT_OK(hsm_->ReplaceDataObjects("mark", Bytes{2}));
  EXPECT_THAT(Read("mark"), ElementsAre(Bytes{2}));
  // Both still there: the label's three objects, found without the filters.
  size_t all = 0;
  ASSERT_OK(hsm_->Run("test", [&](Session& s) -> absl::Status {
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, (void*)"mark", 4}};
    CK_RV rv = s.fn->C_FindObjectsInit(s.handle, tmpl, 2);
    if (rv != CKR_OK) return RvToStatus("C_FindObjectsInit", rv);
    CK_OBJECT_HANDLE h[8];
    CK_ULONG n = 0;
    rv = s.fn->C_FindObjects(s.handle, h, 8, &n);
    s.fn->C_FindObjectsFinal(s.handle);
    all = n;
    return RvToStatus("C_FindObjects", rv);
  }));
  EXPECT_EQ(all, 3u);
}

TEST_F(DataObjectTest, ConcurrentReplacementsLeaveOneObject) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      if (!hsm_->ReplaceDataObjects("mark", Bytes{static_cast<uint8_t>(t)}).ok()) ++failures;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_THAT(Read("mark"), ::testing::SizeIs(1));
}

}  // namespace
}  // namespace strongroom::kms::pkcs11
