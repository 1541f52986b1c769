#include "attest/claims.h"

#include "base/bytes.h"
#include "nlohmann/json.hpp"

namespace strongroom::attest {

void Claims::SetBool(absl::string_view name, bool v) {
  values_[std::string(name)] = v;
}
void Claims::SetInt(absl::string_view name, int64_t v) {
  values_[std::string(name)] = v;
}
void Claims::SetString(absl::string_view name, absl::string_view v) {
  values_[std::string(name)] = std::string(v);
}
void Claims::SetBytes(absl::string_view name, std::span<const uint8_t> v) {
  // The hex written in place: verifiers set dozens of digests per piece of
  // evidence, and HexEncode appends a character at a time.
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(2 * v.size(), '\0');
  char* out = hex.data();
  for (uint8_t b : v) {
    *out++ = kDigits[b >> 4];
    *out++ = kDigits[b & 0xf];
  }
  values_[std::string(name)] = std::move(hex);
}

const ClaimValue* Claims::Find(absl::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
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
  for (const auto& [k, v] : other.values_) values_[k] = v;
}

nlohmann::json Claims::ToJson() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& kv : values_) {
    std::visit([&](const auto& x) { out[kv.first] = x; }, kv.second);
  }
  return out;
}

}  // namespace strongroom::attest
