// encrypt, decrypt, datakey, reencrypt. Plaintext (decrypted data, data keys)
// goes only to --out or stdout and is wiped from memory once written; it never
// reaches stderr, which carries errors only.
#include <iostream>

#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/status_macros.h"
#include "cli/command.h"
#include "cli/io.h"
#include "cli/output.h"

namespace strongroom::cli {
namespace {

std::string FlagOr(const CliOptions& o, const std::string& name, const std::string& fallback) {
  return o.Flag(name).value_or(fallback);
}

absl::Status CheckOutFlag(const Invocation& inv, const std::string& out) {
  if (inv.json() && inv.options().Flag("out") && NamesStdout(out)) {
    return UsageError("--out -: stdout already carries the --json output; give a file");
  }
  if (inv.options().Flag("out")) RETURN_IF_ERROR(CheckOutputPath("--out", out));
  // Written whole after the call, --out over --in would replace the input
  // (ciphertext by plaintext, say): refused before anything is sent.
  const std::string in = inv.options().Flag("in").value_or("-");
  if (SameFile(in, out)) {
    return UsageError(absl::StrCat("--out: '", out, "' is the input (--in ",
                                   in == "-" ? "stdin" : in, "); give the output its own file"));
  }
  return absl::OkStatus();
}

// Ciphertext to --out (raw) or, with no --out, base64 on stdout.
absl::Status WriteCiphertext(const CliOptions& o, const std::string& ciphertext) {
  if (auto out = o.Flag("out")) return WriteOutput("out", *out, ciphertext);
  std::cout << Base64Encode(AsBytes(ciphertext)) << "\n";
  return absl::OkStatus();
}

absl::Status Encrypt(Invocation& inv) {
  const CliOptions& o = inv.options();
  const std::string out = FlagOr(o, "out", "");
  RETURN_IF_ERROR(CheckOutFlag(inv, out));
  v1::EncryptRequest req;
  req.set_name(KeyResourceName(inv.arg(0)));
  ASSIGN_OR_RETURN(auto context, KeyValueFlags(o, "context"));
  req.mutable_encryption_context()->insert(context.begin(), context.end());
  ScopedWipe wipe_request(*req.mutable_plaintext());
  ASSIGN_OR_RETURN(*req.mutable_plaintext(), ReadInput("in", FlagOr(o, "in", "-")));

  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::EncryptResponse r, conn->Encrypt(req));
  if (!inv.json()) return WriteCiphertext(o, r.ciphertext());
  if (!out.empty()) RETURN_IF_ERROR(WriteOutput("out", out, r.ciphertext()));
  PrintJson(r);
  return absl::OkStatus();
}

absl::Status Decrypt(Invocation& inv) {
  const CliOptions& o = inv.options();
  const std::string out = FlagOr(o, "out", "-");
  RETURN_IF_ERROR(CheckOutFlag(inv, out));
  v1::DecryptRequest req;
  if (!inv.args().empty()) req.set_name(KeyResourceName(inv.arg(0)));
  ASSIGN_OR_RETURN(auto context, KeyValueFlags(o, "context"));
  req.mutable_encryption_context()->insert(context.begin(), context.end());
  ASSIGN_OR_RETURN(std::string input, ReadInput("in", FlagOr(o, "in", "-")));
  req.set_ciphertext(CiphertextFromInput(std::move(input)));

  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::DecryptResponse r, conn->Decrypt(req));
  ScopedWipe wipe(*r.mutable_plaintext());
  if (!inv.json()) return WriteOutput("out", out, r.plaintext());
  if (!NamesStdout(out)) {
    RETURN_IF_ERROR(WriteOutput("out", out, r.plaintext()));
    OPENSSL_cleanse(r.mutable_plaintext()->data(), r.plaintext().size());
    r.clear_plaintext();
  }
  v1::DecryptResponse rest;
  rest.set_key_version(r.key_version());
  std::string line;
  ScopedWipe wipe_line(line);
  RETURN_IF_ERROR(JsonLineWithSecret(rest, "plaintext", AsBytes(r.plaintext()), &line));
  return WriteOutput("out", "-", line);
}

