// Big-endian TPM 2.0 wire encoding (TPM 2.0 Part 2 "Structures", clause 4:
// integers are big-endian, TPM2B_* is a UINT16 size followed by that many
// bytes). The reader is strict: every read names the field it wanted, and a
// short buffer is an error instead of a partial value.
//
// TpmReader borrows the bytes it reads (the caller keeps them alive); it is
// a small value type, not thread-safe. Errors are InvalidArgument
// "<what>: <field>: <why> (offset N)".
#ifndef STRONGROOM_ATTEST_TPM_TPM_WIRE_H_
#define STRONGROOM_ATTEST_TPM_TPM_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/bytes.h"

namespace strongroom::attest::tpm_wire {

class TpmReader {
 public:
  // `what` names the structure in error messages ("TPMS_ATTEST").
  TpmReader(std::span<const uint8_t> data, absl::string_view what)
      : data_(data), what_(what) {}

  absl::StatusOr<uint8_t> U8(absl::string_view field);
  absl::StatusOr<uint16_t> U16(absl::string_view field);
  absl::StatusOr<uint32_t> U32(absl::string_view field);
  absl::StatusOr<uint64_t> U64(absl::string_view field);
  // `n` raw bytes.
  absl::StatusOr<std::span<const uint8_t>> Take(size_t n,
                                                absl::string_view field);
  // A TPM2B: UINT16 size then the bytes; a size above `max_size` is refused
  // before anything is read past the size.
  absl::StatusOr<Bytes> Sized(absl::string_view field, size_t max_size);
  // The same into `out`, reusing its capacity (`out` is unspecified on an
  // error).
  absl::Status SizedInto(absl::string_view field, size_t max_size, Bytes* out);
  // OK when every byte was consumed; else "<n> trailing bytes".
  absl::Status ExpectEnd() const;

  size_t offset() const { return offset_; }
  size_t remaining() const { return data_.size() - offset_; }

  // An InvalidArgument "<what>: <field>: <why> (offset N)" at the current
  // offset, for checks the caller makes on a value it read.
  absl::Status Error(absl::string_view field, absl::string_view why) const;

 private:
  std::span<const uint8_t> data_;
  absl::string_view what_;
  size_t offset_ = 0;
};

void PutU8(Bytes& out, uint8_t v);
void PutU16(Bytes& out, uint16_t v);
void PutU32(Bytes& out, uint32_t v);
void PutU64(Bytes& out, uint64_t v);
void PutBytes(Bytes& out, std::span<const uint8_t> v);
// UINT16 size || bytes. The caller keeps `v` under 64 KiB.
void PutSized(Bytes& out, std::span<const uint8_t> v);

}  // namespace strongroom::attest::tpm_wire

#endif  // STRONGROOM_ATTEST_TPM_TPM_WIRE_H_
