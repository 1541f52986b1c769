// strongroomd: the Strongroom server.
//
//   strongroomd --config FILE [--port-file FILE]
//
// Disables core dumps first, loads and validates the config (errors name the
// field), connects to the HSM, opens the database and serves gRPC over mutual
// TLS until SIGINT or SIGTERM. --port-file receives the bound port (useful
// with listen port 0).
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/log.h"
#include "base/process.h"
#include "server/config.h"
#include "server/server.h"

namespace {

int Usage() {
  std::fprintf(stderr, "usage: strongroomd --config FILE [--port-file FILE]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace strongroom;
  std::optional<std::string> config_path, port_file;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::optional<std::string>* flag = arg == "--config"      ? &config_path
                                       : arg == "--port-file" ? &port_file
                                                              : nullptr;
    if (flag != nullptr) {
      // Given twice, or empty (an unset variable), is a mistake to name, not
      // a choice to make for the caller.
      if (i + 1 >= argc || argv[i + 1][0] == '\0') {
        std::fprintf(stderr, "strongroomd: %s needs a value\n", arg.c_str());
        return Usage();
      }
      if (flag->has_value()) {
        std::fprintf(stderr, "strongroomd: %s is given twice\n", arg.c_str());
        return Usage();
      }
      *flag = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      Usage();
      return 0;
    } else {
      std::fprintf(stderr, "strongroomd: unknown argument '%s'\n", arg.c_str());
      return Usage();
    }
  }
  if (!config_path.has_value()) {
    std::fprintf(stderr, "strongroomd: --config is required\n");
    return Usage();
  }

  if (absl::Status s = DisableCoreDumps(); !s.ok()) {
    LogError("server.harden_failed", {{"error", std::string(s.message())}});
    return 1;
  }
  // Signals are handled by one thread with sigwait; block them everywhere else.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto config = server::LoadServerConfig(*config_path);
  if (!config.ok()) {
    LogError("server.config_invalid", {{"error", std::string(config.status().message())}});
    return 1;
  }
  LogLevel level;
  if (ParseLogLevel(config->log_level, &level)) SetMinLogLevel(level);
  auto server = server::StrongroomServer::Start(*std::move(config));
  if (!server.ok()) {
    LogError("server.start_failed", {{"error", std::string(server.status().message())}});
    return 1;
  }
  if (port_file.has_value()) {
    // Scripts wait for this file: a server that cannot write it stops.
    if (absl::Status s = strongroom::WriteFileAtomically(
            *port_file, absl::StrCat((*server)->port(), "\n"), 0644, "--port-file");
        !s.ok()) {
      LogError("server.start_failed", {{"error", std::string(s.message())}});
      (*server)->Shutdown();
      (*server)->Wait();
      return 1;
    }
  }
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    LogInfo("server.stopping", {{"signal", strsignal(sig)}});
    (*server)->Shutdown();
  });
  (*server)->Wait();
  waiter.join();
  LogInfo("server.stopped");
  return 0;
}
