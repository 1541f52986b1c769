// strongroom-bench release: the key broker's full flows and token-reuse
// releases per second, with latency quantiles, against a complete server in
// this process, per client concurrency.
//
//   strongroom-bench release [--seconds S] [--concurrency-list 1,2,4,8,16,32,64]
//                            [--rounds N] [--ops flow,flow2,reuse] [--kem p256|x25519]
//                            [--hsm-sessions N] [--rate-limit N]
//
// Setup (LoopbackServer): a temporary SoftHSM token, CA and database; the
// server on 127.0.0.1 port 0 over mutual TLS, with the development attester
// enabled and trusting a fresh DevAttester key made here (ECDSA P-256
// evidence, signed in software as a TPM would sign a quote, so the load does
// not wait on swtpm). The broker's per-principal rate limit is off unless
// --rate-limit says otherwise: a benchmark that drives one principal at
// thousands of calls/s would otherwise measure the limiter. Principals:
// `admin` puts reference values "release-bench" (the dev measurement) and
// policy "release-bench" (tee dev, measurement in those values, debug false)
// and creates key "release-bench" owned by `owner`, which binds the key's
// release policy (UpdateKey, mask release_policy). Each concurrent caller is
// its own workload principal `worker-<i>` with its own client::Connection
// (its own TCP/TLS connection, opened and used before timing) and its own
// ephemeral HPKE key pair (DHKEM(P-256), the broker's default, or X25519 with
// --kem x25519), as separate workloads would be.
//
// Ops, every step checked, client-side cost included in the timing:
//   flow   GetChallenge; binding = AttestationBinding(kem, nonce, pk);
//          dev evidence over it (ECDSA P-256 sign); Attest -> EAR token;
//          ReleaseKey; the SealedKey checked and HPKE-opened
//          (client::OpenSealedKey); the material compared with the first
//          release's. Per step latencies are reported too.
//   flow2  the same flow in two round trips: GetChallenge; Attest with
//          `release` set (the broker releases the key with the new token in
//          the same call, with ReleaseKey's checks and audit record); the
//          SealedKey in the response checked, opened and compared.
//   reuse  ReleaseKey with the caller's held token, checked and opened the
//          same way. Tokens are renewed, untimed, before they are a minute
//          old (the server's token TTL is 5 minutes).
//
// Measurement: for each concurrency C, C threads in closed loops (RunTimed,
// harness.h); an untimed warm-up of min(0.5, S/4) s per op, then `rounds`
// rounds of S seconds per op, the ops taking turns (the first op
// alternates). Reported per op and C:
//   ops_per_s        median over rounds of completed ops / round time
//   round_ops_per_s  each round, in time order
//   p50_us, p99_us, p999_us, mean_us   over every op of every round
//   cpu_us_per_op    process CPU time / ops: client, server, TLS and HSM
//                    (SoftHSM is in the process too) together
//   caller_cpu_us_per_op  the calling threads' CPU time / ops: the workload
//                    side (its gRPC calls and TLS, evidence, HPKE open)
//   server_cpu_us_per_op  the rest: the server's threads, SoftHSM, RocksDB
//                    and gRPC's shared background threads
//   server_bound_ops_per_s  cpus x 1e6 / server_cpu_us_per_op: what the
//                    server's CPU cost alone would allow with the workloads
//                    on other machines (an estimate, not a measurement)
//   steps            flow and flow2: p50_us and p99_us of each step (flow2
//                    has no separate release step)
//   load_average     /proc/loadavg (1, 5, 15 min) after the rounds
// The load averages before and after the run go into the report as well:
// figures from a loaded machine are not comparable.
//
// Any failed call or wrong answer ends the run with exit status 1, naming the
// op, the concurrency and the thread.
#include <openssl/crypto.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "attest/binding.h"
#include "attest/dev/dev_attester.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status_macros.h"
#include "bench/harness.h"
#include "bench/loopback_server.h"
#include "bench/subcommands.h"
#include "client/connection.h"
#include "client/workload.h"
#include "kms/hpke/keys.h"

