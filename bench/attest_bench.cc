// strongroom-bench attest: evidence verifications per second, per evidence
// type, next to the bare signature checks that evidence inherently needs.
//
//   strongroom-bench attest [--seconds S] [--threads-list 1,2] [--rounds N]
//                           [--types snp,tdx,tpm,nvidia,dev] [--vectors DIR]
//
// Cases (real vectors from DIR, default the tree's shared/vectors, each at
// the pinned time its tests use, with the expected report data / nonce set):
//   snp      sev-snp/milan/virtee_report.bin, VCEK, ASK+ARK (2025-06-01)
//   tdx      tdx/gotdx/quote_v4_SPR_E4.dat, collateral dir tdx/gotdx, plus
//            tdx/common's root as an evidence certificate (2023-06-20)
//   tpm_ecc  tpm/swtpm quote bundles (tpm2-tools files), the AK trusted by
//   tpm_rsa  its pinned public key (2024-06-01)
//   nvidia   nvidia/nvtrust Hopper report + device chain (2024-06-01)
//   dev      evidence made here by a DevAttester with a fresh key
// The verifiers come from attest::CreateVerifierSet (what strongroomd runs),
// one set for the whole run, so their caches are as warm as a server's.
//
// "bare" is the cryptography the evidence cannot do without, done directly
// with OpenSSL on keys parsed once before timing, signatures encoded once:
// snp 1 ECDSA P-384 (report bytes 0..0x29F), tdx 2 ECDSA P-256 (the quote
// under the attestation key, the QE report under the PCK key), tpm 1 ECDSA
// P-256 or RSA-2048 PKCS#1 v1.5, nvidia 1 ECDSA P-384, dev 1 ECDSA P-256.
// Each check is what no verifier can skip and nothing more: the message
// hashed (EVP_Digest with a digest fetched once) and that digest verified
// (EVP_PKEY_verify) on a context each thread sets up once before timing, so
// no OpenSSL 3 provider lookup or context set-up is counted as "bare" (an
// EVP_DigestVerifyInit per check would add ~3 us, a tenth of an RSA-2048
// check). Both forms are checked to succeed before anything is timed.
//
// For each case and thread count: an untimed warm-up, then `rounds` rounds
// of S seconds in which Verify() and the bare checks alternate in ~100 ms
// slices (RunInterleaved, harness.h), so background load hits both alike.
// Reported: the median round of each, and
//   ratio = median over rounds of verifier_ops_per_s / bare_ops_per_s
// (1.0: verification costs no more than its signatures; the aim is >= 0.8).
// The load average before and after goes into the report: figures from a
// loaded machine are not comparable.
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "attest/dev/dev_attester.h"
#include "attest/dev/dev_evidence.h"
#include "attest/nvidia/spdm_report.h"
#include "attest/snp/snp_report.h"
#include "attest/tdx/quote.h"
#include "attest/tpm/quote_bundle.h"
#include "attest/tpm/tpm_structures.h"
#include "attest/verifiers.h"
#include "attest/x509.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "bench/harness.h"
#include "bench/subcommands.h"

