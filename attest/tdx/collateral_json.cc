// TCB info and QE identity JSON: the exact signed bytes and their fields.
#include <cstring>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "attest/tdx/collateral.h"
#include "base/status_macros.h"
#include "nlohmann/json.hpp"

namespace strongroom::attest {
namespace {

using Json = nlohmann::json;

// Deeper nesting than any PCS document; bounds the work of both the scanner
// and nlohmann on hostile input.
constexpr size_t kMaxJsonDepth = 32;

absl::Status Malformed(absl::string_view why, size_t at) {
  return absl::InvalidArgumentError(
      absl::StrCat("json: ", why, " at offset ", at));
}

size_t SkipWs(absl::string_view s, size_t i) {
  while (i < s.size() &&
         (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) {
    ++i;
  }
  return i;
}

// `i` is at '"'; returns the index after the closing quote.
absl::StatusOr<size_t> ScanString(absl::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') return i + 1;
    if (static_cast<unsigned char>(c) < 0x20) {
      return Malformed("control character in string", i);
    }
    if (c == '\\') ++i;  // the escaped character cannot end the string
  }
  return Malformed("unterminated string", s.size());
}

// `i` is at the first character of a value; returns the index after it.
absl::StatusOr<size_t> ScanValue(absl::string_view s, size_t i) {
  if (i >= s.size()) return Malformed("missing value", i);
  if (s[i] == '"') return ScanString(s, i);
  if (s[i] != '{' && s[i] != '[') {
    size_t j = i;
    while (j < s.size() && (absl::ascii_isalnum(s[j]) || s[j] == '-' ||
                            s[j] == '+' || s[j] == '.')) {
      ++j;
    }
    if (j == i) return Malformed("unexpected character", i);
    return j;
  }
  std::string closers;
  while (i < s.size()) {
    char c = s[i];
    if (c == '"') {
      ASSIGN_OR_RETURN(i, ScanString(s, i));
      continue;
    }
    if (c == '{' || c == '[') {
      if (closers.size() >= kMaxJsonDepth) return Malformed("too deep", i);
      closers.push_back(c == '{' ? '}' : ']');
    } else if (c == '}' || c == ']') {
      if (closers.empty() || closers.back() != c) {
        return Malformed("mismatched bracket", i);
      }
      closers.pop_back();
      if (closers.empty()) return i + 1;
    }
    ++i;
  }
  return Malformed("unterminated value", s.size());
}

absl::Status Field(absl::string_view what, absl::string_view field,
                   absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("tdx ", what, ": ", field, ": ", why));
}

const Json* Find(const Json& o, const char* key) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(key);
  return it == o.end() ? nullptr : &*it;
}

absl::StatusOr<std::string> Str(const Json& o, const char* key,
                                absl::string_view what) {
  const Json* v = Find(o, key);
  if (v == nullptr || !v->is_string()) {
    return Field(what, key, "missing or not a string");
  }
  return v->get_ref<const std::string&>();
}

absl::StatusOr<int64_t> Int(const Json& o, const char* key, int64_t max,
                            absl::string_view what) {
  const Json* v = Find(o, key);
  if (v == nullptr || !v->is_number_integer()) {
    return Field(what, key, "missing or not an integer");
  }
  int64_t x = v->is_number_unsigned()
                  ? (v->get<uint64_t>() > static_cast<uint64_t>(max)
                         ? max + 1
                         : static_cast<int64_t>(v->get<uint64_t>()))
                  : v->get<int64_t>();
  if (x < 0 || x > max) {
    return Field(what, key, absl::StrCat("out of range 0..", max));
  }
  return x;
}

absl::StatusOr<Bytes> Hex(const Json& o, const char* key, size_t size,
                          absl::string_view what) {
  ASSIGN_OR_RETURN(std::string text, Str(o, key, what));
  auto bytes = HexDecode(text, absl::StrCat("tdx ", what, ": ", key));
  if (!bytes.ok()) return bytes.status();
  if (size != 0 && bytes->size() != size) {
    return Field(what, key,
                 absl::StrCat(bytes->size(), " bytes, want ", size));
  }
  return *std::move(bytes);
}

template <size_t N>
absl::Status HexInto(const Json& o, const char* key, std::array<uint8_t, N>& out,
                     absl::string_view what) {
  ASSIGN_OR_RETURN(Bytes b, Hex(o, key, N, what));
  std::memcpy(out.data(), b.data(), N);
  return absl::OkStatus();
}

