// Normalized claims: what a verifier learned from evidence, by dotted name.
//
// Names are stable API (policies and the CLI's --json refer to them):
// "<tee>.<field>[.<sub>]", e.g. "snp.measurement", "tdx.rtmr0",
// "tpm.pcrs.sha256.16", "nvidia.measurements.3". Byte strings are lowercase
// hex strings; counters and versions are integers; flags are booleans.
// A Claims value is a plain value type, not thread-safe for mutation.
#ifndef STRONGROOM_ATTEST_CLAIMS_H_
#define STRONGROOM_ATTEST_CLAIMS_H_

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <variant>

#include "absl/strings/string_view.h"
#include "nlohmann/json_fwd.hpp"

namespace strongroom::attest {

using ClaimValue = std::variant<bool, int64_t, std::string>;

class Claims {
 public:
  void SetBool(absl::string_view name, bool v);
  void SetInt(absl::string_view name, int64_t v);
  void SetString(absl::string_view name, absl::string_view v);
  void SetBytes(absl::string_view name, std::span<const uint8_t> v);  // hex

  const ClaimValue* Find(absl::string_view name) const;
  bool Has(absl::string_view name) const { return Find(name) != nullptr; }
  // Convenience for tests and callers that know the type; "" / false / 0
  // when absent or of another type.
  std::string GetString(absl::string_view name) const;
  int64_t GetInt(absl::string_view name) const;
  bool GetBool(absl::string_view name) const;

  // Adds every claim of `other` (later wins on a name clash).
  void Merge(const Claims& other);
  const std::map<std::string, ClaimValue, std::less<>>& all() const {
    return values_;
  }
  size_t size() const { return values_.size(); }

  // {"snp.measurement": "ab..", "snp.vmpl": 0, ...} (flat, sorted by name).
  nlohmann::json ToJson() const;

 private:
  std::map<std::string, ClaimValue, std::less<>> values_;
};

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_CLAIMS_H_
