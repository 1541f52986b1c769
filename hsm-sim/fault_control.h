// C control API of the fault-injecting PKCS#11 module
// (libstrongroom-fault-pkcs11.so, built from hsm-sim/fault_module.cc).
//
// The module is a PKCS#11 v2.40 module whose 68 functions forward to a real
// module (SoftHSM by default) unless a fault rule says otherwise. Load it like
// any module: dlopen() + C_GetFunctionList(). Tests in the same process reach
// the functions below with dlsym() on the same handle (dlopen of the same path
// returns the same instance); see hsm-sim/testing/fault_control.h for a
// wrapper that does this.
//
// Environment, read by the module:
//   STRONGROOM_FAULT_TARGET  path of the real module; read once, at the first
//                            C_GetFunctionList (default: the SoftHSM module
//                            compiled in).
//   STRONGROOM_FAULT_SPEC    rules; re-read at every C_Initialize.
//   STRONGROOM_FAULT_FILE    a file of rules; its name is re-read at every
//                            C_Initialize, and the file is stat()ed on every
//                            call and re-parsed when its inode, size or mtime
//                            changes (replace it with rename() so a reader
//                            never sees half a file). A missing file means no
//                            rules.
// Rejected rules (env, file) are reported as one line each on stderr, naming
// the bad token, and ignored; the rest of the spec still applies.
//
// Rule grammar (rules separated by ';' or newlines, '#' starts a comment that
// runs to the end of the line, tokens separated by blanks):
//   fail FN RV [count=N]             FN returns RV without reaching the real
//                                    module; with count=N only the next N
//                                    calls fail, then the rule expires.
//   fail_after N FN RV [count=M]     the first N calls of FN (counted from
//                                    when the rule was loaded) pass, later
//                                    ones fail (at most M of them).
//   ... after_call                   (on either fail rule) the call reaches
//                                    the real module and runs there; its
//                                    caller gets RV instead of the real
//                                    result (an answer lost on the way back:
//                                    the object may exist, the session may
//                                    be logged in).
//   latency_us FN MICROS             sleeps MICROS before FN runs (before an
//                                    injected failure too).
//   FN: a v2.40 function name (C_Encrypt, ...) or `*` for every function but
//       C_GetFunctionList, C_Initialize, C_Finalize and C_GetInfo.
//       C_GetFunctionList cannot be faulted.
//   RV: a CKR_ name (CKR_DEVICE_ERROR), hex (0x30) or decimal; not CKR_OK.
// Rules are consulted in order: environment, file, then programmatic. Every
// matching latency rule adds its delay; the first matching `fail` rule that is
// due decides the result. Each rule counts the calls of FN it has seen.
//
// An injected failure (without after_call) never reaches the real module, so an operation begun
// there stays active: after C_EncryptInit passes and C_Encrypt is failed, the
// session still has the encrypt operation (SoftHSM 2.6.1 offers no way to
// cancel it from outside), where a real token would have ended it. A caller
// that retries C_EncryptInit on that session gets CKR_OPERATION_ACTIVE. To
// test retry paths, fail the *Init call, or have the caller use a new session.
//
// Session accounting: a session counts as open after C_OpenSession succeeds in
// the real module, and stops counting after C_CloseSession succeeds for its
// handle, after C_CloseAllSessions succeeds for its slot, or after C_Finalize
// succeeds. Injected failures never change the count.
//
// Thread-safety: every function here and every PKCS#11 entry point may be
// called from any thread. Rules and counters sit behind one mutex; the real
// module is called, and latency slept, outside it.
#ifndef STRONGROOM_HSM_SIM_FAULT_CONTROL_H_
#define STRONGROOM_HSM_SIM_FAULT_CONTROL_H_

#ifdef __cplusplus
extern "C" {
#endif

// Replaces the programmatic rules with `spec` (NULL or "" clears them).
// All or nothing: on a parse error prints the reason to stderr, leaves the
// current rules in place and returns -1; returns 0 on success.
int strongroom_fault_configure(const char* spec);
typedef int (*strongroom_fault_configure_fn)(const char* spec);

// Removes the programmatic rules and zeroes the call and injection counters.
// Rules from the environment and the file stay; session accounting stays.
void strongroom_fault_clear(void);
typedef void (*strongroom_fault_clear_fn)(void);

// Sessions currently open through this module (see above).
long strongroom_fault_open_sessions(void);
typedef long (*strongroom_fault_open_sessions_fn)(void);

// Calls of function `fn` ("C_Encrypt") since load or the last clear, whether
// forwarded or failed by a rule; -1 for a name that is not a v2.40 function.
long strongroom_fault_calls(const char* fn);
typedef long (*strongroom_fault_calls_fn)(const char* fn);

// Faults injected since load or the last clear.
long strongroom_fault_injected(void);
typedef long (*strongroom_fault_injected_fn)(void);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // STRONGROOM_HSM_SIM_FAULT_CONTROL_H_