absl::StatusOr<absl::Time> Time(const Json& o, const char* key,
                                absl::string_view what) {
  ASSIGN_OR_RETURN(std::string text, Str(o, key, what));
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    return Field(what, key, absl::StrCat("not an RFC 3339 time: ", err));
  }
  return t;
}

absl::StatusOr<std::vector<std::string>> Advisories(const Json& level,
                                                    absl::string_view what) {
  std::vector<std::string> out;
  const Json* ids = Find(level, "advisoryIDs");
  if (ids == nullptr) return out;
  if (!ids->is_array()) return Field(what, "advisoryIDs", "not an array");
  for (const Json& id : *ids) {
    if (!id.is_string()) return Field(what, "advisoryIDs", "not a string");
    out.push_back(id.get_ref<const std::string&>());
  }
  return out;
}

absl::StatusOr<const Json*> Array(const Json& o, const char* key,
                                  absl::string_view what) {
  const Json* v = Find(o, key);
  if (v == nullptr || !v->is_array()) {
    return Field(what, key, "missing or not an array");
  }
  return v;
}

// {"tcb": {"isvsvn": N}, "tcbDate": ..., "tcbStatus": ..., "advisoryIDs"}
absl::StatusOr<std::vector<IsvSvnTcbLevel>> IsvSvnLevels(
    const Json& o, absl::string_view what) {
  ASSIGN_OR_RETURN(const Json* levels, Array(o, "tcbLevels", what));
  std::vector<IsvSvnTcbLevel> out;
  for (size_t i = 0; i < levels->size(); ++i) {
    const Json& l = (*levels)[i];
    const std::string at = absl::StrCat(what, " tcbLevels[", i, "]");
    IsvSvnTcbLevel level;
    const Json* tcb = Find(l, "tcb");
    if (tcb == nullptr) return Field(at, "tcb", "missing");
    ASSIGN_OR_RETURN(int64_t svn, Int(*tcb, "isvsvn", 65535, absl::StrCat(at, ".tcb")));
    level.isvsvn = static_cast<uint16_t>(svn);
    ASSIGN_OR_RETURN(level.tcb_status, Str(l, "tcbStatus", at));
    ASSIGN_OR_RETURN(level.tcb_date, Time(l, "tcbDate", at));
    ASSIGN_OR_RETURN(level.advisory_ids, Advisories(l, at));
    out.push_back(std::move(level));
  }
  return out;
}

// Exactly 16 {"svn": N, ...} components.
absl::Status Components(const Json& tcb, const char* key,
                        std::array<uint8_t, 16>& out, absl::string_view what) {
  ASSIGN_OR_RETURN(const Json* comps, Array(tcb, key, what));
  if (comps->size() != 16) {
    return Field(what, key, absl::StrCat(comps->size(), " components, want 16"));
  }
  for (size_t i = 0; i < 16; ++i) {
    ASSIGN_OR_RETURN(int64_t svn,
                     Int((*comps)[i], "svn", 255, absl::StrCat(what, ".", key, "[", i, "]")));
    out[i] = static_cast<uint8_t>(svn);
  }
  return absl::OkStatus();
}

// The signed value of `key` and the signature, parsed.
struct SignedDocument {
  std::string body_text;
  Json body;
  Bytes signature;
};

absl::StatusOr<SignedDocument> SplitSigned(absl::string_view json,
                                           absl::string_view key,
                                           absl::string_view what) {
  auto body = RawJsonMember(json, key);
  if (!body.ok()) {
    return Field(what, key, body.status().message());
  }
  auto sig_text = RawJsonMember(json, "signature");
  if (!sig_text.ok()) {
    return Field(what, "signature", sig_text.status().message());
  }
  SignedDocument doc;
  doc.body_text = std::string(*body);
  Json sig = Json::parse(*sig_text, nullptr, /*allow_exceptions=*/false);
  if (!sig.is_string()) return Field(what, "signature", "not a string");
  auto sig_bytes = HexDecode(sig.get_ref<const std::string&>(),
                             absl::StrCat("tdx ", what, ": signature"));
  if (!sig_bytes.ok()) return sig_bytes.status();
  if (sig_bytes->size() != 64) {
    return Field(what, "signature",
                 absl::StrCat(sig_bytes->size(), " bytes, want 64 (r||s)"));
  }
  doc.signature = *std::move(sig_bytes);
  doc.body = Json::parse(doc.body_text, nullptr, /*allow_exceptions=*/false);
  if (doc.body.is_discarded() || !doc.body.is_object()) {
    return Field(what, key, "not a JSON object");
  }
  return doc;
}

