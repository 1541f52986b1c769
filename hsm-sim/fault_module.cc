// A PKCS#11 v2.40 module that forwards every call to a real module and fails
// or delays calls on demand. Contract, rule grammar and thread-safety are in
// hsm-sim/fault_control.h.
//
// Only C_GetFunctionList and the strongroom_fault_* functions are exported
// (the library is built with hidden visibility): the forwarders are reached
// through the function list alone, so they can never interpose on the real
// module's own C_* symbols.
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hsm-sim/fault_control.h"
#include "hsm-sim/fault_spec.h"

#ifndef STRONGROOM_SOFTHSM_MODULE
#define STRONGROOM_SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#endif

#define STRONGROOM_EXPORT __attribute__((visibility("default")))

namespace strongroom::hsm_sim {
namespace {

constexpr char kLogPrefix[] = "strongroom-fault: ";

void Report(const std::string& line) {
  std::fprintf(stderr, "%s%s\n", kLogPrefix, line.c_str());
}

// What the rules decided for one call.
struct Decision {
  bool inject = false;
  CK_RV rv = CKR_OK;
  bool after_call = false;  // forward first, then report rv
  uint64_t latency_us = 0;
};

// Identity of the rule file as last seen, so a change triggers a re-read.
struct FileStamp {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;

  bool operator==(const FileStamp&) const = default;
};

// All mutable state of the module. One instance per process, never destroyed
// (a PKCS#11 module may be called during static destruction of its host).
class FaultState {
 public:
  static FaultState& Get() {
    static FaultState* const state = new FaultState();
    return *state;
  }

  // Loads the real module once. Returns its list, or null after reporting why.
  CK_FUNCTION_LIST_PTR LoadTarget(CK_FUNCTION_LIST_PTR self) {
    std::lock_guard<std::mutex> lock(load_mu_);
    if (CK_FUNCTION_LIST_PTR real = real_.load()) return real;
    const char* env = std::getenv("STRONGROOM_FAULT_TARGET");
    const std::string path =
        env != nullptr && *env != '\0' ? env : STRONGROOM_SOFTHSM_MODULE;
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      Report("cannot load target module '" + path + "': " + dlerror());
      return nullptr;
    }
    auto get_list = reinterpret_cast<CK_C_GetFunctionList>(
        dlsym(handle, "C_GetFunctionList"));
    CK_FUNCTION_LIST_PTR list = nullptr;
    if (get_list == nullptr) {
      Report("target module '" + path + "' has no C_GetFunctionList");
    } else if (CK_RV rv = get_list(&list); rv != CKR_OK || list == nullptr) {
      Report("C_GetFunctionList of target module '" + path + "' failed: 0x" +
             Hex(rv));
      list = nullptr;
    } else if (list == self) {
      Report("target module '" + path + "' is the fault module itself");
      list = nullptr;
    }
    if (list == nullptr) {
      dlclose(handle);
      return nullptr;
    }
    // The handle is kept for the life of the process, like the state.
    real_.store(list);
    return list;
  }

  CK_FUNCTION_LIST_PTR real() const { return real_.load(); }

  // Re-reads STRONGROOM_FAULT_SPEC and STRONGROOM_FAULT_FILE (at C_Initialize).
  void ReloadEnvironment() {
    const char* spec = std::getenv("STRONGROOM_FAULT_SPEC");
    const char* file = std::getenv("STRONGROOM_FAULT_FILE");
    ParsedFaultSpec parsed = ParseFaultSpec(spec != nullptr ? spec : "");
    for (const std::string& error : parsed.errors) {
      Report(error + " (in STRONGROOM_FAULT_SPEC)");
    }
    std::lock_guard<std::mutex> lock(mu_);
    env_rules_ = std::move(parsed.rules);
    const std::string new_path = file != nullptr ? file : "";
    if (new_path != file_path_) {
      file_path_ = new_path;
      file_stamp_ = FileStamp();
      file_rules_.clear();
    }
  }

  // Counts the call and applies the rules to it.
  Decision Decide(Pkcs11Fn fn) {
    std::lock_guard<std::mutex> lock(mu_);
    RefreshFileLocked();
    ++calls_[static_cast<int>(fn)];
    Decision decision;
    for (std::vector<FaultRule>* rules :
         {&env_rules_, &file_rules_, &api_rules_}) {
      for (FaultRule& rule : *rules) {
        if (!rule.Matches(fn)) continue;
        if (rule.kind == FaultRule::Kind::kLatency) {
          decision.latency_us += rule.latency_us;
          continue;
        }
        if (rule.remaining == 0) continue;  // expired
        ++rule.seen;
        if (decision.inject || rule.seen <= rule.pass_first) continue;
        decision.inject = true;
        decision.rv = rule.rv;
        decision.after_call = rule.after_call;
        if (rule.remaining > 0) --rule.remaining;
      }
    }
    if (decision.inject) ++injected_;
    return decision;
  }

