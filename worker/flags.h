// Flags of a strongroom-worker subcommand: --name VALUE, --name=VALUE and
// bare --switch, with repeatable flags collected in order. Anything not
// declared is a usage error; positional arguments are refused unless
// allowed.
#ifndef STRONGROOM_WORKER_FLAGS_H_
#define STRONGROOM_WORKER_FLAGS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace strongroom::worker {

struct FlagSpec {
  std::set<std::string> values;    // take a value; may repeat
  std::set<std::string> switches;  // no value
};

struct ParsedFlags {
  std::map<std::string, std::vector<std::string>> values;
  std::set<std::string> switches;
  std::vector<std::string> positional;

  // The last value of `name`, or `fallback`.
  std::string Get(absl::string_view name, absl::string_view fallback = "") const;
  const std::vector<std::string>& All(absl::string_view name) const;
  bool Has(absl::string_view name) const;
};

// InvalidArgument naming the flag at fault.
absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>& args, const FlagSpec& spec,
                                       bool allow_positional = false);

}  // namespace strongroom::worker

#endif  // STRONGROOM_WORKER_FLAGS_H_
