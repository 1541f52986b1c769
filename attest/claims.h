// Normalized claims: what a verifier learned from evidence, by dotted name.
//
// Names are stable API (policies and the CLI's --json refer to them):
// "<tee>.<field>[.<sub>]", e.g. "snp.measurement", "tdx.rtmr0",
// "tpm.pcrs.sha256.16", "nvidia.measurements.3". Byte strings are lowercase
// hex strings; counters and versions are integers; flags are booleans.
// A Claims value is a plain value type, not thread-safe for mutation.
//
// Storage: the names back to back in one string, and two parallel vectors
// kept sorted by name: each name's offset and length, and the values. A
// verifier sets a few dozen claims per piece of evidence; a map node and a
// name string per claim were a measurable share of a TPM quote's
// verification. The values have a vector of their own so that a quote's
// claims fit blocks malloc keeps per thread (up to ~1 KB): one block of
// entries with names and values together (48 bytes each) was a "large"
// request, and each such request made malloc consolidate its free lists.
#ifndef STRONGROOM_ATTEST_CLAIMS_H_
#define STRONGROOM_ATTEST_CLAIMS_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"
#include "nlohmann/json_fwd.hpp"

namespace strongroom::attest {

using ClaimValue = std::variant<bool, int64_t, std::string>;

class Claims {
 private:
  struct NameRef {
    uint32_t offset = 0;
    uint32_t size = 0;
  };

 public:
  // One claim as all() yields it; valid while the Claims lives unmodified.
  struct Ref {
    absl::string_view name;
    const ClaimValue& value;
  };
  class Iterator {
   public:
    Iterator(const Claims* claims, size_t i) : claims_(claims), i_(i) {}
    Ref operator*() const {
      return Ref{claims_->NameOf(claims_->names_at_[i_]), claims_->values_[i_]};
    }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const Iterator& o) const { return i_ == o.i_; }
    bool operator!=(const Iterator& o) const { return i_ != o.i_; }

   private:
    const Claims* claims_;
    size_t i_;
  };
  class View {
   public:
    explicit View(const Claims* claims) : claims_(claims) {}
    Iterator begin() const { return Iterator(claims_, 0); }
    Iterator end() const { return Iterator(claims_, claims_->size()); }

   private:
    const Claims* claims_;
  };

  // Room for `claims` claims (names of ~24 bytes on average) before the
  // first regrowth; a verifier that knows its count says so.
  void Reserve(size_t claims);

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
  // Every claim, sorted by name, names unique: for (auto [name, value] : ..).
  View all() const { return View(this); }
  size_t size() const { return values_.size(); }

  // {"snp.measurement": "ab..", "snp.vmpl": 0, ...} (flat, sorted by name).
  nlohmann::json ToJson() const;

 private:
  absl::string_view NameOf(NameRef r) const {
    return absl::string_view(names_.data() + r.offset, r.size);
  }
  // The index of the first claim whose name is not less than `name`.
  size_t LowerBound(absl::string_view name) const;
  // The value slot for `name`, inserted (holding false) when absent.
  ClaimValue& Slot(absl::string_view name);

  std::string names_;              // every name, back to back
  std::vector<NameRef> names_at_;  // sorted by name
  std::vector<ClaimValue> values_;  // values_[i] is names_at_[i]'s
};

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_CLAIMS_H_
