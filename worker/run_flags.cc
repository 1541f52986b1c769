#include "worker/run_flags.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/bytes.h"
#include "base/status_macros.h"
#include "cli/cli_options.h"
#include "client/attester_flag_rules.h"
#include "worker/flags.h"

namespace strongroom::worker {

const char kRunUsage[] =
    "usage: strongroom-worker run --broker ADDR --model DATASET/NAME[@V]\n"
    "         [--input DATASET/NAME[@V]]... --output DATASET/NAME\n"
    "         --attester tpm|snp|tdx|dev [--device cpu|cuda] [--threads N] [--batch N]\n"
    "         [--kem p256|x25519] [--ca FILE --cert FILE --key FILE | --config FILE]\n"
    "         [--log-level debug|info|warning|error] [--allow-unlocked-memory]\n"
    "  tpm: [--tcti TCTI] [--pcrs sha256:0-7,16] [--tpm-ak endorsement|owner|0xHANDLE|ek-child]\n"
    "       [--tpm-ak-public FILE --tpm-ak-private FILE] [--tpm-ek ecc|rsa]\n"
    "  snp: [--snp-device configfs|sev-guest] [--sev-guest DEV] [--tsm-dir DIR] [--privlevel N]\n"
    "  tdx: [--tsm-dir DIR]\n"
    "  dev: --dev-key FILE --measurement HEX [--svn N] [--dev-claim K=V]... [--dev-debug]\n"
    "Inputs bind to the model's inputs in order (one TensorProto object each; none for a\n"
    "model without inputs). One model\n"
    "output is stored as DATASET/NAME; several as DATASET/NAME/output_<i>.\n"
    "The worker locks all its memory (mlockall; it needs CAP_IPC_LOCK or an unlimited\n"
    "memlock limit) and refuses to start otherwise, unless --allow-unlocked-memory\n"
    "(development only: decrypted models and data could then reach swap).\n"
    "exit status: 0 ok, 1 refused or failed (the message names the step), 2 usage error\n";

namespace {

absl::Status Bad(absl::string_view flag, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, " '", value, "' ", why));
}

absl::StatusOr<int> ParseIntFlag(const ParsedFlags& f, absl::string_view flag, int fallback,
                                 int min, int max) {
  if (!f.Has(flag)) return fallback;
  const std::string v = f.Get(flag);
  int n = 0;
  if (!absl::SimpleAtoi(v, &n) || n < min || n > max) {
    return Bad(flag, v, absl::StrCat("is not in ", min, "..", max));
  }
  return n;
}

absl::StatusOr<uint32_t> ParseHandle(absl::string_view flag, absl::string_view value) {
  std::optional<uint32_t> v = client::TpmAttester::ParseHandle(value);
  if (!v.has_value()) {
    return Bad(flag, value, "is not endorsement, owner, ek-child or a hex handle (0x81000100)");
  }
  return *v;
}

absl::Status ParseTpm(const ParsedFlags& f, client::TpmAttesterOptions& t) {
  t.tcti = f.Get("tcti");
  if (f.Has("pcrs")) {
    auto banks = client::ParseTpmPcrSelection(f.Get("pcrs"));
    if (!banks.ok())
      return absl::InvalidArgumentError(absl::StrCat("--", banks.status().message()));
    t.pcrs = *std::move(banks);
  }
  const std::string ak = f.Get("tpm-ak", "endorsement");
  if (ak == "endorsement") {
    t.ak_source = client::TpmAkSource::kEndorsementPrimary;
  } else if (ak == "owner") {
    t.ak_source = client::TpmAkSource::kOwnerPrimary;
  } else if (ak == "ek-child") {
    if (!f.Has("tpm-ak-public") || !f.Has("tpm-ak-private")) {
      return absl::InvalidArgumentError(
          "--tpm-ak ek-child needs --tpm-ak-public FILE and --tpm-ak-private FILE");
    }
    t.ak_source = client::TpmAkSource::kEkChild;
    t.ak_public_file = f.Get("tpm-ak-public");
    t.ak_private_file = f.Get("tpm-ak-private");
  } else {
    t.ak_source = client::TpmAkSource::kPersistent;
    ASSIGN_OR_RETURN(t.ak_handle, ParseHandle("tpm-ak", ak));
  }
  const std::string ek = f.Get("tpm-ek", "ecc");
  if (ek != "ecc" && ek != "rsa") return Bad("tpm-ek", ek, "is not ecc or rsa");
  t.ek_kind = ek == "rsa" ? client::TpmEkKind::kRsa : client::TpmEkKind::kEcc;
  return absl::OkStatus();
}

