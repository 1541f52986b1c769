// The owner's (and, through client/workload.h, an attested workload's) side
// of the sealed store: objects are encrypted here, before they leave the process,
// under a fresh data key from the KMS, and decrypted here after they arrive
// (docs/sealed-format.md, docs/sealed-store.md).
//
//   PutSealedObject   GenerateDataKey, then stream header + segments + commit
//   GetSealedObject   stream head + segments, unwrap the data key, decrypt
//                     (the whole object or a byte range), or copy it raw
//   RekeySealedObject replace an object's data key: resumable, from the
//                     server's cursor, after a crash of either side
//
// Memory: bounded by a few segments whatever the object size (the stream
// carries one segment per message; a put holds two plaintext segments, the
// one being encrypted and the one read ahead to tell whether it is the last,
// and encrypts straight into the message; a get holds one plaintext and up
// to four ciphertext segments: objects of more than one segment are received
// on a second thread, up to two segments ahead of the decryption, so that
// transport and decryption overlap). Plaintext data keys live in SecretBytes; the KMS
// response strings that carried them are wiped.
//
// Errors: the server's status for refusals and structure errors (named after
// the RPC); DataLoss from decryption when anything was changed, truncated,
// reordered or swapped ("segment N: ciphertext does not authenticate"), or
// when the server answers with another object than the one asked for;
// the sink's or source's status for local I/O. A get that fails may already
// have written part of the plaintext to the sink: callers must not use it
// (the CLI writes to a temporary file and renames it only on success).
//
// Thread-compatible: one call at a time per Connection stream; the
// Connection itself is thread-safe. A get of several segments starts one
// thread for the call's duration.
#ifndef STRONGROOM_CLIENT_SEALED_OBJECT_H_
#define STRONGROOM_CLIENT_SEALED_OBJECT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/secret_bytes.h"
#include "client/connection.h"
#include "storage/sealed/sealed_header.h"
#include "storage/streaming/byte_stream.h"

namespace strongroom::client {

// Bytes transferred so far and the total (0 when unknown).
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

// A fresh data key for an upload the server has begun: the plaintext, the
// same key wrapped under upload.key() by the KMS with the object's context
// (storage::sealed::DataKeyContext), and the key version that wrapped it.
struct NewDataKey {
  SecretBytes key;
  Bytes wrapped;
  uint32_t key_version = 0;
};
// The owner asks the KMS (GenerateDataKey); a workload asks the key broker
// (GetUploadKey), see WorkloadClient::PutObject.
using UploadKeySource =
    std::function<absl::StatusOr<NewDataKey>(const strongroom::v1::Upload& upload)>;
UploadKeySource OwnerUploadKeySource(Connection& conn);

struct PutObjectOptions {
  std::string dataset;  // dataset id
  std::string name;     // object name
  // When set ("k" or "keys/k"), the dataset's key must be this one; checked
  // before anything is uploaded.
  std::string expected_key;
  std::map<std::string, std::string> labels;
  uint32_t segment_size = 1 << 20;  // ciphertext bytes per full segment
  uint64_t size_hint = 0;           // for progress only
  ProgressFn progress;
  std::string token;                // workloads: the broker's dataset token
  UploadKeySource new_key;          // default: OwnerUploadKeySource(conn)
};

absl::StatusOr<strongroom::v1::ObjectInfo> PutSealedObject(Connection& conn,
                                                           const PutObjectOptions& options,
                                                           storage::ByteSource& input);

// Several objects as one: each is streamed and checked by the server but
// stays invisible (staged) until CommitStagedObjects commits all of them in
// one write, or none (the server discards staged uploads left for
// store.staged_upload_timeout or across a restart). One dataset per commit.
struct StagedObject {
  std::string upload_id;
  strongroom::v1::ObjectInfo info;  // as it will be committed
};
absl::StatusOr<StagedObject> StageSealedObject(Connection& conn, const PutObjectOptions& options,
                                               storage::ByteSource& input);
// `token`: workloads, the dataset token the uploads were begun with.
absl::StatusOr<std::vector<strongroom::v1::ObjectInfo>> CommitStagedObjects(
    Connection& conn, const std::vector<StagedObject>& staged, const std::string& token = "");
// A set that will not be completed: its staged uploads are discarded now
// rather than at the idle sweep (their bytes stop counting against the
// dataset's quota).
absl::Status DiscardStagedObjects(Connection& conn, const std::vector<StagedObject>& staged,
                                  const std::string& token = "");

// Unwraps a header's data key. The owner asks the KMS (Decrypt with the
// header's context); a workload asks the key broker for the key sealed to
// its attested public key (GetObjectKey, see WorkloadClient::GetObject).
using DataKeyOpener =
    std::function<absl::StatusOr<SecretBytes>(const storage::sealed::SealedHeader& header)>;
DataKeyOpener OwnerDataKeyOpener(Connection& conn);

struct GetObjectOptions {
  std::string dataset;
  std::string name;
  uint64_t version = 0;  // 0: latest
  uint64_t range_start = 0;
  std::optional<uint64_t> range_end;  // exclusive
  std::string token;                  // workloads: the broker's token
  DataKeyOpener open_key;             // default: OwnerDataKeyOpener(conn)
  // Tests: called by WorkloadClient::GetObject once the head has arrived,
  // before it asks the broker for the data key.
  std::function<void()> before_key_for_testing;
  // Called once the data key is in hand, with the time it took to obtain and
  // open it (a workload: the broker's release of it, sealed, and the HPKE open).
  std::function<void(absl::Duration)> on_key_opened;
  // Write the sealed object itself (header and segments, undecrypted; the
  // whole object only): an export that any holder of the data key can read.
  bool raw = false;
  ProgressFn progress;
  // Threads that decrypt whole segments at once, when `out` lends its
  // buffer (SegmentStreamReader::CopyRange); 1: one segment at a time on
  // the calling thread.
  int decrypt_threads = 1;
};

absl::StatusOr<strongroom::v1::ObjectInfo> GetSealedObject(Connection& conn,
                                                           const GetObjectOptions& options,
                                                           storage::ByteSink& out);

struct RekeyOptions {
  std::string dataset;
  std::string name;
  uint64_t version = 0;  // 0: latest
  ProgressFn progress;   // segments stored / total
};

// Starts or resumes the object's rekey job and drives it to the end.
absl::StatusOr<strongroom::v1::StoreJob> RekeySealedObject(Connection& conn,
                                                           const RekeyOptions& options);

}  // namespace strongroom::client

#endif  // STRONGROOM_CLIENT_SEALED_OBJECT_H_
