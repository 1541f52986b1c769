#include "attest/dev/dev_evidence.h"

#include <algorithm>
#include <limits>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "attest/fast_json.h"
#include "attest/unique_json.h"
#include "base/status_macros.h"
#include "nlohmann/json.hpp"

namespace strongroom::attest {
namespace {

using Json = nlohmann::json;

absl::Status Bad(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("dev evidence: ", field, ": ", why));
}

// A JSON object, refusing duplicate names at any depth (nlohmann would keep
// the last one silently). Never throws.
absl::StatusOr<Json> ParseObject(absl::string_view text, absl::string_view field) {
  std::string duplicate;
  Json j = ParseJsonWithUniqueNames(text, &duplicate);
  if (j.is_discarded()) return Bad(field, "not valid JSON");
  if (!duplicate.empty()) {
    return Bad(field, absl::StrCat("field '", duplicate, "' appears twice"));
  }
  if (!j.is_object()) return Bad(field, "not a JSON object");
  return j;
}

absl::Status OnlyKnownFields(const Json& obj, absl::string_view prefix,
                             std::initializer_list<absl::string_view> known) {
  for (const auto& item : obj.items()) {
    if (std::find(known.begin(), known.end(), item.key()) == known.end()) {
      return Bad(absl::StrCat(prefix, item.key()), "unknown field");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<const Json*> Field(const Json& obj, absl::string_view prefix,
                                  const char* name) {
  auto it = obj.find(name);
  if (it == obj.end()) return Bad(absl::StrCat(prefix, name), "missing");
  return &*it;
}

absl::StatusOr<std::string> StringField(const Json& obj,
                                        absl::string_view prefix,
                                        const char* name) {
  ASSIGN_OR_RETURN(const Json* v, Field(obj, prefix, name));
  if (!v->is_string()) {
    return Bad(absl::StrCat(prefix, name),
               absl::StrCat("must be a string, not ", v->type_name()));
  }
  return v->get<std::string>();
}

absl::StatusOr<int64_t> NonNegativeIntField(const Json& obj,
                                            absl::string_view prefix,
                                            const char* name) {
  ASSIGN_OR_RETURN(const Json* v, Field(obj, prefix, name));
  std::string field = absl::StrCat(prefix, name);
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Bad(field, absl::StrCat(u, " is out of range"));
    }
    return static_cast<int64_t>(u);
  }
  if (v->is_number_integer()) {
    return Bad(field, absl::StrCat(v->get<int64_t>(), " is negative"));
  }
  return Bad(field, absl::StrCat(
                        "must be an integer, not ",
                        v->is_number_float() ? "a fraction" : v->type_name()));
}

absl::StatusOr<Bytes> LowerHex(absl::string_view text,
                               absl::string_view field) {
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return Bad(field, absl::StrCat("not hex (lowercase): bad character at "
                                     "offset ",
                                     i));
    }
  }
  if (text.size() % 2 != 0) {
    return Bad(field, absl::StrCat("not hex: odd length ", text.size()));
  }
  return HexDecode(text, field);
}

absl::StatusOr<Bytes> CanonicalBase64Url(absl::string_view text,
                                         absl::string_view field) {
  auto decoded = Base64UrlDecode(text, field);
  if (!decoded.ok() || Base64UrlEncode(*decoded) != text) {
    return Bad(field, "not unpadded base64url");
  }
  return decoded;
}