namespace strongroom::bench {
namespace {

namespace v1 = ::strongroom::v1;
namespace hpke = ::strongroom::kms::hpke;
using Clock = std::chrono::steady_clock;

constexpr char kAdmin[] = "admin";
constexpr char kOwner[] = "owner";
constexpr char kName[] = "release-bench";  // key, policy and reference values
constexpr char kDevKeyFile[] = "dev-attester.pub.pem";
constexpr int kMaxConcurrency = 256;
constexpr auto kTokenRenewAge = std::chrono::seconds(60);
constexpr const char* kOpNames[] = {"flow", "flow2", "reuse"};
constexpr double kAimFlowsPerSecond = 1000;
constexpr double kAimReusePerSecond = 5000;

enum Step { kChallenge, kEvidence, kAttest, kRelease, kOpen, kStepCount };
constexpr const char* kStepNames[kStepCount] = {"challenge", "evidence", "attest", "release",
                                                "open"};

struct ReleaseBenchOptions {
  double seconds = 2.0;
  std::vector<int> concurrency = {1, 2, 4, 8, 16, 32, 64};
  int rounds = 3;
  std::vector<std::string> ops;
  int hsm_sessions = 16;  // the server's default
  int rate_limit = 0;     // broker.rate_limit.per_second; 0 = off
  hpke::Kem kem = hpke::Kem::kDhkemP256HkdfSha256;
};

void Progress(const std::string& line) { std::fprintf(stderr, "[release] %s\n", line.c_str()); }

double ThreadCpuSeconds() {
  timespec t = {};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

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
  return Round(sorted_ns[std::clamp<size_t>(rank, 1, sorted_ns.size()) - 1] / 1e3, 1);
}

int64_t Nanos(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count();
}

// Read-only while measuring; shared by every thread.
struct Shared {
  attest::DevAttester attester;  // Attest() is const and thread-safe
  attest::DevClaims claims;
  std::string key;          // keys/release-bench
  hpke::Kem kem;            // of every workload's key pair
  SecretBytes material;     // what every release must open to
};

// One workload principal with its own connection and ephemeral key pair;
// used by one thread at a time.
struct Workload {
  std::unique_ptr<client::Connection> connection;
  hpke::KeyPair keys;
  std::string public_key;  // keys.public_key serialized
  std::string token;       // held for reuse
  std::string token_id;
  Clock::time_point token_time;
};

// Per-thread latencies of one op.
struct Latencies {
  std::vector<int64_t> total;
  std::array<std::vector<int64_t>, kStepCount> steps;
};

absl::Status CheckMaterial(const SecretBytes& got, const Shared& s) {
  if (got.size() == s.material.size() &&
      CRYPTO_memcmp(got.Reveal().data(), s.material.Reveal().data(), got.size()) == 0) {
    return absl::OkStatus();
  }
  return absl::DataLossError(
      absl::StrCat("released key material (", got.size(),
                   " bytes) differs from the first release of ", s.key));
}

// `sealed` checked and opened. Sets `material` when non-null instead of
// comparing (the first release of the run).
absl::Status OpenAndCheck(const Workload& w, const Shared& s, const v1::SealedKey& sealed,
                          const std::string& token_id, SecretBytes* material) {
  ASSIGN_OR_RETURN(SecretBytes got,
                   client::OpenSealedKey(w.keys.private_key, sealed, s.key, token_id));
  if (material != nullptr) {
    *material = std::move(got);
    return absl::OkStatus();
  }
  return CheckMaterial(got, s);
}

// ReleaseKey with `token`, then OpenAndCheck.
absl::Status ReleaseAndOpen(Workload& w, const Shared& s, const std::string& token,
                            const std::string& token_id, Clock::time_point* opened_at,
                            SecretBytes* material) {
  v1::ReleaseKeyRequest req;
  req.set_token(token);
  req.set_key(s.key);
  req.set_public_key(w.public_key);
  ASSIGN_OR_RETURN(v1::ReleaseKeyResponse resp, w.connection->ReleaseKey(req));
  if (opened_at != nullptr) *opened_at = Clock::now();
  return OpenAndCheck(w, s, resp.sealed(), token_id, material);
}

// One full flow; records each step's latency in `lat` when non-null and
// keeps the token in `w` for reuse. `two_trips`: the release comes with the
// Attest response (AttestRequest.release).
absl::Status FullFlow(Workload& w, const Shared& s, Latencies* lat, SecretBytes* material,
                      bool two_trips = false) {
  const Clock::time_point t0 = Clock::now();
  v1::GetChallengeRequest challenge_req;
  challenge_req.set_key(s.key);
  ASSIGN_OR_RETURN(v1::GetChallengeResponse challenge, w.connection->GetChallenge(challenge_req));
  const Clock::time_point t1 = Clock::now();
  const Bytes binding =
      attest::AttestationBinding(static_cast<uint16_t>(w.keys.public_key.kem()),
                                 AsBytes(challenge.nonce()), w.keys.public_key.Serialize());
  ASSIGN_OR_RETURN(std::string evidence, s.attester.Attest(s.claims, binding));
  v1::AttestRequest attest_req;
  attest_req.set_key(s.key);
  attest_req.set_nonce(challenge.nonce());
  v1::EvidenceItem* item = attest_req.add_evidence();
  item->set_type("dev");
  item->set_payload(std::move(evidence));
  attest_req.set_kem(s.kem == hpke::Kem::kDhkemX25519HkdfSha256 ? v1::HPKE_KEM_X25519_SHA256
                                                               : v1::HPKE_KEM_P256_SHA256);
  attest_req.set_public_key(w.public_key);
  if (two_trips) attest_req.set_release(s.key);
  const Clock::time_point t2 = Clock::now();
  ASSIGN_OR_RETURN(v1::AttestResponse attested, w.connection->Attest(attest_req));
  if (attested.ear_status() != "affirming") {
    return absl::DataLossError(
        absl::StrCat("Attest: ear_status '", attested.ear_status(), "', expected affirming"));
  }
  const Clock::time_point t3 = Clock::now();
  ASSIGN_OR_RETURN(std::string token_id, client::TokenId(attested.token()));
  Clock::time_point t4 = t3;
  if (two_trips) {
    if (!attested.has_sealed()) return absl::DataLossError("Attest: no sealed key with release");
    RETURN_IF_ERROR(OpenAndCheck(w, s, attested.sealed(), token_id, material));
  } else {
    RETURN_IF_ERROR(ReleaseAndOpen(w, s, attested.token(), token_id, &t4, material));
  }
  const Clock::time_point t5 = Clock::now();
  w.token = std::move(*attested.mutable_token());
  w.token_id = std::move(token_id);
  w.token_time = t5;
  if (lat != nullptr) {
    lat->total.push_back(Nanos(t0, t5));
    lat->steps[kChallenge].push_back(Nanos(t0, t1));
    lat->steps[kEvidence].push_back(Nanos(t1, t2));
    lat->steps[kAttest].push_back(Nanos(t2, t3));
    if (!two_trips) lat->steps[kRelease].push_back(Nanos(t3, t4));
    lat->steps[kOpen].push_back(Nanos(t4, t5));
  }
  return absl::OkStatus();
}

absl::Status Reuse(Workload& w, const Shared& s, Latencies& lat) {
  const Clock::time_point t0 = Clock::now();
  RETURN_IF_ERROR(ReleaseAndOpen(w, s, w.token, w.token_id, nullptr, nullptr));
  lat.total.push_back(Nanos(t0, Clock::now()));
  return absl::OkStatus();
}

// Admin and owner set up the key, its policy and reference values.
absl::Status SetUpKey(const LoopbackServer& server, const Shared& s) {
  ASSIGN_OR_RETURN(auto admin, client::Connection::Open(server.ClientOptions(kAdmin)));
  ASSIGN_OR_RETURN(auto owner, client::Connection::Open(server.ClientOptions(kOwner)));
  v1::PutReferenceValuesRequest rv;
  rv.set_name(kName);
  rv.add_values(HexEncode(s.claims.measurement));
  rv.set_description("strongroom-bench release: the dev measurement");
  RETURN_IF_ERROR(admin->PutReferenceValues(rv).status());
  v1::PutPolicyRequest pol;
  pol.set_name(kName);
  pol.set_policy_json(absl::StrCat(
      R"({"version": 1, "tee": ["dev"], "require": {"allOf": [)",
      R"({"claim": "dev.measurement", "in": {"referenceValues": ")", kName, R"("}},)",
      R"({"claim": "dev.debug", "equals": false}]}})"));
  RETURN_IF_ERROR(admin->PutPolicy(pol).status());
  v1::CreateKeyRequest create;
  create.set_key_id(kName);
  create.set_owner(LoopbackServer::Principal(kOwner));
  create.set_protection(v1::PROTECTION_SOFTWARE);
  create.set_description("strongroom-bench release");
  RETURN_IF_ERROR(admin->CreateKey(create).status());
  v1::UpdateKeyRequest up;
  up.set_name(s.key);
  up.add_update_mask("release_policy");
  up.set_release_policy(absl::StrCat("policies/", kName));
  ASSIGN_OR_RETURN(v1::ChangeResult changed, owner->UpdateKey(up));
  if (changed.key().release_policy() != up.release_policy()) {
    return absl::DataLossError(absl::StrCat("UpdateKey: release policy '",
                                            changed.key().release_policy(), "' after binding ",
                                            up.release_policy()));
  }
  return absl::OkStatus();
}

// Opens workload i's connection, makes its key pair and runs one flow
// (untimed), which also connects and completes the TLS handshake.
absl::StatusOr<std::unique_ptr<Workload>> NewWorkload(const LoopbackServer& server, int i,
                                                      Shared& s) {
  ASSIGN_OR_RETURN(std::unique_ptr<client::Connection> connection,
                   client::Connection::Open(server.ClientOptions(absl::StrCat("worker-", i))));
  ASSIGN_OR_RETURN(hpke::KeyPair keys, hpke::GenerateKeyPair(s.kem));
  const std::string public_key(AsStringView(keys.public_key.Serialize()));
  std::unique_ptr<Workload> w(new Workload{
      .connection = std::move(connection), .keys = std::move(keys), .public_key = public_key});
  const bool first = s.material.empty();
  if (absl::Status st = FullFlow(*w, s, nullptr, first ? &s.material : nullptr); !st.ok()) {
    return absl::Status(st.code(), absl::StrCat("worker-", i, ": ", st.message()));
  }
  return w;
}

// One op at one concurrency, summed over its rounds.
struct Measured {
  uint64_t ops = 0;
  double cpu_seconds = 0;
  double caller_cpu_seconds = 0;
  std::vector<double> round_ops_per_s;
  Latencies latencies;  // every counted op; sorted by Finish()
  void Finish() {
    std::sort(latencies.total.begin(), latencies.total.end());
    for (auto& v : latencies.steps) std::sort(v.begin(), v.end());
  }
};

absl::Status RunRound(const std::string& op, int threads, double seconds,
                      std::vector<std::unique_ptr<Workload>>& workloads, const Shared& s,
                      Measured* into) {
  std::vector<Latencies> per_thread(threads);
  std::vector<double> caller_cpu(threads, 0.0);
  // Each op's CPU time on its calling thread (the workload's side).
  auto on_caller_cpu = [](Op inner, double* cpu) {
    return Op([inner = std::move(inner), cpu] {
      const double start = ThreadCpuSeconds();
      absl::Status st = inner();
      *cpu += ThreadCpuSeconds() - start;
      return st;
    });
  };
  OpFactory factory = [&](int i) -> absl::StatusOr<Op> {
    Workload& w = *workloads[i];
    Latencies& lat = per_thread[i];
    if (op == "flow" || op == "flow2") {
      const bool two_trips = op == "flow2";
      return on_caller_cpu(
          Op([&w, &s, &lat, two_trips] { return FullFlow(w, s, &lat, nullptr, two_trips); }),
          &caller_cpu[i]);
    }
    if (Clock::now() - w.token_time > kTokenRenewAge) {
      RETURN_IF_ERROR(FullFlow(w, s, nullptr, nullptr));
    }
    return on_caller_cpu(Op([&w, &s, &lat] { return Reuse(w, s, lat); }), &caller_cpu[i]);
  };
  const double cpu_start = ProcessCpuSeconds();
  ASSIGN_OR_RETURN(TimedResult timed, RunTimed(threads, seconds, factory));
  if (into == nullptr) return absl::OkStatus();  // warm-up
  into->cpu_seconds += ProcessCpuSeconds() - cpu_start;
  for (double c : caller_cpu) into->caller_cpu_seconds += c;
  into->ops += timed.ops;
  into->round_ops_per_s.push_back(timed.OpsPerSecond());
  // RunTimed counts every op that returned OK and stops at the first that
  // did not: the latencies are exactly those of the counted ops.
  for (Latencies& l : per_thread) {
    into->latencies.total.insert(into->latencies.total.end(), l.total.begin(), l.total.end());
    for (int k = 0; k < kStepCount; ++k) {
      into->latencies.steps[k].insert(into->latencies.steps[k].end(), l.steps[k].begin(),
                                      l.steps[k].end());
    }
  }
  return absl::OkStatus();
}

nlohmann::json ResultJson(const std::string& op, int concurrency, const Measured& m) {
  nlohmann::json r;
  r["op"] = op;
  r["concurrency"] = concurrency;
  r["ops"] = m.ops;
  r["ops_per_s"] = Round(Median(m.round_ops_per_s), 1);
  nlohmann::json rounds = nlohmann::json::array();
  for (double v : m.round_ops_per_s) rounds.push_back(Round(v, 1));
  r["round_ops_per_s"] = std::move(rounds);
  const std::vector<int64_t>& total = m.latencies.total;
  r["p50_us"] = QuantileUs(total, 0.50);
  r["p99_us"] = QuantileUs(total, 0.99);
  r["p999_us"] = QuantileUs(total, 0.999);
  double sum_ns = 0;
  for (int64_t ns : total) sum_ns += ns;
  r["mean_us"] = total.empty() ? 0.0 : Round(sum_ns / total.size() / 1e3, 1);
  r["cpu_us_per_op"] = m.ops > 0 ? Round(m.cpu_seconds / m.ops * 1e6, 1) : 0.0;
  r["caller_cpu_us_per_op"] = m.ops > 0 ? Round(m.caller_cpu_seconds / m.ops * 1e6, 1) : 0.0;
  const double server_us =
      m.ops > 0 ? std::max(0.0, m.cpu_seconds - m.caller_cpu_seconds) / m.ops * 1e6 : 0.0;
  r["server_cpu_us_per_op"] = Round(server_us, 1);
  const double cpus = std::max(1u, std::thread::hardware_concurrency());
  r["server_bound_ops_per_s"] = server_us > 0 ? Round(cpus * 1e6 / server_us, 1) : 0.0;
  if (op == "flow" || op == "flow2") {
    nlohmann::json steps;
    for (int k = 0; k < kStepCount; ++k) {
      if (op == "flow2" && k == kRelease) continue;
      steps[kStepNames[k]] = {{"p50_us", QuantileUs(m.latencies.steps[k], 0.50)},
                              {"p99_us", QuantileUs(m.latencies.steps[k], 0.99)}};
    }
    r["steps"] = std::move(steps);
  }
  r["load_average"] = LoadAverage();
  return r;
}

absl::StatusOr<nlohmann::json> Run(const ReleaseBenchOptions& o) {
  const nlohmann::json load_before = LoadAverage();
  const int workers = *std::max_element(o.concurrency.begin(), o.concurrency.end());
  ASSIGN_OR_RETURN(attest::DevAttester attester, attest::DevAttester::Generate());
  Shared s{.attester = attester,
           .claims = {.measurement = Bytes(48, 0x5b), .debug = false, .svn = 1},
           .key = absl::StrCat("keys/", kName),
           .kem = o.kem};

  std::vector<std::pair<std::string, kms::Role>> clients = {{kAdmin, kms::Role::kAdmin},
                                                            {kOwner, kms::Role::kOwner}};
  for (int i = 0; i < workers; ++i) {
    clients.emplace_back(absl::StrCat("worker-", i), kms::Role::kWorkload);
  }
  LoopbackExtras extras;
  extras.files = {{kDevKeyFile, attester.public_key_pem()}};
  extras.yaml = absl::StrCat("attestation:\n  dev_attester: {enabled: true, trusted_keys: [",
                             kDevKeyFile, "]}\nbroker:\n  rate_limit: {per_second: ",
                             o.rate_limit, "}\n");
  Progress(absl::StrCat("starting the server (", clients.size(), " client certificates)"));
  // Workloads close before the server stops; the server before its
  // temporary directory goes (LoopbackServer's destructor).
  ASSIGN_OR_RETURN(std::unique_ptr<LoopbackServer> server,
                   LoopbackServer::Start(clients, o.hsm_sessions, extras));
  Progress(absl::StrCat("server on 127.0.0.1:", server->port(), ", token, PKI and db in ",
                        server->dir()));
  RETURN_IF_ERROR(SetUpKey(*server, s));
  std::vector<std::unique_ptr<Workload>> workloads;
  for (int i = 0; i < workers; ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<Workload> w, NewWorkload(*server, i, s));
    workloads.push_back(std::move(w));
  }
  Progress(absl::StrCat(workers, " workloads attested and opened ", s.key,
                        "; the broker's rate limit is ",
                        o.rate_limit > 0 ? absl::StrCat(o.rate_limit, "/s per principal")
                                         : std::string("off"),
                        "; measuring"));