absl::Status ParseAttester(const ParsedFlags& f, AttesterFlags& a) {
  if (!f.Has("attester")) return absl::InvalidArgumentError("--attester is required");
  const std::string kind = f.Get("attester");
  if (kind != "tpm" && kind != "snp" && kind != "tdx" && kind != "dev") {
    return Bad("attester", kind, "is not tpm, snp, tdx or dev");
  }
  // Each attester's own flags; one of another attester (SNP device, AK
  // source) is a mistake that would be ignored, not a default.
  RETURN_IF_ERROR(client::CheckAttesterFlagOwnership(
      kind, [&f](absl::string_view flag) -> std::optional<std::string> {
        return f.Has(std::string(flag)) ? std::optional<std::string>(f.Get(std::string(flag)))
                                        : std::nullopt;
      }));
  if (kind == "tpm") {
    a.kind = AttesterKind::kTpm;
    return ParseTpm(f, a.tpm);
  }
  if (kind == "snp" || kind == "tdx") {
    a.kind = kind == "snp" ? AttesterKind::kSnp : AttesterKind::kTdx;
    const std::string device = f.Get("snp-device", "configfs");
    if (device != "configfs" && device != "sev-guest") {
      return Bad("snp-device", device, "is not configfs or sev-guest");
    }
    a.snp_sev_guest = device == "sev-guest";
    a.sev_guest_device = f.Get("sev-guest");
    a.tsm_dir = f.Get("tsm-dir");
    if (f.Has("privlevel")) {
      ASSIGN_OR_RETURN(int p, ParseIntFlag(f, "privlevel", 0, 0, 3));
      a.privlevel = static_cast<uint32_t>(p);
    }
    return absl::OkStatus();
  }
  // dev (the kinds were checked above).
  a.kind = AttesterKind::kDev;
  if (!f.Has("dev-key") || !f.Has("measurement")) {
    return absl::InvalidArgumentError("--attester dev needs --dev-key FILE and --measurement HEX");
  }
  a.dev_key_file = f.Get("dev-key");
  absl::StatusOr<Bytes> m = HexDecode(f.Get("measurement"));
  if (!m.ok() || m->empty()) return Bad("measurement", f.Get("measurement"), "is not hex");
  a.measurement = *std::move(m);
  a.dev_debug = f.Has("dev-debug");
  if (f.Has("svn")) {
    int64_t svn = 0;
    if (!absl::SimpleAtoi(f.Get("svn"), &svn) || svn < 0 || svn > int64_t{UINT32_MAX}) {
      return Bad("svn", f.Get("svn"), "is not a number from 0 to 4294967295");
    }
    a.svn = svn;
  }
  for (const std::string& kv : f.All("dev-claim")) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return Bad("dev-claim", kv, "is not KEY=VALUE");
    if (!a.dev_claims.emplace(kv.substr(0, eq), kv.substr(eq + 1)).second) {
      return Bad("dev-claim", kv.substr(0, eq), "is given twice");
    }
  }
  return absl::OkStatus();
}

// The CLI's connection flags, environment and config file, through the
// CLI's own parser so that both read them the same way.
absl::StatusOr<client::ConnectionOptions> ParseConnection(const ParsedFlags& f) {
  std::vector<std::string> words = {"strongroom-worker"};
  // (ParseFlags refused empty values: for these the CLI's parser would have
  // read one as "use the environment".)
  for (const char* flag : {"ca", "cert", "key", "config"}) {
    if (f.Has(flag)) {
      words.push_back(absl::StrCat("--", flag));
      words.push_back(f.Get(flag));
    }
  }
  const std::string broker = f.Has("broker") ? f.Get("broker") : f.Get("server");
  if (!broker.empty()) {
    words.push_back("--server");
    words.push_back(broker);
  }
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  ASSIGN_OR_RETURN(cli::CliOptions o,
                   cli::ParseCliOptions(static_cast<int>(words.size()), argv.data()));
  if (o.connection.address.empty()) {
    return absl::InvalidArgumentError(
        "--broker is required (or STRONGROOM_SERVER, or server: in --config)");
  }
  return o.connection;
}

}  // namespace

absl::StatusOr<ObjectRef> ParseObjectFlag(absl::string_view flag, absl::string_view value,
                                          bool allow_version) {
  const std::string field = absl::StrCat("--", flag);
  ASSIGN_OR_RETURN(ObjectRef ref, storage::sealed::ParseObjectPath(value, field));
  if (!allow_version && ref.version != 0) {
    return Bad(flag, value, "names a version; the server numbers new versions (drop @N)");
  }
  return ref;
}

