// strongroom: the command-line client.
//
//   strongroom [global flags] status
//   strongroom [global flags] hsm check [--payload-bytes N]
//
// Exit status: 0 success, 1 the operation failed or was refused, 2 usage or
// unreadable input. --json prints machine-readable output; the default is a
// readable table. See cli/cli_options.h for the global flags.
#include <cstdio>
#include <iostream>
#include <string>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "cli/cli_options.h"
#include "client/connection.h"

namespace strongroom::cli {
namespace {

constexpr int kOk = 0, kFailed = 1, kUsage = 2;

int Usage() {
  std::fprintf(stderr,
               "usage: strongroom [--server ADDR --ca FILE --cert FILE --key FILE | "
               "--config FILE] [--json] COMMAND\n"
               "commands:\n"
               "  status                       server, caller identity, HSM and storage\n"
               "  hsm check [--payload-bytes N] run key operations inside the HSM\n");
  return kUsage;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "strongroom: %s\n", std::string(s.message()).c_str());
  // Errors before any RPC (bad flags, unreadable files) are usage errors.
  return s.code() == absl::StatusCode::kInvalidArgument ||
                 s.code() == absl::StatusCode::kNotFound
             ? kUsage
             : kFailed;
}

void PrintJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.always_print_primitive_fields = true;
  opts.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  std::cout << out;
}

int Status(client::Connection& conn, const CliOptions& o) {
  auto r = conn.GetStatus();
  if (!r.ok()) return Fail(r.status());
  if (o.json) {
    PrintJson(*r);
    return kOk;
  }
  std::cout << absl::StrFormat(
      "server     strongroomd %s, up %ds\n"
      "caller     %s (role: %s)\n"
      "hsm        token '%s' (%s %s, serial %s), module %s\n"
      "           %d open sessions, generation %d, %d recoveries\n"
      "storage    %s (~%d records)\n",
      r->version(), r->uptime_seconds(), r->principal(), r->role(), r->hsm().token_label(),
      r->hsm().manufacturer(), r->hsm().model(), r->hsm().serial(), r->hsm().module(),
      r->hsm().open_sessions(), r->hsm().generation(), r->hsm().recoveries(),
      r->storage().path(), r->storage().estimated_keys());
  return kOk;
}

int HsmCheck(client::Connection& conn, const CliOptions& o) {
  uint32_t payload = 4096;
  if (auto it = o.flags.find("payload-bytes"); it != o.flags.end() &&
                                                !absl::SimpleAtoi(it->second, &payload)) {
    std::fprintf(stderr, "strongroom: --payload-bytes: '%s' is not a number\n",
                 it->second.c_str());
    return kUsage;
  }
  auto r = conn.CheckHsm(payload);
  if (!r.ok()) return Fail(r.status());
  if (o.json) {
    PrintJson(*r);
  } else {
    for (const auto& step : r->steps()) {
      std::cout << absl::StrFormat("%-26s %-4s %9.1f us  %s\n", step.name(),
                                   step.ok() ? "ok" : "FAIL", step.micros(), step.detail());
    }
    std::cout << (r->ok() ? "HSM check passed\n" : "HSM check FAILED\n");
  }
  return r->ok() ? kOk : kFailed;
}

int Main(int argc, char** argv) {
  auto options = ParseCliOptions(argc, argv);
  if (!options.ok()) return Fail(options.status());
  const auto& words = options->positional;
  if (words.empty()) return Usage();
  bool known = words[0] == "status" || (words[0] == "hsm" && words.size() > 1 && words[1] == "check");
  if (!known) {
    std::fprintf(stderr, "strongroom: unknown command '%s'\n", words[0].c_str());
    return Usage();
  }
  auto conn = client::Connection::Open(options->connection);
  if (!conn.ok()) return Fail(conn.status());
  if (words[0] == "status") return Status(**conn, *options);
  return HsmCheck(**conn, *options);
}

}  // namespace
}  // namespace strongroom::cli

int main(int argc, char** argv) { return strongroom::cli::Main(argc, argv); }