  const double warmup = std::min(0.5, o.seconds / 4);
  nlohmann::json results = nlohmann::json::array();
  std::map<std::string, double> best;
  for (int concurrency : o.concurrency) {
    auto in_op = [&](const std::string& op, const absl::Status& st) {
      return absl::Status(st.code(), absl::StrCat(op, " at concurrency ", concurrency, ": ",
                                                  st.message()));
    };
    for (const std::string& op : o.ops) {
      if (absl::Status st = RunRound(op, concurrency, warmup, workloads, s, nullptr); !st.ok()) {
        return in_op(op, st);
      }
    }
    std::vector<Measured> measured(o.ops.size());
    for (int round = 0; round < o.rounds; ++round) {
      for (size_t k = 0; k < o.ops.size(); ++k) {
        const size_t i = (k + round) % o.ops.size();
        if (absl::Status st =
                RunRound(o.ops[i], concurrency, o.seconds, workloads, s, &measured[i]);
            !st.ok()) {
          return in_op(o.ops[i], st);
        }
      }
    }
    for (size_t i = 0; i < o.ops.size(); ++i) {
      measured[i].Finish();
      nlohmann::json r = ResultJson(o.ops[i], concurrency, measured[i]);
      const double ops_per_s = r["ops_per_s"].get<double>();
      best[o.ops[i]] = std::max(best[o.ops[i]], ops_per_s);
      Progress(absl::StrCat("c=", concurrency, " ", o.ops[i], ": ", static_cast<int64_t>(ops_per_s),
                            " ops/s, p50 ", r["p50_us"].get<double>(), " us, p99 ",
                            r["p99_us"].get<double>(), " us, ", r["cpu_us_per_op"].get<double>(),
                            " cpu-us/op (server ", r["server_cpu_us_per_op"].get<double>(),
                            ", callers ", r["caller_cpu_us_per_op"].get<double>(), "), load ",
                            r["load_average"].dump()));
      results.push_back(std::move(r));
    }
  }
  workloads.clear();

