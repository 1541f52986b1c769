// WorkloadClient: the workload side of the key broker
// (proto/strongroom/v1/key_broker.proto, docs/workload.md).
//
//   ASSIGN_OR_RETURN(auto attester, client::TpmAttester::Create({.tcti = ...}));
//   ASSIGN_OR_RETURN(auto wl, client::WorkloadClient::Create(conn.get(),
//                                                            std::move(attester)));
//   ASSIGN_OR_RETURN(client::ReleasedKey k, wl->GetKey("model-weights"));
//   ... k.material.Reveal() ...
//
// GetKey(key):
//   1. a token still valid for `key` (margin WorkloadOptions::token_margin)
//      is reused: ReleaseKey(token, key, pk) -> SealedKey; otherwise:
//      GetChallenge(key) -> nonce; binding = AttestationBinding(kem, nonce,
//      pk) (attest/binding.h); attester->Attest(binding) -> evidence;
//      Attest(key, nonce, evidence, kem, pk, release = key) -> token, kept
//      for reuse, and the SealedKey (two round trips instead of three; a
//      broker that sends no SealedKey gets a ReleaseKey with the token);
//   2. the SealedKey is checked before it is opened: its kem is ours, its
//      token_id is the token's "jti", its key_version is a version of the key
//      asked for (the very version, when one was asked for), and its info is
//      exactly "strongroom-release-v1" 0x00 key_version 0x00 token_id;
//   3. HPKE base-mode Open (DHKEM(kem), HKDF-SHA256, AES-256-GCM) with
//      info = aad = that info, under the ephemeral private key.
// A reused token that the server refuses as expired, revoked or
// superseded ("refused: token_...") is dropped and the flow runs once more
// with fresh evidence. GetDataKey() is the same with GetDataKey (its first
// call attests, then asks GetDataKey: three round trips).
//
// The ephemeral HPKE key pair is made in Create() and lives as long as the
// client (tokens are bound to its public key); it never leaves the process
// unless ExportEphemeralPrivateKeyPem() is called.
//
// Errors: the server's status as returned (refusals are PermissionDenied
// "refused: <reason id> (audit N)"); the attester's status; DataLoss when a
// sealed key fails the checks in step 2 or does not open. Messages never
// carry key material or the token.
//
// Thread-safety: not thread-safe (the attester is not); use one client per
// thread or guard it.
#ifndef STRONGROOM_CLIENT_WORKLOAD_H_
#define STRONGROOM_CLIENT_WORKLOAD_H_

#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "base/secret_bytes.h"
#include "client/attester.h"
#include "client/connection.h"
#include "kms/hpke/keys.h"
#include "client/sealed_object.h"
#include "storage/streaming/byte_stream.h"
#include "strongroom/v1/key_broker.pb.h"
#include "strongroom/v1/sealed_store.pb.h"

