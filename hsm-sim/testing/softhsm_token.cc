#include "hsm-sim/testing/softhsm_token.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace strongroom::hsm_sim {
namespace {

void RemoveTree(const std::string& dir) {
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

// Runs `argv` with stdout captured (stderr inherited) and returns stdout.
// Fails when the program cannot be started or does not exit with status 0.
absl::StatusOr<std::string> RunCapturingStdout(
    const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(
        absl::StrCat("pipe2 failed: ", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  std::vector<char*> args;
  for (const std::string& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawn_error =
      posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (spawn_error != 0) {
    close(fds[0]);
    return absl::InternalError(absl::StrCat("cannot start ", argv[0], ": ",
                                            std::strerror(spawn_error)));
  }
  std::string out;
  char buf[4096];
  while (true) {
    const ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(
          absl::StrCat("waitpid failed: ", std::strerror(errno)));
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(
        argv[1], " failed (",
        WIFEXITED(status) ? absl::StrCat("exit status ", WEXITSTATUS(status))
                          : absl::StrCat("signal ", WTERMSIG(status)),
        "); see stderr"));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SoftHsmToken>> SoftHsmToken::Create(
    std::string_view label_view) {
  // Debian's absl::string_view is not std::string_view: keep a std::string.
  const std::string label(label_view);
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = absl::StrCat(
      tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/strongroom-hsm-XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create a temporary directory from '", templ,
                     "': ", std::strerror(errno)));
  }
  std::string dir = std::move(templ);

  absl::StatusOr<std::string> out = RunCapturingStdout(
      {"bash", ProvisionScriptPath(), "--dir", dir, "--label", label});
  if (!out.ok()) {
    RemoveTree(dir);
    return absl::InternalError(absl::StrCat("provisioning token '", label,
                                            "' in ", dir, ": ",
                                            out.status().message()));
  }
  // The script's last SOFTHSM2_CONF= line names the configuration.
  std::string conf_path;
  std::istringstream lines(*out);
  for (std::string line; std::getline(lines, line);) {
    constexpr std::string_view kPrefix = "SOFTHSM2_CONF=";
    if (line.compare(0, kPrefix.size(), kPrefix) == 0) {
      conf_path = line.substr(kPrefix.size());
    }
  }
  if (conf_path.empty()) {
    RemoveTree(dir);
    return absl::InternalError(
        absl::StrCat("provisioning token '", label, "' in ", dir,
                     ": the script printed no SOFTHSM2_CONF= line"));
  }

  std::optional<std::string> previous;
  if (const char* old = std::getenv("SOFTHSM2_CONF")) previous = old;
  if (setenv("SOFTHSM2_CONF", conf_path.c_str(), /*overwrite=*/1) != 0) {
    RemoveTree(dir);
    return absl::InternalError(
        absl::StrCat("setenv(SOFTHSM2_CONF) failed: ", std::strerror(errno)));
  }
  return std::unique_ptr<SoftHsmToken>(new SoftHsmToken(
      std::move(dir), label, std::move(conf_path), std::move(previous)));
}

SoftHsmToken::SoftHsmToken(std::string dir, std::string label,
                           std::string conf_path,
                           std::optional<std::string> previous_conf)
    : dir_(std::move(dir)),
      label_(std::move(label)),
      conf_path_(std::move(conf_path)),
      pin_file_(dir_ + "/user.pin"),
      previous_conf_(std::move(previous_conf)) {}

SoftHsmToken::~SoftHsmToken() {
  if (previous_conf_.has_value()) {
    setenv("SOFTHSM2_CONF", previous_conf_->c_str(), /*overwrite=*/1);
  } else {
    unsetenv("SOFTHSM2_CONF");
  }
  RemoveTree(dir_);
}

std::string SoftHsmToken::user_pin() const {
  std::ifstream in(pin_file_);
  if (!in) return std::string();
  std::ostringstream pin;
  pin << in.rdbuf();
  return pin.str();
}

std::string SoftHsmToken::SoftHsmModulePath() {
  return STRONGROOM_SOFTHSM_MODULE;
}

std::string SoftHsmToken::FaultModulePath() { return STRONGROOM_FAULT_MODULE; }

std::string SoftHsmToken::ProvisionScriptPath() {
  return STRONGROOM_PROVISION_SCRIPT;
}

}  // namespace strongroom::hsm_sim
