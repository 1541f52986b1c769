// broker jwks, broker revoke: the key broker's token-signing keys, and an
// admin's withdrawal of a token.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "cli/command.h"
#include "cli/io.h"
#include "nlohmann/json.hpp"

namespace strongroom::cli {
namespace {

namespace v1 = ::strongroom::v1;

absl::Status Jwks(Invocation& inv) {
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::GetJwksResponse r, conn->GetJwks(v1::GetJwksRequest()));
  nlohmann::json j = nlohmann::json::parse(r.jwks_json(), nullptr, /*allow_exceptions=*/false);
  std::string text = j.is_discarded() ? r.jwks_json() : j.dump(2);
  return WriteOutput("out", inv.options().Flag("out").value_or("-"), text + "\n");
}

// An admin withdraws a token before it expires: the next release with it
// is refused (token_revoked).
absl::Status Revoke(Invocation& inv) {
  const std::string id = inv.arg(0);
  if (id.size() != 32 || id.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return UsageError(
        absl::StrCat("TOKEN_ID: '", id, "' is not a token id (the token's jti: 32 hex digits)"));
  }
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  v1::RevokeTokenRequest r;
  r.set_token_id(id);
  RETURN_IF_ERROR(conn->RevokeToken(r).status());
  if (inv.json()) {
    std::fprintf(stdout, "%s\n",
                 nlohmann::json({{"token_id", id}, {"revoked", true}}).dump().c_str());
  } else {
    std::fprintf(stdout, "revoked token %s\n", id.c_str());
  }
  return absl::OkStatus();
}

}  // namespace

// clang-format off
std::vector<Command> BrokerCommands() {
  return {
      {"broker jwks", "[--out FILE]",
       "the broker's token-signing public keys (JWKS), to verify attestation tokens",
       0, 0, {"out"}, {}, Jwks},
      {"broker revoke", "TOKEN_ID",
       "withdraw an attestation token before it expires (admin; its jti)", 1, 1, {}, {},
       Revoke},
  };
}
// clang-format on

}  // namespace strongroom::cli
