// The operations of `strongroom-bench kms`: one unary KeyManagement RPC each,
// made through the client SDK (client::Connection) as a real caller would,
// with every response checked so that a wrong answer fails the run instead of
// being counted.
//
// KmsFixture holds the key and the inputs; it is created once, before any
// measurement, and then only read, so ops on many threads may share it.
#ifndef STRONGROOM_BENCH_KMS_OPS_H_
#define STRONGROOM_BENCH_KMS_OPS_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bench/harness.h"
#include "client/connection.h"
#include "strongroom/v1/key_management.pb.h"

namespace strongroom::bench {

// In report order. `ping` is the no-op RPC: the ceiling the others are
// compared with.
inline constexpr const char* kKmsOpNames[] = {"ping", "encrypt", "decrypt", "generate_data_key"};

inline constexpr size_t kDataKeyBytes = 32;

struct KmsFixture {
  std::string key_name;     // keys/{id}
  std::string key_version;  // its primary version, keys/{id}/versions/1
  std::string plaintext;    // random, --payload-bytes long
  std::string ciphertext;   // `plaintext` encrypted under key_name
};

// `admin` creates key `key_id` with `protection`, owned by `owner_principal`;
// `owner` (whose principal that is) encrypts a random payload of
// `payload_bytes`, then checks the round trips the benchmark relies on:
// Decrypt returns the payload, and a GenerateDataKey ciphertext decrypts to
// its plaintext data key. DataLoss naming the call on a wrong answer; the
// RPC's status when a call fails.
absl::StatusOr<KmsFixture> CreateKmsFixture(client::Connection& admin, client::Connection& owner,
                                            absl::string_view key_id,
                                            absl::string_view owner_principal,
                                            strongroom::v1::Protection protection,
                                            size_t payload_bytes);

// One call of op `name` (one of kKmsOpNames) on `connection`, as `owner` of
// the fixture's key. Each call checks its response against `fixture` (Decrypt:
// the exact plaintext; Encrypt and GenerateDataKey: sizes and key version) and
// returns DataLoss on a mismatch. InvalidArgument for an unknown name.
// `connection` and `fixture` must outlive the Op.
absl::StatusOr<Op> MakeKmsOp(absl::string_view name, client::Connection& connection,
                             const KmsFixture& fixture);

}  // namespace strongroom::bench

#endif  // STRONGROOM_BENCH_KMS_OPS_H_
