#include "worker/flags.h"

#include "absl/strings/str_cat.h"

namespace strongroom::worker {

std::string ParsedFlags::Get(absl::string_view name, absl::string_view fallback) const {
  auto it = values.find(std::string(name));
  return it == values.end() || it->second.empty() ? std::string(fallback) : it->second.back();
}

const std::vector<std::string>& ParsedFlags::All(absl::string_view name) const {
  static const std::vector<std::string> kNone;
  auto it = values.find(std::string(name));
  return it == values.end() ? kNone : it->second;
}

bool ParsedFlags::Has(absl::string_view name) const {
  return values.count(std::string(name)) > 0 || switches.count(std::string(name)) > 0;
}

absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>& args, const FlagSpec& spec,
                                       bool allow_positional) {
  ParsedFlags out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 3 || a.compare(0, 2, "--") != 0) {
      if (!allow_positional) {
        return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", a, "'"));
      }
      out.positional.push_back(a);
      continue;
    }
    std::string name = a.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (spec.switches.count(name) > 0) {
      if (has_value) return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      out.switches.insert(name);
      continue;
    }
    if (spec.values.count(name) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
      value = args[++i];
    }
    // An empty value (an unset variable) is a mistake to name, not a request
    // for the default, as in the strongroom CLI.
    if (value.empty()) return absl::InvalidArgumentError(absl::StrCat("--", name, ": empty value"));
    out.values[name].push_back(value);
  }
  return out;
}

}  // namespace strongroom::worker
