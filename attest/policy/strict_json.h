// Strict JSON reading for documents that administrators upload (release
// policies, reference-value sets): a size limit, a nesting limit and
// duplicate-key detection on top of RFC 8259 parsing, with every error
// naming the JSON path at fault ("$.require.allOf[2]: duplicate key
// \"claim\""). Also the small path and type-name helpers the validators
// share, so all their messages read the same way.
//
// Stateless functions; thread-safe. Nothing here throws: parse errors come
// back as InvalidArgument.
#ifndef STRONGROOM_ATTEST_POLICY_STRICT_JSON_H_
#define STRONGROOM_ATTEST_POLICY_STRICT_JSON_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace strongroom::attest {

struct StrictJsonLimits {
  size_t max_bytes = 64 * 1024;
  // Objects and arrays nested deeper than this are refused; the top-level
  // value is at depth 1.
  int max_depth = 32;
};

// Parses `text` as one JSON value. Refuses, with InvalidArgument whose
// message starts with the JSON path:
//   "$: document is N bytes, the limit is M"
//   "$: invalid JSON: <parser message with line and column>"
//   "<path>: nesting deeper than M levels"
//   "<path>: duplicate key \"k\""
// Non-negative integers that fit in int64 are stored as signed integers;
// larger ones stay unsigned (validators reject them as out of range).
absl::StatusOr<nlohmann::json> ParseStrictJson(absl::string_view text,
                                               const StrictJsonLimits& limits);

// Path helpers: "$.a", "$.a[3]"; keys that are not identifiers are written
// as ["k y"] (quoted, escaped, truncated) so a path is never ambiguous.
std::string JsonPathKey(absl::string_view parent, absl::string_view key);
std::string JsonPathIndex(absl::string_view parent, size_t index);

// "object", "array", "string", "integer", "number", "boolean", "null".
absl::string_view JsonTypeName(const nlohmann::json& v);

// `s` as a JSON string literal, shortened to about `max_chars` characters
// with "..." so an error or reason never quotes a whole upload.
std::string QuoteForMessage(absl::string_view s, size_t max_chars = 96);

// RFC 3339 in UTC ("2026-01-01T00:00:00Z"), for messages and JSON.
std::string FormatTimeForMessage(absl::Time t);

// The value as int64 when it is a JSON integer in the signed 64-bit range.
std::optional<int64_t> JsonInt64(const nlohmann::json& v);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_POLICY_STRICT_JSON_H_
