// Intel PCS collateral for TDX quotes: TDX TCB info (v3), TD QE identity
// (v2), CRLs and the TCB signing chain, read from a local directory.
//
// TCB info and QE identity are JSON documents of the form
//   {"tcbInfo": {...}, "signature": "<hex r||s>"}
//   {"enclaveIdentity": {...}, "signature": "<hex r||s>"}
// where the signature (ECDSA P-256/SHA-256 by the Intel SGX TCB Signing
// certificate) covers the exact bytes of the inner object as they appear in
// the file. The parsers keep those bytes (`signed_body`) and decode the
// fields from them, never from a re-serialization, so what is checked is
// what was signed. A document with a repeated top-level key is refused.
//
// Files in a collateral directory are recognized by content, not by name:
// JSON with "tcbInfo" or "enclaveIdentity", PEM certificates and CRLs (text
// files, no NUL bytes), and DER CRLs or certificates. Anything else (quotes,
// reports, notes) is ignored.
//
// Parsers are pure functions and fuzzed (tests/fuzz/tdx_collateral_fuzz.cc).
// Errors: InvalidArgument("tdx <what>: <field>: <why>") for malformed input,
// NotFound/InvalidArgument from the directory read.
#ifndef STRONGROOM_ATTEST_TDX_COLLATERAL_H_
#define STRONGROOM_ATTEST_TDX_COLLATERAL_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "attest/x509.h"
#include "base/bytes.h"

namespace strongroom::attest {

// One level of a TDX TCB info (PCS "tcbLevels" element).
struct TdxTcbLevel {
  std::array<uint8_t, 16> sgx_components{};
  uint16_t pcesvn = 0;
  std::array<uint8_t, 16> tdx_components{};
  std::string tcb_status;  // as written ("UpToDate", "OutOfDate", ...)
  absl::Time tcb_date = absl::InfinitePast();
  std::vector<std::string> advisory_ids;
};

// A level of a TDX module identity or of the QE identity (keyed by ISV SVN).
struct IsvSvnTcbLevel {
  uint16_t isvsvn = 0;
  std::string tcb_status;
  absl::Time tcb_date = absl::InfinitePast();
  std::vector<std::string> advisory_ids;
};

struct TdxModuleIdentity {
  std::string id;  // "TDX_01", ...
  Bytes mrsigner;  // 48 B
  Bytes attributes;
  Bytes attributes_mask;  // 8 B each
  std::vector<IsvSvnTcbLevel> tcb_levels;  // as listed (highest first)
};

struct TdxTcbInfo {
  std::string id;  // "TDX"
  int version = 0;
  absl::Time issue_date = absl::InfinitePast();
  absl::Time next_update = absl::InfinitePast();
  std::array<uint8_t, 6> fmspc{};
  std::array<uint8_t, 2> pce_id{};
  int tcb_evaluation_data_number = 0;
  // "tdxModule": the module signer and attributes expected of mrsignerseam
  // and seam_attributes when no per-version module identity applies.
  bool has_tdx_module = false;
  Bytes module_mrsigner, module_attributes, module_attributes_mask;
  std::vector<TdxModuleIdentity> module_identities;
  std::vector<TdxTcbLevel> tcb_levels;  // as listed (highest first)
  std::string signed_body;              // exact bytes of the "tcbInfo" value
  Bytes signature;                      // 64 B r||s
};

struct QeIdentity {
  std::string id;  // "TD_QE"
  int version = 0;
  absl::Time issue_date = absl::InfinitePast();
  absl::Time next_update = absl::InfinitePast();
  int tcb_evaluation_data_number = 0;
  uint32_t miscselect = 0, miscselect_mask = 0;
  std::array<uint8_t, 16> attributes{}, attributes_mask{};
  std::array<uint8_t, 32> mrsigner{};
  uint16_t isvprodid = 0;
  std::vector<IsvSvnTcbLevel> tcb_levels;  // as listed (highest first)
  std::string signed_body;  // exact bytes of the "enclaveIdentity" value
  Bytes signature;          // 64 B r||s
};

absl::StatusOr<TdxTcbInfo> ParseTdxTcbInfo(absl::string_view json);
absl::StatusOr<QeIdentity> ParseQeIdentity(absl::string_view json);

// The exact text of the value of top-level key `key` in the JSON object
// `json` (no decoding). NotFound when the key is absent from a well-formed
// object; InvalidArgument when `json` is not an object, the key is
// repeated, or the text is malformed.
absl::StatusOr<absl::string_view> RawJsonMember(absl::string_view json,
                                                absl::string_view key);

// Everything found in a collateral directory plus the evidence's own
// certificates. A value type.
struct TdxCollateral {
  std::vector<TdxTcbInfo> tcb_infos;
  std::vector<QeIdentity> qe_identities;
  std::vector<Crl> crls;
  std::vector<Certificate> certificates;
  std::vector<std::string> ignored_files;  // not recognized as collateral
};

// Classifies one file's content (see the file comment) and adds it to
// `out`. A file that is recognizably collateral but malformed is
// InvalidArgument naming `name`; unrecognized content is recorded in
// ignored_files.
absl::Status AddCollateralFile(absl::string_view name,
                               absl::string_view content, TdxCollateral& out);

// Files larger than this are skipped when a directory is read.
inline constexpr uintmax_t kMaxCollateralFileSize = 4 << 20;

// One file of a collateral directory: its name (no directory part) and
// content.
struct CollateralFile {
  std::string name;
  std::string content;
};

// Reads every regular file (symlinks followed, not recursing, files over
// kMaxCollateralFileSize skipped) of `dir` in name order. An empty `dir`
// yields no files; a directory that cannot be listed is NotFound.
absl::StatusOr<std::vector<CollateralFile>> ReadCollateralFiles(
    const std::string& dir);

// AddCollateralFile for each file, in order.
absl::StatusOr<TdxCollateral> ParseCollateralFiles(
    const std::vector<CollateralFile>& files);

// ParseCollateralFiles(ReadCollateralFiles(dir)). TdxVerifier reads through
// CollateralDirectoryCache (collateral_cache.h), which gives the same result
// without re-reading unchanged directories.
absl::StatusOr<TdxCollateral> LoadTdxCollateral(const std::string& dir);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_TDX_COLLATERAL_H_
