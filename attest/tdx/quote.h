// Intel TDX DCAP quotes (v4 and v5), parsed into their parts.
//
// Layout (Intel TDX DCAP Quoting Library API, appendix "Quote format"; all
// integers little-endian):
//   header (48 B): version u16, att_key_type u16 (2 = ECDSA-256 with P-256),
//     tee_type u32 (0x81 = TDX), qe_svn u16, pce_svn u16, qe_vendor_id[16],
//     user_data[20]
//   v4: TD report body, TDX 1.0 layout (584 B)
//   v5: body_type u16 (2 = TDX 1.0, 3 = TDX 1.5), body_size u32, body
//       (584 B or 648 B: TDX 1.5 adds tee_tcb_svn2[16] and mrservicetd[48])
//   signature_data_len u32, then the ECDSA-256 signature data:
//     signature[64] (r||s, big-endian) over header..body,
//     attestation_key[64] (X||Y),
//     certification data type u16 (must be 6: QE report certification
//     data), size u32, and inside it:
//       qe_report[384] (an SGX report body), qe_report_signature[64],
//       qe_auth_data_size u16, qe_auth_data, then certification data type
//       u16 (must be 5: PCK certificate chain, PEM) and size u32, data.
// Every declared length must match what follows exactly; bytes after the
// signature data are not part of the quote and are only counted
// (`trailing_bytes`), so the verifier can report them.
//
// ParseTdxQuote is a pure function, safe from any thread; it never reads
// outside `data` and is fuzzed (tests/fuzz/tdx_quote_fuzz.cc). Errors are
// InvalidArgument("tdx quote: <field>: <why>").
#ifndef STRONGROOM_ATTEST_TDX_QUOTE_H_
#define STRONGROOM_ATTEST_TDX_QUOTE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "base/bytes.h"

namespace strongroom::attest {

inline constexpr uint16_t kTdxAttKeyTypeEcdsaP256 = 2;
inline constexpr uint32_t kTdxTeeType = 0x81;
inline constexpr uint16_t kTdxBodyTypeTdx10 = 2;
inline constexpr uint16_t kTdxBodyTypeTdx15 = 3;
inline constexpr size_t kTdxHeaderSize = 48;
inline constexpr size_t kTdxBody10Size = 584;
inline constexpr size_t kTdxBody15Size = 648;
inline constexpr size_t kSgxReportBodySize = 384;
inline constexpr uint16_t kTdxCertDataQeReport = 6;
inline constexpr uint16_t kTdxCertDataPckChain = 5;

// TD_ATTRIBUTES bits (Intel TDX module ABI; Linux asm/shared/tdx.h).
inline constexpr int kTdAttrDebugBit = 0;
inline constexpr int kTdAttrSeptVeDisableBit = 28;
inline constexpr int kTdAttrMigratableBit = 29;
inline constexpr int kTdAttrPksBit = 30;
inline constexpr int kTdAttrKlBit = 31;
inline constexpr int kTdAttrPerfmonBit = 63;

struct TdxQuoteHeader {
  uint16_t version = 0;
  uint16_t att_key_type = 0;
  uint32_t tee_type = 0;
  uint16_t qe_svn = 0;
  uint16_t pce_svn = 0;
  std::array<uint8_t, 16> qe_vendor_id{};
  std::array<uint8_t, 20> user_data{};
};

// The TD report as carried in the quote (TDX 1.0 fields, plus the TDX 1.5
// ones when body_type is 3).
struct TdReportBody {
  std::array<uint8_t, 16> tee_tcb_svn{};
  std::array<uint8_t, 48> mrseam{};
  std::array<uint8_t, 48> mrsignerseam{};
  std::array<uint8_t, 8> seam_attributes{};
  std::array<uint8_t, 8> td_attributes{};  // little-endian u64
  std::array<uint8_t, 8> xfam{};
  std::array<uint8_t, 48> mrtd{};
  std::array<uint8_t, 48> mrconfigid{};
  std::array<uint8_t, 48> mrowner{};
  std::array<uint8_t, 48> mrownerconfig{};
  std::array<std::array<uint8_t, 48>, 4> rtmr{};
  std::array<uint8_t, 64> report_data{};
  // TDX 1.5 only.
  std::optional<std::array<uint8_t, 16>> tee_tcb_svn2;
  std::optional<std::array<uint8_t, 48>> mrservicetd;

  uint64_t TdAttributes() const;  // td_attributes as an integer
};

// The Quoting Enclave's SGX report body (384 B).
struct QeReport {
  std::array<uint8_t, 16> cpusvn{};
  uint32_t miscselect = 0;
  std::array<uint8_t, 16> attributes{};
  std::array<uint8_t, 32> mrenclave{};
  std::array<uint8_t, 32> mrsigner{};
  uint16_t isvprodid = 0;
  uint16_t isvsvn = 0;
  std::array<uint8_t, 64> report_data{};
};

struct TdxQuote {
  TdxQuoteHeader header;
  uint16_t body_type = kTdxBodyTypeTdx10;  // v4 quotes are always TDX 1.0
  TdReportBody body;
  // The bytes the attestation key signs: header through the end of the body
  // (for v5 this includes body_type and body_size).
  Bytes signed_data;
  std::array<uint8_t, 64> signature{};        // r||s
  std::array<uint8_t, 64> attestation_key{};  // X||Y on P-256
  Bytes qe_report_raw;                        // 384 B, what the PCK signs
  QeReport qe_report;
  std::array<uint8_t, 64> qe_report_signature{};
  Bytes qe_auth_data;
  std::string pck_chain_pem;  // certification data type 5, as carried
  size_t quote_size = 0;      // bytes up to the end of the signature data
  size_t trailing_bytes = 0;  // bytes after that (ignored)
};

absl::StatusOr<TdxQuote> ParseTdxQuote(std::span<const uint8_t> data);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_TDX_QUOTE_H_
