// strongroom-bench hpke: what kms/hpke's single-shot Seal and Open and its
// GenerateKeyPair cost, next to the bare OpenSSL operations they cannot
// avoid, measured in the same run.
//
//   strongroom-bench hpke [--seconds 1] [--rounds 3] [--kems p256,x25519]
//                         [--payload-bytes 32] [--info-bytes 64] [--threads 1]
//
// Per KEM (suite: that DHKEM, HKDF-SHA256, AES-256-GCM, as the key broker
// seals released keys):
//   keygen        hpke::GenerateKeyPair
//   seal          hpke::Seal to a fixed recipient key (aad = info)
//   open          hpke::Open of a fixed sealed message
//   bare_keygen   EVP_PKEY_keygen on a context initialized once per thread,
//                 plus the encoded public key (what `enc` needs)
//   bare_derive   EVP_PKEY_derive with a fresh derive context (as one DH)
//   bare_import_derive  the peer's raw public key imported (EVP_PKEY_fromdata
//                 with its on-curve check / raw X25519), then derive: what
//                 Open cannot avoid
// seal's floor is bare_keygen + bare_derive, open's is bare_import_derive;
// the rest is HKDF (about 10 HMACs), AES-GCM setup and object handling.
//
// Each round runs every op of a KEM in turn, in ~100 ms slices, so that
// background load on a shared VM hits all of them alike. Reported per op:
// the median round's ops/s, its µs/op (threads / ops_per_s) and the CPU time
// per op (process user + system time over the slices, so on a loaded machine
// it stays comparable where wall time does not), and the load average before
// and after the run. Before timing, seal/open round-trip and the bare derive
// is checked against the other side's.
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status_macros.h"
#include "bench/harness.h"
#include "bench/subcommands.h"
#include "kms/hpke/hpke.h"

namespace strongroom::bench {
namespace {

namespace hpke = kms::hpke;

struct HpkeBenchOptions {
  double seconds = 1.0;
  int rounds = 3;
  std::string kems = "p256,x25519";
  int payload_bytes = 32;
  int info_bytes = 64;
  int threads = 1;
};

void Progress(const std::string& line) { std::fprintf(stderr, "[hpke] %s\n", line.c_str()); }

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyFree>;

absl::Status OsslError(absl::string_view call) {
  return absl::InternalError(absl::StrCat(call, " failed"));
}

bool IsP256(hpke::Kem kem) { return kem == hpke::Kem::kDhkemP256HkdfSha256; }

// A keygen context for `kem`, initialized (and for P-256 given its group).
absl::StatusOr<PkeyCtxPtr> NewKeygenCtx(hpke::Kem kem) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, IsP256(kem) ? "EC" : "X25519", nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1) return OsslError("EVP_PKEY_keygen_init");
  if (IsP256(kem) && EVP_PKEY_CTX_set_group_name(ctx.get(), SN_X9_62_prime256v1) != 1) {
    return OsslError("EVP_PKEY_CTX_set_group_name");
  }
  return ctx;
}

// The encoded public key (65-byte point or 32 raw bytes).
absl::StatusOr<Bytes> EncodedPublic(hpke::Kem kem, EVP_PKEY* pkey) {
  Bytes out(IsP256(kem) ? 65 : 32);
  size_t len = out.size();
  const int ok = IsP256(kem) ? EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY,
                                                               out.data(), out.size(), &len)
                             : EVP_PKEY_get_raw_public_key(pkey, out.data(), &len);
  if (ok != 1 || len != out.size()) return OsslError("public key export");
  return out;
}

// The peer key from its encoding, validated as an importer must.
absl::StatusOr<PkeyPtr> ImportPublic(hpke::Kem kem, const Bytes& raw) {
  if (!IsP256(kem)) {
    PkeyPtr p(EVP_PKEY_new_raw_public_key_ex(nullptr, "X25519", nullptr, raw.data(), raw.size()));
    if (!p) return OsslError("EVP_PKEY_new_raw_public_key_ex");
    return p;
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                       const_cast<char*>(SN_X9_62_prime256v1), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<uint8_t*>(raw.data()),
                                        raw.size()),
      OSSL_PARAM_construct_end()};
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    return OsslError("EVP_PKEY_fromdata");
  }
  return PkeyPtr(pkey);
}

