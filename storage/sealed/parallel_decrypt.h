// Decryption of a run of whole segments on several threads, straight into
// one buffer: how a workload opens a large model or dataset on all its
// cores while the transport is still delivering it (SegmentStreamReader::
// CopyRange with threads > 1, into a sink that lends its buffer).
//
// The calling thread pulls each segment's stored bytes in order (`take`,
// which checks the order as the sequential reader does) and queues them;
// `threads` workers, each with its own copy of the object key's AES-GCM
// schedule, decrypt and authenticate them into their place in `out`. At
// most `threads` segments wait in the queue, so memory stays bounded by a
// few segments whatever the object's size.
//
// Errors: the result names the first failing segment in stream order (a
// transport error for segment i counts as segment i's), so a failure reads
// the same as in the sequential reader; the bytes of every segment before it
// are authenticated plaintext, everything from it on is wiped.
#ifndef STRONGROOM_STORAGE_SEALED_PARALLEL_DECRYPT_H_
#define STRONGROOM_STORAGE_SEALED_PARALLEL_DECRYPT_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/streaming/streaming_aead_random_access_reader.h"

namespace strongroom::storage::sealed {

struct ParallelDecryptResult {
  // False when no thread could start (no copy of the cipher, no thread):
  // nothing was taken or written, decrypt one segment at a time instead.
  bool started = true;
  // Bytes at the front of `out` that hold the plaintext of the segments
  // before the first failure (all of `out` when status is OK).
  uint64_t good_bytes = 0;
  absl::Status status;
};

// Segments [first, end) of `reader`'s stream (whole segments; `out` is
// exactly their plaintext size), `threads` >= 1 decrypting. `take(i)`
// returns segment i's stored bytes (tag included).
ParallelDecryptResult DecryptSegmentsInParallel(
    const storage::StreamingAeadRandomAccessReader& reader, uint64_t first, uint64_t end,
    std::span<uint8_t> out, int threads,
    const std::function<absl::StatusOr<std::string>(uint64_t)>& take);

}  // namespace strongroom::storage::sealed

#endif  // STRONGROOM_STORAGE_SEALED_PARALLEL_DECRYPT_H_
