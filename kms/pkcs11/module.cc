#include "kms/pkcs11/module.h"

#include <dlfcn.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/pkcs11/errors.h"

namespace strongroom::kms::pkcs11 {

std::string TrimPadded(const unsigned char* field, size_t width) {
  std::string s(reinterpret_cast<const char*>(field), width);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

absl::StatusOr<std::unique_ptr<Pkcs11Module>> Pkcs11Module::Create(
    const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    return absl::NotFoundError(absl::StrCat("cannot load PKCS#11 module '", path,
                                            "': ", err ? err : "unknown error"));
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  if (get_list == nullptr) {
    dlclose(handle);
    return absl::FailedPreconditionError(absl::StrCat(
        "'", path, "' is not a PKCS#11 module: it has no C_GetFunctionList"));
  }
  CK_FUNCTION_LIST* functions = nullptr;
  CK_RV rv = get_list(&functions);
  if (rv != CKR_OK || functions == nullptr) {
    dlclose(handle);
    return RvToStatus("C_GetFunctionList", rv == CKR_OK ? CKR_GENERAL_ERROR : rv, path);
  }
  std::unique_ptr<Pkcs11Module> module(new Pkcs11Module(path, handle, functions));
  RETURN_IF_ERROR(module->Initialize());
  LogInfo("pkcs11.module_loaded",
          {{"module", path},
           {"cryptoki_version", absl::StrCat(functions->version.major, ".",
                                             functions->version.minor)}});
  return module;
}

absl::Status Pkcs11Module::Initialize() {
  CK_C_INITIALIZE_ARGS args = {};
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = functions_->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    return RvToStatus("C_Initialize", rv, path_);
  }
  initialized_ = true;
  return absl::OkStatus();
}

absl::Status Pkcs11Module::Reinitialize() {
  if (initialized_) {
    CK_RV rv = functions_->C_Finalize(nullptr);
    initialized_ = false;
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_NOT_INITIALIZED) {
      LogWarning("pkcs11.finalize_failed", {{"rv", RvName(rv)}, {"module", path_}});
    }
  }
  return Initialize();
}

Pkcs11Module::~Pkcs11Module() {
  if (initialized_) functions_->C_Finalize(nullptr);
  // SoftHSM (and other modules) register atexit handlers and thread-local
  // state; unloading them while the process runs is a known source of crashes,
  // so the library stays mapped until exit.
  (void)handle_;
}

absl::StatusOr<CK_SLOT_ID> Pkcs11Module::FindSlotByTokenLabel(
    const std::string& label) const {
  CK_ULONG count = 0;
  CK_RV rv = functions_->C_GetSlotList(CK_TRUE, nullptr, &count);
  if (rv != CKR_OK) return RvToStatus("C_GetSlotList", rv);
  std::vector<CK_SLOT_ID> slots(count);
  if (count > 0) {
    rv = functions_->C_GetSlotList(CK_TRUE, slots.data(), &count);
    if (rv != CKR_OK) return RvToStatus("C_GetSlotList", rv);
    slots.resize(count);
  }
  std::vector<std::string> seen;
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info;
    if (functions_->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    if (!(info.flags & CKF_TOKEN_INITIALIZED)) continue;
    std::string token_label = TrimPadded(info.label, sizeof(info.label));
    if (token_label == label) return slot;
    seen.push_back(absl::StrCat("'", token_label, "'"));
  }
  return absl::NotFoundError(absl::StrCat(
      "no initialized token labelled '", label, "' in module '", path_,
      "' (tokens present: ", seen.empty() ? "none" : absl::StrJoin(seen, ", "), ")"));
}

}  // namespace strongroom::kms::pkcs11
