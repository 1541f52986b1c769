#include "cli/output.h"

#include <google/protobuf/util/json_util.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "base/bytes.h"

namespace strongroom::cli {

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.always_print_primitive_fields = true;
  opts.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void PrintJson(const google::protobuf::Message& m) { std::cout << ToJson(m) << "\n"; }

absl::Status JsonLineWithSecret(const google::protobuf::Message& without_secret,
                                absl::string_view field, std::span<const uint8_t> secret,
                                std::string* line) {
  const std::string json = ToJson(without_secret);
  const std::string marker = absl::StrCat("\"", field, "\": \"\"");
  const size_t at = json.find(marker);
  if (at == std::string::npos) {
    return absl::InternalError(absl::StrCat("JSON output: no empty field '", field, "'"));
  }
  const size_t split = at + marker.size() - 1;  // before the closing quote
  std::string b64 = Base64Encode(secret);
  line->clear();
  line->reserve(json.size() + b64.size() + 1);
  line->append(json, 0, split).append(b64).append(json, split).push_back('\n');
  OPENSSL_cleanse(b64.data(), b64.size());
  return absl::OkStatus();
}

void Table::Print() const {
  std::vector<size_t> width;
  for (const auto& row : rows_) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

std::string FormatTime(int64_t unix_micros) {
  if (unix_micros == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ", absl::FromUnixMicros(unix_micros),
                          absl::UTCTimeZone());
}

std::string FormatSeconds(int64_t s) {
  if (s != 0 && s % 86400 == 0) return absl::StrCat(s / 86400, "d");
  if (s != 0 && s % 3600 == 0) return absl::StrCat(s / 3600, "h");
  if (s != 0 && s % 60 == 0) return absl::StrCat(s / 60, "m");
  return absl::StrCat(s, "s");
}

std::string ProtectionName(v1::Protection p) {
  switch (p) {
    case v1::PROTECTION_SOFTWARE:
      return "software";
    case v1::PROTECTION_HSM:
      return "hsm";
    default:
      return "unspecified";
  }
}

namespace {

std::string Rotation(const v1::Key& k) {
  return k.rotation_period_seconds() == 0 ? "manual" : FormatSeconds(k.rotation_period_seconds());
}

std::string Labels(const v1::Key& k) {
  std::vector<std::string> parts;
  for (const auto& [name, value] : k.labels()) parts.push_back(absl::StrCat(name, "=", value));
  std::sort(parts.begin(), parts.end());
  return parts.empty() ? "-" : absl::StrJoin(parts, ",");
}

}  // namespace

void PrintKey(const v1::Key& k) {
  Table t({"name", k.name()});
  t.AddRow({"owner", k.owner()});
  t.AddRow({"protection", ProtectionName(k.protection())});
  t.AddRow({"algorithm", k.algorithm()});
  t.AddRow({"primary version", absl::StrCat(k.primary_version())});
  t.AddRow({"min decryption", absl::StrCat(k.min_decryption_version())});
  t.AddRow({"versions", absl::StrCat(k.version_count())});
  t.AddRow({"rotation", Rotation(k)});
  t.AddRow({"next rotation", FormatTime(k.next_rotation_unix_micros())});
  t.AddRow({"destroy wait", FormatSeconds(k.destroy_wait_seconds())});
  t.AddRow({"dual control", k.dual_control() ? "yes" : "no"});
  t.AddRow({"created", FormatTime(k.create_time_unix_micros())});
  t.AddRow({"description", k.description().empty() ? "-" : k.description()});
  t.AddRow({"labels", Labels(k)});
  t.Print();
}

void PrintKeyTable(const google::protobuf::RepeatedPtrField<v1::Key>& keys) {
  Table t({"NAME", "OWNER", "PROTECTION", "PRIMARY", "VERSIONS", "ROTATION", "DUAL", "CREATED"});
  for (const v1::Key& k : keys) {
    t.AddRow({k.name(), k.owner(), ProtectionName(k.protection()),
              absl::StrCat(k.primary_version()), absl::StrCat(k.version_count()), Rotation(k),
              k.dual_control() ? "yes" : "no", FormatTime(k.create_time_unix_micros())});
  }
  t.Print();
}

void PrintVersionTable(const google::protobuf::RepeatedPtrField<v1::KeyVersion>& versions) {
  Table t({"VERSION", "STATE", "CREATED", "DESTROY AT", "ROOT KEY", "REWRAP"});
  for (const v1::KeyVersion& v : versions) {
    t.AddRow({absl::StrCat(v.version()), v1::KeyVersionState_Name(v.state()),
              FormatTime(v.create_time_unix_micros()), FormatTime(v.destroy_time_unix_micros()),
              v.root_key_id().empty() ? "-" : v.root_key_id(), v.needs_rewrap() ? "yes" : "no"});
  }
  t.Print();
}

void PrintVersion(const v1::KeyVersion& v) {
  std::cout << v.name() << "  " << v1::KeyVersionState_Name(v.state());
  if (v.destroy_time_unix_micros() != 0) {
    std::cout << "  destroy at " << FormatTime(v.destroy_time_unix_micros());
  }
  std::cout << "\n";
}

void PrintChangeResult(const v1::ChangeResult& r) {
  if (r.has_pending()) {
    const v1::ChangeProposal& p = r.pending();
    std::cout << "pending approval: change " << p.id() << " (" << p.action() << ")\n"
              << "a second admin approves it before " << FormatTime(p.expire_time_unix_micros())
              << " with: strongroom key approve " << p.id() << "\n";
    return;
  }
  if (r.has_version()) PrintVersion(r.version());
  if (r.has_key()) PrintKey(r.key());
}

void PrintChangeTable(const google::protobuf::RepeatedPtrField<v1::ChangeProposal>& changes) {
  Table t({"ID", "STATE", "ACTION", "PROPOSER", "APPROVER", "EXPIRES"});
  for (const v1::ChangeProposal& c : changes) {
    t.AddRow({c.id(), c.state(), c.action(), c.proposer(),
              c.approver().empty() ? "-" : c.approver(), FormatTime(c.expire_time_unix_micros())});
  }
  t.Print();
}

void PrintRootKeyStatus(const v1::RootKeyStatus& s) {
  Table t({"current root key", s.current_root_key_id()});
  t.AddRow({"retired root keys", s.retired_root_key_ids().empty()
                                     ? "-"
                                     : absl::StrJoin(s.retired_root_key_ids(), ", ")});
  t.AddRow({"versions", absl::StrCat(s.versions_total())});
  t.AddRow({"on current root", absl::StrCat(s.versions_on_current_root())});
  t.AddRow({"rewrap", s.rewrap_running() ? "running" : "idle"});
  t.Print();
}

}  // namespace strongroom::cli
