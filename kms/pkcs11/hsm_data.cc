// Token data objects (CKO_DATA): read and replaced by label.
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/pkcs11/attributes.h"
#include "kms/pkcs11/errors.h"
#include "kms/pkcs11/hsm.h"

namespace strongroom::kms::pkcs11 {
namespace {

constexpr size_t kMaxDataObjectBytes = 4096;
// Under one label: interrupted replacements leave a few; a replacement
// destroys them all, so this bound only stops a runaway.
constexpr size_t kMaxDataObjects = 1024;
constexpr absl::string_view kApplication = "strongroom";

}  // namespace

absl::StatusOr<std::vector<CK_OBJECT_HANDLE>> Hsm::FindDataObjects(Session& s,
                                                                   absl::string_view label) {
  // Only this application's private objects: a session without the PIN can
  // make public ones under any label, and they must neither count nor be
  // destroyed (and a search that finds none of these while logged out
  // proves nothing: EmptySearch).
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE tmpl[] = {
      {CKA_CLASS, &cls, sizeof(cls)},
      {CKA_TOKEN, &yes, sizeof(yes)},
      {CKA_PRIVATE, &yes, sizeof(yes)},
      {CKA_APPLICATION, const_cast<char*>(kApplication.data()), kApplication.size()},
      {CKA_LABEL, const_cast<char*>(label.data()), label.size()},
  };
  std::vector<CK_OBJECT_HANDLE> handles(kMaxDataObjects + 1);
  ASSIGN_OR_RETURN(size_t n, FindObjects(s, tmpl, handles));
  if (n > kMaxDataObjects) {
    return absl::FailedPreconditionError(absl::StrCat(
        "more than ", kMaxDataObjects, " data objects are labelled '", label, "' in the token"));
  }
  handles.resize(n);
  return handles;
}

absl::StatusOr<std::vector<Bytes>> Hsm::ReadDataObjects(absl::string_view label) {
  std::vector<Bytes> out;
  RETURN_IF_ERROR(Run("ReadDataObjects", [&](Session& s) -> absl::Status {
    out.clear();
    ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> handles, FindDataObjects(s, label));
    // A private object is invisible to a session that is not logged in:
    // EmptySearch turns that case into an error the recovery retries.
    if (handles.empty()) return EmptySearch(s, absl::OkStatus());
    for (CK_OBJECT_HANDLE h : handles) {
      CK_ATTRIBUTE value = {CKA_VALUE, nullptr, 0};
      const std::string what = absl::StrCat("CKA_VALUE of data object '", label, "'");
      RETURN_IF_ERROR(RvToStatus("C_GetAttributeValue",
                                 s.fn->C_GetAttributeValue(s.handle, h, &value, 1), what));
      if (value.ulValueLen == CK_UNAVAILABLE_INFORMATION ||
          value.ulValueLen > kMaxDataObjectBytes) {
        return absl::FailedPreconditionError(absl::StrCat("data object '", label,
                                                          "' holds no readable value of at most ",
                                                          kMaxDataObjectBytes, " bytes"));
      }
      Bytes bytes(value.ulValueLen);
      value.pValue = bytes.data();
      RETURN_IF_ERROR(RvToStatus("C_GetAttributeValue",
                                 s.fn->C_GetAttributeValue(s.handle, h, &value, 1), what));
      bytes.resize(value.ulValueLen);
      out.push_back(std::move(bytes));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status Hsm::ReplaceDataObjects(absl::string_view label, std::span<const uint8_t> value) {
  if (label.empty()) return absl::InvalidArgumentError("data object label is empty");
  if (value.empty() || value.size() > kMaxDataObjectBytes) {
    return absl::InvalidArgumentError(absl::StrCat("data object '", label, "': value of ",
                                                   value.size(), " bytes is outside [1, ",
                                                   kMaxDataObjectBytes, "]"));
  }
  std::lock_guard<std::mutex> lock(data_objects_mu_);
  bool first = false;
  RETURN_IF_ERROR(Run("ReplaceDataObjects", [&](Session& s) -> absl::Status {
    // Looked up on every try: a retry whose first try created its object
    // destroys that one too, once its own is made.
    ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> old, FindDataObjects(s, label));
    // Nothing found by a session that is not logged in proves nothing.
    if (old.empty()) RETURN_IF_ERROR(EmptySearch(s, absl::OkStatus()));
    first = old.empty();
    AttributeList attrs;
    attrs.Ulong(CKA_CLASS, CKO_DATA)
        .Bool(CKA_TOKEN, true)
        .Bool(CKA_PRIVATE, true)
        .Text(CKA_LABEL, label)
        .Text(CKA_APPLICATION, kApplication)
        .Data(CKA_VALUE, value);
    CK_OBJECT_HANDLE made = CK_INVALID_HANDLE;
    RETURN_IF_ERROR(RvToStatus("C_CreateObject",
                               s.fn->C_CreateObject(s.handle, attrs.data(), attrs.size(), &made),
                               absl::StrCat("data object '", label, "'")));
    for (CK_OBJECT_HANDLE h : old) {
      CK_RV rv = s.fn->C_DestroyObject(s.handle, h);
      if (rv != CKR_OK && rv != CKR_OBJECT_HANDLE_INVALID) {
        return RvToStatus("C_DestroyObject", rv,
                          absl::StrCat("an earlier data object '", label, "'"));
      }
    }
    return absl::OkStatus();
  }));
  if (first) LogInfo("hsm.data_object_created", {{"label", std::string(label)}});
  return absl::OkStatus();
}

}  // namespace strongroom::kms::pkcs11
