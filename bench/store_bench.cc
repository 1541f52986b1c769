// strongroom-bench store: sealed-store throughput through gRPC against its
// baselines, in the same run and process.
//
//   strongroom-bench store [--sizes-mib 1,16,256,1024] [--segment-size 1048576]
//                          [--rounds 3] [--min-round-mib 64]
//
// Setup (LoopbackServer): a complete strongroomd on 127.0.0.1 over mutual
// TLS with a temporary SoftHSM token, CA and databases; an admin creates a
// key for the `bench` owner, who creates a dataset. Everything is removed at
// exit.
//
// Per object size, `rounds` rounds (at most two for 1 GiB and more). A round
// stores, reads and deletes `ops` objects of that size on every path alike,
// ops = ceil(--min-round-mib / size) (64 MiB: 64 objects of 1 MiB, 4 of
// 16 MiB, one from 64 MiB), so that small sizes are not a single
// millisecond-scale sample; before the first size, one untimed round of
// 1 MiB objects warms every path up (threads, streams, caches). Each round
// measures in turn:
//   sealed_put   client::PutSealedObject: data key from the KMS, AES-256-GCM
//                segments encrypted in the client, streamed, stored, committed
//   plain_get    GetObject of the same object without decryption (--raw):
//                the unencrypted streaming get of the same server and bytes
//   sealed_get   client::GetSealedObject: stream, unwrap, decrypt, verify
//   rocksdb_put  the same bytes cut into the same segment size, written
//                in-process to a RocksDB with the store's own options
//                (storage/sealed/object_db.h) and made durable the way the
//                store does it: the first 8 MiB through the WAL, the rest
//                unlogged, a flush, then one synced commit record
//   rocksdb_get  reading those values back
//   aes_gcm_enc / aes_gcm_dec  OpenSSL AES-256-GCM over the same segments,
//                in-process (the cipher cost alone)
// Reported: MB/s (10^6 bytes per second) per measure, the median over rounds,
// the wall and CPU time per object (`_ms_per_op`, `_cpu_ms_per_op`: at 1 MiB
// mostly the fixed cost of an operation: round trips, the data key, the
// synced commit), the process CPU time per MiB (client, server and RocksDB
// threads together, since they share the process; background flushes and
// compactions that a measure leaves behind may land in the next one) and
// that of the calling thread alone (`_caller_cpu_ms_per_mib`: the client's
// share of a sealed transfer, the writer's of a RocksDB put): on a busy
// machine the MB/s of the CPU-heavier sealed path drop more than the
// baselines', and the CPU cost says why;
// get_vs_plain = sealed_get / plain_get and put_vs_rocksdb = sealed_put /
// rocksdb_put. The data is a repeating 1 MiB random pattern; every read is
// checked against it, so a wrong byte ends the run (exit 1).
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "bench/harness.h"
#include "bench/loopback_server.h"
#include "bench/subcommands.h"
#include "client/connection.h"
#include "client/sealed_object.h"
#include "storage/sealed/object_db.h"

namespace strongroom::bench {
namespace {

namespace v1 = ::strongroom::v1;
using Clock = std::chrono::steady_clock;

constexpr char kOwner[] = "bench";
constexpr char kAdmin[] = "admin";
constexpr size_t kPatternSize = 1 << 20;

struct StoreBenchOptions {
  std::vector<int> sizes_mib = {1, 16, 256, 1024};
  int segment_size = 1 << 20;
  int rounds = 3;
  int min_round_mib = 64;
};

void Progress(const std::string& line) { std::fprintf(stderr, "[store] %s\n", line.c_str()); }

const Bytes& Pattern() {
  static const Bytes* p = [] {
    auto* b = new Bytes(kPatternSize);
    RAND_bytes(b->data(), static_cast<int>(b->size()));
    return b;
  }();
  return *p;
}

// `size` bytes of the repeating pattern.
class PatternSource final : public storage::ByteSource {
 public:
  explicit PatternSource(uint64_t size) : size_(size) {}
  absl::StatusOr<size_t> Read(std::span<uint8_t> out) override {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), size_ - pos_));
    for (size_t done = 0; done < n;) {
      const size_t at = (pos_ + done) % kPatternSize;
      const size_t k = std::min(n - done, kPatternSize - at);
      std::memcpy(out.data() + done, Pattern().data() + at, k);
      done += k;
    }
    pos_ += n;
    return n;
  }

 private:
  const uint64_t size_;
  uint64_t pos_ = 0;
};

