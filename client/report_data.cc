#include "client/report_data.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "attest/snp/snp_report.h"
#include "attest/tdx/quote.h"
#include "base/bytes.h"

namespace strongroom::client::internal {
namespace {

absl::Status Compare(const std::array<uint8_t, 64>& got, const ReportData& expected,
                     absl::string_view what, absl::string_view source) {
  if (got == expected) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      source, ": the ", what, " carries report_data ", HexEncode(got),
      ", not the binding asked for (", HexEncode(expected), ")"));
}

}  // namespace

absl::StatusOr<ReportData> PadReportData(absl::string_view attester,
                                         std::span<const uint8_t> binding) {
  ReportData out{};
  if (binding.size() > out.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        attester, ": binding: ", binding.size(), " bytes, at most ", out.size()));
  }
  std::copy(binding.begin(), binding.end(), out.begin());
  return out;
}

absl::Status CheckSnpReportData(std::span<const uint8_t> report, const ReportData& expected,
                                absl::string_view source) {
  absl::StatusOr<attest::SnpReport> parsed = attest::ParseSnpReport(report);
  if (!parsed.ok()) {
    return absl::InternalError(absl::StrCat(source, ": not an SEV-SNP report (",
                                            parsed.status().message(), ")"));
  }
  return Compare(parsed->report_data, expected, "SEV-SNP report", source);
}

absl::Status CheckTdxReportData(std::span<const uint8_t> quote, const ReportData& expected,
                                absl::string_view source) {
  absl::StatusOr<attest::TdxQuote> parsed = attest::ParseTdxQuote(quote);
  if (!parsed.ok()) {
    return absl::InternalError(absl::StrCat(source, ": not a TDX quote (",
                                            parsed.status().message(), ")"));
  }
  return Compare(parsed->body.report_data, expected, "TDX quote", source);
}

}  // namespace strongroom::client::internal
