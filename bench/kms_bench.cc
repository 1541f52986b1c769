// strongroom-bench kms: KeyManagement RPC throughput and latency against a
// complete server in this process, per operation and client concurrency.
//
//   strongroom-bench kms [--seconds S] [--concurrency-list 1,2,4,8,16,32,64]
//                        [--ops ping,encrypt,decrypt,generate_data_key]
//                        [--payload-bytes N] [--protection software|hsm]
//                        [--connections N] [--slices N] [--hsm-sessions N]
//
// Setup (LoopbackServer): a temporary SoftHSM token, CA and database; the
// server on 127.0.0.1 port 0 over mutual TLS; principals `bench` (owner) and
// `admin` (admin). The admin creates a key owned by `bench`; `bench` encrypts
// one payload for the decrypts, and the round trips are checked (kms_ops.h).
// Everything is removed at exit, also after an error or SIGINT.
//
// Measurement: for each concurrency C, C client threads in a closed loop (a
// thread sends its next call when the last one returned), sharing
// min(C, --connections) client::Connections round-robin; each Connection is
// its own gRPC channel and TCP/TLS connection, on which gRPC multiplexes the
// calls as HTTP/2 streams. The default, one connection per CPU, measured
// best: on 2 cores, 2 shared connections gave 15-30% more calls/s than one
// per thread at C >= 8 (fewer wake-ups, more frames per read and write), and
// were within noise of 4; a single one was slower at C = 8. --connections 1024
// gives every thread its own. The connections are opened and used once
// before the warm-up, so no handshake is measured.
//
// Each op first runs an untimed warm-up of min(0.5, S/4) s; then the ops get
// S timed seconds each, in `slices` slices: the ops of one C take turns slice
// by slice (the first op rotates), so that slow drifts in background load on
// a small VM hit them alike. Every call's latency is recorded (a steady_clock
// read on each side). Reported per op and C:
//   ops_per_s        completed calls / summed time from release to the end
//                    of the last call, over the slices
//   slice_ops_per_s  the same per slice, in time order
//   p50_us, p99_us, p999_us, mean_us   over every call of the timed slices
//   cpu_us_per_op    process CPU time (user + system) / calls: client, server
//                    and TLS on both ends together, since they share the process
//   pct_of_ping      median over slices of ops_per_s / ping's ops_per_s in the
//                    same slice round, x100 (when ping is measured)
//
// Any failed RPC or wrong answer ends the run with exit status 1, naming the
// op, the concurrency and the call.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "bench/harness.h"
#include "bench/kms_ops.h"
#include "bench/loopback_server.h"
#include "bench/subcommands.h"
#include "client/connection.h"

