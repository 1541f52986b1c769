// DirectPkcs11: bare PKCS#11 access to a module and token that an Hsm (the
// layer under test) has already loaded, initialized and logged in to, so that
// the benchmark can time the same operations without the layer.
//
// A PKCS#11 module is initialized once per process, so Attach() does not load
// a second copy: it takes the already mapped library (dlopen RTLD_NOLOAD,
// NotFound when it is not loaded), asks it for its function list and calls
// C_Initialize, expecting CKR_CRYPTOKI_ALREADY_INITIALIZED. Login state is per
// application, so sessions opened here are in the user state; OpenSession()
// fails with FailedPrecondition when they are not.
//
// Object handles are shared across the sessions of the application: handles
// of the Hsm's session keys (KeyHandle::handle) work in these sessions.
//
// Lifetime and thread-safety: the Hsm must outlive this object and every
// DirectSession (its destructor finalizes the module). DirectPkcs11 never
// finalizes or unloads the module. Distinct DirectSessions may be used from
// distinct threads (the module was initialized with CKF_OS_LOCKING_OK); one
// DirectSession belongs to one thread at a time.
#ifndef STRONGROOM_BENCH_DIRECT_PKCS11_H_
#define STRONGROOM_BENCH_DIRECT_PKCS11_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kms/pkcs11/cryptoki.h"

namespace strongroom::bench {

// One R/W user session; closed by the destructor.
class DirectSession {
 public:
  DirectSession(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE handle) : fn_(fn), handle_(handle) {}
  ~DirectSession() { fn_->C_CloseSession(handle_); }
  DirectSession(const DirectSession&) = delete;
  DirectSession& operator=(const DirectSession&) = delete;

  CK_FUNCTION_LIST* fn() const { return fn_; }
  CK_SESSION_HANDLE handle() const { return handle_; }

 private:
  CK_FUNCTION_LIST* const fn_;
  const CK_SESSION_HANDLE handle_;
};

class DirectPkcs11 {
 public:
  static absl::StatusOr<std::unique_ptr<DirectPkcs11>> Attach(const std::string& module_path,
                                                              const std::string& token_label);

  CK_FUNCTION_LIST* fn() const { return fn_; }
  CK_SLOT_ID slot() const { return slot_; }

  absl::StatusOr<std::unique_ptr<DirectSession>> OpenSession() const;

 private:
  DirectPkcs11(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot) : fn_(fn), slot_(slot) {}

  CK_FUNCTION_LIST* const fn_;
  const CK_SLOT_ID slot_;
};

}  // namespace strongroom::bench

#endif  // STRONGROOM_BENCH_DIRECT_PKCS11_H_
