// workload get-key | get-data-key | get-object | put-object | tpm-ak, and
// broker jwks | revoke: the workload side of the key broker (docs/workload.md)
// and an admin's token revocation.
// get-object / put-object read and write the sealed store with a dataset
// token (docs/sealed-store.md, "Workload reads and writes").
//
// get-key attests with the chosen attester and writes the released key
// material raw to --out FILE (mode 0600), or base64 to stdout with --out -;
// without --out it goes raw to stdout only when stdout is not a terminal.
// Nothing else ever goes to stdout then: the summary goes to stderr.
// Attester set-up failures (no TPM, no configfs-tsm, unreadable key files)
// are local (exit 2); what the broker refuses is 1.
#include <google/protobuf/util/json_util.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/bytes.h"
#include "base/status_macros.h"
#include "cli/command.h"
#include "cli/io.h"
#include "cli/object_io.h"
#include "cli/output.h"
#include "client/attester_flag_rules.h"
#include "client/dev_attester.h"
#include "client/sev_guest_attester.h"
#include "client/tpm_attester.h"
#include "client/tsm_attester.h"
#include "client/workload.h"
#include "nlohmann/json.hpp"
#include "storage/streaming/byte_stream.h"

namespace strongroom::cli {
namespace {

namespace hpke = ::strongroom::kms::hpke;

absl::StatusOr<std::string> ReadFlagFile(const std::string& flag, const std::string& path) {
  absl::StatusOr<std::string> data = ReadInput(flag, path);
  if (!data.ok()) return LocalError(data.status());
  return data;
}

absl::StatusOr<uint32_t> ParseHandle(const std::string& flag, const std::string& value) {
  std::optional<uint32_t> v = client::TpmAttester::ParseHandle(value);
  if (!v.has_value()) {
    return UsageError(absl::StrCat("--", flag, ": '", value, "' is not a hex handle (0x81000100)"));
  }
  return *v;
}

// The TPM options named by --tcti, --pcrs, --tpm-ak, --tpm-ak-public,
// --tpm-ak-private and --tpm-ek.
absl::StatusOr<client::TpmAttesterOptions> TpmOptions(const CliOptions& o) {
  client::TpmAttesterOptions t;
  t.tcti = o.Flag("tcti").value_or("");
  if (auto pcrs = o.Flag("pcrs")) {
    absl::StatusOr<std::vector<client::TpmPcrBank>> banks = client::ParseTpmPcrSelection(*pcrs);
    if (!banks.ok()) return UsageError(absl::StrCat("--", banks.status().message()));
    t.pcrs = *std::move(banks);
  }
  const std::string ak = o.Flag("tpm-ak").value_or("endorsement");
  if (ak == "endorsement") {
    t.ak_source = client::TpmAkSource::kEndorsementPrimary;
  } else if (ak == "owner") {
    t.ak_source = client::TpmAkSource::kOwnerPrimary;
  } else if (ak == "ek-child") {
    t.ak_source = client::TpmAkSource::kEkChild;
    auto pub = o.Flag("tpm-ak-public");
    auto priv = o.Flag("tpm-ak-private");
    if (!pub || !priv) {
      return UsageError("--tpm-ak ek-child needs --tpm-ak-public FILE and --tpm-ak-private FILE");
    }
    t.ak_public_file = *pub;
    t.ak_private_file = *priv;
  } else {
    t.ak_source = client::TpmAkSource::kPersistent;
    ASSIGN_OR_RETURN(t.ak_handle, ParseHandle("tpm-ak", ak));
  }
  const std::string ek = o.Flag("tpm-ek").value_or("ecc");
  if (ek != "ecc" && ek != "rsa") return UsageError("--tpm-ek: expected ecc or rsa");
  t.ek_kind = ek == "rsa" ? client::TpmEkKind::kRsa : client::TpmEkKind::kEcc;
  return t;
}

absl::StatusOr<std::unique_ptr<client::Attester>> DevAttesterFromFlags(const CliOptions& o) {
  auto key = o.Flag("dev-key");
  auto measurement = o.Flag("measurement");
  if (!key || !measurement) {
    return UsageError("--attester dev needs --dev-key FILE and --measurement HEX");
  }
  client::DevAttesterOptions d;
  ASSIGN_OR_RETURN(d.private_key_pem, ReadFlagFile("dev-key", *key));
  ScopedWipe wipe_pem(d.private_key_pem);  // on the early returns below
  absl::StatusOr<Bytes> m = HexDecode(*measurement, "--measurement");
  if (!m.ok()) return UsageError(m.status().message());
  d.measurement = *std::move(m);
  d.debug = o.Switch("dev-debug");
  if (auto svn = o.Flag("svn")) {
    ASSIGN_OR_RETURN(d.svn, ParseUintFlag("svn", *svn));
  }
  ASSIGN_OR_RETURN(d.claims, KeyValueFlags(o, "dev-claim"));
  // Moved in: DevAttester::Create wipes the key's PEM once it is parsed.
  absl::StatusOr<std::unique_ptr<client::DevAttester>> a =
      client::DevAttester::Create(std::move(d));
  if (!a.ok()) return LocalError(a.status());
  return std::unique_ptr<client::Attester>(*std::move(a));
}

// Flags of another attester, SNP device or AK source are refused, not
// ignored (client/attester_flag_rules.h).
absl::Status CheckAttesterFlags(const CliOptions& o, const std::string& kind) {
  absl::Status owned = client::CheckAttesterFlagOwnership(
      kind, [&o](absl::string_view flag) -> std::optional<std::string> {
        if (flag == "dev-debug") {
          return o.Switch("dev-debug") ? std::optional<std::string>("") : std::nullopt;
        }
        return o.Flag(std::string(flag));
      });
  if (!owned.ok()) return UsageError(owned.message());
  const std::string device = o.Flag("snp-device").value_or("configfs");
  if (kind == "snp" && device != "configfs" && device != "sev-guest") {
    return UsageError("--snp-device: expected configfs or sev-guest");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<client::Attester>> AttesterFromFlags(const CliOptions& o) {
  const std::string kind = o.Flag("attester").value_or("");
  if (kind != "dev" && kind != "tpm" && kind != "snp" && kind != "tdx") {
    return UsageError("--attester: expected tpm, snp, tdx or dev");
  }
  RETURN_IF_ERROR(CheckAttesterFlags(o, kind));
  if (kind == "dev") return DevAttesterFromFlags(o);
  if (kind == "tpm") {
    ASSIGN_OR_RETURN(client::TpmAttesterOptions t, TpmOptions(o));
    auto a = client::TpmAttester::Create(std::move(t));
    if (!a.ok()) return LocalError(a.status());
    return std::unique_ptr<client::Attester>(*std::move(a));
  }
  std::optional<uint32_t> privlevel;
  if (auto p = o.Flag("privlevel")) {
    ASSIGN_OR_RETURN(privlevel, ParseUintFlag("privlevel", *p));
  }
  if (kind == "snp" && o.Flag("snp-device").value_or("configfs") == "sev-guest") {
    client::SevGuestAttesterOptions s;
    s.vmpl = privlevel.value_or(0);
    if (auto dev = o.Flag("sev-guest")) s.device_path = *dev;
    auto a = client::SevGuestAttester::Create(std::move(s));
    if (!a.ok()) return LocalError(a.status());
    return std::unique_ptr<client::Attester>(*std::move(a));
  }
  if (kind == "snp" || kind == "tdx") {
    client::TsmAttesterOptions t;
    if (auto dir = o.Flag("tsm-dir")) t.report_dir = *dir;
    t.privlevel = privlevel;
    auto a = client::TsmAttester::Create(
        kind == "snp" ? client::TsmProvider::kSevGuest : client::TsmProvider::kTdxGuest, t);
    if (!a.ok()) return LocalError(a.status());
    return std::unique_ptr<client::Attester>(*std::move(a));
  }
  return UsageError("--attester: expected tpm, snp, tdx or dev");
}

absl::StatusOr<hpke::Kem> KemFromFlags(const CliOptions& o) {
  const std::string kem = o.Flag("kem").value_or("p256");
  if (kem == "p256") return hpke::Kem::kDhkemP256HkdfSha256;
  if (kem == "x25519") return hpke::Kem::kDhkemX25519HkdfSha256;
  return UsageError("--kem: expected p256 or x25519");
}

// Where the key material goes: --out FILE (raw), --out - (base64), or raw to
// a non-terminal stdout. Checked before anything is contacted.
absl::Status CheckKeyDestination(const CliOptions& o) {
  if (o.Flag("out").has_value() && o.Flag("out")->empty()) {
    return UsageError("--out: empty; give FILE, or - for base64 on stdout");
  }
  // Raw bytes to stdout (no --out, or a path naming it, such as
  // /dev/stdout) must not land on a terminal; "-" is base64.
  const bool raw_to_stdout =
      !o.Flag("out") || (*o.Flag("out") != "-" && NamesStdout(*o.Flag("out")));
  if (raw_to_stdout && isatty(STDOUT_FILENO) == 1) {
    return UsageError(
        "refusing to write key material to a terminal: give --out FILE, or --out - for base64");
  }
  return absl::OkStatus();
}

absl::Status WriteKey(const CliOptions& o, const SecretBytes& key) {
  auto out = o.Flag("out");
  if (out && *out == "-") {
    std::string b64 = Base64Encode(key.Reveal());
    ScopedWipe wipe(b64);
    // Sized once: appending the newline to `b64` would reallocate it and
    // free the old buffer, key and all, without a wipe.
    std::string line(b64.size() + 1, '\n');
    ScopedWipe wipe_line(line);
    std::memcpy(line.data(), b64.data(), b64.size());
    return WriteOutput("out", "-", line);
  }
  return WriteOutput("out", out.value_or(""), AsStringView(key.Reveal()));
}

absl::Status WriteSideOutputs(const CliOptions& o, const client::WorkloadClient& wl,
                              const std::string& token, const v1::SealedKey& sealed) {
  if (auto f = o.Flag("token-out")) RETURN_IF_ERROR(WriteOutput("token-out", *f, token + "\n"));
  if (auto f = o.Flag("sealed-out")) {
    const std::string format = o.Flag("sealed-format").value_or("json");
    RETURN_IF_ERROR(WriteOutput("sealed-out", *f,
                                format == "binary" ? sealed.SerializeAsString()
                                                   : ToJson(sealed) + "\n"));
  }
  if (auto f = o.Flag("ephemeral-key-out")) {
    ASSIGN_OR_RETURN(SecretBytes pem, wl.ExportEphemeralPrivateKeyPem());
    RETURN_IF_ERROR(WriteOutput("ephemeral-key-out", *f, AsStringView(pem.Reveal())));
  }
  return absl::OkStatus();
}

// One summary line set, on stderr when stdout carries the key.
// `wrapped`: a data key's wrapped copy when no file took it (it must not
// be lost: data encrypted under the key is decrypted with it later).
void PrintSummary(const CliOptions& o, const v1::SealedKey& sealed, bool attested,
                  const Bytes* wrapped = nullptr) {
  const bool key_on_stdout = !o.Flag("out") || NamesStdout(*o.Flag("out"));
  std::FILE* to = key_on_stdout ? stderr : stdout;
  if (o.json) {
    nlohmann::json j = {{"key_version", sealed.key_version()},
                        {"token_id", sealed.token_id()},
                        {"kem", v1::HpkeKem_Name(sealed.kem())},
                        {"attested", attested}};
    if (wrapped != nullptr) j["wrapped"] = Base64Encode(*wrapped);
    std::fprintf(to, "%s\n",
                 j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  std::fprintf(to, "key_version  %s\ntoken_id     %s\nattested     %s\n%s",
               sealed.key_version().c_str(), sealed.token_id().c_str(), attested ? "yes" : "no",
               wrapped == nullptr
                   ? ""
                   : absl::StrCat("wrapped      ", Base64Encode(*wrapped), "\n").c_str());
}

// The files a command writes must be distinct, and stdout carries at most
// one of them: two outputs on one path would leave only the last (an
// ephemeral private key over the key it unseals), and two on stdout would
// run together. `outputs`: (flag, path) for each output the command will
// write ("-" for stdout). Checked before anything is contacted.
// The files a workload command reads: put-object's FILE and the attester's
// key files, which no output may replace.
bool IsInputFlag(const std::string& flag) {
  return flag == "FILE" || flag == "dev-key" || flag == "tpm-ak-public" ||
         flag == "tpm-ak-private";
}

absl::Status CheckDistinctOutputs(const std::vector<std::pair<std::string, std::string>>& outputs) {
  // Every spelling of stdout is "-" ("" too: WriteOutput reads it so); the
  // input FILE "-" is stdin.
  auto canonical = [](const std::string& flag, const std::string& path) -> std::string {
    if (flag == "FILE" && path == "-") return "<stdin>";
    if (NamesStdout(path)) return "-";
    // Symbolic links in the existing part of the path resolved, so that
    // dir/k and link-to-dir/k are one file even before it exists.
    std::error_code ec;
    std::filesystem::path p = std::filesystem::weakly_canonical(path, ec);
    return ec ? std::filesystem::absolute(path).lexically_normal().string() : p.string();
  };
  auto name = [](const std::string& flag) {
    return flag == "OUT" || flag == "FILE" ? flag : absl::StrCat("--", flag);
  };
  // Per entry, once: its canonical path and the regular file behind it
  // (stdin, stdout or the path; hard links and redirections included).
  std::vector<std::string> paths, ids;
  for (const auto& [flag, path] : outputs) {
    paths.push_back(canonical(flag, path));
    ids.push_back(RegularFileId(path, /*is_input=*/IsInputFlag(flag)));
    // An output whose folder cannot take it fails now, not after the key or
    // object before it was written (a command that fails leaves no output).
    if (!IsInputFlag(flag)) RETURN_IF_ERROR(CheckOutputPath(name(flag), path));
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (paths[i] != paths[j] && (ids[j].empty() || ids[i] != ids[j])) continue;
      const auto& [fa, pa] = outputs[j];
      const auto& [fb, pb] = outputs[i];
      const std::string where = paths[i] == "<stdin>" ? "stdin"
                                : paths[i] == "-"     ? "stdout"
                                                      : absl::StrCat("'", pb, "'");
      return UsageError(absl::StrCat(name(fb), ": ", where, " is already ", name(fa),
                                     IsInputFlag(fa) ? " (an input)" : "",
                                     "; give each output its own file"));
    }
  }
  return absl::OkStatus();
}

// The attester's input files, then `first`, then the side outputs common to
// the workload commands: what CheckDistinctOutputs compares.
std::vector<std::pair<std::string, std::string>> SideOutputs(
    const CliOptions& o, const std::vector<std::pair<std::string, std::string>>& first) {
  std::vector<std::pair<std::string, std::string>> all;
  for (const char* f : {"dev-key", "tpm-ak-public", "tpm-ak-private"}) {
    if (auto v = o.Flag(f)) all.emplace_back(f, *v);
  }
  all.insert(all.end(), first.begin(), first.end());
  for (const char* f : {"token-out", "sealed-out", "ephemeral-key-out", "wrapped-out"}) {
    if (auto v = o.Flag(f)) all.emplace_back(f, *v);
  }
  return all;
}

absl::Status CheckGetKeyFlags(const CliOptions& o) {
  RETURN_IF_ERROR(CheckKeyDestination(o));
  RETURN_IF_ERROR(CheckDistinctOutputs(SideOutputs(o, {{"out", o.Flag("out").value_or("-")}})));
  const std::string format = o.Flag("sealed-format").value_or("json");
  if (format != "json" && format != "binary") {
    return UsageError("--sealed-format: expected json or binary");
  }
  if (o.Flag("sealed-format") && !o.Flag("sealed-out")) {
    return UsageError("--sealed-format: only with --sealed-out (the file it shapes)");
  }
  return absl::OkStatus();
}

// `key_output`: key material goes to --out or stdout (get-key,
// get-data-key); the object commands write their own files.
absl::StatusOr<std::unique_ptr<client::WorkloadClient>> WorkloadFromFlags(Invocation& inv,
                                                                          bool key_output = true) {
  const CliOptions& o = inv.options();
  if (key_output) RETURN_IF_ERROR(CheckGetKeyFlags(o));
  ASSIGN_OR_RETURN(hpke::Kem kem, KemFromFlags(o));
  ASSIGN_OR_RETURN(std::unique_ptr<client::Attester> attester, AttesterFromFlags(o));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  client::WorkloadOptions options;
  options.kem = kem;
  auto wl = client::WorkloadClient::Create(conn, std::move(attester), options);
  if (!wl.ok()) return LocalError(wl.status());
  return wl;
}

absl::Status GetKey(Invocation& inv) {
  ASSIGN_OR_RETURN(auto wl, WorkloadFromFlags(inv));
  ASSIGN_OR_RETURN(client::ReleasedKey key, wl->GetKey(inv.arg(0)));
  // The key first: the side outputs (the sealed key with the ephemeral
  // private key would recover it) exist only once the key was delivered.
  RETURN_IF_ERROR(WriteKey(inv.options(), key.material));
  RETURN_IF_ERROR(WriteSideOutputs(inv.options(), *wl, key.token, key.sealed));
  PrintSummary(inv.options(), key.sealed, key.attested);
  return absl::OkStatus();
}

// Offline: opens a sealed response `get-key --sealed-out` saved (JSON or
// binary) with the ephemeral private key `--ephemeral-key-out` saved, as
// another tool holding those two files would; the token id is the one the
// response names (its HPKE info binds it). The material goes where get-key's
// goes.
absl::Status OpenSealed(Invocation& inv) {
  const CliOptions& o = inv.options();
  RETURN_IF_ERROR(CheckKeyDestination(o));
  if (!o.Flag("ephemeral-key")) return UsageError("--ephemeral-key: required (PKCS#8 PEM)");
  if (!o.Flag("key")) return UsageError("--key: required (the key get-key asked for)");
  ASSIGN_OR_RETURN(std::string raw, ReadInput("SEALED", inv.arg(0), size_t{1} << 20));
  v1::SealedKey sealed;
  const absl::string_view text = absl::StripLeadingAsciiWhitespace(raw);
  if (!text.empty() && text.front() == '{') {
    const auto parsed = google::protobuf::util::JsonStringToMessage(
        std::string(text), &sealed, google::protobuf::util::JsonParseOptions());
    if (!parsed.ok()) {
      return UsageError(
          absl::StrCat("SEALED: not a sealed response (JSON): ", std::string(parsed.message())));
    }
  } else if (!sealed.ParseFromString(raw)) {
    return UsageError("SEALED: not a sealed response (neither JSON nor binary)");
  }
  ASSIGN_OR_RETURN(std::string pem_text, ReadInput("ephemeral-key", *o.Flag("ephemeral-key")));
  SecretBytes pem = SecretBytes::CopyFrom(AsBytes(pem_text));
  OPENSSL_cleanse(pem_text.data(), pem_text.size());
  absl::StatusOr<kms::hpke::PrivateKey> sk = kms::hpke::PrivateKey::FromPkcs8Pem(pem);
  if (!sk.ok()) {
    return UsageError(absl::StrCat("--ephemeral-key: ", sk.status().message()));
  }
  ASSIGN_OR_RETURN(SecretBytes key,
                   client::OpenSealedKey(*sk, sealed, *o.Flag("key"), sealed.token_id()));
  return WriteKey(o, key);
}

absl::Status GetDataKey(Invocation& inv) {
  const CliOptions& o = inv.options();
  ASSIGN_OR_RETURN(auto wl, WorkloadFromFlags(inv));
  const std::string aad = o.Flag("aad").value_or("");
  ASSIGN_OR_RETURN(client::DataKey key, wl->GetDataKey(inv.arg(0), AsBytes(aad)));
  // The wrapped copy before the plaintext: a data key whose wrapped copy
  // could not be kept encrypts data nobody can decrypt later.
  if (auto f = o.Flag("wrapped-out")) {
    RETURN_IF_ERROR(WriteOutput("wrapped-out", *f, AsStringView(key.wrapped)));
  }
  RETURN_IF_ERROR(WriteKey(o, key.plaintext));  // before the side outputs, as in GetKey
  RETURN_IF_ERROR(WriteSideOutputs(o, *wl, key.token, key.sealed));
  PrintSummary(o, key.sealed, key.attested, o.Flag("wrapped-out") ? nullptr : &key.wrapped);
  return absl::OkStatus();
}

// Side outputs of the object commands: the dataset token and the ephemeral
// key (for tests and debugging).
absl::Status WriteTokenOutputs(const CliOptions& o, const client::WorkloadClient& wl,
                               const std::string& dataset) {
  if (auto f = o.Flag("token-out")) {
    std::optional<std::string> token = wl.token(absl::StrCat("datasets/", dataset));
    RETURN_IF_ERROR(WriteOutput("token-out", *f, token.value_or("") + "\n"));
  }
  if (auto f = o.Flag("ephemeral-key-out")) {
    ASSIGN_OR_RETURN(SecretBytes pem, wl.ExportEphemeralPrivateKeyPem());
    RETURN_IF_ERROR(WriteOutput("ephemeral-key-out", *f, AsStringView(pem.Reveal())));
  }
  return absl::OkStatus();
}

void PrintObjectSummary(const Invocation& inv, absl::string_view verb, const v1::ObjectInfo& i,
                        bool to_stderr) {
  std::FILE* to = to_stderr ? stderr : stdout;
  if (inv.json()) {
    std::fprintf(to, "%s\n", ToJson(i).c_str());
    return;
  }
  std::fprintf(to, "%s %s/%s@%llu (%s, key %s/versions/%u)\n", std::string(verb).c_str(),
               i.dataset().c_str(), i.name().c_str(), static_cast<unsigned long long>(i.version()),
               FormatBytes(i.size()).c_str(), i.key().c_str(), i.key_version());
}

absl::Status GetObject(Invocation& inv) {
  ASSIGN_OR_RETURN(client::GetObjectOptions get, GetOptionsFromArgs(inv));
  RETURN_IF_ERROR(CheckDistinctOutputs(SideOutputs(inv.options(), {{"OUT", inv.arg(1)}})));
  ASSIGN_OR_RETURN(auto wl, WorkloadFromFlags(inv, /*key_output=*/false));
  ASSIGN_OR_RETURN(OutputFile out, OutputFile::Open(inv.arg(1)));
  Progress progress(inv, "get");
  get.progress = progress.Fn();
  storage::FdSink sink(out.fd());
  ASSIGN_OR_RETURN(v1::ObjectInfo info, wl->GetObject(get, sink));
  RETURN_IF_ERROR(out.Commit());
  RETURN_IF_ERROR(WriteTokenOutputs(inv.options(), *wl, get.dataset));
  PrintObjectSummary(inv, "read", info, /*to_stderr=*/NamesStdout(inv.arg(1)));
  return absl::OkStatus();
}

absl::Status PutObject(Invocation& inv) {
  ASSIGN_OR_RETURN(client::PutObjectOptions put, PutOptionsFromArgs(inv, "workload put-object"));
  // The input too: a side output written over it after the upload would
  // replace the user's file.
  RETURN_IF_ERROR(CheckDistinctOutputs(SideOutputs(
      inv.options(), std::vector<std::pair<std::string, std::string>>{{"FILE", inv.arg(1)}})));
  ASSIGN_OR_RETURN(auto wl, WorkloadFromFlags(inv, /*key_output=*/false));
  ASSIGN_OR_RETURN(InputFile in, OpenInputFile(inv.arg(1)));
  put.size_hint = in.size_hint;
  Progress progress(inv, "put");
  put.progress = progress.Fn();
  storage::FdSource source(in.fd);
  absl::StatusOr<v1::ObjectInfo> info = wl->PutObject(put, source);
  CloseInputFile(in);
  RETURN_IF_ERROR(info.status());
  RETURN_IF_ERROR(WriteTokenOutputs(inv.options(), *wl, put.dataset));
  PrintObjectSummary(inv, "stored", *info, /*to_stderr=*/false);
  return absl::OkStatus();
}

absl::Status TpmAk(Invocation& inv) {
  const CliOptions& o = inv.options();
  // The TPM attester's flag rules (AK files and --tpm-ek only with an
  // EK-child AK), and --out apart from the AK files it may have just made.
  RETURN_IF_ERROR(CheckAttesterFlags(o, "tpm"));
  std::vector<std::pair<std::string, std::string>> files = {{"out", o.Flag("out").value_or("-")}};
  for (const char* f : {"tpm-ak-public", "tpm-ak-private"}) {
    if (auto v = o.Flag(f)) files.emplace_back(f, *v);
  }
  RETURN_IF_ERROR(CheckDistinctOutputs(files));
  ASSIGN_OR_RETURN(client::TpmAttesterOptions t, TpmOptions(o));
  // --persist is checked before --create replaces the AK files: a mistyped
  // handle must not cost the AK that is registered with the server.
  std::optional<uint32_t> persist;
  if (auto handle = o.Flag("persist")) {
    ASSIGN_OR_RETURN(persist, ParseHandle("persist", *handle));
    if (absl::Status s = client::TpmAttester::CheckPersistentHandle(*persist); !s.ok()) {
      return UsageError(absl::StrCat("--persist: ", s.message()));
    }
  }
  if (o.Switch("create")) {
    if (t.ak_source != client::TpmAkSource::kEkChild) {
      return UsageError("--create makes a new AK under the EK: give --tpm-ak ek-child");
    }
    absl::Status s = client::CreateEkChildAk(t.tcti, t.ek_kind, t.ak_public_file,
                                             t.ak_private_file);
    if (!s.ok()) return LocalError(s);
  }
  auto attester = client::TpmAttester::Create(t);
  if (!attester.ok()) return LocalError(attester.status());
  if (persist.has_value()) {
    if (absl::Status s = (*attester)->PersistAk(*persist); !s.ok()) return LocalError(s);
  }
  return WriteOutput("out", o.Flag("out").value_or("-"), (*attester)->ak_public_key_pem());
}

const std::vector<std::string> kAttesterFlags = {
    "attester", "tcti", "pcrs", "tpm-ak", "tpm-ak-public", "tpm-ak-private", "tpm-ek",
    "dev-key", "measurement", "svn", "dev-claim", "snp-device", "sev-guest", "tsm-dir",
    "privlevel", "kem", "out", "token-out", "sealed-out", "sealed-format", "ephemeral-key-out"};

// The attester flags of the object commands (no key output flags).
const std::vector<std::string> kObjectAttesterFlags = {
    "attester", "tcti", "pcrs", "tpm-ak", "tpm-ak-public", "tpm-ak-private", "tpm-ek",
    "dev-key", "measurement", "svn", "dev-claim", "snp-device", "sev-guest", "tsm-dir",
    "privlevel", "kem", "token-out", "ephemeral-key-out"};

std::vector<std::string> With(std::vector<std::string> flags, std::vector<std::string> more) {
  flags.insert(flags.end(), more.begin(), more.end());
  return flags;
}

}  // namespace

// clang-format off
std::vector<Command> WorkloadCommands() {
  const std::string attester =
      "--attester tpm|snp|tdx|dev [--tcti T] [--pcrs sha256:0-7,16] "
      "[--tpm-ak endorsement|owner|0xHANDLE|ek-child] [--dev-key FILE --measurement HEX] "
      "[--snp-device configfs|sev-guest] [--kem p256|x25519] [--out FILE|-] [--token-out FILE] "
      "[--sealed-out FILE [--sealed-format json|binary]] [--ephemeral-key-out FILE]";
  const std::string object_attester =
      "--attester tpm|snp|tdx|dev [--tcti T] [--pcrs sha256:0-7,16] "
      "[--tpm-ak endorsement|owner|0xHANDLE|ek-child] [--dev-key FILE --measurement HEX] "
      "[--snp-device configfs|sev-guest] [--kem p256|x25519] [--token-out FILE] "
      "[--ephemeral-key-out FILE] [--quiet]";
  return {
      {"workload get-object", "DATASET/NAME[@VERSION] OUT [--range START-END] [--raw] " +
           object_attester,
       "attest for DATASET (its release policy) and read an object: the broker seals its data "
       "key to an ephemeral key; decrypted here to OUT (- for stdout)",
       2, 2, With(kObjectAttesterFlags, {"range"}), {"dev-debug", "raw", "quiet"}, GetObject},
      {"workload put-object", "DATASET/NAME FILE [--label K=V]... [--segment-size BYTES] " +
           object_attester,
       "attest for DATASET and upload FILE (- for stdin) as a new version, encrypted here under "
       "a data key from the broker; the dataset's owner reads it with object get",
       2, 2, With(kObjectAttesterFlags, {"label", "segment-size"}), {"dev-debug", "quiet"},
       PutObject},
      {"workload get-key", "KEY " + attester,
       "attest with --attester and receive KEY's material sealed to an ephemeral key; raw to "
       "--out (base64 with --out -)",
       1, 1, kAttesterFlags, {"dev-debug"}, GetKey},
      {"workload open-sealed", "SEALED --ephemeral-key PEM --key KEY [--out FILE|-]",
       "offline: open a sealed response get-key saved (--sealed-out) with the ephemeral key it "
       "saved (--ephemeral-key-out); the material as get-key writes it",
       1, 1, {"ephemeral-key", "key", "out"}, {}, OpenSealed},
      {"workload get-data-key", "KEY [--aad TEXT] [--wrapped-out FILE] " + attester,
       "attest and receive a fresh data key under KEY: plaintext as get-key, the wrapped "
       "copy to --wrapped-out",
       1, 1, With(kAttesterFlags, {"aad", "wrapped-out"}), {"dev-debug"}, GetDataKey},
      {"workload tpm-ak",
       "[--tcti T] [--tpm-ak endorsement|owner|0xHANDLE|ek-child] [--tpm-ek ecc|rsa] "
       "[--tpm-ak-public F --tpm-ak-private F [--create]] [--persist 0xHANDLE] [--out FILE]",
       "print the TPM attestation key (PEM) to register in attestation.tpm.trusted_ak_keys",
       0, 0, {"tcti", "tpm-ak", "tpm-ek", "tpm-ak-public", "tpm-ak-private", "persist", "out"},
       {"create"}, TpmAk},
  };
}
// clang-format on

}  // namespace strongroom::cli
