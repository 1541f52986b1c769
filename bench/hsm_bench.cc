// strongroom-bench hsm: what the PKCS#11 layer (kms::pkcs11::Hsm) costs on
// top of the module, per operation and thread count.
//
//   strongroom-bench hsm [--seconds S] [--threads-list 1,2] [--rounds N]
//                        [--ops wrap,unwrap,aes_gcm_4k,ecdsa_p256_sign]
//                        [--module PATH] [--token-dir DIR] [--token-label LABEL]
//
// Without --token-dir a SoftHSM token is provisioned in a temporary directory
// (hsm-sim/provision-token.sh) and removed at exit; with it, DIR/softhsm2.conf
// and DIR/user.pin of an existing token are used and nothing is changed.
//
// For each op and thread count: a short untimed warm-up of both forms, then
// `rounds` rounds of S seconds each for the layer and for the direct calls,
// interleaved in ~100 ms slices (RunInterleaved, harness.h) so background
// load on a small VM hits both alike. Reported: the median round of each and
//   layer_overhead_pct = median over rounds of (direct / layer - 1) * 100,
// i.e. the extra time per op spent in the layer, relative to the direct calls.
// *_us_per_op is the mean time of one op on one thread (threads / ops_per_s).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "bench/direct_pkcs11.h"
#include "bench/harness.h"
#include "bench/hsm_ops.h"
#include "bench/subcommands.h"
#include "hsm-sim/testing/softhsm_token.h"
#include "kms/pkcs11/hsm.h"

namespace strongroom::bench {
namespace {

using kms::pkcs11::Hsm;
using kms::pkcs11::HsmOptions;

constexpr char kDefaultLabel[] = "strongroom-bench";

struct HsmBenchOptions {
  double seconds = 1.0;
  std::vector<int> threads = {1, 2};
  int rounds = 3;
  std::string ops;  // empty: all
  std::string module = hsm_sim::SoftHsmToken::SoftHsmModulePath();
  std::string token_dir;
  std::string token_label = kDefaultLabel;
};

void Progress(const std::string& line) { std::fprintf(stderr, "[hsm] %s\n", line.c_str()); }

// Points SoftHSM at the token in `dir` and returns its PIN file.
absl::StatusOr<std::string> UseTokenDir(const std::string& dir) {
  const std::string conf = dir + "/softhsm2.conf";
  const std::string pin = dir + "/user.pin";
  for (const std::string& path : {conf, pin}) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      return absl::NotFoundError(absl::StrCat("--token-dir ", dir, ": no ", path,
                                              " (provision it with hsm-sim/provision-token.sh)"));
    }
  }
  if (setenv("SOFTHSM2_CONF", conf.c_str(), /*overwrite=*/1) != 0) {
    return absl::InternalError("setenv(SOFTHSM2_CONF) failed");
  }
  return pin;
}

struct Measured {
  std::vector<double> layer;
  std::vector<double> direct;
};

absl::StatusOr<Measured> MeasureOp(const HsmOp& op, int threads, const HsmBenchOptions& o) {
  auto in_op = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(op.name, " (", threads, " threads, A=layer, ",
                                               "B=direct): ", s.message()));
  };
  // Warm-up: lets the layer's pool open its sessions and the caches settle.
  const double warmup = std::min(0.25, o.seconds / 4);
  if (absl::StatusOr<AbResult> w = RunInterleaved(threads, warmup, 1, op.layer, op.direct);
      !w.ok()) {
    return in_op(w.status());
  }
  // Slices of ~100 ms alternate layer and direct.
  const int slices = std::max(1, static_cast<int>(std::lround(o.seconds / 0.1)));
  Measured m;
  for (int round = 0; round < o.rounds; ++round) {
    absl::StatusOr<AbResult> r = RunInterleaved(threads, o.seconds, slices, op.layer, op.direct);
    if (!r.ok()) return in_op(r.status());
    m.layer.push_back(r->a.OpsPerSecond());
    m.direct.push_back(r->b.OpsPerSecond());
    Progress(absl::StrCat(op.name, " threads=", threads, " round ", round + 1, "/", o.rounds,
                          ": layer ", static_cast<int64_t>(m.layer.back()), " ops/s, direct ",
                          static_cast<int64_t>(m.direct.back()), " ops/s"));
  }
  return m;
}

nlohmann::json ResultJson(const std::string& name, int threads, const Measured& m) {
  const double layer = Median(m.layer);
  const double direct = Median(m.direct);
  nlohmann::json r;
  r["op"] = name;
  r["threads"] = threads;
  r["layer_ops_per_s"] = Round(layer, 1);
  r["direct_ops_per_s"] = Round(direct, 1);
  // Paired per round (both sides ran interleaved in the same wall time), so
  // the median of the ratios is steadier than the ratio of the medians.
  std::vector<double> overhead;
  for (size_t i = 0; i < m.layer.size() && i < m.direct.size(); ++i) {
    if (m.layer[i] > 0) overhead.push_back((m.direct[i] / m.layer[i] - 1) * 100);
  }
  r["layer_overhead_pct"] = Round(Median(overhead), 1);
  r["layer_us_per_op"] = layer > 0 ? Round(threads / layer * 1e6, 2) : 0.0;
  r["direct_us_per_op"] = direct > 0 ? Round(threads / direct * 1e6, 2) : 0.0;
  nlohmann::json layer_rounds = nlohmann::json::array();
  nlohmann::json direct_rounds = nlohmann::json::array();
  for (double v : m.layer) layer_rounds.push_back(Round(v, 1));
  for (double v : m.direct) direct_rounds.push_back(Round(v, 1));
  r["layer_rounds"] = std::move(layer_rounds);
  r["direct_rounds"] = std::move(direct_rounds);
  return r;
}