namespace strongroom::bench {
namespace {

using attest::Evidence;
using attest::EvidenceType;
using attest::VerifyContext;

constexpr double kAimRatio = 0.8;
constexpr const char* kTypeNames[] = {"snp", "tdx", "tpm", "nvidia", "dev"};

struct AttestBenchOptions {
  double seconds = 1.0;
  std::vector<int> threads = {1, 2};
  int rounds = 3;
  std::string types;  // empty: all
  std::string vectors = STRONGROOM_VECTORS_DIR;
};

void Progress(const std::string& line) { std::fprintf(stderr, "[attest] %s\n", line.c_str()); }

// SHA-256/384 fetched once (the legacy EVP_sha256() is looked up in the
// provider store again on every use).
const EVP_MD* FetchedMd(const char* name) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  return md;  // kept for the process
}
const EVP_MD* Sha256() {
  static const EVP_MD* const md = FetchedMd("SHA256");
  return md;
}
const EVP_MD* Sha384() {
  static const EVP_MD* const md = FetchedMd("SHA384");
  return md;
}

// One signature check of the bare form.
struct BareSignature {
  std::shared_ptr<EVP_PKEY> key;
  const EVP_MD* md = nullptr;
  Bytes message;
  Bytes signature;  // DER for ECDSA, the raw block for RSA PKCS#1 v1.5
};

struct AttestCase {
  std::string name;  // "snp", "tdx", "tpm_ecc", ...
  EvidenceType type = EvidenceType::kDev;
  std::string evidence_files;
  std::string bare_what;  // e.g. "2x ECDSA P-256/SHA-256"
  Evidence evidence;
  VerifyContext ctx;
  std::vector<BareSignature> bare;
};

absl::Time At(absl::string_view rfc3339) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) return absl::InfinitePast();
  return t;
}

std::shared_ptr<EVP_PKEY> KeyOf(const attest::Certificate& cert) {
  EVP_PKEY* key = cert.public_key();
  EVP_PKEY_up_ref(key);
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

// DER ECDSA-Sig-Value from big-endian r and s.
absl::StatusOr<Bytes> DerEcdsa(std::span<const uint8_t> r, std::span<const uint8_t> s) {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(r.data(), static_cast<int>(r.size()), nullptr),
                 BN_bin2bn(s.data(), static_cast<int>(s.size()), nullptr));
  unsigned char* der = nullptr;
  const int n = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (n <= 0) return absl::InternalError("cannot DER-encode an ECDSA signature");
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;

// A context for EVP_PKEY_verify of `b` (PKCS#1 v1.5 padding for RSA).
absl::StatusOr<PkeyCtx> BareContext(const BareSignature& b) {
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, b.key.get(), nullptr), EVP_PKEY_CTX_free);
  const bool rsa = EVP_PKEY_get_base_id(b.key.get()) == EVP_PKEY_RSA;
  if (ctx == nullptr || EVP_PKEY_verify_init(ctx.get()) != 1 ||
      (rsa && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1) ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), b.md) != 1) {
    return absl::InternalError("cannot set up a bare verify context");
  }
  return ctx;
}

// Hash, then verify the digest on `ctx` (from BareContext(b)).
absl::Status VerifyBareWith(const BareSignature& b, EVP_PKEY_CTX* ctx) {
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  const bool ok =
      EVP_Digest(b.message.data(), b.message.size(), digest, &digest_len, b.md, nullptr) == 1 &&
      EVP_PKEY_verify(ctx, b.signature.data(), b.signature.size(), digest, digest_len) == 1;
  return ok ? absl::OkStatus() : absl::InternalError("bare signature check failed");
}

// Once, with a context of its own (before timing).
absl::Status VerifyBare(const BareSignature& b) {
  ASSIGN_OR_RETURN(PkeyCtx ctx, BareContext(b));
  return VerifyBareWith(b, ctx.get());
}

// --- The cases --------------------------------------------------------------

class VectorReader {
 public:
  explicit VectorReader(std::string dir) : dir_(std::move(dir)) {}
  std::string Path(absl::string_view rel) const { return absl::StrCat(dir_, "/", rel); }
  absl::StatusOr<std::string> Read(absl::string_view rel) const {
    return ReadFileToString(Path(rel), "--vectors file");
  }

 private:
  std::string dir_;
};