absl::StatusOr<Bytes> Derive(EVP_PKEY* own, EVP_PKEY* peer) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr));
  Bytes out(32);
  size_t len = out.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer_ex(ctx.get(), peer, 0) != 1 ||
      EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1 || len != 32) {
    return OsslError("EVP_PKEY_derive");
  }
  return out;
}

struct NamedOp {
  std::string name;
  OpFactory factory;
};

// Everything the ops of one KEM share, built once (untimed).
struct KemFixture {
  hpke::Kem kem;
  hpke::Suite suite;
  hpke::KeyPair recipient;
  Bytes info;
  Bytes plaintext;
  hpke::Sealed sealed;
  PkeyPtr bare_own;   // a bare OpenSSL key pair
  Bytes bare_own_public;
  PkeyPtr bare_peer;  // another one's public half, imported
  Bytes bare_peer_public;
};

absl::StatusOr<std::shared_ptr<KemFixture>> MakeFixture(hpke::Kem kem, const HpkeBenchOptions& o) {
  ASSIGN_OR_RETURN(hpke::Suite suite,
                   hpke::Suite::Create(kem, hpke::Kdf::kHkdfSha256, hpke::Aead::kAes256Gcm));
  ASSIGN_OR_RETURN(hpke::KeyPair recipient, hpke::GenerateKeyPair(kem));
  auto f = std::make_shared<KemFixture>(
      KemFixture{kem, suite, std::move(recipient), Bytes(o.info_bytes, 0x69),
                 Bytes(o.payload_bytes, 0x70), {}, nullptr, {}, nullptr, {}});
  ASSIGN_OR_RETURN(f->sealed,
                   hpke::Seal(suite, f->recipient.public_key, f->info, f->info, f->plaintext));
  ASSIGN_OR_RETURN(SecretBytes opened, hpke::Open(suite, f->recipient.private_key, f->sealed.enc,
                                                  f->info, f->info, f->sealed.ciphertext));
  if (!std::equal(opened.Reveal().begin(), opened.Reveal().end(), f->plaintext.begin(),
                  f->plaintext.end())) {
    return absl::InternalError("hpke: Open(Seal(m)) != m");
  }

  ASSIGN_OR_RETURN(PkeyCtxPtr gen, NewKeygenCtx(kem));
  EVP_PKEY* own = nullptr;
  EVP_PKEY* peer = nullptr;
  if (EVP_PKEY_keygen(gen.get(), &own) != 1) return OsslError("EVP_PKEY_keygen");
  f->bare_own.reset(own);
  if (EVP_PKEY_keygen(gen.get(), &peer) != 1) return OsslError("EVP_PKEY_keygen");
  PkeyPtr peer_pair(peer);
  ASSIGN_OR_RETURN(f->bare_own_public, EncodedPublic(kem, own));
  ASSIGN_OR_RETURN(f->bare_peer_public, EncodedPublic(kem, peer));
  ASSIGN_OR_RETURN(f->bare_peer, ImportPublic(kem, f->bare_peer_public));
  // Both sides of the bare DH agree, and agree with kms/hpke's key import.
  ASSIGN_OR_RETURN(PkeyPtr own_imported, ImportPublic(kem, f->bare_own_public));
  ASSIGN_OR_RETURN(Bytes ab, Derive(own, f->bare_peer.get()));
  ASSIGN_OR_RETURN(Bytes ba, Derive(peer, own_imported.get()));
  if (ab != ba) return absl::InternalError("bare DH: the two sides disagree");
  ASSIGN_OR_RETURN(hpke::PublicKey via_hpke, hpke::PublicKey::Create(kem, f->bare_peer_public));
  if (via_hpke.Serialize() != f->bare_peer_public) {
    return absl::InternalError("hpke public key import changed the encoding");
  }
  return f;
}