  nlohmann::json report;
  report["bench"] = "release";
  report["machine"] = MachineInfo();
  report["seconds"] = o.seconds;
  report["rounds"] = o.rounds;
  report["warmup_seconds"] = warmup;
  report["evidence"] = "dev (ECDSA P-256)";
  report["kem"] = o.kem == hpke::Kem::kDhkemX25519HkdfSha256 ? "DHKEM(X25519, HKDF-SHA256)"
                                                             : "DHKEM(P-256, HKDF-SHA256)";
  report["hsm_sessions"] = o.hsm_sessions;
  report["rate_limit_per_principal"] = o.rate_limit;
  report["principals"] = workers;
  report["load_average_before"] = load_before;
  report["load_average_after"] = LoadAverage();
  nlohmann::json aims;
  if (best.contains("flow")) {
    aims["flow"] = {{"aim_ops_per_s", kAimFlowsPerSecond},
                    {"best_ops_per_s", best["flow"]},
                    {"met", best["flow"] >= kAimFlowsPerSecond}};
  }
  if (best.contains("flow2")) {
    aims["flow2"] = {{"aim_ops_per_s", kAimFlowsPerSecond},
                     {"best_ops_per_s", best["flow2"]},
                     {"met", best["flow2"] >= kAimFlowsPerSecond}};
  }
  if (best.contains("reuse")) {
    aims["reuse"] = {{"aim_ops_per_s", kAimReusePerSecond},
                     {"best_ops_per_s", best["reuse"]},
                     {"met", best["reuse"] >= kAimReusePerSecond}};
  }
  report["aims"] = std::move(aims);
  report["results"] = std::move(results);
  return report;
}

}  // namespace

