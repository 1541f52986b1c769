// The flags of `strongroom-worker run` (docs/worker.md), parsed into a
// RunFlags value before anything is contacted.
//
//   run --broker ADDR --model DATASET/NAME[@V] --input DATASET/NAME[@V]...
//       --output DATASET/NAME --attester tpm|snp|tdx|dev
//       [--device cpu|cuda] [--threads N] [--batch N] [--kem p256|x25519]
//       [--ca FILE --cert FILE --key FILE | --config FILE] [--log-level L]
//   attester flags: tpm  [--tcti TCTI] [--pcrs sha256:0-7,16]
//                        [--tpm-ak endorsement|owner|0xHANDLE|ek-child]
//                        [--tpm-ak-public F --tpm-ak-private F] [--tpm-ek ecc|rsa]
//                   snp  [--snp-device configfs|sev-guest] [--sev-guest DEV]
//                        [--tsm-dir DIR] [--privlevel N]
//                   tdx  [--tsm-dir DIR] [--privlevel N]
//                   dev  --dev-key FILE --measurement HEX [--svn N]
//                        [--dev-claim K=V]... [--dev-debug]
//
// Connection flags are the `strongroom` CLI's: --broker is its --server
// (--server is accepted too); --ca, --cert, --key and --config, each with
// the CLI's environment fallback (STRONGROOM_SERVER, STRONGROOM_CA,
// STRONGROOM_CERT, STRONGROOM_KEY, STRONGROOM_CLIENT_CONFIG) and the same
// config file format; cli::ParseCliOptions does that part.
//
// Every error is InvalidArgument naming the flag and the value at fault; the
// caller maps it to exit status 2. Reading attester key files is left to
// MakeAttester (attester_flags.h). Thread-compatible value types.
#ifndef STRONGROOM_WORKER_RUN_FLAGS_H_
#define STRONGROOM_WORKER_RUN_FLAGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/bytes.h"
#include "base/log.h"
#include "client/connection.h"
#include "client/tpm_attester.h"
#include "kms/hpke/keys.h"
#include "storage/sealed/object_names.h"
#include "worker/onnx/session.h"

namespace strongroom::worker {

using ObjectRef = storage::sealed::ObjectPath;

// "DATASET/NAME" or "DATASET/NAME@VERSION" given to `--flag`; with
// allow_version false an @VERSION is refused (the server numbers new
// versions). InvalidArgument naming "--flag" and the value.
absl::StatusOr<ObjectRef> ParseObjectFlag(absl::string_view flag, absl::string_view value,
                                          bool allow_version = true);
// "ds/name" or "ds/name@3".
std::string FormatObjectRef(const ObjectRef& ref);

enum class AttesterKind { kTpm, kSnp, kTdx, kDev };

// What MakeAttester() builds; only the fields of `kind` are used.
struct AttesterFlags {
  AttesterKind kind = AttesterKind::kDev;
  client::TpmAttesterOptions tpm;
  // snp / tdx
  bool snp_sev_guest = false;    // --snp-device sev-guest (/dev/sev-guest)
  std::string sev_guest_device;  // empty: the attester's default
  std::string tsm_dir;           // empty: the attester's default
  std::optional<uint32_t> privlevel;
  // dev
  std::string dev_key_file;
  Bytes measurement;  // --measurement, decoded (non-empty)
  bool dev_debug = false;
  int64_t svn = 0;
  std::map<std::string, std::string> dev_claims;
};

struct RunFlags {
  client::ConnectionOptions connection;
  ObjectRef model;
  std::vector<ObjectRef> inputs;  // one per model input, in order
  ObjectRef output;               // version 0
  AttesterFlags attester;
  kms::hpke::Kem kem = kms::hpke::Kem::kDhkemP256HkdfSha256;
  onnx::Device device = onnx::Device::kCpu;
  int threads = 0;  // 0: one per hardware thread
  int batch = 1;
  LogLevel log_level = LogLevel::kInfo;
  // Run even when the process's memory cannot all be locked (development
  // only: decrypted models and data could then reach swap).
  bool allow_unlocked_memory = false;
  bool help = false;
};

// `args` are the words after "run". With --help, returns at once with
// help = true and nothing else checked.
absl::StatusOr<RunFlags> ParseRunFlags(const std::vector<std::string>& args);

extern const char kRunUsage[];

}  // namespace strongroom::worker

#endif  // STRONGROOM_WORKER_RUN_FLAGS_H_
