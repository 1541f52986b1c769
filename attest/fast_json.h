// A scanner for the JSON documents a verifier reads on every call (a TPM
// quote bundle, a dev evidence envelope and body): objects of known members
// whose strings carry no escapes. It takes the common, well-formed shape
// without building a DOM, and says false at the first byte it does not
// handle: the caller then parses the same text with nlohmann::json, which
// accepts or refuses it with the error message users see. So it may refuse
// valid JSON (an escape, an exponent), never accept what the DOM path
// would refuse, provided each caller checks the strings it reads as
// strictly as its DOM path does (every caller decodes or compares them).
//
// Strings are returned as views into the input, their bytes as they are;
// an escape makes String() false (the string might not end at the first
// quote after it), and so does a raw control byte (not JSON). Bytes of 0x80
// and above are taken as they are: nlohmann would check them as UTF-8, so
// a caller must check them (decoders that take only ASCII do).
#ifndef STRONGROOM_ATTEST_FAST_JSON_H_
#define STRONGROOM_ATTEST_FAST_JSON_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "base/simd_text.h"

namespace strongroom::attest {

class FastJsonScanner {
 public:
  explicit FastJsonScanner(absl::string_view in) : in_(in) {}

  // An object; `member(key)` reads each member's value (and refuses a key
  // it does not know or has seen).
  template <typename F>
  bool Object(F&& member) {
    if (!Consume('{')) return false;
    if (Consume('}')) return true;
    do {
      absl::string_view key;
      if (!String(&key) || !Consume(':') || !member(key)) return false;
    } while (Consume(','));
    return Consume('}');
  }

  bool String(absl::string_view* out) {
    if (!Consume('"')) return false;
    const char* start = in_.data() + pos_;
    const size_t left = in_.size() - pos_;
    // The closing quote, unless an escape or a control byte comes first.
    const size_t len = FindJsonStringEnd(start, left);
    if (len == left || start[len] != '"') return false;
    *out = absl::string_view(start, len);
    pos_ += len + 1;
    return true;
  }

  bool Bool(bool* out) {
    SkipSpace();
    for (bool v : {true, false}) {
      const absl::string_view word = v ? "true" : "false";
      if (in_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        *out = v;
        return true;  // "truex": the caller's ',' or '}' check refuses it
      }
    }
    return false;
  }

  // A non-negative integer in plain decimal (no sign, fraction, exponent or
  // leading zero) of at most 18 digits (longer ones go to the DOM path,
  // which knows the int64 limit).
  bool NonNegativeInt(int64_t* out) {
    SkipSpace();
    const size_t start = pos_;
    uint64_t v = 0;
    while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') {
      if (pos_ - start >= 18) return false;  // past 18 digits: leave it to the DOM
      v = v * 10 + static_cast<uint64_t>(in_[pos_] - '0');
      ++pos_;
    }
    const size_t digits = pos_ - start;
    if (digits == 0 || (digits > 1 && in_[start] == '0')) return false;
    if (pos_ < in_.size() && (in_[pos_] == '.' || in_[pos_] == 'e' || in_[pos_] == 'E')) {
      return false;
    }
    *out = static_cast<int64_t>(v);
    return true;
  }

  // Only whitespace left.
  bool AtEnd() {
    SkipSpace();
    return pos_ == in_.size();
  }

 private:
  void SkipSpace() {
    while (pos_ < in_.size() && (in_[pos_] == ' ' || in_[pos_] == '\n' ||
                                 in_[pos_] == '\r' || in_[pos_] == '\t')) {
      ++pos_;
    }
  }
  bool Consume(char c) {
    SkipSpace();
    if (pos_ >= in_.size() || in_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  absl::string_view in_;
  size_t pos_ = 0;
};

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_FAST_JSON_H_
