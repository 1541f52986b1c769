#include "attest/claims.h"

#include <algorithm>

#include "base/simd_text.h"
#include "nlohmann/json.hpp"

namespace strongroom::attest {
namespace {

// Enough for one TPM quote's or SNP report's claims without regrowing, each
// block within malloc's per-thread cache (values: 24 x 40 bytes).
constexpr size_t kInitialEntries = 24;
constexpr size_t kNameBytesPerClaim = 24;

}  // namespace

void Claims::Reserve(size_t claims) {
  names_at_.reserve(claims);
  values_.reserve(claims);
  names_.reserve(claims * kNameBytesPerClaim);
}

size_t Claims::LowerBound(absl::string_view name) const {
  auto it = std::lower_bound(names_at_.begin(), names_at_.end(), name,
                             [this](NameRef r, absl::string_view n) { return NameOf(r) < n; });
  return static_cast<size_t>(it - names_at_.begin());
}

ClaimValue& Claims::Slot(absl::string_view name) {
  size_t at = values_.size();
  // Verifiers mostly set names in increasing order: check the end first.
  if (!names_at_.empty() && !(NameOf(names_at_.back()) < name)) {
    at = LowerBound(name);
    if (NameOf(names_at_[at]) == name) return values_[at];
  }
  if (values_.capacity() == 0) Reserve(kInitialEntries);
  // Room in both vectors first: what can throw (allocation) happens before
  // either changes, so they never fall out of step.
  if (names_at_.size() == names_at_.capacity() || values_.size() == values_.capacity()) {
    const size_t room = std::max(2 * values_.size(), kInitialEntries);
    names_at_.reserve(room);
    values_.reserve(room);
  }
  const NameRef ref{.offset = static_cast<uint32_t>(names_.size()),
                    .size = static_cast<uint32_t>(name.size())};
  names_.append(name.data(), name.size());
  names_at_.insert(names_at_.begin() + static_cast<ptrdiff_t>(at), ref);
  return *values_.insert(values_.begin() + static_cast<ptrdiff_t>(at), ClaimValue(false));
}

void Claims::SetBool(absl::string_view name, bool v) { Slot(name) = v; }
void Claims::SetInt(absl::string_view name, int64_t v) { Slot(name) = v; }
void Claims::SetString(absl::string_view name, absl::string_view v) {
  Slot(name) = std::string(v);
}
void Claims::SetBytes(absl::string_view name, std::span<const uint8_t> v) {
  // The hex written in place (vectorized): verifiers set dozens of digests
  // per piece of evidence.
  std::string hex(2 * v.size(), '\0');
  HexEncodeInto(v, hex.data());
  Slot(name) = std::move(hex);
}

const ClaimValue* Claims::Find(absl::string_view name) const {
  const size_t at = LowerBound(name);
  return at == values_.size() || NameOf(names_at_[at]) != name ? nullptr : &values_[at];
}

std::string Claims::GetString(absl::string_view name) const {
  const ClaimValue* v = Find(name);
  if (v == nullptr || !std::holds_alternative<std::string>(*v)) return "";
  return std::get<std::string>(*v);
}
int64_t Claims::GetInt(absl::string_view name) const {
  const ClaimValue* v = Find(name);
  if (v == nullptr || !std::holds_alternative<int64_t>(*v)) return 0;
  return std::get<int64_t>(*v);
}
bool Claims::GetBool(absl::string_view name) const {
  const ClaimValue* v = Find(name);
  if (v == nullptr || !std::holds_alternative<bool>(*v)) return false;
  return std::get<bool>(*v);
}

void Claims::Merge(const Claims& other) {
  if (&other == this) return;
  for (size_t i = 0; i < other.values_.size(); ++i) {
    Slot(other.NameOf(other.names_at_[i])) = other.values_[i];
  }
}

nlohmann::json Claims::ToJson() const {
  nlohmann::json out = nlohmann::json::object();
  for (size_t i = 0; i < values_.size(); ++i) {
    std::visit([&](const auto& x) { out[std::string(NameOf(names_at_[i]))] = x; },
               values_[i]);
  }
  return out;
}

}  // namespace strongroom::attest
