// A SoftHSM token provisioned in its own temporary directory, for one test.
//
//   ASSERT_OK_AND_ASSIGN(auto token, SoftHsmToken::Create("my-test"));
//   // Load SoftHsmToken::SoftHsmModulePath() (or FaultModulePath()), find the
//   // slot whose token label is token->label(), log in with
//   // token->user_pin().
//
// Create() runs hsm-sim/provision-token.sh and points the process-wide
// environment variable SOFTHSM2_CONF at the new token's configuration;
// SoftHSM reads it at C_Initialize, so create the token before initialising
// the module (C_Finalize and C_Initialize again to switch tokens). The
// destructor restores SOFTHSM2_CONF to its earlier value and deletes the
// directory with everything in it; finalise the module first.
//
// Thread-safety: Create() and the destructor call setenv(), which races with
// any concurrent getenv(): use them on the test's main thread, before or after
// the threads that use the token. The accessors are const and safe to call
// from any thread. Not copyable or movable (hold it by unique_ptr).
#ifndef STRONGROOM_HSM_SIM_TESTING_SOFTHSM_TOKEN_H_
#define STRONGROOM_HSM_SIM_TESTING_SOFTHSM_TOKEN_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace strongroom::hsm_sim {

class SoftHsmToken {
 public:
  // Creates a directory under $TMPDIR (or /tmp) and provisions a token with
  // `label` (at most 32 bytes) and random PINs in it. Returns Internal naming
  // the step and the directory when the directory cannot be made or the
  // script fails (its diagnostics go to this process's stderr).
  static absl::StatusOr<std::unique_ptr<SoftHsmToken>> Create(
      std::string_view label = "strongroom-test");

  SoftHsmToken(const SoftHsmToken&) = delete;
  SoftHsmToken& operator=(const SoftHsmToken&) = delete;
  ~SoftHsmToken();

  const std::string& dir() const { return dir_; }
  const std::string& label() const { return label_; }
  // DIR/softhsm2.conf, the value SOFTHSM2_CONF now has.
  const std::string& conf_path() const { return conf_path_; }
  // DIR/user.pin: the user PIN, mode 0600, no trailing newline.
  const std::string& pin_file() const { return pin_file_; }
  // The user PIN read from pin_file(); empty if it cannot be read. For tests
  // only: production code hands the file, not the PIN, around.
  std::string user_pin() const;

  // The real SoftHSM module (STRONGROOM_SOFTHSM_MODULE at build time).
  static std::string SoftHsmModulePath();
  // Absolute path of libstrongroom-fault-pkcs11.so in the build tree; it
  // forwards to SoftHSM (see hsm-sim/fault_control.h).
  static std::string FaultModulePath();
  // hsm-sim/provision-token.sh in the source tree.
  static std::string ProvisionScriptPath();

 private:
  SoftHsmToken(std::string dir, std::string label, std::string conf_path,
               std::optional<std::string> previous_conf);

  std::string dir_;
  std::string label_;
  std::string conf_path_;
  std::string pin_file_;
  std::optional<std::string> previous_conf_;  // SOFTHSM2_CONF before Create
};

}  // namespace strongroom::hsm_sim

#endif  // STRONGROOM_HSM_SIM_TESTING_SOFTHSM_TOKEN_H_