absl::StatusOr<AttestCase> SnpCase(const VectorReader& v) {
  AttestCase c{.name = "snp", .type = EvidenceType::kSevSnp};
  c.evidence_files =
      "sev-snp/milan/virtee_report.bin, virtee_vcek.der, ask_ark_milan.pem (certificates)";
  c.bare_what = "1x ECDSA P-384/SHA-384";
  ASSIGN_OR_RETURN(std::string report, v.Read("sev-snp/milan/virtee_report.bin"));
  ASSIGN_OR_RETURN(std::string vcek, v.Read("sev-snp/milan/virtee_vcek.der"));
  ASSIGN_OR_RETURN(std::string ask_ark, v.Read("sev-snp/milan/ask_ark_milan.pem"));
  c.evidence = Evidence{.type = c.type, .payload = report, .certificates = {vcek, ask_ark}};
  ASSIGN_OR_RETURN(attest::SnpReport parsed, attest::ParseSnpReport(AsBytes(report)));
  c.ctx = VerifyContext{
      .at = At("2025-06-01T00:00:00Z"),
      .expected_report_data = Bytes(parsed.report_data.begin(), parsed.report_data.end())};
  ASSIGN_OR_RETURN(attest::Certificate cert, attest::Certificate::FromDer(AsBytes(vcek), "vcek"));
  // r and s are little-endian in the report.
  Bytes r(parsed.signature_r.rbegin(), parsed.signature_r.rend());
  Bytes s(parsed.signature_s.rbegin(), parsed.signature_s.rend());
  BareSignature b{.key = KeyOf(cert), .md = Sha384()};
  b.message.assign(parsed.signed_bytes().begin(), parsed.signed_bytes().end());
  ASSIGN_OR_RETURN(b.signature, DerEcdsa(r, s));
  c.bare.push_back(std::move(b));
  return c;
}

absl::StatusOr<AttestCase> TdxCase(const VectorReader& v) {
  AttestCase c{.name = "tdx", .type = EvidenceType::kTdx};
  c.evidence_files =
      "tdx/gotdx/quote_v4_SPR_E4.dat, collateral_dir tdx/gotdx, certificates "
      "tdx/common/intel_sgx_root_ca.pem";
  c.bare_what = "2x ECDSA P-256/SHA-256 (quote, QE report)";
  ASSIGN_OR_RETURN(std::string quote, v.Read("tdx/gotdx/quote_v4_SPR_E4.dat"));
  ASSIGN_OR_RETURN(std::string root, v.Read("tdx/common/intel_sgx_root_ca.pem"));
  c.evidence = Evidence{.type = c.type,
                        .payload = quote,
                        .certificates = {root},
                        .collateral_dir = v.Path("tdx/gotdx")};
  ASSIGN_OR_RETURN(attest::TdxQuote q, attest::ParseTdxQuote(AsBytes(quote)));
  c.ctx = VerifyContext{
      .at = At("2023-06-20T00:00:00Z"),
      .expected_report_data = Bytes(q.body.report_data.begin(), q.body.report_data.end())};
  ASSIGN_OR_RETURN(auto ak, attest::EcPublicKeyFromPoint(NID_X9_62_prime256v1, q.attestation_key,
                                                         "attestation_key"));
  BareSignature quote_sig{.key = ak, .md = Sha256(), .message = q.signed_data};
  std::span<const uint8_t> sig(q.signature);
  ASSIGN_OR_RETURN(quote_sig.signature, DerEcdsa(sig.first(32), sig.subspan(32)));
  ASSIGN_OR_RETURN(auto pck_chain, attest::ParseCertificates(q.pck_chain_pem, "PCK chain"));
  BareSignature qe_sig{.key = KeyOf(pck_chain[0]), .md = Sha256(), .message = q.qe_report_raw};
  std::span<const uint8_t> qe(q.qe_report_signature);
  ASSIGN_OR_RETURN(qe_sig.signature, DerEcdsa(qe.first(32), qe.subspan(32)));
  c.bare.push_back(std::move(quote_sig));
  c.bare.push_back(std::move(qe_sig));
  return c;
}