absl::StatusOr<nlohmann::json> Run(const HsmBenchOptions& o) {
  // Declaration order is teardown order in reverse: direct sessions close,
  // then the Hsm finalizes the module, then the temporary token goes.
  std::unique_ptr<hsm_sim::SoftHsmToken> token;
  std::string pin_file;
  if (o.token_dir.empty()) {
    ASSIGN_OR_RETURN(token, hsm_sim::SoftHsmToken::Create(o.token_label));
    pin_file = token->pin_file();
    Progress(absl::StrCat("provisioned temporary token '", o.token_label, "' in ", token->dir()));
  } else {
    ASSIGN_OR_RETURN(pin_file, UseTokenDir(o.token_dir));
  }

  HsmOptions hsm_options;
  hsm_options.module_path = o.module;
  hsm_options.token_label = o.token_label;
  hsm_options.pin.file = pin_file;
  int max_threads = 1;
  for (int t : o.threads) max_threads = std::max(max_threads, t);
  hsm_options.max_sessions = std::max<size_t>(16, max_threads);
  ASSIGN_OR_RETURN(std::unique_ptr<Hsm> hsm, Hsm::Create(hsm_options));
  ASSIGN_OR_RETURN(HsmFixture fixture, CreateHsmFixture(*hsm));
  ASSIGN_OR_RETURN(std::unique_ptr<DirectPkcs11> direct,
                   DirectPkcs11::Attach(o.module, o.token_label));
  RETURN_IF_ERROR(CheckLayerMatchesDirect(*hsm, *direct, fixture));
  Progress("layer and direct PKCS#11 agree on every op; measuring");

  std::vector<HsmOp> ops = HsmOps(*hsm, *direct, fixture);
  if (!o.ops.empty()) {
    std::vector<HsmOp> chosen;
    for (absl::string_view name : absl::StrSplit(o.ops, ',', absl::SkipEmpty())) {
      for (const HsmOp& op : ops) {
        if (op.name == name) chosen.push_back(op);
      }
    }
    ops = std::move(chosen);
  }

  nlohmann::json results = nlohmann::json::array();
  for (const HsmOp& op : ops) {
    for (int threads : o.threads) {
      ASSIGN_OR_RETURN(Measured m, MeasureOp(op, threads, o));
      results.push_back(ResultJson(op.name, threads, m));
    }
  }

  nlohmann::json report;
  report["bench"] = "hsm";
  report["module"] = o.module;
  report["token"] = o.token_dir.empty() ? "temporary" : o.token_dir;
  report["token_label"] = o.token_label;
  report["seconds"] = o.seconds;
  report["rounds"] = o.rounds;
  report["machine"] = MachineInfo();
  report["results"] = std::move(results);
  return report;
}

}  // namespace

int RunHsmBench(const std::vector<std::string>& args) {
  HsmBenchOptions o;
  FlagParser flags;
  flags.AddDouble("seconds", &o.seconds, "seconds per measured round (default 1.0)");
  flags.AddIntList("threads-list", &o.threads, "thread counts to measure (default 1,2)");
  flags.AddInt(
      "rounds", &o.rounds,
      "rounds, layer and direct interleaved in ~100 ms slices; medians reported (default 3)");
  flags.AddString("ops", &o.ops,
                  "comma-separated subset of wrap,unwrap,aes_gcm_4k,ecdsa_p256_sign");
  flags.AddString("module", &o.module, "PKCS#11 module (default: the SoftHSM module)");
  flags.AddString("token-dir", &o.token_dir,
                  "existing token dir (softhsm2.conf, user.pin); default: a temporary one");
  flags.AddString("token-label", &o.token_label, "token label (default strongroom-bench)");
  if (absl::Status s = flags.Parse(args); !s.ok()) return FlagParseExit("hsm", s, flags);
  // Check --ops before anything is provisioned.
  for (absl::string_view name : absl::StrSplit(o.ops, ',', absl::SkipEmpty())) {
    if (std::find(std::begin(kHsmOpNames), std::end(kHsmOpNames), name) == std::end(kHsmOpNames)) {
      std::fprintf(stderr, "strongroom-bench hsm: --ops: unknown op '%s' (known: %s)\n",
                   std::string(name).c_str(), absl::StrJoin(kHsmOpNames, ",").c_str());
      return 2;
    }
  }
  return FinishBench("hsm", absl::OkStatus(), flags, [&] { return Run(o); });
}

}  // namespace strongroom::bench
