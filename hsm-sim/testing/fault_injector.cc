#include "hsm-sim/testing/fault_injector.h"

#include <dlfcn.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "hsm-sim/testing/softhsm_token.h"

namespace strongroom::hsm_sim {
namespace {

template <typename Fn>
absl::Status Resolve(void* handle, const char* name, Fn& out) {
  out = reinterpret_cast<Fn>(dlsym(handle, name));
  if (out == nullptr) {
    return absl::InternalError(
        absl::StrCat("fault module lacks ", name, ": ", dlerror()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<FaultInjector>> FaultInjector::Load() {
  const std::string path = SoftHsmToken::FaultModulePath();
  std::unique_ptr<FaultInjector> injector(new FaultInjector());
  injector->handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (injector->handle_ == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot load fault module '", path, "': ", dlerror()));
  }
  void* h = injector->handle_;
  for (absl::Status s :
       {Resolve(h, "strongroom_fault_configure", injector->configure_),
        Resolve(h, "strongroom_fault_clear", injector->clear_),
        Resolve(h, "strongroom_fault_open_sessions", injector->open_sessions_),
        Resolve(h, "strongroom_fault_calls", injector->calls_),
        Resolve(h, "strongroom_fault_injected", injector->injected_)}) {
    if (!s.ok()) return s;
  }
  return injector;
}

FaultInjector::~FaultInjector() {
  if (handle_ != nullptr) dlclose(handle_);
}

absl::Status FaultInjector::Configure(std::string_view spec) const {
  const std::string text(spec);
  if (configure_(text.c_str()) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("fault spec rejected: '", text, "'"));
  }
  return absl::OkStatus();
}

void FaultInjector::Clear() const { clear_(); }

long FaultInjector::OpenSessions() const { return open_sessions_(); }

long FaultInjector::Calls(std::string_view fn) const {
  return calls_(std::string(fn).c_str());
}

long FaultInjector::Injected() const { return injected_(); }

}  // namespace strongroom::hsm_sim