absl::Status DataKey(Invocation& inv) {
  const CliOptions& o = inv.options();
  v1::GenerateDataKeyRequest req;
  req.set_name(KeyResourceName(inv.arg(0)));
  if (auto v = o.Flag("length")) {
    if (*v != "16" && *v != "32") {
      return UsageError(absl::StrCat("--length: '", *v, "' is not 16 or 32"));
    }
    req.set_length(*v == "16" ? 16 : 32);
  }
  ASSIGN_OR_RETURN(auto context, KeyValueFlags(o, "context"));
  req.mutable_encryption_context()->insert(context.begin(), context.end());
  req.set_wrapped_only(o.Switch("wrapped-only"));
  const auto wrapped_out = o.Flag("out-wrapped");
  if (wrapped_out && NamesStdout(*wrapped_out)) {
    return UsageError("--out-wrapped: give a file; stdout carries the printed result");
  }
  if (wrapped_out) {
    RETURN_IF_ERROR(CheckOutputPath("--out-wrapped", *wrapped_out));
    // Replaced whole, a file that is also stdout's would lose the printed result.
    const std::string id = RegularFileId(*wrapped_out, /*is_input=*/false);
    if (!id.empty() && id == RegularFileId("-", /*is_input=*/false)) {
      return UsageError(absl::StrCat("--out-wrapped: '", *wrapped_out,
                                     "' is stdout's file; give it its own file"));
    }
  }

  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::GenerateDataKeyResponse r, conn->GenerateDataKey(req));
  ScopedWipe wipe(*r.mutable_plaintext());
  if (wrapped_out) RETURN_IF_ERROR(WriteOutput("out-wrapped", *wrapped_out, r.ciphertext()));
  std::string text;
  ScopedWipe wipe_text(text);
  if (inv.json()) {
    v1::GenerateDataKeyResponse rest;
    rest.set_ciphertext(r.ciphertext());
    rest.set_key_version(r.key_version());
    RETURN_IF_ERROR(JsonLineWithSecret(rest, "plaintext", AsBytes(r.plaintext()), &text));
  } else {
    text.reserve(4096);  // appended in place, never reallocated with the key in it
    absl::StrAppend(&text, "key_version  ", r.key_version(), "\n");
    absl::StrAppend(&text, "wrapped      ",
                    wrapped_out ? absl::StrCat("written to ", *wrapped_out)
                                : Base64Encode(AsBytes(r.ciphertext())),
                    "\n");
    if (!r.plaintext().empty()) {
      std::string key = Base64Encode(AsBytes(r.plaintext()));
      ScopedWipe wipe_key(key);
      absl::StrAppend(&text, "plaintext    ", key, "\n");
    }
  }
  return WriteOutput("out", "-", text);
}

absl::Status ReEncrypt(Invocation& inv) {
  const CliOptions& o = inv.options();
  const std::string out = FlagOr(o, "out", "");
  RETURN_IF_ERROR(CheckOutFlag(inv, out));
  v1::ReEncryptRequest req;
  if (auto to = o.Flag("to")) req.set_destination_name(KeyResourceName(*to));
  ASSIGN_OR_RETURN(auto context, KeyValueFlags(o, "context"));
  req.mutable_encryption_context()->insert(context.begin(), context.end());
  ASSIGN_OR_RETURN(auto to_context, KeyValueFlags(o, "to-context"));
  req.mutable_destination_encryption_context()->insert(to_context.begin(), to_context.end());
  ASSIGN_OR_RETURN(std::string input, ReadInput("in", FlagOr(o, "in", "-")));
  req.set_ciphertext(CiphertextFromInput(std::move(input)));

  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::ReEncryptResponse r, conn->ReEncrypt(req));
  if (!inv.json()) return WriteCiphertext(o, r.ciphertext());
  if (!out.empty()) RETURN_IF_ERROR(WriteOutput("out", out, r.ciphertext()));
  PrintJson(r);
  return absl::OkStatus();
}

}  // namespace

// One command per entry reads better than one field per line.
// clang-format off
std::vector<Command> CryptoCommands() {
  return {
      {"encrypt", "KEY [--in FILE|-] [--out FILE|-] [--context K=V]...",
       "encrypt --in (default stdin) under KEY's primary version; ciphertext raw to --out, "
       "else base64 on stdout",
       1, 1, {"in", "out", "context"}, {}, Encrypt},
      {"decrypt", "[KEY] [--in FILE|-] [--out FILE|-] [--context K=V]...",
       "decrypt raw or base64 ciphertext; PLAINTEXT goes to --out (default stdout); KEY, if "
       "given, must be the ciphertext's key",
       0, 1, {"in", "out", "context"}, {}, Decrypt},
      {"datakey", "KEY [--length 16|32] [--wrapped-only] [--context K=V]... [--out-wrapped FILE]",
       "new data key wrapped under KEY; prints the PLAINTEXT data key (base64) on stdout "
       "unless --wrapped-only",
       1, 1, {"length", "context", "out-wrapped"}, {"wrapped-only"}, DataKey},
      {"reencrypt",
       "[--in FILE|-] [--out FILE|-] [--to KEY] [--context K=V]... [--to-context K=V]...",
       "re-encrypt under --to (default: the same key's primary version) without exposing the "
       "plaintext",
       0, 0, {"in", "out", "to", "context", "to-context"}, {}, ReEncrypt},
  };
}
// clang-format on

}  // namespace strongroom::cli
