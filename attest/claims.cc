#include "attest/claims.h"

#include <algorithm>

#include "base/simd_text.h"
#include "nlohmann/json.hpp"

namespace strongroom::attest {
namespace {

// Enough for one TPM quote's or SNP report's claims without regrowing.
constexpr size_t kInitialEntries = 32;
constexpr size_t kInitialNameBytes = 640;


}  // namespace

std::vector<Claims::Entry>::const_iterator Claims::LowerBound(absl::string_view name) const {
  return std::lower_bound(
      entries_.begin(), entries_.end(), name,
      [this](const Entry& e, absl::string_view n) { return NameOf(e) < n; });
}

ClaimValue& Claims::Slot(absl::string_view name) {
  size_t at = entries_.size();
  // Verifiers mostly set names in increasing order: check the end first.
  if (!entries_.empty() && !(NameOf(entries_.back()) < name)) {
    at = static_cast<size_t>(LowerBound(name) - entries_.cbegin());
    if (NameOf(entries_[at]) == name) return entries_[at].value;
  }
  if (entries_.capacity() == 0) {
    entries_.reserve(kInitialEntries);
    names_.reserve(kInitialNameBytes);
  }
  Entry e{.name_offset = static_cast<uint32_t>(names_.size()),
          .name_size = static_cast<uint32_t>(name.size()),
          .value = false};
  names_.append(name.data(), name.size());
  return entries_.insert(entries_.begin() + at, std::move(e))->value;
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
  auto it = LowerBound(name);
  return it == entries_.end() || NameOf(*it) != name ? nullptr : &it->value;
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
  for (const Entry& e : other.entries_) Slot(other.NameOf(e)) = e.value;
}

nlohmann::json Claims::ToJson() const {
  nlohmann::json out = nlohmann::json::object();
  for (const Entry& e : entries_) {
    std::visit([&](const auto& x) { out[std::string(NameOf(e))] = x; },
               e.value);
  }
  return out;
}

}  // namespace strongroom::attest
