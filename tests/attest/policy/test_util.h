// Shared helpers for the policy tests: example documents from testdata/,
// claims shaped like the verifiers' (with launch measurements taken from
// the SEV-SNP vectors' REPORT_FIELDS.md), and pinned times.
#ifndef STRONGROOM_TESTS_ATTEST_POLICY_TEST_UTIL_H_
#define STRONGROOM_TESTS_ATTEST_POLICY_TEST_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "attest/claims.h"
#include "attest/policy/policy.h"
#include "attest/policy/reference_values.h"

namespace strongroom::attest::testing {

std::string ReadTestdata(absl::string_view name);
std::string ReadVector(absl::string_view rel);

// "measurement: <hex>" of the report section named `report` (e.g.
// "milan/virtee_report.bin") in sev-snp/REPORT_FIELDS.md.
std::string SnpMeasurementFromFields(absl::string_view report);

// A component ("bl", "snp", ...) of that report's reported_tcb.
int64_t SnpReportedTcbFromFields(absl::string_view report,
                                 absl::string_view component);

absl::Time At(absl::string_view rfc3339);

// Claims as the SNP verifier produces them for milan/virtee_report.bin
// (measurement, reported_tcb, policy bits, vmpl from REPORT_FIELDS.md).
Claims VirteeSnpClaims();
// NVIDIA-shaped claims (names from the NVIDIA verifier; values made up).
Claims H100Claims();

// Parses or fails the test (returns a policy that denies everything then).
Policy MustParse(absl::string_view json);

}  // namespace strongroom::attest::testing

#endif  // STRONGROOM_TESTS_ATTEST_POLICY_TEST_UTIL_H_