// Checks that what arrives is the pattern; counts it.
class PatternSink final : public storage::ByteSink {
 public:
  absl::Status Append(std::span<const uint8_t> data) override {
    for (size_t done = 0; done < data.size();) {
      const size_t at = (pos_ + done) % kPatternSize;
      const size_t k = std::min(data.size() - done, kPatternSize - at);
      if (std::memcmp(data.data() + done, Pattern().data() + at, k) != 0) {
        return absl::DataLossError(absl::StrCat("read back wrong bytes near offset ", pos_ + done));
      }
      done += k;
    }
    pos_ += data.size();
    return absl::OkStatus();
  }
  uint64_t bytes() const { return pos_; }

 private:
  uint64_t pos_ = 0;
};

double MbPerSecond(uint64_t bytes, Clock::duration d) {
  const double s = std::chrono::duration<double>(d).count();
  return s > 0 ? bytes / 1e6 / s : 0;
}

struct RoundResult {
  std::map<std::string, double> mbps;
  std::map<std::string, double> cpu_ms_per_mib;
  std::map<std::string, double> ms_per_op;
  std::map<std::string, double> cpu_ms_per_op;
  std::map<std::string, double> caller_cpu_ms_per_mib;
};

// The 1-minute load average; 0 when unknown.
double LoadAverage() {
  double load = 0;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = 0;
    std::fclose(f);
  }
  return load;
}

// CPU time of the calling thread: for the sealed paths the client's share
// (encryption, framing, TLS), for the RocksDB paths the writer's or reader's
// (not the flush and compaction threads).
double ThreadCpuSeconds() {
  timespec t = {};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

double ProcessCpuSeconds() {
  rusage u = {};
  getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

// Runs fn, which does `ops` operations over `bytes` bytes in all, and
// records its MB/s, the process CPU time it took per MiB (client, server and
// RocksDB threads together: they share the process), and wall and CPU time
// per operation.
absl::Status Timed(RoundResult& r, const std::string& name, uint64_t bytes, int ops,
                   const std::function<absl::Status()>& fn) {
  const double cpu = ProcessCpuSeconds();
  const double caller_cpu = ThreadCpuSeconds();
  const Clock::time_point start = Clock::now();
  RETURN_IF_ERROR(fn());
  const Clock::duration wall = Clock::now() - start;
  const double cpu_s = ProcessCpuSeconds() - cpu;
  r.caller_cpu_ms_per_mib[name] = (ThreadCpuSeconds() - caller_cpu) * 1e3 / (bytes / 1048576.0);
  r.mbps[name] = MbPerSecond(bytes, wall);
  r.cpu_ms_per_mib[name] = cpu_s * 1e3 / (bytes / 1048576.0);
  r.ms_per_op[name] = std::chrono::duration<double, std::milli>(wall).count() / ops;
  r.cpu_ms_per_op[name] = cpu_s * 1e3 / ops;
  return absl::OkStatus();
}

// AES-256-GCM over `size` bytes in segments, one key, a fresh IV each.
absl::Status AesGcm(bool encrypt, uint64_t size, size_t segment, Bytes& out_tag) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return absl::InternalError("EVP_CIPHER_CTX_new");
  uint8_t key[32] = {1}, iv[12] = {0};
  Bytes in(segment), out(segment + 16);
  std::memcpy(in.data(), Pattern().data(), std::min(segment, kPatternSize));
  absl::Status status;
  for (uint64_t pos = 0; pos < size && status.ok(); pos += segment) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(segment, size - pos));
    std::memcpy(iv, &pos, sizeof(pos));
    int len = 0;
    const bool ok =
        encrypt
            ? EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key, iv) == 1 &&
                  EVP_EncryptUpdate(ctx, out.data(), &len, in.data(), static_cast<int>(n)) == 1 &&
                  EVP_EncryptFinal_ex(ctx, out.data() + len, &len) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out_tag.data()) == 1
            : EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key, iv) == 1 &&
                  EVP_DecryptUpdate(ctx, out.data(), &len, in.data(), static_cast<int>(n)) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, out_tag.data()) == 1;
    // (The decrypt side skips the final tag check: its ciphertext is the
    // pattern, not a real one; the work done is the same.)
    if (!ok) status = absl::InternalError("AES-256-GCM failed");
  }
  EVP_CIPHER_CTX_free(ctx);
  return status;
}