int RunReleaseBench(const std::vector<std::string>& args) {
  ReleaseBenchOptions o;
  std::string ops_flag;
  FlagParser flags;
  flags.AddDouble("seconds", &o.seconds, "seconds per round, per op and concurrency (default 2)");
  flags.AddIntList("concurrency-list", &o.concurrency,
                   "concurrent workloads, each its own principal and connection, in closed "
                   "loops (default 1,2,4,8,16,32,64)");
  flags.AddInt("rounds", &o.rounds,
               "rounds per op and concurrency, the ops taking turns; the median is "
               "reported (default 3)");
  flags.AddString("ops", &ops_flag, "comma-separated subset of flow,flow2,reuse (default all)");
  std::string kem_flag = "p256";
  flags.AddString("kem", &kem_flag,
                  "the workloads' HPKE KEM: p256 (the broker's default) or x25519 (default p256)");
  flags.AddInt("hsm-sessions", &o.hsm_sessions, "the server's PKCS#11 session pool (default 16)");
  flags.AddInt("rate-limit", &o.rate_limit,
               "the broker's per-principal rate limit, calls/s (default 0: off)");
  absl::Status s = flags.Parse(args);
  if (s.ok() && kem_flag == "x25519") {
    o.kem = hpke::Kem::kDhkemX25519HkdfSha256;
  } else if (s.ok() && kem_flag != "p256") {
    s = absl::InvalidArgumentError(absl::StrCat("--kem: '", kem_flag, "' is not p256 or x25519"));
  }
  if (s.ok() && o.concurrency.empty()) {
    s = absl::InvalidArgumentError("--concurrency-list: empty");
  }
  if (s.ok() && (o.seconds <= 0 || o.rounds < 1 || o.hsm_sessions < 1 || o.rate_limit < 0)) {
    s = absl::InvalidArgumentError(
        "--seconds must be > 0, --rounds and --hsm-sessions >= 1, --rate-limit >= 0");
  }
  if (s.ok() && *std::max_element(o.concurrency.begin(), o.concurrency.end()) > kMaxConcurrency) {
    s = absl::InvalidArgumentError(absl::StrCat(
        "--concurrency-list: at most ", kMaxConcurrency, " (one client certificate each)"));
  }
  std::set<std::string> chosen;
  for (absl::string_view name : absl::StrSplit(ops_flag, ',', absl::SkipEmpty())) {
    if (s.ok() && std::find(std::begin(kOpNames), std::end(kOpNames), name) == std::end(kOpNames)) {
      s = absl::InvalidArgumentError(
          absl::StrCat("--ops: unknown op '", name, "' (known: flow,flow2,reuse)"));
    }
    chosen.emplace(name);
  }
  for (const char* name : kOpNames) {
    if (chosen.empty() || chosen.contains(name)) o.ops.push_back(name);
  }
  return FinishBench("release", s, flags, [&] { return Run(o); });
}

}  // namespace strongroom::bench