std::vector<NamedOp> KemOps(std::shared_ptr<const KemFixture> f) {
  std::vector<NamedOp> ops;
  ops.push_back({"keygen", [f](int) -> absl::StatusOr<Op> {
                   return Op([f] { return hpke::GenerateKeyPair(f->kem).status(); });
                 }});
  ops.push_back({"seal", [f](int) -> absl::StatusOr<Op> {
                   return Op([f] {
                     return hpke::Seal(f->suite, f->recipient.public_key, f->info, f->info,
                                       f->plaintext)
                         .status();
                   });
                 }});
  ops.push_back({"open", [f](int) -> absl::StatusOr<Op> {
                   return Op([f] {
                     return hpke::Open(f->suite, f->recipient.private_key, f->sealed.enc, f->info,
                                       f->info, f->sealed.ciphertext)
                         .status();
                   });
                 }});
  ops.push_back({"bare_keygen", [f](int) -> absl::StatusOr<Op> {
                   ASSIGN_OR_RETURN(PkeyCtxPtr gen, NewKeygenCtx(f->kem));
                   auto shared = std::make_shared<PkeyCtxPtr>(std::move(gen));
                   return Op([f, shared]() -> absl::Status {
                     EVP_PKEY* pkey = nullptr;
                     if (EVP_PKEY_keygen(shared->get(), &pkey) != 1) {
                       return OsslError("EVP_PKEY_keygen");
                     }
                     PkeyPtr owned(pkey);
                     return EncodedPublic(f->kem, pkey).status();
                   });
                 }});
  ops.push_back({"bare_derive", [f](int) -> absl::StatusOr<Op> {
                   return Op(
                       [f] { return Derive(f->bare_own.get(), f->bare_peer.get()).status(); });
                 }});
  ops.push_back({"bare_import_derive", [f](int) -> absl::StatusOr<Op> {
                   return Op([f]() -> absl::Status {
                     ASSIGN_OR_RETURN(PkeyPtr peer, ImportPublic(f->kem, f->bare_peer_public));
                     return Derive(f->bare_own.get(), peer.get()).status();
                   });
                 }});
  return ops;
}