// The sealed path: `ops` puts, then the plain and the sealed gets of those
// objects (taking turns going first, so that neither always finds the
// other's data in the page cache), then deletes.
absl::Status MeasureSealed(client::Connection& owner, uint64_t size, int segment_size, int round,
                           const std::string& name, int ops, RoundResult& r) {
  client::PutObjectOptions put;
  put.dataset = "bench";
  put.segment_size = static_cast<uint32_t>(segment_size);
  std::vector<v1::ObjectInfo> infos(ops);
  RETURN_IF_ERROR(Timed(r, "sealed_put", size * ops, ops, [&]() -> absl::Status {
    for (int i = 0; i < ops; ++i) {
      put.name = absl::StrCat(name, "-", i);
      PatternSource source(size);
      ASSIGN_OR_RETURN(infos[i], client::PutSealedObject(owner, put, source));
    }
    return absl::OkStatus();
  }));
  uint64_t stored = 0;
  for (const v1::ObjectInfo& info : infos) stored += info.stored_bytes();
  client::GetObjectOptions get;
  get.dataset = "bench";
  for (int k = 0; k < 2; ++k) {
    get.raw = (k + round) % 2 == 0;
    RETURN_IF_ERROR(Timed(r, get.raw ? "plain_get" : "sealed_get", get.raw ? stored : size * ops,
                          ops, [&]() -> absl::Status {
                            for (int i = 0; i < ops; ++i) {
                              get.name = absl::StrCat(name, "-", i);
                              get.version = infos[i].version();
                              if (get.raw) {
                                storage::CountingSink sink;
                                RETURN_IF_ERROR(client::GetSealedObject(owner, get, sink).status());
                                if (sink.bytes() != infos[i].stored_bytes()) {
                                  return absl::DataLossError("short plain get");
                                }
                              } else {
                                PatternSink sink;
                                RETURN_IF_ERROR(client::GetSealedObject(owner, get, sink).status());
                                if (sink.bytes() != size) {
                                  return absl::DataLossError("short sealed get");
                                }
                              }
                            }
                            return absl::OkStatus();
                          }));
  }
  for (int i = 0; i < ops; ++i) {
    v1::DeleteObjectRequest del;
    del.set_dataset("bench");
    del.set_name(absl::StrCat(name, "-", i));
    del.set_version(infos[i].version());
    RETURN_IF_ERROR(owner.DeleteObject(del).status());
  }
  return absl::OkStatus();
}