std::string FormatObjectRef(const ObjectRef& ref) {
  return ref.version == 0 ? absl::StrCat(ref.dataset, "/", ref.name)
                          : absl::StrCat(ref.dataset, "/", ref.name, "@", ref.version);
}

absl::StatusOr<RunFlags> ParseRunFlags(const std::vector<std::string>& args) {
  FlagSpec spec;
  spec.values = {"broker",  "server",      "ca",        "cert",          "key",
                 "config",  "model",       "input",     "output",        "attester",
                 "device",  "threads",     "batch",     "kem",           "log-level",
                 "tcti",    "pcrs",        "tpm-ak",    "tpm-ak-public", "tpm-ak-private",
                 "tpm-ek",  "snp-device",  "sev-guest", "tsm-dir",       "privlevel",
                 "dev-key", "measurement", "svn",       "dev-claim"};
  spec.switches = {"help", "dev-debug", "allow-unlocked-memory"};
  ASSIGN_OR_RETURN(ParsedFlags f, ParseFlags(args, spec));
  RunFlags out;
  if (f.Has("help")) {
    out.help = true;
    return out;
  }
  // Single-valued flags given twice are most likely a mistake in a script.
  for (const auto& [name, values] : f.values) {
    if (name != "input" && name != "dev-claim" && values.size() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " is given ", values.size(), " times"));
    }
  }
  if (f.Has("broker") && f.Has("server")) {
    return absl::InvalidArgumentError("--broker and --server name the same thing; give one");
  }
  // --input is not: a model without inputs takes none, and the job checks
  // the count against the model (RunInferenceJob).
  for (const char* required : {"model", "output"}) {
    if (!f.Has(required))
      return absl::InvalidArgumentError(absl::StrCat("--", required, " is required"));
  }
  ASSIGN_OR_RETURN(out.model, ParseObjectFlag("model", f.Get("model")));
  for (const std::string& v : f.All("input")) {
    ASSIGN_OR_RETURN(ObjectRef in, ParseObjectFlag("input", v));
    out.inputs.push_back(std::move(in));
  }
  ASSIGN_OR_RETURN(out.output, ParseObjectFlag("output", f.Get("output"), false));
  // The outputs become new versions of the object --output names (or of
  // NAME/output_<i>): one that is also the model or an input would make the
  // next run without @V read this run's output as its model or input.
  auto overwritten = [&out](const ObjectRef& ref) {
    return ref.dataset == out.output.dataset &&
           (ref.name == out.output.name ||
            absl::StartsWith(ref.name, absl::StrCat(out.output.name, "/output_")));
  };
  if (overwritten(out.model)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--output ", FormatObjectRef(out.output), ": would store over the model"));
  }
  for (const ObjectRef& in : out.inputs) {
    if (overwritten(in)) {
      return absl::InvalidArgumentError(absl::StrCat("--output ", FormatObjectRef(out.output),
                                                     ": would store over --input ",
                                                     FormatObjectRef(in)));
    }
  }
  RETURN_IF_ERROR(ParseAttester(f, out.attester));

  const std::string kem = f.Get("kem", "p256");
  if (kem == "p256") {
    out.kem = kms::hpke::Kem::kDhkemP256HkdfSha256;
  } else if (kem == "x25519") {
    out.kem = kms::hpke::Kem::kDhkemX25519HkdfSha256;
  } else {
    return Bad("kem", kem, "is not p256 or x25519");
  }
  const std::string device = f.Get("device", "cpu");
  auto d = onnx::ParseDevice(device);
  if (!d.ok()) return Bad("device", device, "is not cpu or cuda");
  out.device = *d;
  ASSIGN_OR_RETURN(out.threads, ParseIntFlag(f, "threads", 0, 1, 1024));
  ASSIGN_OR_RETURN(out.batch, ParseIntFlag(f, "batch", 1, 1, 65536));
  out.allow_unlocked_memory = f.Has("allow-unlocked-memory");
  if (f.Has("log-level") && !ParseLogLevel(f.Get("log-level"), &out.log_level)) {
    return Bad("log-level", f.Get("log-level"), "is not debug, info, warning or error");
  }
  ASSIGN_OR_RETURN(out.connection, ParseConnection(f));
  return out;
}

}  // namespace strongroom::worker