absl::StatusOr<AttestCase> TpmCase(const VectorReader& v, const std::string& alg) {
  AttestCase c{.name = absl::StrCat("tpm_", alg), .type = EvidenceType::kTpm};
  const std::string dir = "tpm/swtpm/";
  c.evidence_files = absl::StrCat(dir, "quote_", alg, ".attest/.sig, pcrs_sha256.txt, ak_", alg,
                                  ".pub, ek.pub; AK pinned by ak_", alg, "_pub.pem");
  ASSIGN_OR_RETURN(std::string attest_bytes, v.Read(dir + "quote_" + alg + ".attest"));
  ASSIGN_OR_RETURN(std::string sig_bytes, v.Read(dir + "quote_" + alg + ".sig"));
  ASSIGN_OR_RETURN(std::string pcrs, v.Read(dir + "pcrs_sha256.txt"));
  ASSIGN_OR_RETURN(std::string ak_public, v.Read(dir + "ak_" + alg + ".pub"));
  ASSIGN_OR_RETURN(std::string ek_public, v.Read(dir + "ek.pub"));
  ASSIGN_OR_RETURN(std::string nonce_hex, v.Read(dir + "nonce.hex"));
  ASSIGN_OR_RETURN(Bytes nonce, HexDecode(std::string(absl::StripAsciiWhitespace(nonce_hex))));
  ASSIGN_OR_RETURN(std::string bundle, attest::BuildTpmQuoteBundleFromTpm2Tools(
                                           {attest_bytes, sig_bytes, pcrs, ak_public, ek_public}));
  c.evidence = Evidence{.type = c.type, .payload = bundle};
  c.ctx = VerifyContext{.at = At("2024-06-01T00:00:00Z"), .expected_report_data = nonce};

  ASSIGN_OR_RETURN(std::string ak_pem, v.Read(dir + "ak_" + alg + "_pub.pem"));
  ASSIGN_OR_RETURN(attest::TpmtSignature sig, attest::ParseTpmtSignature(AsBytes(sig_bytes)));
  if (sig.hash_alg != attest::kTpmAlgSha256) {
    return absl::FailedPreconditionError(
        absl::StrCat("tpm ", alg, " quote: hash 0x", absl::Hex(sig.hash_alg), " is not SHA-256"));
  }
  BareSignature b{.md = Sha256(), .message = Bytes(attest_bytes.begin(), attest_bytes.end())};
  ASSIGN_OR_RETURN(b.key, attest::PublicKeyFromPem(ak_pem, "AK public key"));
  if (sig.sig_alg == attest::kTpmAlgEcdsa) {
    c.bare_what = "1x ECDSA P-256/SHA-256";
    ASSIGN_OR_RETURN(b.signature, DerEcdsa(sig.ecdsa_r, sig.ecdsa_s));
  } else if (sig.sig_alg == attest::kTpmAlgRsassa) {
    c.bare_what = absl::StrCat("1x RSA-", EVP_PKEY_get_bits(b.key.get()), " PKCS#1 v1.5/SHA-256");
    b.signature = sig.rsa_signature;
  } else {
    return absl::FailedPreconditionError(absl::StrCat("tpm ", alg, " quote: signature scheme 0x",
                                                      absl::Hex(sig.sig_alg),
                                                      " is neither ECDSA nor RSASSA"));
  }
  c.bare.push_back(std::move(b));
  return c;
}