// The same bytes into RocksDB in-process, `ops` objects each with its own
// key space and commit record, and back.
absl::Status MeasureRocksDb(storage::sealed::ObjectDb& raw, uint64_t size, int segment_size,
                            const std::string& name, int ops, RoundResult& r) {
  const uint64_t segments = (size + segment_size - 1) / segment_size;
  auto space = [&](int i) { return absl::StrCat("raw-", name, "-", i); };
  RETURN_IF_ERROR(Timed(r, "rocksdb_put", size * ops, ops, [&]() -> absl::Status {
    std::string value(segment_size, '\0');
    for (int k = 0; k < ops; ++k) {
      PatternSource source(size);
      uint64_t written = 0;
      bool unlogged = false;
      for (uint64_t i = 0; i < segments; ++i) {
        ASSIGN_OR_RETURN(size_t n, source.Read(std::span<uint8_t>(
                                       reinterpret_cast<uint8_t*>(value.data()), value.size())));
        rocksdb::WriteBatch batch;
        batch.Put(storage::sealed::keys::Segment(space(k), i), rocksdb::Slice(value.data(), n));
        written += n;
        const bool logged = written <= (8 << 20);  // as ObjectUpload::AppendSegment
        unlogged = unlogged || !logged;
        RETURN_IF_ERROR(raw.Write(batch, /*sync=*/false, logged));
      }
      if (unlogged) RETURN_IF_ERROR(raw.Flush());
      rocksdb::WriteBatch commit;
      commit.Put(absl::StrCat("o/", space(k)), name);
      RETURN_IF_ERROR(raw.Write(commit, /*sync=*/true));
    }
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(Timed(r, "rocksdb_get", size * ops, ops, [&]() -> absl::Status {
    for (int k = 0; k < ops; ++k) {
      PatternSink sink;
      for (uint64_t i = 0; i < segments; ++i) {
        ASSIGN_OR_RETURN(std::string v, raw.Get(storage::sealed::keys::Segment(space(k), i)));
        RETURN_IF_ERROR(sink.Append(AsBytes(v)));
      }
      if (sink.bytes() != size) return absl::DataLossError("short rocksdb get");
    }
    return absl::OkStatus();
  }));
  for (int k = 0; k < ops; ++k) {
    rocksdb::WriteBatch drop;
    drop.DeleteRange(storage::sealed::keys::SegmentsOf(space(k)),
                     storage::sealed::keys::SegmentsEnd(space(k)));
    drop.Delete(absl::StrCat("o/", space(k)));
    RETURN_IF_ERROR(raw.Write(drop, false));
  }
  return absl::OkStatus();
}

absl::StatusOr<RoundResult> MeasureRound(client::Connection& owner, storage::sealed::ObjectDb& raw,
                                         uint64_t size, int segment_size, int round,
                                         const std::string& name, int ops) {
  RoundResult r;
  // The two paths take turns going first: each leaves background work
  // (flushes, compactions) behind that the next measurement competes with.
  if (round % 2 == 0) {
    RETURN_IF_ERROR(MeasureSealed(owner, size, segment_size, round, name, ops, r));
    RETURN_IF_ERROR(MeasureRocksDb(raw, size, segment_size, name, ops, r));
  } else {
    RETURN_IF_ERROR(MeasureRocksDb(raw, size, segment_size, name, ops, r));
    RETURN_IF_ERROR(MeasureSealed(owner, size, segment_size, round, name, ops, r));
  }
  Bytes tag(16);
  RETURN_IF_ERROR(Timed(r, "aes_gcm_enc", size * ops, ops,
                        [&] { return AesGcm(true, size * ops, segment_size, tag); }));
  RETURN_IF_ERROR(Timed(r, "aes_gcm_dec", size * ops, ops,
                        [&] { return AesGcm(false, size * ops, segment_size, tag); }));
  return r;
}

absl::StatusOr<nlohmann::json> Run(const StoreBenchOptions& o) {
  ASSIGN_OR_RETURN(
      std::unique_ptr<LoopbackServer> server,
      LoopbackServer::Start({{kOwner, kms::Role::kOwner}, {kAdmin, kms::Role::kAdmin}}, 16));
  Progress(absl::StrCat("server on 127.0.0.1:", server->port(), ", state in ", server->dir()));
  ASSIGN_OR_RETURN(auto admin, client::Connection::Open(server->ClientOptions(kAdmin)));
  ASSIGN_OR_RETURN(auto owner, client::Connection::Open(server->ClientOptions(kOwner)));
  v1::CreateKeyRequest key;
  key.set_key_id("bench");
  key.set_owner(LoopbackServer::Principal(kOwner));
  RETURN_IF_ERROR(admin->CreateKey(key).status());
  v1::CreateDatasetRequest ds;
  ds.set_dataset_id("bench");
  ds.set_key("bench");
  RETURN_IF_ERROR(owner->CreateDataset(ds).status());
  storage::sealed::StoreOptions raw_options;
  raw_options.path = server->dir() + "/raw-rocksdb";
  ASSIGN_OR_RETURN(std::unique_ptr<storage::sealed::ObjectDb> raw,
                   storage::sealed::ObjectDb::Open(raw_options));

  const double load_at_start = LoadAverage();
  // Untimed: the first put, get and RocksDB write of the process pay for
  // thread and stream creation and cold caches.
  RETURN_IF_ERROR(MeasureRound(*owner, *raw, 1 << 20, o.segment_size, 0, "warmup", 2).status());
  nlohmann::json results = nlohmann::json::array();
  for (int mib : o.sizes_mib) {
    const uint64_t size = uint64_t{static_cast<uint64_t>(mib)} << 20;
    // Large objects: two rounds, one for each order of the gets.
    const int rounds = mib >= 1024 ? std::min(o.rounds, 2) : o.rounds;
    const int ops = std::max(1, (o.min_round_mib + mib - 1) / mib);
    std::map<std::string, std::vector<double>> all, cpu, ms_op, cpu_op, caller_cpu;
    for (int k = 0; k < rounds; ++k) {
      if (Interrupted()) return absl::CancelledError("interrupted");
      ASSIGN_OR_RETURN(RoundResult r, MeasureRound(*owner, *raw, size, o.segment_size, k,
                                                   absl::StrCat("obj-", mib, "-", k), ops));
      for (const auto& [m, v] : r.mbps) all[m].push_back(v);
      for (const auto& [m, v] : r.cpu_ms_per_mib) cpu[m].push_back(v);
      for (const auto& [m, v] : r.ms_per_op) ms_op[m].push_back(v);
      for (const auto& [m, v] : r.cpu_ms_per_op) cpu_op[m].push_back(v);
      for (const auto& [m, v] : r.caller_cpu_ms_per_mib) caller_cpu[m].push_back(v);
    }
    nlohmann::json row;
    row["size_mib"] = mib;
    row["rounds"] = rounds;
    row["ops_per_round"] = ops;
    std::map<std::string, double> med;
    for (auto& [m, v] : all) {
      med[m] = Median(v);
      row[absl::StrCat(m, "_mbps")] = Round(med[m], 1);
      row[absl::StrCat(m, "_cpu_ms_per_mib")] = Round(Median(cpu[m]), 2);
      row[absl::StrCat(m, "_ms_per_op")] = Round(Median(ms_op[m]), 2);
      row[absl::StrCat(m, "_cpu_ms_per_op")] = Round(Median(cpu_op[m]), 2);
      row[absl::StrCat(m, "_caller_cpu_ms_per_mib")] = Round(Median(caller_cpu[m]), 2);
    }
    row["get_vs_plain"] = Round(med["sealed_get"] / med["plain_get"], 3);
    row["put_vs_rocksdb"] = Round(med["sealed_put"] / med["rocksdb_put"], 3);
    Progress(absl::StrCat(mib, " MiB: put ", Round(med["sealed_put"], 1), " MB/s (rocksdb ",
                          Round(med["rocksdb_put"], 1), ", ", row["put_vs_rocksdb"].get<double>(),
                          "x), get ", Round(med["sealed_get"], 1), " MB/s (plain ",
                          Round(med["plain_get"], 1), ", ", row["get_vs_plain"].get<double>(),
                          "x), rocksdb get ", Round(med["rocksdb_get"], 1), ", aes-gcm ",
                          Round(med["aes_gcm_enc"], 1), "/", Round(med["aes_gcm_dec"], 1),
                          "; cpu ms/MiB: put ", row["sealed_put_cpu_ms_per_mib"].get<double>(),
                          " vs ", row["rocksdb_put_cpu_ms_per_mib"].get<double>(), ", get ",
                          row["sealed_get_cpu_ms_per_mib"].get<double>(), " vs ",
                          row["plain_get_cpu_ms_per_mib"].get<double>(), "; ms/op: put ",
                          row["sealed_put_ms_per_op"].get<double>(), " vs ",
                          row["rocksdb_put_ms_per_op"].get<double>(), " (", ops,
                          " objects per round)"));
    results.push_back(std::move(row));
  }
  nlohmann::json report;
  report["bench"] = "store";
  report["machine"] = MachineInfo();
  // Figures from a busy machine are not comparable with those of an idle one.
  report["load_average_1m_at_start"] = load_at_start;
  report["load_average_1m_at_end"] = LoadAverage();
  report["segment_size"] = o.segment_size;
  report["min_round_mib"] = o.min_round_mib;
  report["results"] = std::move(results);
  return report;
}

}  // namespace

int RunStoreBench(const std::vector<std::string>& args) {
  StoreBenchOptions o;
  FlagParser flags;
  flags.AddIntList("sizes-mib", &o.sizes_mib, "object sizes in MiB (default 1,16,256,1024)");
  flags.AddInt("segment-size", &o.segment_size,
               "ciphertext bytes per segment, 4096..2097152 (default 1048576)");
  flags.AddInt("rounds", &o.rounds,
               "rounds per size (at most 2 from 1 GiB); median reported (default 3)");
  flags.AddInt("min-round-mib", &o.min_round_mib,
               "smaller objects repeat until a round moves this many MiB per path (default 64)");
  absl::Status s = flags.Parse(args);
  if (s.ok() && (o.segment_size < 4096 || o.segment_size > (2 << 20))) {
    s = absl::InvalidArgumentError(
        absl::StrCat("--segment-size: ", o.segment_size, " is outside 4096..2097152"));
  }
  if (s.ok() && o.rounds < 1) s = absl::InvalidArgumentError("--rounds: at least 1");
  if (s.ok() && o.min_round_mib < 1) {
    s = absl::InvalidArgumentError(
        absl::StrCat("--min-round-mib: ", o.min_round_mib, " is less than 1"));
  }
  return FinishBench("store", s, flags, [&] { return Run(o); });
}

}  // namespace strongroom::bench
