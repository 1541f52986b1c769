#include "bench/direct_pkcs11.h"

#include <dlfcn.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "kms/pkcs11/errors.h"
#include "kms/pkcs11/module.h"

namespace strongroom::bench {

using kms::pkcs11::RvToStatus;

absl::StatusOr<std::unique_ptr<DirectPkcs11>> DirectPkcs11::Attach(const std::string& module_path,
                                                                   const std::string& token_label) {
  // The reference is deliberately never dlclose()d: the Hsm keeps the module
  // mapped for the life of the process anyway.
  void* lib = dlopen(module_path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  if (lib == nullptr) {
    const char* err = dlerror();
    return absl::NotFoundError(absl::StrCat("PKCS#11 module '", module_path,
                                            "' is not loaded in this process (",
                                            err ? err : "RTLD_NOLOAD", "); create the Hsm first"));
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(lib, "C_GetFunctionList"));
  if (get_list == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", module_path, "' has no C_GetFunctionList"));
  }
  CK_FUNCTION_LIST* fn = nullptr;
  CK_RV rv = get_list(&fn);
  if (rv != CKR_OK || fn == nullptr) {
    return RvToStatus("C_GetFunctionList", rv == CKR_OK ? CKR_GENERAL_ERROR : rv, module_path);
  }
  CK_C_INITIALIZE_ARGS args = {};
  args.flags = CKF_OS_LOCKING_OK;
  rv = fn->C_Initialize(&args);
  if (rv == CKR_OK) {
    // We initialized it: nobody else had, so there is no layer to compare with.
    fn->C_Finalize(nullptr);
    return absl::FailedPreconditionError(absl::StrCat(
        "C_Initialize on '", module_path, "' returned CKR_OK: the Hsm had not initialized it"));
  }
  if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    return RvToStatus("C_Initialize", rv, module_path);
  }

  CK_ULONG count = 0;
  rv = fn->C_GetSlotList(CK_TRUE, nullptr, &count);
  if (rv != CKR_OK) return RvToStatus("C_GetSlotList", rv);
  std::vector<CK_SLOT_ID> slots(count);
  if (count > 0) {
    rv = fn->C_GetSlotList(CK_TRUE, slots.data(), &count);
    if (rv != CKR_OK) return RvToStatus("C_GetSlotList", rv);
    slots.resize(count);
  }
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info;
    if (fn->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    if (!(info.flags & CKF_TOKEN_INITIALIZED)) continue;
    if (kms::pkcs11::TrimPadded(info.label, sizeof(info.label)) == token_label) {
      return std::unique_ptr<DirectPkcs11>(new DirectPkcs11(fn, slot));
    }
  }
  return absl::NotFoundError(absl::StrCat("no initialized token labelled '", token_label,
                                          "' in module '", module_path, "'"));
}

absl::StatusOr<std::unique_ptr<DirectSession>> DirectPkcs11::OpenSession() const {
  CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
  CK_RV rv =
      fn_->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &handle);
  if (rv != CKR_OK) return RvToStatus("C_OpenSession", rv);
  auto session = std::make_unique<DirectSession>(fn_, handle);
  CK_SESSION_INFO info;
  rv = fn_->C_GetSessionInfo(handle, &info);
  if (rv != CKR_OK) return RvToStatus("C_GetSessionInfo", rv);
  if (info.state != CKS_RW_USER_FUNCTIONS) {
    return absl::FailedPreconditionError(
        absl::StrCat("direct session is in state ", info.state,
                     ", not CKS_RW_USER_FUNCTIONS: the Hsm's login is not visible to it"));
  }
  return session;
}

}  // namespace strongroom::bench