bool IsClaimName(absl::string_view name) {
  if (name.empty() || name.size() > kDevMaxClaimNameSize) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
  });
}

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF.
bool IsUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i - 1 < n) return false;
    for (size_t k = 1; k <= n; ++k) {
      uint8_t cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = cp << 6 | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

// The envelope's four strings as FastJsonScanner reads them; false leaves
// the payload to the DOM path (which gives the error, if any).
struct EnvelopeText {
  absl::string_view format, body, signature, key_id;
};
bool ReadEnvelopeFast(absl::string_view payload, EnvelopeText* out) {
  FastJsonScanner json(payload);
  bool seen[4] = {false, false, false, false};
  auto once = [&](int i) { return !std::exchange(seen[i], true); };
  const bool ok = json.Object([&](absl::string_view key) {
    if (key == "format") return once(0) && json.String(&out->format);
    if (key == "body") return once(1) && json.String(&out->body);
    if (key == "signature") return once(2) && json.String(&out->signature);
    if (key == "key_id") return once(3) && json.String(&out->key_id);
    return false;
  });
  // The format is quoted in an error: ASCII here, or the DOM path's
  // UTF-8 check decides.
  return ok && json.AtEnd() && seen[0] && seen[1] && seen[2] && seen[3] &&
         std::all_of(out->format.begin(), out->format.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// The body as the DOM path reads it, for the usual shape; false leaves it
// to the DOM path. Claim names are checked here as there (a bad one goes
// back for the DOM path's message), claim values as UTF-8 by
// ValidateDevEvidenceBody on both paths.
struct BodyText {
  absl::string_view measurement, report_data;
  bool debug = false;
  int64_t issued_at = 0, svn = 0;
  std::map<std::string, std::string> claims;
};
bool ReadBodyFast(absl::string_view text, BodyText* out) {
  FastJsonScanner json(text);
  bool seen[6] = {false, false, false, false, false, false};
  auto once = [&](int i) { return !std::exchange(seen[i], true); };
  const bool ok = json.Object([&](absl::string_view key) {
    if (key == "measurement") return once(0) && json.String(&out->measurement);
    if (key == "report_data") return once(1) && json.String(&out->report_data);
    if (key == "debug") return once(2) && json.Bool(&out->debug);
    if (key == "issued_at") return once(3) && json.NonNegativeInt(&out->issued_at);
    if (key == "svn") return once(4) && json.NonNegativeInt(&out->svn);
    if (key == "claims" && once(5)) {
      return json.Object([&](absl::string_view name) {
        absl::string_view value;
        return IsClaimName(name) && json.String(&value) &&
               out->claims.emplace(std::string(name), std::string(value)).second;
      });
    }
    return false;
  });
  return ok && json.AtEnd() && seen[0] && seen[1] && seen[2] && seen[3] && seen[4];
}

}  // namespace

absl::Status ValidateDevEvidenceBody(const DevEvidenceBody& body) {
  if (body.measurement.empty() ||
      body.measurement.size() > kDevMaxMeasurementSize) {
    return Bad("body.measurement",
               absl::StrCat(body.measurement.size(), " bytes; must be 1..",
                            kDevMaxMeasurementSize));
  }
  if (body.report_data.size() > kDevMaxReportDataSize) {
    return Bad("body.report_data",
               absl::StrCat(body.report_data.size(), " bytes; at most ",
                            kDevMaxReportDataSize));
  }
  if (body.issued_at < 0) {
    return Bad("body.issued_at", absl::StrCat(body.issued_at, " is negative"));
  }
  if (body.svn < 0) {
    return Bad("body.svn", absl::StrCat(body.svn, " is negative"));
  }
  if (body.claims.size() > kDevMaxClaims) {
    return Bad(
        "body.claims",
        absl::StrCat(body.claims.size(), " entries; at most ", kDevMaxClaims));
  }
  for (const auto& [name, value] : body.claims) {
    if (!IsClaimName(name)) {
      return Bad("body.claims",
                 absl::StrCat("name '", name.substr(0, kDevMaxClaimNameSize),
                              "' is not 1..64 of [A-Za-z0-9_.-]"));
    }
    std::string field = absl::StrCat("body.claims.", name);
    if (value.size() > kDevMaxClaimValueSize) {
      return Bad(field, absl::StrCat(value.size(), " bytes; at most ",
                                     kDevMaxClaimValueSize));
    }
    if (!IsUtf8(value)) return Bad(field, "not valid UTF-8");
  }
  return absl::OkStatus();
}

namespace {

// The envelope's checks on its four strings, whichever path read them.
absl::StatusOr<DevEvidenceEnvelope> EnvelopeFromText(const EnvelopeText& text) {
  if (text.format != kDevEvidenceFormat) {
    return Bad("format", absl::StrCat("'", text.format.substr(0, 64), "' is not '",
                                      kDevEvidenceFormat, "'"));
  }
  DevEvidenceEnvelope out;
  ASSIGN_OR_RETURN(Bytes body_bytes, CanonicalBase64Url(text.body, "body"));
  out.body.assign(body_bytes.begin(), body_bytes.end());
  ASSIGN_OR_RETURN(out.signature, CanonicalBase64Url(text.signature, "signature"));
  if (out.signature.empty() || out.signature.size() > 80) {
    return Bad("signature", absl::StrCat(out.signature.size(),
                                         " bytes is not a DER P-256 "
                                         "signature"));
  }
  out.key_id = std::string(text.key_id);
  ASSIGN_OR_RETURN(Bytes key_id, LowerHex(out.key_id, "key_id"));
  if (key_id.size() != 32) {
    return Bad("key_id", absl::StrCat(key_id.size(),
                                      " bytes; must be a "
                                      "32-byte SHA-256"));
  }
  return out;
}

// The body's checks on what the fast reader took.
absl::StatusOr<DevEvidenceBody> BodyFromFast(BodyText fast) {
  DevEvidenceBody out;
  ASSIGN_OR_RETURN(out.measurement, LowerHex(fast.measurement, "body.measurement"));
  ASSIGN_OR_RETURN(out.report_data, LowerHex(fast.report_data, "body.report_data"));
  out.debug = fast.debug;
  out.issued_at = fast.issued_at;
  out.svn = fast.svn;
  out.claims = std::move(fast.claims);
  RETURN_IF_ERROR(ValidateDevEvidenceBody(out));
  return out;
}

}  // namespace

absl::StatusOr<DevEvidenceEnvelope> ParseDevEvidenceEnvelope(absl::string_view payload) {
  // An oversized payload goes to the DOM path, which refuses it first.
  EnvelopeText text;
  if (payload.size() <= kDevMaxPayloadSize && ReadEnvelopeFast(payload, &text)) {
    return EnvelopeFromText(text);
  }
  return dev_internal::ParseEnvelopeDom(payload);
}

absl::StatusOr<DevEvidenceBody> ParseDevEvidenceBody(absl::string_view json) {
  if (BodyText fast; ReadBodyFast(json, &fast)) return BodyFromFast(std::move(fast));
  return dev_internal::ParseBodyDom(json);
}

namespace dev_internal {

absl::StatusOr<DevEvidenceEnvelope> ParseEnvelopeDom(absl::string_view payload) {
  if (payload.size() > kDevMaxPayloadSize) {
    return Bad("payload", absl::StrCat(payload.size(), " bytes; at most ",
                                       kDevMaxPayloadSize));
  }
  ASSIGN_OR_RETURN(Json j, ParseObject(payload, "payload"));
  RETURN_IF_ERROR(OnlyKnownFields(j, "", {"format", "body", "signature", "key_id"}));
  ASSIGN_OR_RETURN(std::string format, StringField(j, "", "format"));
  ASSIGN_OR_RETURN(std::string body, StringField(j, "", "body"));
  ASSIGN_OR_RETURN(std::string signature, StringField(j, "", "signature"));
  ASSIGN_OR_RETURN(std::string key_id, StringField(j, "", "key_id"));
  return EnvelopeFromText(EnvelopeText{format, body, signature, key_id});
}

absl::StatusOr<DevEvidenceBody> ParseBodyDom(absl::string_view json) {
  DevEvidenceBody out;
  ASSIGN_OR_RETURN(Json j, ParseObject(json, "body"));
  RETURN_IF_ERROR(OnlyKnownFields(
      j, "body.",
      {"measurement", "report_data", "debug", "issued_at", "svn", "claims"}));
  ASSIGN_OR_RETURN(std::string m, StringField(j, "body.", "measurement"));
  ASSIGN_OR_RETURN(out.measurement, LowerHex(m, "body.measurement"));
  ASSIGN_OR_RETURN(std::string rd, StringField(j, "body.", "report_data"));
  ASSIGN_OR_RETURN(out.report_data, LowerHex(rd, "body.report_data"));
  ASSIGN_OR_RETURN(const Json* debug, Field(j, "body.", "debug"));
  if (!debug->is_boolean()) {
    return Bad("body.debug",
               absl::StrCat("must be a boolean, not ", debug->type_name()));
  }
  out.debug = debug->get<bool>();
  ASSIGN_OR_RETURN(out.issued_at, NonNegativeIntField(j, "body.", "issued_at"));
  ASSIGN_OR_RETURN(out.svn, NonNegativeIntField(j, "body.", "svn"));
  if (auto it = j.find("claims"); it != j.end()) {
    if (!it->is_object()) {
      return Bad("body.claims",
                 absl::StrCat("must be an object, not ", it->type_name()));
    }
    for (const auto& item : it->items()) {
      if (!IsClaimName(item.key())) {
        return Bad(
            "body.claims",
            absl::StrCat("name '", item.key().substr(0, kDevMaxClaimNameSize),
                         "' is not 1..64 of [A-Za-z0-9_.-]"));
      }
      if (!item.value().is_string()) {
        return Bad(
            absl::StrCat("body.claims.", item.key()),
            absl::StrCat("must be a string, not ", item.value().type_name()));
      }
      out.claims[item.key()] = item.value().get<std::string>();
    }
  }
  RETURN_IF_ERROR(ValidateDevEvidenceBody(out));
  return out;
}

}  // namespace dev_internal

std::string SerializeDevEvidenceBody(const DevEvidenceBody& body) {
  Json j = {{"measurement", HexEncode(body.measurement)},
            {"report_data", HexEncode(body.report_data)},
            {"debug", body.debug},
            {"issued_at", body.issued_at},
            {"svn", body.svn}};
  if (!body.claims.empty()) j["claims"] = body.claims;
  return j.dump();
}

std::string SerializeDevEvidenceEnvelope(const DevEvidenceEnvelope& envelope) {
  Json j = {{"format", std::string(kDevEvidenceFormat)},
            {"body", Base64UrlEncode(AsBytes(envelope.body))},
            {"signature", Base64UrlEncode(envelope.signature)},
            {"key_id", envelope.key_id}};
  return j.dump();
}

}  // namespace strongroom::attest
