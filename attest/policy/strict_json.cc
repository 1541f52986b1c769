#include "attest/policy/strict_json.h"

#include <limits>
#include <set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace strongroom::attest {
namespace {

using nlohmann::json;

bool IsIdentifier(absl::string_view key) {
  if (key.empty() || key.size() > 64) return false;
  if (!absl::ascii_isalpha(static_cast<unsigned char>(key[0])) &&
      key[0] != '_') {
    return false;
  }
  for (char c : key) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return true;
}

// Builds the DOM like nlohmann's own SAX DOM parser, and additionally tracks
// where it is (for error paths), the keys seen in each open object, and the
// nesting depth. Returning false from any event stops the parse.
class StrictSax final : public nlohmann::json_sax<json> {
 public:
  explicit StrictSax(int max_depth) : max_depth_(max_depth) {}

  bool null() override { return Put(json(nullptr)); }
  bool boolean(bool v) override { return Put(json(v)); }
  bool number_integer(number_integer_t v) override { return Put(json(v)); }
  bool number_unsigned(number_unsigned_t v) override {
    if (v <=
        static_cast<number_unsigned_t>(std::numeric_limits<int64_t>::max())) {
      return Put(json(static_cast<int64_t>(v)));
    }
    return Put(json(v));
  }
  bool number_float(number_float_t v, const string_t&) override {
    return Put(json(v));
  }
  bool string(string_t& v) override { return Put(json(std::move(v))); }
  bool binary(binary_t&) override {
    return Fail(absl::StrCat(Path(), ": binary values are not JSON"));
  }

  bool start_object(std::size_t) override { return Open(json::object()); }
  bool key(string_t& k) override {
    Frame& f = frames_.back();
    if (!f.keys.insert(k).second) {
      return Fail(absl::StrCat(ContainerPath(), ": duplicate key ",
                               QuoteForMessage(k)));
    }
    f.key = k;
    return true;
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override { return Open(json::array()); }
  bool end_array() override { return Close(); }

  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    // "[json.exception.parse_error.101] parse error at line 1, column 7:
    // syntax error ..." -> drop the bracketed exception id.
    absl::string_view what = ex.what();
    if (size_t close = what.find("] ");
        !what.empty() && what[0] == '[' && close != absl::string_view::npos) {
      what.remove_prefix(close + 2);
    }
    return Fail(absl::StrCat("$: invalid JSON: ", what));
  }

  json TakeRoot() { return std::move(root_); }
  const std::string& error() const { return error_; }

 private:
  struct Frame {
    json* value;
    std::string key;        // objects: the key whose value comes next
    size_t next_index = 0;  // arrays: index of the next element
    std::set<std::string> keys;
  };

  // The path of the slot the next value goes into (with_slot), or of the
  // innermost open container. An array frame's next_index has already moved
  // past the element that is open below it.
  std::string PathOf(bool with_slot) const {
    std::string p = "$";
    const size_t n = with_slot ? frames_.size() : frames_.size() - 1;
    for (size_t i = 0; i < n; ++i) {
      const Frame& f = frames_[i];
      const bool open_child = i + 1 < frames_.size();
      p = f.value->is_array()
              ? JsonPathIndex(p, open_child ? f.next_index - 1 : f.next_index)
              : JsonPathKey(p, f.key);
    }
    return p;
  }
  std::string Path() const { return PathOf(true); }
  std::string ContainerPath() const { return PathOf(false); }

  // Stores `v` in the current slot; returns where it landed.
  json* Place(json v) {
    if (frames_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Frame& f = frames_.back();
    if (f.value->is_array()) {
      f.value->push_back(std::move(v));
      ++f.next_index;
      return &f.value->back();
    }
    json& slot = (*f.value)[f.key];
    slot = std::move(v);
    return &slot;
  }
  bool Put(json v) {
    Place(std::move(v));
    return true;
  }
  bool Open(json empty) {
    if (static_cast<int>(frames_.size()) >= max_depth_) {
      return Fail(absl::StrCat(Path(), ": nesting deeper than ", max_depth_,
                               " levels"));
    }
    // Arrays advance their index when the element is placed, so compute the
    // child's frame after placing it.
    json* slot = Place(std::move(empty));
    frames_.push_back(Frame{.value = slot});
    return true;
  }
  bool Close() {
    frames_.pop_back();
    return true;
  }
  bool Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  int max_depth_;
  json root_;
  std::vector<Frame> frames_;
  std::string error_;
};

}  // namespace

absl::StatusOr<json> ParseStrictJson(absl::string_view text,
                                     const StrictJsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("$: document is ", text.size(), " bytes, the limit is ",
                     limits.max_bytes));
  }
  StrictSax sax(limits.max_depth);
  const bool ok = json::sax_parse(text.begin(), text.end(), &sax);
  if (!ok || !sax.error().empty()) {
    return absl::InvalidArgumentError(sax.error().empty() ? "$: invalid JSON"
                                                          : sax.error());
  }
  return sax.TakeRoot();
}

std::string JsonPathKey(absl::string_view parent, absl::string_view key) {
  if (IsIdentifier(key)) return absl::StrCat(parent, ".", key);
  return absl::StrCat(parent, "[", QuoteForMessage(key, 64), "]");
}

std::string JsonPathIndex(absl::string_view parent, size_t index) {
  return absl::StrCat(parent, "[", index, "]");
}

absl::string_view JsonTypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::binary:
      return "binary";
    case json::value_t::discarded:
      return "discarded";
  }
  return "unknown";
}

std::string QuoteForMessage(absl::string_view s, size_t max_chars) {
  const bool cut = s.size() > max_chars;
  json j = std::string(cut ? s.substr(0, max_chars) : s);
  // replace: a cut may split a UTF-8 sequence, and claim strings are not
  // guaranteed to be UTF-8 at all.
  std::string out = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (cut) out.insert(out.size() - 1, "...");
  return out;
}

std::string FormatTimeForMessage(absl::Time t) {
  if (t == absl::InfiniteFuture()) return "never";
  if (t == absl::InfinitePast()) return "the infinite past";
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

std::optional<int64_t> JsonInt64(const json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  return std::nullopt;
}

}  // namespace strongroom::attest
