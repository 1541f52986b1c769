// In-process control of the fault-injecting PKCS#11 module, for tests.
//
//   ASSERT_OK_AND_ASSIGN(auto faults, FaultInjector::Load());
//   ASSERT_OK(faults->Configure("fail C_Encrypt CKR_DEVICE_ERROR count=1"));
//   ... drive code that loaded SoftHsmToken::FaultModulePath() ...
//   EXPECT_EQ(faults->Injected(), 1);
//
// Load() dlopen()s the module at SoftHsmToken::FaultModulePath(); the dynamic
// loader hands back the instance that the code under test loaded from the same
// path, so the rules set here apply to it. The rule grammar and counter
// semantics are in hsm-sim/fault_control.h.
//
// Thread-safety: all methods may be called from any thread (the module locks).
// Move-only; the destructor drops this object's reference on the module.
#ifndef STRONGROOM_HSM_SIM_TESTING_FAULT_INJECTOR_H_
#define STRONGROOM_HSM_SIM_TESTING_FAULT_INJECTOR_H_

#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "hsm-sim/fault_control.h"

namespace strongroom::hsm_sim {

class FaultInjector {
 public:
  // Returns Internal naming the path or symbol when the module cannot be
  // loaded or lacks a control function.
  static absl::StatusOr<std::unique_ptr<FaultInjector>> Load();

  FaultInjector(const FaultInjector&) = delete;
  FaultInjector& operator=(const FaultInjector&) = delete;
  ~FaultInjector();

  // Replaces the programmatic rules. InvalidArgument (rules unchanged) when
  // `spec` does not parse; the module names the bad token on stderr.
  absl::Status Configure(std::string_view spec) const;
  // Drops the programmatic rules and zeroes the call and fault counters.
  void Clear() const;
  long OpenSessions() const;
  // Calls of `fn` (e.g. "C_Encrypt"); -1 for an unknown name.
  long Calls(std::string_view fn) const;
  long Injected() const;

 private:
  FaultInjector() = default;

  void* handle_ = nullptr;
  strongroom_fault_configure_fn configure_ = nullptr;
  strongroom_fault_clear_fn clear_ = nullptr;
  strongroom_fault_open_sessions_fn open_sessions_ = nullptr;
  strongroom_fault_calls_fn calls_ = nullptr;
  strongroom_fault_injected_fn injected_ = nullptr;
};

}  // namespace strongroom::hsm_sim

#endif  // STRONGROOM_HSM_SIM_TESTING_FAULT_INJECTOR_H_
