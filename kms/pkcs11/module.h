// Pkcs11Module: one dlopen()ed PKCS#11 library and its function list.
//
// Create() loads the shared object at `path`, resolves C_GetFunctionList and
// calls C_Initialize with CKF_OS_LOCKING_OK (the module may be called from many
// threads). Reinitialize() runs C_Finalize then C_Initialize on the same
// library: every session and object handle of the module becomes invalid.
// The destructor finalizes and unloads.
//
// Thread-safety: functions() may be called concurrently; Reinitialize() must
// not run concurrently with calls into the module (the Hsm class serializes
// this with a reader/writer lock).
#ifndef STRONGROOM_KMS_PKCS11_MODULE_H_
#define STRONGROOM_KMS_PKCS11_MODULE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kms/pkcs11/cryptoki.h"

namespace strongroom::kms::pkcs11 {

class Pkcs11Module {
 public:
  // NotFound when the file cannot be loaded, FailedPrecondition when it is not
  // a PKCS#11 module, the CK_RV status when C_Initialize fails.
  static absl::StatusOr<std::unique_ptr<Pkcs11Module>> Create(const std::string& path);
  ~Pkcs11Module();
  Pkcs11Module(const Pkcs11Module&) = delete;
  Pkcs11Module& operator=(const Pkcs11Module&) = delete;

  CK_FUNCTION_LIST* functions() const { return functions_; }
  const std::string& path() const { return path_; }

  absl::Status Reinitialize();

  // Slot id of the initialized token whose label equals `label` (labels are
  // blank-padded to 32 bytes in CK_TOKEN_INFO). NotFound lists the labels seen.
  absl::StatusOr<CK_SLOT_ID> FindSlotByTokenLabel(const std::string& label) const;

 private:
  Pkcs11Module(std::string path, void* handle, CK_FUNCTION_LIST* functions)
      : path_(std::move(path)), handle_(handle), functions_(functions) {}
  absl::Status Initialize();

  std::string path_;
  void* handle_;
  CK_FUNCTION_LIST* functions_;
  bool initialized_ = false;
};

// Trims the blank padding of a fixed-width PKCS#11 text field.
std::string TrimPadded(const unsigned char* field, size_t width);

}  // namespace strongroom::kms::pkcs11

#endif  // STRONGROOM_KMS_PKCS11_MODULE_H_