namespace strongroom::client {

struct WorkloadOptions {
  kms::hpke::Kem kem = kms::hpke::Kem::kDhkemP256HkdfSha256;
  // A held token is reused only while it has at least this long to live.
  absl::Duration token_margin = absl::Seconds(30);
  const Clock* clock = nullptr;  // not owned; null = the system clock
};

struct ReleasedKey {
  std::string key_version;  // keys/{key}/versions/{n}
  SecretBytes material;
  strongroom::v1::SealedKey sealed;  // as the server sent it (no secret)
  std::string token;                 // the EAR token it was released under
  bool attested = false;             // false when a held token was reused
};

struct DataKey {
  std::string key_version;
  SecretBytes plaintext;             // the fresh data key
  Bytes wrapped;                     // the same key under key_version (SRC1)
  strongroom::v1::SealedKey sealed;
  std::string token;
  bool attested = false;
};

// "strongroom-release-v1" 0x00 key_version 0x00 token_id.
Bytes ReleaseInfo(absl::string_view key_version, absl::string_view token_id);

// The HPKE info (= aad) of an object's data key sealed by the broker:
//   label 0x00 "datasets/{id}" 0x00 name 0x00 decimal(version) 0x00
//   key_version 0x00 token_id
// with label kObjectKeyLabel (GetObjectKey: a stored object's key) or
// kUploadKeyLabel (GetUploadKey: a fresh key for an upload).
inline constexpr char kObjectKeyLabel[] = "strongroom-object-key-v1";
inline constexpr char kUploadKeyLabel[] = "strongroom-upload-key-v1";
Bytes ObjectKeyInfo(absl::string_view label, absl::string_view dataset_id,
                    absl::string_view name, uint64_t version, absl::string_view key_version,
                    absl::string_view token_id);

// Checks and opens an object's data key sealed by GetObjectKey or
// GetUploadKey: the kem is the private key's, token_id the token's jti,
// key_version a version of `key_name` ("keys/k"), and info exactly
// ObjectKeyInfo(label, dataset_id, name, version, key_version, token_id).
// DataLoss naming the field at fault.
absl::StatusOr<SecretBytes> OpenSealedObjectKey(const kms::hpke::PrivateKey& private_key,
                                                const strongroom::v1::SealedKey& sealed,
                                                absl::string_view label,
                                                absl::string_view dataset_id,
                                                absl::string_view name, uint64_t version,
                                                absl::string_view key_name,
                                                absl::string_view token_id);

// Steps 2 and 3 above, for callers that hold a SealedKey from elsewhere
// (interop tests, a sealed response saved to disk). `requested_key` is what
// was asked for ("k", "keys/k" or "keys/k/versions/n"); `token_id` the jti
// of the token it was released under. DataLoss naming the field at fault.
absl::StatusOr<SecretBytes> OpenSealedKey(const kms::hpke::PrivateKey& private_key,
                                          const strongroom::v1::SealedKey& sealed,
                                          absl::string_view requested_key,
                                          absl::string_view token_id);

// The "jti" of an EAR token (JWS compact form); the signature is not checked
// here (the server checks it). InvalidArgument naming "token".
absl::StatusOr<std::string> TokenId(absl::string_view token);

class WorkloadClient {
 public:
  // `connection` must outlive the client. InvalidArgument for a null
  // connection or attester; Internal when key generation fails.
  static absl::StatusOr<std::unique_ptr<WorkloadClient>> Create(
      Connection* connection, std::unique_ptr<Attester> attester,
      WorkloadOptions options = {});

  absl::StatusOr<ReleasedKey> GetKey(absl::string_view key);
  absl::StatusOr<DataKey> GetDataKey(absl::string_view key, std::span<const uint8_t> aad);

  // Sealed store access as an attested workload (docs/sealed-store.md,
  // "Workload reads and writes"; client/workload_store.cc). The token is one
  // for "datasets/{id}" (held or fresh: challenge and Attest with key
  // "datasets/{id}", evaluated against the dataset's release policy), kept
  // under that name and reused like key tokens; a reused token refused as
  // stale is replaced once, as long as nothing was read from `input` or
  // written to `out` yet.
  //
  // GetObject: streams options.dataset/name@version (options.dataset is the
  // dataset id) with that token; the data key of the version the server
  // sent comes from the broker (GetObjectKey with the header's dataset, name
  // and version), sealed to this client's ephemeral key, is checked
  // (OpenSealedObjectKey, kObjectKeyLabel, the header's key) and opened
  // here; decryption, ranges and --raw as GetSealedObject. options.token
  // and options.open_key are ignored (filled in here).
  absl::StatusOr<strongroom::v1::ObjectInfo> GetObject(GetObjectOptions options,
                                                       storage::ByteSink& out);
  // PutObject: BeginUpload with that token reserves the next version; the
  // fresh data key comes from the broker (GetUploadKey for that upload),
  // sealed to this client (kUploadKeyLabel) and wrapped under the dataset's
  // key with the object's context exactly as for an owner upload, so the
  // dataset's owner reads it with an ordinary `strongroom object get`.
  // options.token and options.new_key are ignored (filled in here).
  absl::StatusOr<strongroom::v1::ObjectInfo> PutObject(const PutObjectOptions& options,
                                                       storage::ByteSource& input);
  // As PutObject, but the object stays staged (StageSealedObject) until
  // CommitObjects makes a set of them visible together (one dataset).
  absl::StatusOr<StagedObject> StageObject(const PutObjectOptions& options,
                                           storage::ByteSource& input);
  absl::StatusOr<std::vector<strongroom::v1::ObjectInfo>> CommitObjects(
      absl::string_view dataset, const std::vector<StagedObject>& staged);
  // Drops a set that will not be completed (DiscardStagedObjects).
  absl::Status DiscardObjects(absl::string_view dataset, const std::vector<StagedObject>& staged);