absl::StatusOr<AttestCase> NvidiaCase(const VectorReader& v) {
  AttestCase c{.name = "nvidia", .type = EvidenceType::kNvidia};
  c.evidence_files = "nvidia/nvtrust_hopperAttestationReport.hex.txt, nvtrust_hopperCertChain.pem";
  c.bare_what = "1x ECDSA P-384/SHA-384";
  ASSIGN_OR_RETURN(std::string hex, v.Read("nvidia/nvtrust_hopperAttestationReport.hex.txt"));
  ASSIGN_OR_RETURN(std::string chain, v.Read("nvidia/nvtrust_hopperCertChain.pem"));
  c.evidence = Evidence{.type = c.type, .payload = hex, .certificates = {chain}};
  ASSIGN_OR_RETURN(Bytes report, attest::DecodeNvidiaReportPayload(hex));
  ASSIGN_OR_RETURN(attest::SpdmMeasurementReport parsed,
                   attest::ParseSpdmMeasurementReport(report));
  c.ctx = VerifyContext{
      .at = At("2024-06-01T00:00:00Z"),
      .expected_report_data = Bytes(parsed.request_nonce.begin(), parsed.request_nonce.end())};
  BareSignature b{.md = Sha384(), .message = attest::SpdmSignedMessage(parsed, report)};
  std::span<const uint8_t> sig(parsed.signature);
  ASSIGN_OR_RETURN(b.signature, DerEcdsa(sig.first(sig.size() / 2), sig.last(sig.size() / 2)));
  // The device key: the certificate of the chain whose key verifies.
  ASSIGN_OR_RETURN(auto certs, attest::ParseCertificates(chain, "nvidia chain"));
  for (const attest::Certificate& cert : certs) {
    b.key = KeyOf(cert);
    if (VerifyBare(b).ok()) {
      c.bare.push_back(std::move(b));
      return c;
    }
  }
  return absl::FailedPreconditionError("nvidia: no certificate of the chain verifies the report");
}

absl::StatusOr<AttestCase> DevCase(const attest::DevAttester& attester) {
  AttestCase c{.name = "dev", .type = EvidenceType::kDev};
  c.evidence_files = "made by a DevAttester with a fresh P-256 key";
  c.bare_what = "1x ECDSA P-256/SHA-256";
  const absl::Time issued = At("2025-01-01T00:00:00Z");
  attest::DevClaims claims{.measurement = Bytes(48, 0xA5),
                           .svn = 3,
                           .claims = {{"workload", "bench"}},
                           .issued_at = issued};
  const Bytes nonce(32, 0x5A);
  ASSIGN_OR_RETURN(std::string payload, attester.Attest(claims, nonce));
  c.evidence = Evidence{.type = c.type, .payload = payload};
  c.ctx = VerifyContext{.at = issued + absl::Seconds(1), .expected_report_data = nonce};
  ASSIGN_OR_RETURN(attest::DevEvidenceEnvelope env, attest::ParseDevEvidenceEnvelope(payload));
  BareSignature b{.md = Sha256(),
                  .message = Bytes(env.body.begin(), env.body.end()),
                  .signature = env.signature};
  ASSIGN_OR_RETURN(b.key, attest::PublicKeyFromPem(attester.public_key_pem(), "dev key"));
  c.bare.push_back(std::move(b));
  return c;
}

// --- Measuring --------------------------------------------------------------

struct Measured {
  std::vector<double> verifier;
  std::vector<double> bare;
};

OpFactory VerifierOps(const attest::VerifierSet& set, const AttestCase& c) {
  return [&set, &c](int) -> absl::StatusOr<Op> {
    return Op([&set, &c] { return set.Verify(c.evidence, c.ctx).status(); });
  };
}

// Each thread gets its own verify contexts (an EVP_PKEY_CTX is not for two
// threads at once), set up here, before timing.
OpFactory BareOps(const AttestCase& c) {
  return [&c](int) -> absl::StatusOr<Op> {
    auto contexts = std::make_shared<std::vector<PkeyCtx>>();
    for (const BareSignature& b : c.bare) {
      ASSIGN_OR_RETURN(PkeyCtx ctx, BareContext(b));
      contexts->push_back(std::move(ctx));
    }
    return Op([&c, contexts]() -> absl::Status {
      for (size_t i = 0; i < c.bare.size(); ++i) {
        RETURN_IF_ERROR(VerifyBareWith(c.bare[i], (*contexts)[i].get()));
      }
      return absl::OkStatus();
    });
  };
}