namespace strongroom::bench {
namespace {

namespace v1 = ::strongroom::v1;
using Clock = std::chrono::steady_clock;

constexpr char kOwner[] = "bench";
constexpr char kAdmin[] = "admin";
constexpr char kKeyId[] = "bench";
constexpr int kMaxPayloadBytes = 64 * 1024;  // KmsOptions::max_plaintext_bytes

struct KmsBenchOptions {
  double seconds = 2.0;
  std::vector<int> concurrency = {1, 2, 4, 8, 16, 32, 64};
  std::string ops;  // empty: all
  int payload_bytes = 256;
  std::string protection = "software";
  int connections = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  int hsm_sessions = 16;  // the server's default
  int slices = 4;
};

void Progress(const std::string& line) { std::fprintf(stderr, "[kms] %s\n", line.c_str()); }

double ProcessCpuSeconds() {
  rusage usage = {};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// The q-quantile (nearest rank) of `sorted_ns`, in microseconds.
double QuantileUs(const std::vector<int64_t>& sorted_ns, double q) {
  if (sorted_ns.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(q * sorted_ns.size()));
  return sorted_ns[std::clamp<size_t>(rank, 1, sorted_ns.size()) - 1] / 1e3;
}

// One op at one concurrency, summed over its slices.
struct Measured {
  uint64_t ops = 0;
  double seconds = 0;
  double cpu_seconds = 0;  // process CPU time, see the header comment
  std::vector<double> slice_ops_per_s;
  std::vector<int64_t> latencies_ns;  // of every counted call; sorted by Finish()

  double OpsPerSecond() const { return seconds > 0 ? ops / seconds : 0; }
  void Finish() { std::sort(latencies_ns.begin(), latencies_ns.end()); }
};

// The client connections of one concurrency level; thread i uses
// connections[i % size].
using ConnectionPool = std::vector<std::unique_ptr<client::Connection>>;

absl::StatusOr<ConnectionPool> OpenPool(const LoopbackServer& server, int count) {
  ConnectionPool pool;
  for (int i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<client::Connection> c,
                     client::Connection::Open(server.ClientOptions(kOwner)));
    // Connects and completes the TLS handshake now, not in a measured call.
    if (absl::Status s = c->Ping().status(); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("connection ", i, ": ", s.message()));
    }
    pool.push_back(std::move(c));
  }
  return pool;
}

// Runs `op` on `threads` threads for `seconds` and adds what it measured to
// `into`, every call's latency included.
absl::Status RunSlice(const std::string& op, int threads, double seconds, ConnectionPool& pool,
                      const KmsFixture& fixture, Measured& into) {
  std::vector<std::vector<int64_t>> per_thread(threads);
  const size_t expected_calls = static_cast<size_t>(seconds * 20000 / threads) + 1024;
  for (std::vector<int64_t>& v : per_thread) v.reserve(expected_calls);
  OpFactory factory = [&](int i) -> absl::StatusOr<Op> {
    ASSIGN_OR_RETURN(Op call, MakeKmsOp(op, *pool[i % pool.size()], fixture));
    return Op([call = std::move(call), latencies = &per_thread[i]]() -> absl::Status {
      const Clock::time_point start = Clock::now();
      absl::Status s = call();
      latencies->push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
      return s;
    });
  };
  const double cpu_start = ProcessCpuSeconds();
  ASSIGN_OR_RETURN(TimedResult timed, RunTimed(threads, seconds, factory));
  into.cpu_seconds += ProcessCpuSeconds() - cpu_start;
  into.ops += timed.ops;
  into.seconds += timed.seconds;
  into.slice_ops_per_s.push_back(timed.OpsPerSecond());
  // RunTimed counts every call that returned OK, and any other ended the
  // run: the latencies are exactly those of the counted calls.
  for (const std::vector<int64_t>& v : per_thread) {
    into.latencies_ns.insert(into.latencies_ns.end(), v.begin(), v.end());
  }
  return absl::OkStatus();
}

// Measures every op at one concurrency: a warm-up of each, then `slices`
// rounds in which the ops take turns (the starting op rotates), so that slow
// drifts in background load hit them alike. Returns one Measured per op.
absl::StatusOr<std::vector<Measured>> MeasureConcurrency(const std::vector<std::string>& ops,
                                                         int concurrency, ConnectionPool& pool,
                                                         const KmsFixture& fixture,
                                                         const KmsBenchOptions& o, double warmup) {
  auto in_op = [&](const std::string& op, const absl::Status& s) {
    return absl::Status(s.code(),
                        absl::StrCat(op, " at concurrency ", concurrency, ": ", s.message()));
  };
  for (const std::string& op : ops) {
    Measured ignored;
    if (absl::Status s = RunSlice(op, concurrency, warmup, pool, fixture, ignored); !s.ok()) {
      return in_op(op, s);
    }
  }
  std::vector<Measured> measured(ops.size());
  for (int slice = 0; slice < o.slices; ++slice) {
    for (size_t k = 0; k < ops.size(); ++k) {
      const size_t i = (k + slice) % ops.size();
      if (absl::Status s =
              RunSlice(ops[i], concurrency, o.seconds / o.slices, pool, fixture, measured[i]);
          !s.ok()) {
        return in_op(ops[i], s);
      }
    }
  }
  for (Measured& m : measured) m.Finish();
  return measured;
}

nlohmann::json ResultJson(const std::string& op, int concurrency, int connections,
                          const Measured& m) {
  nlohmann::json r;
  r["op"] = op;
  r["concurrency"] = concurrency;
  r["connections"] = connections;
  r["ops"] = m.ops;
  r["seconds"] = Round(m.seconds, 3);
  r["ops_per_s"] = Round(m.OpsPerSecond(), 1);
  r["p50_us"] = Round(QuantileUs(m.latencies_ns, 0.50), 1);
  r["p99_us"] = Round(QuantileUs(m.latencies_ns, 0.99), 1);
  r["p999_us"] = Round(QuantileUs(m.latencies_ns, 0.999), 1);
  double total_ns = 0;
  for (int64_t ns : m.latencies_ns) total_ns += ns;
  r["mean_us"] = m.latencies_ns.empty() ? 0.0 : Round(total_ns / m.latencies_ns.size() / 1e3, 1);
  r["cpu_us_per_op"] = m.ops > 0 ? Round(m.cpu_seconds / m.ops * 1e6, 1) : 0.0;
  nlohmann::json slices = nlohmann::json::array();
  for (double v : m.slice_ops_per_s) slices.push_back(Round(v, 1));
  r["slice_ops_per_s"] = std::move(slices);
  return r;
}

absl::StatusOr<nlohmann::json> Run(const KmsBenchOptions& o, const std::vector<std::string>& ops) {
  // Connections close before the server stops; the server before its
  // temporary directory goes (LoopbackServer's destructor).
  ASSIGN_OR_RETURN(std::unique_ptr<LoopbackServer> server,
                   LoopbackServer::Start({{kOwner, kms::Role::kOwner}, {kAdmin, kms::Role::kAdmin}},
                                         o.hsm_sessions));
  Progress(absl::StrCat("server on 127.0.0.1:", server->port(), ", token, PKI and db in ",
                        server->dir()));
  KmsFixture fixture;
  {
    ASSIGN_OR_RETURN(auto admin, client::Connection::Open(server->ClientOptions(kAdmin)));
    ASSIGN_OR_RETURN(auto owner, client::Connection::Open(server->ClientOptions(kOwner)));
    ASSIGN_OR_RETURN(
        fixture,
        CreateKmsFixture(*admin, *owner, kKeyId, LoopbackServer::Principal(kOwner),
                         o.protection == "hsm" ? v1::PROTECTION_HSM : v1::PROTECTION_SOFTWARE,
                         o.payload_bytes));
  }
  Progress(absl::StrCat(fixture.key_name, " (", o.protection, ") owned by ",
                        LoopbackServer::Principal(kOwner),
                        ": encrypt/decrypt and data-key round trips check out; measuring"));

  const double warmup = std::min(0.5, o.seconds / 4);
  nlohmann::json results = nlohmann::json::array();
  for (int concurrency : o.concurrency) {
    const int connections = std::min(o.connections, concurrency);
    ASSIGN_OR_RETURN(ConnectionPool pool, OpenPool(*server, connections));
    ASSIGN_OR_RETURN(std::vector<Measured> measured,
                     MeasureConcurrency(ops, concurrency, pool, fixture, o, warmup));
    // ops[0] is ping when ping was chosen (report order).
    const Measured* ping = ops[0] == "ping" ? &measured[0] : nullptr;
    for (size_t i = 0; i < ops.size(); ++i) {
      const Measured& m = measured[i];
      nlohmann::json r = ResultJson(ops[i], concurrency, connections, m);
      std::string line = absl::StrCat(
          "c=", concurrency, " ", ops[i], ": ", static_cast<int64_t>(m.OpsPerSecond()),
          " ops/s, p50 ", r["p50_us"].get<double>(), " us, p99 ", r["p99_us"].get<double>(),
          " us, ", r["cpu_us_per_op"].get<double>(), " cpu-us/op");
      if (ping != nullptr && ping != &m) {
        // Paired per slice (adjacent in time), so the median of the ratios
        // is steadier than the ratio of the totals.
        std::vector<double> ratios;
        for (size_t k = 0; k < m.slice_ops_per_s.size(); ++k) {
          if (ping->slice_ops_per_s[k] > 0) {
            ratios.push_back(m.slice_ops_per_s[k] / ping->slice_ops_per_s[k] * 100);
          }
        }
        const double pct = Round(Median(ratios), 1);
        r["pct_of_ping"] = pct;
        absl::StrAppend(&line, ", ", pct, "% of ping");
      }
      Progress(line);
      results.push_back(std::move(r));
    }
  }

  nlohmann::json report;
  report["bench"] = "kms";
  report["machine"] = MachineInfo();
  report["seconds"] = o.seconds;
  report["warmup_seconds"] = warmup;
  report["slices"] = o.slices;
  report["payload_bytes"] = o.payload_bytes;
  report["protection"] = o.protection;
  report["max_connections"] = o.connections;
  report["hsm_sessions"] = o.hsm_sessions;
  report["results"] = std::move(results);
  return report;
}

}  // namespace