  // Runs challenge, evidence and Attest for `key` ("k", "keys/k" or
  // "datasets/{id}") now, replacing any held token; returns the token.
  absl::StatusOr<std::string> Attest(absl::string_view key);
  // The token held for `key` ("k", "keys/k" or "datasets/{id}"), if any
  // (expired or not).
  std::optional<std::string> token(absl::string_view key) const;
  void ForgetTokens() { tokens_.clear(); }

  kms::hpke::Kem kem() const { return options_.kem; }
  const kms::hpke::PublicKey& public_key() const { return key_pair_.public_key; }
  // The ephemeral private key as unencrypted PKCS#8 PEM, for interop tests
  // and debugging only: whoever holds it can open every key sealed to this
  // client.
  absl::StatusOr<SecretBytes> ExportEphemeralPrivateKeyPem() const;

 private:
  struct HeldToken {
    std::string token;
    std::string token_id;
    absl::Time expires;
  };
  WorkloadClient(Connection* connection, std::unique_ptr<Attester> attester,
                 WorkloadOptions options, kms::hpke::KeyPair key_pair)
      : connection_(connection),
        attester_(std::move(attester)),
        options_(options),
        key_pair_(std::move(key_pair)) {}

  // The token held for `key_id` while it has token_margin left, or null.
  const HeldToken* UsableToken(const std::string& key_id) const;
  // A usable token for `key_id` ("keys/k" or "datasets/d"): held or fresh.
  // `attested` says which.
  absl::StatusOr<HeldToken> TokenFor(const std::string& key_id, bool* attested);
  // PutObject and StageObject: `upload` with options.token and
  // options.new_key filled in, once more after re-attesting when the held
  // token was stale and no byte was read yet.
  template <typename Result>
  absl::StatusOr<Result> UploadWithToken(
      const PutObjectOptions& options, storage::ByteSource& input,
      const std::function<absl::StatusOr<Result>(const PutObjectOptions&, storage::ByteSource&)>&
          send);
  // A fresh token for `key_id`; with `release` (a key name) the key is
  // released in the same call and its SealedKey stored in `*sealed` (left
  // empty by a broker that predates AttestRequest.release).
  absl::StatusOr<HeldToken> AttestFor(const std::string& key_id, const std::string& release = "",
                                      std::optional<v1::SealedKey>* sealed = nullptr);
  // Runs `call` with a token; retries once with a fresh one when a reused
  // token is refused as stale.
  template <typename Call>
  auto WithToken(const std::string& key_id, bool* attested, Call call)
      -> decltype(call(std::declval<const HeldToken&>()));

  Connection* connection_;
  std::unique_ptr<Attester> attester_;
  WorkloadOptions options_;
  kms::hpke::KeyPair key_pair_;
  std::map<std::string, HeldToken> tokens_;  // by "keys/{key}" or "datasets/{id}"
};

}  // namespace strongroom::client

#endif  // STRONGROOM_CLIENT_WORKLOAD_H_
