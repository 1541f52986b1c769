#include "tests/attest/policy/test_util.h"

#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/file.h"
#include "gtest/gtest.h"

namespace strongroom::attest::testing {
namespace {

// The "  key: value" lines of one report's section in REPORT_FIELDS.md.
std::string FieldOf(absl::string_view report, absl::string_view key) {
  const std::string text = ReadVector("sev-snp/REPORT_FIELDS.md");
  bool in_section = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "=== ")) {
      in_section = absl::StartsWith(line.substr(4), report);
      continue;
    }
    if (!in_section) continue;
    absl::string_view l = absl::StripLeadingAsciiWhitespace(line);
    if (absl::ConsumePrefix(&l, key) && absl::ConsumePrefix(&l, ": ")) {
      return std::string(absl::StripAsciiWhitespace(l));
    }
  }
  ADD_FAILURE() << "no " << key << " for " << report << " in REPORT_FIELDS.md";
  return "";
}

// "{'bl': 3, 'tee': 0, 'snp': 8, ...}" -> the named component.
int64_t TcbComponent(absl::string_view tcb, absl::string_view name) {
  const std::string needle = absl::StrCat("'", name, "': ");
  size_t at = tcb.find(needle);
  if (at == absl::string_view::npos) {
    ADD_FAILURE() << "no " << name << " in " << tcb;
    return -1;
  }
  absl::string_view rest = tcb.substr(at + needle.size());
  rest = rest.substr(0, rest.find_first_of(",}"));
  int64_t v = -1;
  EXPECT_TRUE(absl::SimpleAtoi(rest, &v)) << rest;
  return v;
}

}  // namespace

std::string ReadTestdata(absl::string_view name) {
  auto s = ReadFileToString(absl::StrCat(STRONGROOM_POLICY_TESTDATA, "/", name),
                            "testdata");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

std::string ReadVector(absl::string_view rel) {
  auto s = ReadFileToString(absl::StrCat(STRONGROOM_VECTORS_DIR, "/", rel),
                            "vector");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

std::string SnpMeasurementFromFields(absl::string_view report) {
  return FieldOf(report, "measurement");
}

int64_t SnpReportedTcbFromFields(absl::string_view report,
                                 absl::string_view component) {
  return TcbComponent(FieldOf(report, "reported_tcb"), component);
}

absl::Time At(absl::string_view rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return t;
}

Claims VirteeSnpClaims() {
  constexpr absl::string_view kReport = "milan/virtee_report.bin";
  Claims c;
  c.SetString("snp.measurement", SnpMeasurementFromFields(kReport));
  for (absl::string_view part : {"bl", "tee", "snp", "ucode"}) {
    c.SetInt(absl::StrCat("snp.reported_tcb.", part),
             SnpReportedTcbFromFields(kReport, part));
  }
  int64_t vmpl = -1;
  EXPECT_TRUE(absl::SimpleAtoi(FieldOf(kReport, "vmpl"), &vmpl));
  c.SetInt("snp.vmpl", vmpl);
  // Guest policy bits (SEV-SNP ABI): 18 MIGRATE_MA, 19 DEBUG.
  const uint64_t policy =
      std::strtoull(FieldOf(kReport, "policy").c_str(), nullptr, 16);
  c.SetInt("snp.policy", static_cast<int64_t>(policy));
  c.SetBool("snp.policy.migrate_ma", (policy >> 18) & 1);
  c.SetBool("snp.policy.debug", (policy >> 19) & 1);
  c.SetString("snp.chip_id", FieldOf(kReport, "chip_id"));
  return c;
}

Claims H100Claims() {
  Claims c;
  c.SetString("nvidia.spdm_version", "1.1");
  c.SetString("nvidia.measurements.2", std::string(96, 'c'));
  c.SetString("nvidia.opaque.vbios_version", "96.00.5e.00.01");
  c.SetString("nvidia.opaque.driver_version", "550.54.14");
  c.SetInt("nvidia.slot_id", 0);
  return c;
}

Policy MustParse(absl::string_view json) {
  absl::StatusOr<Policy> p = Policy::Parse(json);
  if (p.ok()) return *std::move(p);
  ADD_FAILURE() << "policy does not parse: " << p.status() << "\n" << json;
  return *Policy::Parse(
      R"({"version":1,"require":{"claim":"snp.never_present","exists":true}})");
}

}  // namespace strongroom::attest::testing
