#include "bench/infer_job.h"

#include <openssl/sha.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "attest/binding.h"
#include "attest/dev/dev_attester.h"
#include "base/status_macros.h"
#include "bench/harness.h"
#include "client/dev_attester.h"
#include "client/tpm_attester.h"
#include "client/workload.h"
#include "kms/hpke/keys.h"
#include "storage/sealed/segment_stream.h"
#include "storage/streaming/byte_stream.h"
#include "storage/streaming/streaming_aead_writer.h"

namespace strongroom::bench {
namespace {

namespace v1 = ::strongroom::v1;
namespace hpke = ::strongroom::kms::hpke;
using Clock = std::chrono::steady_clock;

constexpr char kAdmin[] = "admin";
constexpr const char* kOwner = kJobOwner;
constexpr const char* kWorker = kJobWorker;
constexpr const char* kName = kJobName;  // key, policy and reference values
constexpr char kDevKeyFile[] = "dev-attester.pub.pem";
constexpr char kTpmAkFile[] = "tpm-ak.pub.pem";
// The dev attester's claims, and what the bench extends PCR 16 with.
const Bytes& DevMeasurement() {
  static const Bytes* const m = new Bytes(48, 0x6e);
  return *m;
}
constexpr char kPcr16Event[] = "strongroom-bench infer";
constexpr uint32_t kPcr = 16;

int64_t Nanos(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count();
}

absl::Status InStep(absl::string_view step, const absl::Status& s) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(step, ": ", s.message()));
}

Bytes Sha256(std::span<const uint8_t> data) {
  Bytes digest(SHA256_DIGEST_LENGTH);
  SHA256(data.data(), data.size(), digest.data());
  return digest;
}

// Serves a span in order; the span must outlive the source.
// Writes into a fixed buffer and lends it (ByteSink::Lend), as the worker's
// SecretBytesSink does with the room it reserved.
class SpanLendingSink final : public storage::ByteSink {
 public:
  explicit SpanLendingSink(std::span<uint8_t> out) : out_(out) {}
  absl::Status Append(std::span<const uint8_t> data) override {
    ASSIGN_OR_RETURN(std::span<uint8_t> room, Lend(data.size()));
    std::memcpy(room.data(), data.data(), data.size());
    return Commit(data.size());
  }
  absl::StatusOr<std::span<uint8_t>> Lend(size_t n) override {
    if (n > out_.size() - size_) {
      return absl::ResourceExhaustedError(absl::StrCat("more than the ", out_.size(),
                                                       " bytes sealed"));
    }
    lent_ = n;
    return out_.subspan(size_, n);
  }
  absl::Status Commit(size_t n) override {
    if (n > lent_) return absl::FailedPreconditionError("Commit past the loan");
    size_ += n;
    lent_ = 0;
    return absl::OkStatus();
  }
  size_t size() const { return size_; }

 private:
  std::span<uint8_t> out_;
  size_t size_ = 0, lent_ = 0;
};

}  // namespace

const char* JobAttesterName(JobAttester a) {
  return a == JobAttester::kTpm ? "tpm (swtpm)" : "dev";
}

nlohmann::json FlowSummaryJson(const std::vector<FlowSample>& samples) {
  std::vector<double> total;
  std::vector<std::vector<double>> steps(kJobStepCount);
  for (const FlowSample& s : samples) {
    total.push_back(s.total_ns / 1e6);
    for (int k = 0; k < kJobStepCount; ++k) steps[k].push_back(s.step_ns[k] / 1e6);
  }
  nlohmann::json step_json;
  for (int k = 0; k < kJobStepCount; ++k) step_json[kJobStepNames[k]] = Round(Median(steps[k]), 3);
  return {{"flows", samples.size()},
          {"median_ms", Round(Median(total), 3)},
          {"p90_ms", Round(Quantile(total, 0.9), 3)},
          {"step_median_ms", step_json}};
}