absl::Status ParseModule(const Json& m, TdxTcbInfo& info) {
  constexpr absl::string_view kWhat = "tcb info";
  ASSIGN_OR_RETURN(info.module_mrsigner, Hex(m, "mrsigner", 48, kWhat));
  ASSIGN_OR_RETURN(info.module_attributes, Hex(m, "attributes", 8, kWhat));
  ASSIGN_OR_RETURN(info.module_attributes_mask,
                   Hex(m, "attributesMask", 8, kWhat));
  info.has_tdx_module = true;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<absl::string_view> RawJsonMember(absl::string_view json,
                                                absl::string_view key) {
  size_t i = SkipWs(json, 0);
  if (i >= json.size() || json[i] != '{') return Malformed("not an object", i);
  i = SkipWs(json, i + 1);
  std::set<absl::string_view> keys;
  std::optional<absl::string_view> found;
  if (i < json.size() && json[i] == '}') {
    i = i + 1;
  } else {
    while (true) {
      if (i >= json.size() || json[i] != '"') return Malformed("expected key", i);
      ASSIGN_OR_RETURN(size_t key_end, ScanString(json, i));
      absl::string_view k = json.substr(i + 1, key_end - i - 2);
      if (!keys.insert(k).second) {
        return Malformed(absl::StrCat("repeated key \"", k, "\""), i);
      }
      i = SkipWs(json, key_end);
      if (i >= json.size() || json[i] != ':') return Malformed("expected ':'", i);
      i = SkipWs(json, i + 1);
      ASSIGN_OR_RETURN(size_t value_end, ScanValue(json, i));
      if (k == key) found = json.substr(i, value_end - i);
      i = SkipWs(json, value_end);
      if (i < json.size() && json[i] == ',') {
        i = SkipWs(json, i + 1);
        continue;
      }
      if (i < json.size() && json[i] == '}') {
        ++i;
        break;
      }
      return Malformed("expected ',' or '}'", i);
    }
  }
  if (SkipWs(json, i) != json.size()) {
    return Malformed("trailing characters", SkipWs(json, i));
  }
  if (!found) {
    return absl::NotFoundError(absl::StrCat("json: no top-level \"", key, "\""));
  }
  return *found;
}

absl::StatusOr<TdxTcbInfo> ParseTdxTcbInfo(absl::string_view json) {
  constexpr absl::string_view kWhat = "tcb info";
  ASSIGN_OR_RETURN(SignedDocument doc, SplitSigned(json, "tcbInfo", kWhat));
  const Json& o = doc.body;
  TdxTcbInfo info;
  info.signed_body = std::move(doc.body_text);
  info.signature = std::move(doc.signature);
  ASSIGN_OR_RETURN(info.id, Str(o, "id", kWhat));
  ASSIGN_OR_RETURN(int64_t version, Int(o, "version", 1000, kWhat));
  info.version = static_cast<int>(version);
  ASSIGN_OR_RETURN(info.issue_date, Time(o, "issueDate", kWhat));
  ASSIGN_OR_RETURN(info.next_update, Time(o, "nextUpdate", kWhat));
  RETURN_IF_ERROR(HexInto(o, "fmspc", info.fmspc, kWhat));
  RETURN_IF_ERROR(HexInto(o, "pceId", info.pce_id, kWhat));
  ASSIGN_OR_RETURN(int64_t eval,
                   Int(o, "tcbEvaluationDataNumber", 1 << 30, kWhat));
  info.tcb_evaluation_data_number = static_cast<int>(eval);
  if (const Json* m = Find(o, "tdxModule"); m != nullptr) {
    RETURN_IF_ERROR(ParseModule(*m, info));
  }
  if (const Json* ids = Find(o, "tdxModuleIdentities"); ids != nullptr) {
    if (!ids->is_array()) {
      return Field(kWhat, "tdxModuleIdentities", "not an array");
    }
    for (const Json& m : *ids) {
      TdxModuleIdentity mod;
      ASSIGN_OR_RETURN(mod.id, Str(m, "id", kWhat));
      ASSIGN_OR_RETURN(mod.mrsigner, Hex(m, "mrsigner", 48, kWhat));
      ASSIGN_OR_RETURN(mod.attributes, Hex(m, "attributes", 8, kWhat));
      ASSIGN_OR_RETURN(mod.attributes_mask, Hex(m, "attributesMask", 8, kWhat));
      ASSIGN_OR_RETURN(mod.tcb_levels, IsvSvnLevels(m, kWhat));
      info.module_identities.push_back(std::move(mod));
    }
  }
  ASSIGN_OR_RETURN(const Json* levels, Array(o, "tcbLevels", kWhat));
  for (size_t i = 0; i < levels->size(); ++i) {
    const Json& l = (*levels)[i];
    const std::string at = absl::StrCat(kWhat, " tcbLevels[", i, "]");
    const std::string at_tcb = absl::StrCat(at, ".tcb");
    TdxTcbLevel level;
    const Json* tcb = Find(l, "tcb");
    if (tcb == nullptr) return Field(at, "tcb", "missing");
    RETURN_IF_ERROR(Components(*tcb, "sgxtcbcomponents", level.sgx_components, at_tcb));
    ASSIGN_OR_RETURN(int64_t pcesvn, Int(*tcb, "pcesvn", 65535, at_tcb));
    level.pcesvn = static_cast<uint16_t>(pcesvn);
    // SGX TCB infos have no TDX components; a TDX one must.
    RETURN_IF_ERROR(Components(*tcb, "tdxtcbcomponents", level.tdx_components, at_tcb));
    ASSIGN_OR_RETURN(level.tcb_status, Str(l, "tcbStatus", at));
    ASSIGN_OR_RETURN(level.tcb_date, Time(l, "tcbDate", at));
    ASSIGN_OR_RETURN(level.advisory_ids, Advisories(l, at));
    info.tcb_levels.push_back(std::move(level));
  }
  return info;
}

absl::StatusOr<QeIdentity> ParseQeIdentity(absl::string_view json) {
  constexpr absl::string_view kWhat = "qe identity";
  ASSIGN_OR_RETURN(SignedDocument doc,
                   SplitSigned(json, "enclaveIdentity", kWhat));
  const Json& o = doc.body;
  QeIdentity qe;
  qe.signed_body = std::move(doc.body_text);
  qe.signature = std::move(doc.signature);
  ASSIGN_OR_RETURN(qe.id, Str(o, "id", kWhat));
  ASSIGN_OR_RETURN(int64_t version, Int(o, "version", 1000, kWhat));
  qe.version = static_cast<int>(version);
  ASSIGN_OR_RETURN(qe.issue_date, Time(o, "issueDate", kWhat));
  ASSIGN_OR_RETURN(qe.next_update, Time(o, "nextUpdate", kWhat));
  ASSIGN_OR_RETURN(int64_t eval,
                   Int(o, "tcbEvaluationDataNumber", 1 << 30, kWhat));
  qe.tcb_evaluation_data_number = static_cast<int>(eval);
  // miscselect is written as a big-endian 32-bit hex number.
  std::array<uint8_t, 4> misc{}, misc_mask{};
  RETURN_IF_ERROR(HexInto(o, "miscselect", misc, kWhat));
  RETURN_IF_ERROR(HexInto(o, "miscselectMask", misc_mask, kWhat));
  for (int i = 0; i < 4; ++i) {
    qe.miscselect = (qe.miscselect << 8) | misc[i];
    qe.miscselect_mask = (qe.miscselect_mask << 8) | misc_mask[i];
  }
  RETURN_IF_ERROR(HexInto(o, "attributes", qe.attributes, kWhat));
  RETURN_IF_ERROR(HexInto(o, "attributesMask", qe.attributes_mask, kWhat));
  RETURN_IF_ERROR(HexInto(o, "mrsigner", qe.mrsigner, kWhat));
  ASSIGN_OR_RETURN(int64_t prod, Int(o, "isvprodid", 65535, kWhat));
  qe.isvprodid = static_cast<uint16_t>(prod);
  ASSIGN_OR_RETURN(qe.tcb_levels, IsvSvnLevels(o, kWhat));
  return qe;
}

}  // namespace strongroom::attest