  void CountCall(Pkcs11Fn fn) {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_[static_cast<int>(fn)];
  }

  int Configure(const char* spec) {
    ParsedFaultSpec parsed = ParseFaultSpec(spec != nullptr ? spec : "");
    if (!parsed.errors.empty()) {
      for (const std::string& error : parsed.errors) Report(error);
      return -1;
    }
    std::lock_guard<std::mutex> lock(mu_);
    api_rules_ = std::move(parsed.rules);
    return 0;
  }

  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    api_rules_.clear();
    calls_.fill(0);
    injected_ = 0;
  }

  void SessionOpened(CK_SLOT_ID slot, CK_SESSION_HANDLE session) {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_[slot].insert(session);
  }

  void SessionClosed(CK_SESSION_HANDLE session) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [slot, handles] : sessions_) handles.erase(session);
  }

  void AllSessionsClosed(CK_SLOT_ID slot) {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.erase(slot);
  }

  void Finalized() {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.clear();
  }

  long OpenSessions() {
    std::lock_guard<std::mutex> lock(mu_);
    long total = 0;
    for (const auto& [slot, handles] : sessions_) {
      total += static_cast<long>(handles.size());
    }
    return total;
  }

  long Calls(const char* name) {
    if (name == nullptr) return -1;
    const std::optional<Pkcs11Fn> fn = Pkcs11FnFromName(name);
    if (!fn) return -1;
    std::lock_guard<std::mutex> lock(mu_);
    return calls_[static_cast<int>(*fn)];
  }

  long Injected() {
    std::lock_guard<std::mutex> lock(mu_);
    return injected_;
  }

  static std::string Hex(CK_RV rv) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%lx", static_cast<unsigned long>(rv));
    return buf;
  }

 private:
  FaultState() = default;

  // Re-parses the rule file when it appeared, vanished or changed.
  void RefreshFileLocked() {
    if (file_path_.empty()) return;
    FileStamp stamp;
    struct stat st;
    if (stat(file_path_.c_str(), &st) == 0) {
      stamp.exists = true;
      stamp.dev = st.st_dev;
      stamp.ino = st.st_ino;
      stamp.size = st.st_size;
      stamp.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                       st.st_mtim.tv_nsec;
    } else if (errno != ENOENT && errno != ENOTDIR) {
      // Unreadable for another reason: keep the last rules, retry next call.
      return;
    }
    if (stamp == file_stamp_) return;
    file_stamp_ = stamp;
    file_rules_.clear();
    if (!stamp.exists) return;
    std::ifstream in(file_path_);
    if (!in) {
      Report("cannot read STRONGROOM_FAULT_FILE '" + file_path_ +
             "': " + std::strerror(errno));
      return;
    }
    std::ostringstream text;
    text << in.rdbuf();
    ParsedFaultSpec parsed = ParseFaultSpec(text.str());
    for (const std::string& error : parsed.errors) {
      Report(error + " (in " + file_path_ + ")");
    }
    file_rules_ = std::move(parsed.rules);
  }

  std::mutex load_mu_;  // serialises LoadTarget
  std::atomic<CK_FUNCTION_LIST_PTR> real_{nullptr};

  std::mutex mu_;  // guards everything below
  std::vector<FaultRule> env_rules_;
  std::vector<FaultRule> file_rules_;
  std::vector<FaultRule> api_rules_;
  std::string file_path_;
  FileStamp file_stamp_;
  std::array<long, kPkcs11FnCount> calls_{};
  long injected_ = 0;
  std::map<CK_SLOT_ID, std::set<CK_SESSION_HANDLE>> sessions_;
};

// Session accounting after a successful real call; the signatures pick the
// arguments out of the forwarded parameter packs.
void AfterOpenSession(FaultState& state, CK_SLOT_ID slot, CK_FLAGS, CK_VOID_PTR,
                      CK_NOTIFY, CK_SESSION_HANDLE_PTR session) {
  if (session != nullptr) state.SessionOpened(slot, *session);
}
void AfterCloseSession(FaultState& state, CK_SESSION_HANDLE session) {
  state.SessionClosed(session);
}
void AfterCloseAllSessions(FaultState& state, CK_SLOT_ID slot) {
  state.AllSessionsClosed(slot);
}
void AfterFinalize(FaultState& state, CK_VOID_PTR) { state.Finalized(); }

