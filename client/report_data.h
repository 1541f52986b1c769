// Internal to client_workload: the 64-byte REPORT_DATA that SEV-SNP and TDX
// evidence carries, and the checks that a report or quote returned by the
// kernel carries the value asked for (a mismatch means another request raced
// ours, or the device is not what it claims). Pure functions; thread-safe.
#ifndef STRONGROOM_CLIENT_REPORT_DATA_H_
#define STRONGROOM_CLIENT_REPORT_DATA_H_

#include <array>
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace strongroom::client::internal {

using ReportData = std::array<uint8_t, 64>;

// `binding` zero-padded to 64 bytes; InvalidArgument naming `attester` when
// it is longer.
absl::StatusOr<ReportData> PadReportData(absl::string_view attester,
                                         std::span<const uint8_t> binding);

// The report / quote parses and its REPORT_DATA equals `expected`:
// Internal when it does not parse, FailedPrecondition when it carries other
// data. `source` names where it came from in the message.
absl::Status CheckSnpReportData(std::span<const uint8_t> report, const ReportData& expected,
                                absl::string_view source);
absl::Status CheckTdxReportData(std::span<const uint8_t> quote, const ReportData& expected,
                                absl::string_view source);

}  // namespace strongroom::client::internal

#endif  // STRONGROOM_CLIENT_REPORT_DATA_H_