absl::StatusOr<Measured> MeasureCase(const attest::VerifierSet& set, const AttestCase& c,
                                     int threads, const AttestBenchOptions& o) {
  auto in_case = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(c.name, " (", threads,
                                               " threads, A=verifier, B=bare): ", s.message()));
  };
  const OpFactory verifier = VerifierOps(set, c);
  const OpFactory bare = BareOps(c);
  const double warmup = std::min(0.25, o.seconds / 4);
  if (auto w = RunInterleaved(threads, warmup, 1, verifier, bare); !w.ok()) {
    return in_case(w.status());
  }
  const int slices = std::max(1, static_cast<int>(std::lround(o.seconds / 0.1)));
  Measured m;
  for (int round = 0; round < o.rounds; ++round) {
    absl::StatusOr<AbResult> r = RunInterleaved(threads, o.seconds, slices, verifier, bare);
    if (!r.ok()) return in_case(r.status());
    m.verifier.push_back(r->a.OpsPerSecond());
    m.bare.push_back(r->b.OpsPerSecond());
    Progress(absl::StrCat(c.name, " threads=", threads, " round ", round + 1, "/", o.rounds,
                          ": verifier ", static_cast<int64_t>(m.verifier.back()), "/s, bare ",
                          static_cast<int64_t>(m.bare.back()), "/s"));
  }
  return m;
}

nlohmann::json ResultJson(const AttestCase& c, int threads, const Measured& m) {
  const double verifier = Median(m.verifier);
  const double bare = Median(m.bare);
  // Paired per round (both ran interleaved in the same wall time).
  std::vector<double> ratios;
  for (size_t i = 0; i < m.verifier.size() && i < m.bare.size(); ++i) {
    if (m.bare[i] > 0) ratios.push_back(m.verifier[i] / m.bare[i]);
  }
  const double ratio = Median(ratios);
  nlohmann::json r;
  r["case"] = c.name;
  r["type"] = std::string(attest::EvidenceTypeName(c.type));
  r["threads"] = threads;
  r["verifier_ops_per_s"] = Round(verifier, 1);
  r["bare_ops_per_s"] = Round(bare, 1);
  r["ratio"] = Round(ratio, 3);
  r["meets_aim"] = ratio >= kAimRatio;
  r["verifier_us_per_op"] = verifier > 0 ? Round(threads / verifier * 1e6, 2) : 0.0;
  r["bare_us_per_op"] = bare > 0 ? Round(threads / bare * 1e6, 2) : 0.0;
  r["bare"] = c.bare_what;
  nlohmann::json vr = nlohmann::json::array();
  nlohmann::json br = nlohmann::json::array();
  for (double x : m.verifier) vr.push_back(Round(x, 1));
  for (double x : m.bare) br.push_back(Round(x, 1));
  r["verifier_rounds"] = std::move(vr);
  r["bare_rounds"] = std::move(br);
  return r;
}