// One forwarder per function, instantiated by the X-macro list below.
// kMember is the function's slot in CK_FUNCTION_LIST; Sig its pointer type.
template <Pkcs11Fn kFn, auto kMember, typename Sig>
struct Forwarder;

template <Pkcs11Fn kFn, auto kMember, typename... Args>
struct Forwarder<kFn, kMember, CK_RV (*)(Args...)> {
  static CK_RV Call(Args... args) {
    FaultState& state = FaultState::Get();
    if constexpr (kFn == Pkcs11Fn::kC_Initialize) state.ReloadEnvironment();
    const Decision decision = state.Decide(kFn);
    if (decision.latency_us > 0) {
      std::this_thread::sleep_for(
          std::chrono::microseconds(decision.latency_us));
    }
    if (decision.inject && !decision.after_call) return decision.rv;
    CK_FUNCTION_LIST_PTR real = state.real();
    if (real == nullptr) return CKR_GENERAL_ERROR;
    const auto target = real->*kMember;
    if (target == nullptr) return CKR_FUNCTION_NOT_SUPPORTED;
    const CK_RV rv = target(args...);
    if (rv == CKR_OK) {
      if constexpr (kFn == Pkcs11Fn::kC_OpenSession) {
        AfterOpenSession(state, args...);
      } else if constexpr (kFn == Pkcs11Fn::kC_CloseSession) {
        AfterCloseSession(state, args...);
      } else if constexpr (kFn == Pkcs11Fn::kC_CloseAllSessions) {
        AfterCloseAllSessions(state, args...);
      } else if constexpr (kFn == Pkcs11Fn::kC_Finalize) {
        AfterFinalize(state, args...);
      }
    }
    // The module did the work, but its caller hears of a failure (an answer
    // lost on the way back).
    if (decision.inject) return decision.rv;
    return rv;
  }
};

// Checks that the X-macro list names every slot of CK_FUNCTION_LIST.
static_assert(sizeof(CK_FUNCTION_LIST) ==
                  offsetof(CK_FUNCTION_LIST, C_Initialize) +
                      kPkcs11FnCount * sizeof(void (*)()),
              "STRONGROOM_PKCS11_FUNCTIONS must cover CK_FUNCTION_LIST");

CK_FUNCTION_LIST BuildFunctionList() {
  CK_FUNCTION_LIST list{};
  list.version.major = 2;
  list.version.minor = 40;
#define STRONGROOM_X_(name)                                          \
  list.name = &Forwarder<Pkcs11Fn::k##name, &CK_FUNCTION_LIST::name, \
                         decltype(CK_FUNCTION_LIST::name)>::Call;
  STRONGROOM_PKCS11_FUNCTIONS(STRONGROOM_X_)
#undef STRONGROOM_X_
  // Our own list, not the real module's.
  list.C_GetFunctionList = &::C_GetFunctionList;
  return list;
}

CK_FUNCTION_LIST_PTR FunctionList() {
  static CK_FUNCTION_LIST list = BuildFunctionList();
  return &list;
}

}  // namespace
}  // namespace strongroom::hsm_sim

using strongroom::hsm_sim::FaultState;

extern "C" {

STRONGROOM_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  FaultState& state = FaultState::Get();
  state.CountCall(strongroom::hsm_sim::Pkcs11Fn::kC_GetFunctionList);
  if (list == nullptr) return CKR_ARGUMENTS_BAD;
  CK_FUNCTION_LIST_PTR self = strongroom::hsm_sim::FunctionList();
  if (state.LoadTarget(self) == nullptr) return CKR_GENERAL_ERROR;
  *list = self;
  return CKR_OK;
}

STRONGROOM_EXPORT int strongroom_fault_configure(const char* spec) {
  return FaultState::Get().Configure(spec);
}

STRONGROOM_EXPORT void strongroom_fault_clear(void) {
  FaultState::Get().Clear();
}

STRONGROOM_EXPORT long strongroom_fault_open_sessions(void) {
  return FaultState::Get().OpenSessions();
}

STRONGROOM_EXPORT long strongroom_fault_calls(const char* fn) {
  return FaultState::Get().Calls(fn);
}

STRONGROOM_EXPORT long strongroom_fault_injected(void) {
  return FaultState::Get().Injected();
}

}  // extern "C"