double CpuSeconds() {
  struct rusage ru = {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct Totals {
  uint64_t ops = 0;
  double seconds = 0;
  double cpu = 0;
};

// One round: every op in turn, slice by slice (the order rotates per slice).
absl::StatusOr<std::vector<Totals>> RunRound(const std::vector<NamedOp>& ops, int threads,
                                             double seconds) {
  const int slices = std::max(1, static_cast<int>(std::lround(seconds / 0.1)));
  const double slice = seconds / slices;
  std::vector<Totals> totals(ops.size());
  for (int s = 0; s < slices; ++s) {
    for (size_t k = 0; k < ops.size(); ++k) {
      const size_t i = (k + s) % ops.size();
      const double cpu_before = CpuSeconds();
      absl::StatusOr<TimedResult> r = RunTimed(threads, slice, ops[i].factory);
      const double cpu = CpuSeconds() - cpu_before;
      if (!r.ok()) {
        return absl::Status(r.status().code(), absl::StrCat(ops[i].name, ": ", r.status().message()));
      }
      totals[i].ops += r->ops;
      totals[i].seconds += r->seconds;
      totals[i].cpu += cpu;
    }
  }
  return totals;
}

absl::StatusOr<nlohmann::json> Run(const HpkeBenchOptions& o) {
  nlohmann::json report;
  report["bench"] = "hpke";
  report["suite"] = "DHKEM(*, HKDF-SHA256), HKDF-SHA256, AES-256-GCM";
  report["seconds"] = o.seconds;
  report["rounds"] = o.rounds;
  report["threads"] = o.threads;
  report["payload_bytes"] = o.payload_bytes;
  report["info_bytes"] = o.info_bytes;
  report["openssl"] = OpenSSL_version(OPENSSL_VERSION);
  report["machine"] = MachineInfo();
  report["loadavg_start"] = LoadAverage();
  nlohmann::json results = nlohmann::json::array();
  for (absl::string_view kem_name : absl::StrSplit(o.kems, ',', absl::SkipEmpty())) {
    const hpke::Kem kem =
        kem_name == "p256" ? hpke::Kem::kDhkemP256HkdfSha256 : hpke::Kem::kDhkemX25519HkdfSha256;
    ASSIGN_OR_RETURN(std::shared_ptr<KemFixture> fixture, MakeFixture(kem, o));
    const std::vector<NamedOp> ops = KemOps(fixture);
    // Untimed warm-up: first-use fetches, caches, the secure heap.
    RETURN_IF_ERROR(RunRound(ops, o.threads, std::min(0.3, o.seconds)).status());
    std::vector<std::vector<double>> ops_per_s(ops.size()), cpu_us(ops.size());
    for (int round = 0; round < o.rounds; ++round) {
      ASSIGN_OR_RETURN(std::vector<Totals> t, RunRound(ops, o.threads, o.seconds));
      std::string line = absl::StrCat(kem_name, " round ", round + 1, "/", o.rounds, ":");
      for (size_t i = 0; i < ops.size(); ++i) {
        const double rate = t[i].seconds > 0 ? t[i].ops / t[i].seconds : 0;
        ops_per_s[i].push_back(rate);
        cpu_us[i].push_back(t[i].ops > 0 ? t[i].cpu / t[i].ops * 1e6 : 0);
        absl::StrAppend(&line, " ", ops[i].name, " ", static_cast<int64_t>(rate), "/s");
      }
      Progress(line);
    }
    std::vector<double> median_cpu(ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      const double rate = Median(ops_per_s[i]);
      median_cpu[i] = Median(cpu_us[i]);
      nlohmann::json r;
      r["kem"] = std::string(kem_name);
      r["op"] = ops[i].name;
      r["ops_per_s"] = Round(rate, 1);
      r["us_per_op"] = rate > 0 ? Round(o.threads / rate * 1e6, 2) : 0.0;
      r["cpu_us_per_op"] = Round(median_cpu[i], 2);
      nlohmann::json rounds = nlohmann::json::array();
      for (double v : ops_per_s[i]) rounds.push_back(Round(v, 1));
      r["rounds"] = std::move(rounds);
      results.push_back(std::move(r));
    }
    // ops: keygen, seal, open, bare_keygen, bare_derive, bare_import_derive.
    nlohmann::json floor;
    floor["kem"] = std::string(kem_name);
    floor["seal_floor_cpu_us"] = Round(median_cpu[3] + median_cpu[4], 2);
    floor["open_floor_cpu_us"] = Round(median_cpu[5], 2);
    floor["seal_over_floor"] = Round(median_cpu[1] / (median_cpu[3] + median_cpu[4]), 2);
    floor["open_over_floor"] = Round(median_cpu[2] / median_cpu[5], 2);
    floor["keygen_over_bare"] = Round(median_cpu[0] / median_cpu[3], 2);
    report["floors"].push_back(std::move(floor));
  }
  report["results"] = std::move(results);
  report["loadavg_end"] = LoadAverage();
  return report;
}

}  // namespace

int RunHpkeBench(const std::vector<std::string>& args) {
  HpkeBenchOptions o;
  FlagParser flags;
  flags.AddDouble("seconds", &o.seconds, "seconds per op per round (default 1.0)");
  flags.AddInt("rounds", &o.rounds, "rounds; the median round is reported (default 3)");
  flags.AddString("kems", &o.kems, "comma-separated subset of p256,x25519 (default both)");
  flags.AddInt("payload-bytes", &o.payload_bytes, "plaintext size (default 32, a key)");
  flags.AddInt("info-bytes", &o.info_bytes, "info (and aad) size (default 64)");
  flags.AddInt("threads", &o.threads, "threads per op (default 1)");
  absl::Status s = flags.Parse(args);
  if (s.ok()) {
    for (absl::string_view kem : absl::StrSplit(o.kems, ',', absl::SkipEmpty())) {
      if (kem != "p256" && kem != "x25519") {
        s = absl::InvalidArgumentError(
            absl::StrCat("--kems: unknown KEM '", kem, "' (known: p256,x25519)"));
      }
    }
    if (o.seconds <= 0 || o.rounds < 1 || o.threads < 1 || o.payload_bytes < 0 ||
        o.info_bytes < 0) {
      s = absl::InvalidArgumentError(
          "--seconds must be > 0, --rounds and --threads >= 1, sizes >= 0");
    }
  }
  return FinishBench("hpke", s, flags, [&] { return Run(o); });
}

}  // namespace strongroom::bench
