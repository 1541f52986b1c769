// IsLowerHex: whether text is lowercase hex, the form HexEncode (bytes.h)
// writes and stored identifiers, digests and MACs keep. A header of its
// own so that checking text does not pull in, or rebuild with, bytes.h.
#ifndef STRONGROOM_BASE_HEX_TEXT_H_
#define STRONGROOM_BASE_HEX_TEXT_H_

#include <algorithm>

#include "absl/strings/string_view.h"

namespace strongroom {

// True when every character of `s` is 0-9 or a-f (so also for "").
inline bool IsLowerHex(absl::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace strongroom

#endif  // STRONGROOM_BASE_HEX_TEXT_H_
