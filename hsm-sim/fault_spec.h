// Fault rules of the fault-injecting PKCS#11 module and their text form.
//
// Internal to the module (libstrongroom-fault-pkcs11.so): no dependency beyond
// the C++ standard library and the PKCS#11 header, so the module can be loaded
// into any process. The grammar is documented in hsm-sim/fault_control.h.
//
// Thread-safety: the functions here are pure; a FaultRule carries mutable
// match state (`seen`, `remaining`) that its owner guards.
#ifndef STRONGROOM_HSM_SIM_FAULT_SPEC_H_
#define STRONGROOM_HSM_SIM_FAULT_SPEC_H_

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// clang-format off
// The 68 functions of a PKCS#11 v2.40 CK_FUNCTION_LIST, in list order.
#define STRONGROOM_PKCS11_FUNCTIONS(X)                                        \
  X(C_Initialize) X(C_Finalize) X(C_GetInfo) X(C_GetFunctionList)             \
  X(C_GetSlotList) X(C_GetSlotInfo) X(C_GetTokenInfo) X(C_GetMechanismList)   \
  X(C_GetMechanismInfo) X(C_InitToken) X(C_InitPIN) X(C_SetPIN)               \
  X(C_OpenSession) X(C_CloseSession) X(C_CloseAllSessions)                    \
  X(C_GetSessionInfo) X(C_GetOperationState) X(C_SetOperationState)           \
  X(C_Login) X(C_Logout) X(C_CreateObject) X(C_CopyObject)                    \
  X(C_DestroyObject) X(C_GetObjectSize) X(C_GetAttributeValue)                \
  X(C_SetAttributeValue) X(C_FindObjectsInit) X(C_FindObjects)                \
  X(C_FindObjectsFinal) X(C_EncryptInit) X(C_Encrypt) X(C_EncryptUpdate)      \
  X(C_EncryptFinal) X(C_DecryptInit) X(C_Decrypt) X(C_DecryptUpdate)          \
  X(C_DecryptFinal) X(C_DigestInit) X(C_Digest) X(C_DigestUpdate)             \
  X(C_DigestKey) X(C_DigestFinal) X(C_SignInit) X(C_Sign) X(C_SignUpdate)     \
  X(C_SignFinal) X(C_SignRecoverInit) X(C_SignRecover) X(C_VerifyInit)        \
  X(C_Verify) X(C_VerifyUpdate) X(C_VerifyFinal) X(C_VerifyRecoverInit)       \
  X(C_VerifyRecover) X(C_DigestEncryptUpdate) X(C_DecryptDigestUpdate)        \
  X(C_SignEncryptUpdate) X(C_DecryptVerifyUpdate) X(C_GenerateKey)            \
  X(C_GenerateKeyPair) X(C_WrapKey) X(C_UnwrapKey) X(C_DeriveKey)             \
  X(C_SeedRandom) X(C_GenerateRandom) X(C_GetFunctionStatus)                  \
  X(C_CancelFunction) X(C_WaitForSlotEvent)
// clang-format on

namespace strongroom::hsm_sim {

// clang-format off
enum class Pkcs11Fn : int {
#define STRONGROOM_X_(name) k##name,
  STRONGROOM_PKCS11_FUNCTIONS(STRONGROOM_X_)
#undef STRONGROOM_X_
  kCount
};
// clang-format on
inline constexpr int kPkcs11FnCount = static_cast<int>(Pkcs11Fn::kCount);
static_assert(kPkcs11FnCount == 68, "PKCS#11 v2.40 has 68 functions");

// "C_Encrypt" for Pkcs11Fn::kC_Encrypt.
std::string_view Pkcs11FnName(Pkcs11Fn fn);
// Inverse of Pkcs11FnName; nullopt for an unknown name.
std::optional<Pkcs11Fn> Pkcs11FnFromName(std::string_view name);

// True for the functions `*` leaves alone: a module must stay loadable and
// initialisable for any other rule to matter.
bool ExcludedFromWildcard(Pkcs11Fn fn);

struct FaultRule {
  enum class Kind { kFail, kLatency };
  Kind kind = Kind::kFail;
  bool any_fn = false;  // `*`
  Pkcs11Fn fn = Pkcs11Fn::kC_Initialize;
  CK_RV rv = CKR_OK;
  uint64_t pass_first = 0;  // fail_after N
  int64_t remaining = -1;   // count=N; -1 means unlimited, 0 means expired
  bool after_call = false;  // the real module runs the call first
  uint64_t latency_us = 0;
  uint64_t seen = 0;  // calls of a matching function seen so far

  bool Matches(Pkcs11Fn f) const {
    return any_fn ? !ExcludedFromWildcard(f) : fn == f;
  }
};

struct ParsedFaultSpec {
  std::vector<FaultRule> rules;  // the rules that parsed, in order
  // One line per rejected rule, naming the rule and the token at fault.
  std::vector<std::string> errors;
};

// Parses rules separated by ';' or newlines. Blank rules and text from '#'
// to the end of a line are ignored. A rule that fails to parse is left out of
// `rules` and described in `errors`.
ParsedFaultSpec ParseFaultSpec(std::string_view spec);

}  // namespace strongroom::hsm_sim

#endif  // STRONGROOM_HSM_SIM_FAULT_SPEC_H_