absl::StatusOr<std::unique_ptr<client::Attester>> JobKeyRelease::NewAttester() const {
  if (kind_ == JobAttester::kTpm) {
    client::TpmAttesterOptions o;
    o.tcti = swtpm_->tcti();
    ASSIGN_OR_RETURN(std::unique_ptr<client::TpmAttester> a, client::TpmAttester::Create(o));
    return std::unique_ptr<client::Attester>(std::move(a));
  }
  client::DevAttesterOptions dev;
  dev.private_key_pem = dev_key_pem_;
  dev.measurement = DevMeasurement();
  dev.debug = false;
  dev.svn = 1;
  ASSIGN_OR_RETURN(std::unique_ptr<client::DevAttester> a, client::DevAttester::Create(dev));
  return std::unique_ptr<client::Attester>(std::move(a));
}

absl::StatusOr<std::unique_ptr<JobKeyRelease>> JobKeyRelease::Start(JobAttester kind) {
  std::unique_ptr<JobKeyRelease> j(new JobKeyRelease());
  j->kind_ = kind;
  j->key_ = absl::StrCat("keys/", kName);
  LoopbackExtras extras;
  std::string attestation_yaml;
  if (kind == JobAttester::kTpm) {
    absl::StatusOr<std::unique_ptr<attest::testing::Swtpm>> swtpm = attest::testing::Swtpm::Start();
    RETURN_IF_ERROR(InStep("swtpm", swtpm.status()));
    j->swtpm_ = *std::move(swtpm);
    {
      ASSIGN_OR_RETURN(auto session, attest::testing::TpmSession::Connect(j->swtpm_->tcti()));
      RETURN_IF_ERROR(
          InStep("PCR extend", session->ExtendPcrSha256(kPcr, Sha256(AsBytes(kPcr16Event)))));
    }
    ASSIGN_OR_RETURN(j->attester_, j->NewAttester());
    const auto& tpm = static_cast<const client::TpmAttester&>(*j->attester_);
    extras.files = {{kTpmAkFile, tpm.ak_public_key_pem()}};
    attestation_yaml = absl::StrCat("attestation:\n  tpm: {trusted_ak_keys: [", kTpmAkFile, "]}\n");
  } else {
    ASSIGN_OR_RETURN(j->dev_key_pem_, client::GenerateDevAttesterKeyPem());
    ASSIGN_OR_RETURN(j->attester_, j->NewAttester());
    ASSIGN_OR_RETURN(attest::DevAttester trusted, attest::DevAttester::Create(j->dev_key_pem_));
    extras.files = {{kDevKeyFile, trusted.public_key_pem()}};
    attestation_yaml = absl::StrCat("attestation:\n  dev_attester: {enabled: true, trusted_keys: [",
                                    kDevKeyFile, "]}\n");
  }
  // The broker's per-principal rate limit is off: a job loop of hundreds of
  // flows a second would otherwise measure the limiter.
  extras.yaml = absl::StrCat(attestation_yaml, "broker:\n  rate_limit: {per_second: 0}\n");
  ASSIGN_OR_RETURN(j->server_, LoopbackServer::Start({{kAdmin, kms::Role::kAdmin},
                                                      {kOwner, kms::Role::kOwner},
                                                      {kWorker, kms::Role::kWorkload}},
                                                     /*hsm_sessions=*/4, extras));
  RETURN_IF_ERROR(j->SetUpKey());
  ASSIGN_OR_RETURN(j->connection_, client::Connection::Open(j->server_->ClientOptions(kWorker)));
  RETURN_IF_ERROR(j->RunFlow(*j->connection_, &j->material_).status());
  return j;
}

JobKeyRelease::~JobKeyRelease() {
  connection_.reset();
  server_.reset();
}

