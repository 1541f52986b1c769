#include "cli/command.h"

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/status_macros.h"

namespace strongroom::cli {
namespace {

constexpr absl::string_view kLocalPayload = "type.strongroom.dev/cli.LocalError";

// A synopsis cut into units: bare words and whole bracketed groups ("[...]",
// "(...)", nested), each with a trailing "..." kept on it.
std::vector<std::string> SynopsisUnits(absl::string_view synopsis) {
  std::vector<std::string> units;
  size_t i = 0;
  while (i < synopsis.size()) {
    if (synopsis[i] == ' ') {
      ++i;
      continue;
    }
    const size_t start = i;
    if (synopsis[i] == '[' || synopsis[i] == '(') {
      int depth = 0;
      for (; i < synopsis.size(); ++i) {
        if (synopsis[i] == '[' || synopsis[i] == '(') ++depth;
        if ((synopsis[i] == ']' || synopsis[i] == ')') && --depth == 0) {
          ++i;
          break;
        }
      }
    }
    while (i < synopsis.size() && synopsis[i] != ' ') ++i;
    units.emplace_back(synopsis.substr(start, i - start));
  }
  return units;
}

// A positional unit's name(s): a group's words that are not flags or their
// values ("(POLICY | none)" -> POLICY|none; "[OUT]" -> OUT; "[A B]..." ->
// A, B).
std::vector<std::string> UnitNames(absl::string_view unit) {
  absl::ConsumeSuffix(&unit, "...");
  const bool group = absl::StartsWith(unit, "[") || absl::StartsWith(unit, "(");
  if (!group) return {std::string(unit)};
  const bool alternatives = absl::StartsWith(unit, "(");
  unit = unit.substr(1, unit.size() - 2);
  std::vector<std::string> names;
  bool after_flag = false;
  for (const std::string& word : SynopsisUnits(unit)) {
    if (word == "|") continue;
    if (absl::StartsWith(word, "--")) {
      after_flag = true;
      continue;
    }
    if (after_flag) {  // the flag's value
      after_flag = false;
      continue;
    }
    names.push_back(word);
  }
  if (alternatives && names.size() > 1) return {absl::StrJoin(names, "|")};
  return names;
}

}  // namespace

std::string PositionalName(absl::string_view synopsis, size_t index) {
  std::vector<std::string> names;
  std::vector<std::string> repeated;  // the names a trailing "..." repeats
  bool after_flag = false;
  for (const std::string& unit : SynopsisUnits(synopsis)) {
    if (absl::StartsWith(unit, "--")) {
      after_flag = !absl::StrContains(unit, "=");
      continue;
    }
    if (after_flag) {  // "--type T": T is the flag's
      after_flag = false;
      continue;
    }
    if (absl::StartsWith(unit, "[--") || absl::StartsWith(unit, "(--") || unit == "|") continue;
    std::vector<std::string> unit_names = UnitNames(unit);
    if (unit_names.empty()) continue;
    names.insert(names.end(), unit_names.begin(), unit_names.end());
    repeated = absl::EndsWith(unit, "...") ? unit_names : std::vector<std::string>{};
  }
  if (index < names.size()) return names[index];
  if (repeated.empty()) return "";
  return repeated[(index - names.size()) % repeated.size()];
}

absl::StatusOr<client::Connection*> Invocation::Connect() {
  if (connection_ == nullptr) {
    auto opened = client::Connection::Open(options_.connection);
    if (!opened.ok()) return LocalError(opened.status());
    connection_ = *std::move(opened);
  }
  return connection_.get();
}

absl::Status LocalError(absl::Status s) {
  if (!s.ok()) s.SetPayload(kLocalPayload, absl::Cord("1"));
  return s;
}

absl::Status UsageError(absl::string_view message) {
  return LocalError(absl::InvalidArgumentError(message));
}

int ExitCode(const absl::Status& s) {
  if (s.ok()) return kExitOk;
  return s.GetPayload(kLocalPayload).has_value() ? kExitUsage : kExitFailed;
}

absl::StatusOr<int64_t> ParseSecondsFlag(const std::string& flag, const std::string& value) {
  absl::Duration d;
  int64_t days = 0;
  if (value == "0") {
    d = absl::ZeroDuration();
  } else if (value.size() > 1 && value.back() == 'd' &&
             absl::SimpleAtoi(absl::string_view(value).substr(0, value.size() - 1), &days) &&
             days >= 0 && days <= 365 * 1000) {
    d = absl::Hours(24 * days);
  } else if (!absl::ParseDuration(value, &d) || d == absl::InfiniteDuration()) {
    return UsageError(
        absl::StrCat("--", flag, ": '", value, "' is not a duration (e.g. 90s, 5m, 12h, 30d)"));
  }
  if (d < absl::ZeroDuration()) {
    return UsageError(absl::StrCat("--", flag, ": duration '", value, "' is negative"));
  }
  if (d != absl::Seconds(absl::ToInt64Seconds(d))) {
    return UsageError(
        absl::StrCat("--", flag, ": duration '", value, "' is not a whole number of seconds"));
  }
  return absl::ToInt64Seconds(d);
}

absl::StatusOr<uint32_t> ParseUintFlag(const std::string& flag, const std::string& value) {
  uint32_t n = 0;
  if (value.empty() || value[0] == '+' || value[0] == '-' || !absl::SimpleAtoi(value, &n)) {
    return UsageError(absl::StrCat("--", flag, ": '", value, "' is not a non-negative number"));
  }
  return n;
}

absl::StatusOr<std::map<std::string, std::string>> KeyValueFlags(const CliOptions& o,
                                                                 const std::string& flag) {
  std::map<std::string, std::string> out;
  for (const std::string& kv : o.FlagValues(flag)) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return UsageError(absl::StrCat("--", flag, ": '", kv, "' is not KEY=VALUE"));
    }
    if (!out.emplace(kv.substr(0, eq), kv.substr(eq + 1)).second) {
      return UsageError(absl::StrCat("--", flag, ": '", kv.substr(0, eq), "' given twice"));
    }
  }
  return out;
}

std::string KeyResourceName(const std::string& key) {
  return absl::StartsWith(key, "keys/") ? key : absl::StrCat("keys/", key);
}

absl::StatusOr<std::string> VersionResourceName(const std::string& key,
                                                const std::string& version) {
  uint32_t n = 0;
  if (version.empty() || version[0] == '+' || !absl::SimpleAtoi(version, &n) || n == 0) {
    return UsageError(absl::StrCat("VERSION: '", version, "' is not a version number (1, 2, ...)"));
  }
  return absl::StrCat(KeyResourceName(key), "/versions/", n);
}

}  // namespace strongroom::cli