int RunKmsBench(const std::vector<std::string>& args) {
  KmsBenchOptions o;
  std::string ops_flag;
  FlagParser flags;
  flags.AddDouble("seconds", &o.seconds, "seconds measured per op and concurrency (default 2)");
  flags.AddIntList("concurrency-list", &o.concurrency,
                   "client threads, in closed loops (default 1,2,4,8,16,32,64)");
  flags.AddString("ops", &ops_flag,
                  "comma-separated subset of ping,encrypt,decrypt,generate_data_key (default all)");
  flags.AddInt("payload-bytes", &o.payload_bytes,
               "plaintext bytes per Encrypt, and in the ciphertext Decrypt opens (default 256)");
  flags.AddString("protection", &o.protection,
                  "the key's protection: software|hsm (default software)");
  flags.AddInt("connections", &o.connections,
               "client connections the threads share round-robin, at most one per thread "
               "(default: one per CPU)");
  flags.AddInt("slices", &o.slices,
               "each op's S seconds run as this many slices, the ops taking turns (default 4)");
  flags.AddInt("hsm-sessions", &o.hsm_sessions, "the server's PKCS#11 session pool (default 16)");
  absl::Status s = flags.Parse(args);
  if (s.ok() && o.protection != "software" && o.protection != "hsm") {
    s = absl::InvalidArgumentError(
        absl::StrCat("--protection: '", o.protection, "' is not software or hsm"));
  }
  if (s.ok() && o.payload_bytes > kMaxPayloadBytes) {
    s = absl::InvalidArgumentError(absl::StrCat(
        "--payload-bytes: ", o.payload_bytes, " exceeds the server's limit of ", kMaxPayloadBytes));
  }
  std::set<std::string> chosen;
  for (absl::string_view name : absl::StrSplit(ops_flag, ',', absl::SkipEmpty())) {
    if (s.ok() &&
        std::find(std::begin(kKmsOpNames), std::end(kKmsOpNames), name) == std::end(kKmsOpNames)) {
      s = absl::InvalidArgumentError(absl::StrCat(
          "--ops: unknown op '", name, "' (known: ", absl::StrJoin(kKmsOpNames, ","), ")"));
    }
    chosen.emplace(name);
  }
  // In report order, ping first: the others are compared with it.
  std::vector<std::string> ops;
  for (const char* name : kKmsOpNames) {
    if (chosen.empty() || chosen.contains(name)) ops.push_back(name);
  }
  return FinishBench("kms", s, flags, [&] { return Run(o, ops); });
}

}  // namespace strongroom::bench
