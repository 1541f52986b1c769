// The per-job costs that strongroom-bench infer sets against inference time:
// what a worker pays before its first inference, apart from loading the
// model.
//
// JobKeyRelease: attestation and key release, measured against a whole
// strongroomd in this process (LoopbackServer: SoftHSM token, RocksDB, mutual
// TLS on 127.0.0.1) with one of two attesters:
//   tpm  a private swtpm (attest/tpm/testing: manufactured with EK
//        certificates, on 127.0.0.1) whose PCR 16 is extended once with
//        SHA-256("strongroom-bench infer"); client::TpmAttester quotes PCRs
//        sha256:0-7,16 with its endorsement-hierarchy AK, which the server
//        trusts (attestation.tpm.trusted_ak_keys); the policy wants PCR 16
//        in the reference values and tpm.clock.safe. The evidence step is a
//        real TPM2_Quote over TCP to swtpm (and a PCR read).
//   dev  the development attester: the server trusts a fresh DevAttester
//        key; the policy wants its measurement and debug false.
// Setup mirrors tests/kms/broker/broker_fixture.h: `admin` puts reference
// values and policy "infer-bench" and creates software key "infer-bench"
// owned by `owner`, who binds its release policy. One Flow() is what a
// worker does per job, as principal `worker`:
//   keygen     a fresh ephemeral HPKE key pair (DHKEM(P-256, HKDF-SHA256))
//   challenge  GetChallenge(key)
//   evidence   binding = AttestationBinding(kem, nonce, pk); the attester's
//              evidence over it
//   attest     Attest -> EAR token (checked "affirming")
//   release    ReleaseKey(token, key, pk)
//   open       the SealedKey checked and HPKE-opened (client::OpenSealedKey)
// The opened material must equal the first release's. With
// `new_connection`, the flow first opens a new client::Connection, so the
// TCP and TLS handshakes are in "challenge" (a worker that does not keep a
// connection to the broker between jobs).
//
// ModelDecryption: the model's bytes sealed once (untimed) with the
// streaming AEAD (storage/streaming, AES-256-GCM-HKDF-SHA256, 1 MiB
// segments) under the released key material and cut into the stream header
// and segments as the store serves them; Open() decrypts and authenticates
// all of it the way the worker does (SegmentStreamReader::CopyRange into a
// buffer allocated beforehand that the sink lends, with a given number of
// decryption threads). Handing out the segments' copies is not timed (the
// transport's copy is not decryption).
//
// Errors: each step's status, prefixed with the step's name; DataLoss for a
// wrong answer (status not affirming, other key material, plaintext that
// differs from what was sealed).
//
// Thread-compatible; Start() and the destructor change SOFTHSM2_CONF
// (LoopbackServer): call them on the main thread while no other runs.
#ifndef STRONGROOM_BENCH_INFER_JOB_H_
#define STRONGROOM_BENCH_INFER_JOB_H_

#include <array>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "attest/tpm/testing/swtpm_fixture.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "bench/loopback_server.h"
#include "client/attester.h"
#include "client/connection.h"
#include "storage/streaming/streaming_aead_params.h"

namespace strongroom::bench {

// The server's principals and the key, policy and reference values' name.
inline constexpr char kJobOwner[] = "owner";
inline constexpr char kJobWorker[] = "worker";
inline constexpr char kJobName[] = "infer-bench";

enum JobStep { kKeygen, kChallenge, kEvidence, kAttest, kRelease, kOpen, kJobStepCount };
inline constexpr const char* kJobStepNames[kJobStepCount] = {"keygen", "challenge", "evidence",
                                                             "attest", "release",   "open"};

// Nanoseconds per step of one flow; total is their sum.
struct FlowSample {
  std::array<int64_t, kJobStepCount> step_ns = {};
  int64_t total_ns = 0;
};

// {"flows", "median_ms", "p90_ms", "step_median_ms": {step: ms}} of `samples`
// (nearest-rank p90).
nlohmann::json FlowSummaryJson(const std::vector<FlowSample>& samples);

enum class JobAttester { kTpm, kDev };
// "tpm (swtpm)" or "dev".
const char* JobAttesterName(JobAttester a);

class JobKeyRelease {
 public:
  // Starts the server (and, for kTpm, swtpm), sets up the key and runs one
  // untimed flow, whose material later flows must match.
  static absl::StatusOr<std::unique_ptr<JobKeyRelease>> Start(JobAttester attester);
  ~JobKeyRelease();

  absl::StatusOr<FlowSample> Flow(bool new_connection);

  // The key material of the first release (the streaming AEAD's key).
  const SecretBytes& material() const { return material_; }
  const std::string& key() const { return key_; }
  // For whole worker jobs against the same server (infer_worker_run.h): the
  // server, and a new attester whose evidence the policy accepts (the same
  // swtpm or dev key as the flows').
  LoopbackServer& server() { return *server_; }
  absl::StatusOr<std::unique_ptr<client::Attester>> NewAttester() const;
  JobAttester attester_kind() const { return kind_; }

 private:
  JobKeyRelease() = default;
  absl::Status SetUpKey();
  absl::StatusOr<FlowSample> RunFlow(client::Connection& connection, SecretBytes* material);

  JobAttester kind_ = JobAttester::kDev;
  std::unique_ptr<attest::testing::Swtpm> swtpm_;  // kTpm; stopped last
  std::unique_ptr<LoopbackServer> server_;
  std::unique_ptr<client::Connection> connection_;  // closed before server_ stops
  std::unique_ptr<client::Attester> attester_;
  std::string dev_key_pem_;  // kDev
  std::string key_;
  SecretBytes material_;
};

class ModelDecryption {
 public:
  // Seals `plaintext` under `key` with associated data `object_name`.
  static absl::StatusOr<ModelDecryption> Seal(const SecretBytes& key,
                                              std::span<const uint8_t> plaintext,
                                              const std::string& object_name);

  // Decrypts everything into the preallocated buffer on `threads` threads;
  // returns the wall time in nanoseconds. Every call also compares the
  // plaintext's digest (untimed).
  absl::StatusOr<int64_t> Open(const SecretBytes& key, int threads);

  size_t plaintext_size() const { return plaintext_size_; }
  size_t ciphertext_size() const { return stream_bytes_; }

 private:
  ModelDecryption() = default;
  storage::StreamingAeadParams params_;
  std::string object_name_;
  Bytes stream_header_;
  std::vector<std::string> segments_;
  uint64_t stream_bytes_ = 0;
  size_t plaintext_size_ = 0;
  Bytes expected_sha256_;
  Bytes out_;  // the decrypted model, reused
};

}  // namespace strongroom::bench

#endif  // STRONGROOM_BENCH_INFER_JOB_H_