absl::Status JobKeyRelease::SetUpKey() {
  ASSIGN_OR_RETURN(auto admin, client::Connection::Open(server_->ClientOptions(kAdmin)));
  ASSIGN_OR_RETURN(auto owner, client::Connection::Open(server_->ClientOptions(kOwner)));
  v1::PutReferenceValuesRequest rv;
  rv.set_name(kName);
  v1::PutPolicyRequest pol;
  pol.set_name(kName);
  if (kind_ == JobAttester::kTpm) {
    // PCR 16 of a fresh TPM (zero) after the one extend: SHA-256(0^32 || e).
    Bytes pcr(32, 0);
    const Bytes event = Sha256(AsBytes(kPcr16Event));
    pcr.insert(pcr.end(), event.begin(), event.end());
    rv.add_values(HexEncode(Sha256(pcr)));
    rv.set_description("strongroom-bench infer: swtpm PCR 16");
    pol.set_policy_json(
        absl::StrCat(R"({"version": 1, "tee": ["tpm"], "require": {"allOf": [)",
                     R"({"claim": "tpm.pcrs.sha256.16", "in": {"referenceValues": ")", kName,
                     R"("}},)", R"({"claim": "tpm.clock.safe", "equals": true}]}})"));
  } else {
    rv.add_values(HexEncode(DevMeasurement()));
    rv.set_description("strongroom-bench infer: the dev measurement");
    pol.set_policy_json(absl::StrCat(R"({"version": 1, "tee": ["dev"], "require": {"allOf": [)",
                                     R"({"claim": "dev.measurement", "in": {"referenceValues": ")",
                                     kName, R"("}},)",
                                     R"({"claim": "dev.debug", "equals": false}]}})"));
  }
  RETURN_IF_ERROR(InStep("PutReferenceValues", admin->PutReferenceValues(rv).status()));
  RETURN_IF_ERROR(InStep("PutPolicy", admin->PutPolicy(pol).status()));
  v1::CreateKeyRequest create;
  create.set_key_id(kName);
  create.set_owner(LoopbackServer::Principal(kOwner));
  create.set_protection(v1::PROTECTION_SOFTWARE);
  create.set_description("strongroom-bench infer: the model key");
  RETURN_IF_ERROR(InStep("CreateKey", admin->CreateKey(create).status()));
  v1::UpdateKeyRequest up;
  up.set_name(key_);
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

absl::StatusOr<FlowSample> JobKeyRelease::Flow(bool new_connection) {
  if (!new_connection) return RunFlow(*connection_, nullptr);
  FlowSample sample;
  const Clock::time_point t0 = Clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<client::Connection> connection,
                   client::Connection::Open(server_->ClientOptions(kWorker)));
  const int64_t open_ns = Nanos(t0, Clock::now());
  ASSIGN_OR_RETURN(sample, RunFlow(*connection, nullptr));
  // Channel setup counts with the challenge, whose RPC does the handshakes.
  sample.step_ns[kChallenge] += open_ns;
  sample.total_ns += open_ns;
  return sample;
}

absl::StatusOr<FlowSample> JobKeyRelease::RunFlow(client::Connection& connection,
                                                  SecretBytes* material) {
  FlowSample sample;
  const Clock::time_point t0 = Clock::now();
  ASSIGN_OR_RETURN(hpke::KeyPair keys, hpke::GenerateKeyPair(hpke::Kem::kDhkemP256HkdfSha256));
  const Bytes& public_key = keys.public_key.Serialize();
  const Clock::time_point t1 = Clock::now();
  v1::GetChallengeRequest challenge_req;
  challenge_req.set_key(key_);
  absl::StatusOr<v1::GetChallengeResponse> challenge = connection.GetChallenge(challenge_req);
  RETURN_IF_ERROR(InStep("GetChallenge", challenge.status()));
  const Clock::time_point t2 = Clock::now();
  const Bytes binding = attest::AttestationBinding(static_cast<uint16_t>(keys.public_key.kem()),
                                                   AsBytes(challenge->nonce()), public_key);
  absl::StatusOr<std::vector<v1::EvidenceItem>> evidence = attester_->Attest(binding);
  RETURN_IF_ERROR(InStep(absl::StrCat(attester_->type(), " evidence"), evidence.status()));
  const Clock::time_point t3 = Clock::now();
  v1::AttestRequest attest_req;
  attest_req.set_key(key_);
  attest_req.set_nonce(challenge->nonce());
  for (v1::EvidenceItem& item : *evidence) *attest_req.add_evidence() = std::move(item);
  attest_req.set_kem(v1::HPKE_KEM_P256_SHA256);
  attest_req.set_public_key(std::string(AsStringView(public_key)));
  absl::StatusOr<v1::AttestResponse> attested = connection.Attest(attest_req);
  RETURN_IF_ERROR(InStep("Attest", attested.status()));
  if (attested->ear_status() != "affirming") {
    return absl::DataLossError(
        absl::StrCat("Attest: ear_status '", attested->ear_status(), "', expected affirming"));
  }
  const Clock::time_point t4 = Clock::now();
  v1::ReleaseKeyRequest release_req;
  release_req.set_token(attested->token());
  release_req.set_key(key_);
  release_req.set_public_key(std::string(AsStringView(public_key)));
  absl::StatusOr<v1::ReleaseKeyResponse> released = connection.ReleaseKey(release_req);
  RETURN_IF_ERROR(InStep("ReleaseKey", released.status()));
  const Clock::time_point t5 = Clock::now();
  absl::StatusOr<std::string> token_id = client::TokenId(attested->token());
  RETURN_IF_ERROR(InStep("token", token_id.status()));
  absl::StatusOr<SecretBytes> opened =
      client::OpenSealedKey(keys.private_key, released->sealed(), key_, *token_id);
  RETURN_IF_ERROR(InStep("open", opened.status()));
  const Clock::time_point t6 = Clock::now();
  if (material != nullptr) {
    *material = *std::move(opened);
  } else if (!opened->Equals(material_)) {
    return absl::DataLossError(absl::StrCat("released key material (", opened->size(),
                                            " bytes) differs from the first release of ", key_));
  }
  const Clock::time_point marks[] = {t0, t1, t2, t3, t4, t5, t6};
  for (int s = 0; s < kJobStepCount; ++s) sample.step_ns[s] = Nanos(marks[s], marks[s + 1]);
  sample.total_ns = Nanos(t0, t6);
  return sample;
}