absl::StatusOr<nlohmann::json> Run(const AttestBenchOptions& o,
                                   const std::set<std::string>& types) {
  const VectorReader v(o.vectors);
  ASSIGN_OR_RETURN(attest::DevAttester dev, attest::DevAttester::Generate());
  std::vector<AttestCase> cases;
  auto add = [&](absl::StatusOr<AttestCase> c) -> absl::Status {
    if (!c.ok()) return c.status();
    cases.push_back(*std::move(c));
    return absl::OkStatus();
  };
  attest::AttestationOptions options;
  options.enabled.clear();
  if (types.contains("snp")) RETURN_IF_ERROR(add(SnpCase(v)));
  if (types.contains("tdx")) RETURN_IF_ERROR(add(TdxCase(v)));
  if (types.contains("tpm")) {
    for (const char* alg : {"ecc", "rsa"}) {
      RETURN_IF_ERROR(add(TpmCase(v, alg)));
      ASSIGN_OR_RETURN(std::string pem, v.Read(absl::StrCat("tpm/swtpm/ak_", alg, "_pub.pem")));
      options.tpm_trusted_ak_keys_pem.push_back(pem);
    }
  }
  if (types.contains("nvidia")) RETURN_IF_ERROR(add(NvidiaCase(v)));
  if (types.contains("dev")) {
    RETURN_IF_ERROR(add(DevCase(dev)));
    options.dev_enabled = true;
    options.dev_trusted_keys_pem = {dev.public_key_pem()};
  }
  for (const AttestCase& c : cases) options.enabled.insert(c.type);
  ASSIGN_OR_RETURN(std::unique_ptr<attest::VerifierSet> set, attest::CreateVerifierSet(options));

  // Both forms must succeed before anything is timed.
  for (const AttestCase& c : cases) {
    absl::StatusOr<attest::Appraisal> a = set->Verify(c.evidence, c.ctx);
    if (!a.ok()) {
      return absl::Status(
          a.status().code(),
          absl::StrCat(c.name, ": the verifier refuses the vector: ", a.status().message()));
    }
    for (const BareSignature& b : c.bare) {
      if (absl::Status s = VerifyBare(b); !s.ok()) {
        return absl::InternalError(absl::StrCat(c.name, ": ", s.message()));
      }
    }
    Progress(absl::StrCat(c.name, ": verifies (", attest::TrustTierName(a->status()),
                          "); bare: ", c.bare_what));
  }

  const nlohmann::json load_before = LoadAverage();
  nlohmann::json results = nlohmann::json::array();
  for (const AttestCase& c : cases) {
    for (int threads : o.threads) {
      ASSIGN_OR_RETURN(Measured m, MeasureCase(*set, c, threads, o));
      nlohmann::json r = ResultJson(c, threads, m);
      Progress(absl::StrCat(c.name, " threads=", threads, ": ratio ", r["ratio"].get<double>(),
                            r["meets_aim"].get<bool>() ? "" : " (below the aim)"));
      results.push_back(std::move(r));
    }
  }

  nlohmann::json case_info = nlohmann::json::object();
  for (const AttestCase& c : cases) {
    case_info[c.name] = {{"evidence", c.evidence_files},
                         {"at", absl::FormatTime(absl::RFC3339_sec, c.ctx.at, absl::UTCTimeZone())},
                         {"bare", c.bare_what}};
  }
  nlohmann::json report;
  report["bench"] = "attest";
  report["machine"] = MachineInfo();
  report["load_average_before"] = load_before;
  report["load_average_after"] = LoadAverage();
  report["vectors"] = o.vectors;
  report["seconds"] = o.seconds;
  report["rounds"] = o.rounds;
  report["aim_ratio"] = kAimRatio;
  report["cases"] = std::move(case_info);
  report["results"] = std::move(results);
  return report;
}

}  // namespace

int RunAttestBench(const std::vector<std::string>& args) {
  AttestBenchOptions o;
  FlagParser flags;
  flags.AddDouble("seconds", &o.seconds, "seconds per measured round (default 1.0)");
  flags.AddIntList("threads-list", &o.threads, "thread counts to measure (default 1,2)");
  flags.AddInt("rounds", &o.rounds,
               "rounds, verifier and bare interleaved in ~100 ms slices; medians reported "
               "(default 3)");
  flags.AddString("types", &o.types,
                  "comma-separated subset of snp,tdx,tpm,nvidia,dev (default all)");
  flags.AddString("vectors", &o.vectors,
                  absl::StrCat("test vector directory (default ", STRONGROOM_VECTORS_DIR, ")"));
  absl::Status s = flags.Parse(args);
  std::set<std::string> types;
  for (absl::string_view name : absl::StrSplit(o.types, ',', absl::SkipEmpty())) {
    if (s.ok() &&
        std::find(std::begin(kTypeNames), std::end(kTypeNames), name) == std::end(kTypeNames)) {
      s = absl::InvalidArgumentError(absl::StrCat(
          "--types: unknown type '", name, "' (known: ", absl::StrJoin(kTypeNames, ","), ")"));
    }
    types.emplace(name);
  }
  if (types.empty()) types.insert(std::begin(kTypeNames), std::end(kTypeNames));
  return FinishBench("attest", s, flags, [&] { return Run(o, types); });
}

}  // namespace strongroom::bench