absl::StatusOr<ModelDecryption> ModelDecryption::Seal(const SecretBytes& key,
                                                      std::span<const uint8_t> plaintext,
                                                      const std::string& object_name) {
  ModelDecryption d;
  d.object_name_ = object_name;
  d.plaintext_size_ = plaintext.size();
  d.expected_sha256_ = Sha256(plaintext);
  storage::sealed::SegmentSplitter splitter(
      d.params_,
      [&](std::span<const uint8_t> header) {
        d.stream_header_.assign(header.begin(), header.end());
        return absl::OkStatus();
      },
      [&](uint64_t, std::span<const uint8_t> segment) {
        d.segments_.emplace_back(AsStringView(segment));
        return absl::OkStatus();
      });
  ASSIGN_OR_RETURN(auto writer, storage::StreamingAeadWriter::Create(
                                    key, d.params_, AsBytes(object_name), &splitter));
  RETURN_IF_ERROR(writer->Write(plaintext));
  RETURN_IF_ERROR(writer->Finish());
  RETURN_IF_ERROR(splitter.Finish());
  d.stream_bytes_ = splitter.stream_bytes();
  // Zero-filled now, so that page faults are not timed in Open().
  d.out_.assign(plaintext.size(), 0);
  return d;
}

absl::StatusOr<int64_t> ModelDecryption::Open(const SecretBytes& key, int threads) {
  using Segment = storage::sealed::SegmentStreamReader::Segment;
  std::vector<Segment> segments;  // what the transport would hand over
  segments.reserve(segments_.size());
  for (size_t i = 0; i < segments_.size(); ++i) segments.push_back({i, segments_[i]});
  SpanLendingSink sink(out_);
  size_t next = 0;
  const Clock::time_point t0 = Clock::now();
  ASSIGN_OR_RETURN(auto reader,
                   storage::sealed::SegmentStreamReader::Create(
                       key, params_, AsBytes(object_name_), stream_header_, stream_bytes_,
                       [&]() -> absl::StatusOr<std::optional<Segment>> {
                         if (next == segments.size()) return std::nullopt;
                         return std::move(segments[next++]);
                       }));
  RETURN_IF_ERROR(reader->CopyRange(0, UINT64_MAX, &sink, nullptr, threads));
  const int64_t ns = Nanos(t0, Clock::now());
  if (sink.size() != out_.size()) {
    return absl::DataLossError(
        absl::StrCat(object_name_, ": decrypted ", sink.size(), " bytes, sealed ", out_.size()));
  }
  if (Sha256(out_) != expected_sha256_) {
    return absl::DataLossError(
        absl::StrCat(object_name_, ": decrypted bytes differ from the sealed model"));
  }
  std::fill(out_.begin(), out_.end(), 0);
  return ns;
}

}  // namespace strongroom::bench
