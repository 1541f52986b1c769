// The limits on user labels (keys, datasets, objects): at most 64 entries,
// keys of 1..63 bytes, 8 KiB of keys and values in all. InvalidArgument
// naming `labels`. Works on any map of strings (a protobuf Map, std::map).
#ifndef STRONGROOM_BASE_LABELS_H_
#define STRONGROOM_BASE_LABELS_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace strongroom {

template <typename Map>
absl::Status CheckLabels(const Map& labels) {
  if (labels.size() > 64) return absl::InvalidArgumentError("labels: more than 64 entries");
  size_t total = 0;
  for (const auto& [k, v] : labels) {
    if (k.empty() || k.size() > 63) {
      return absl::InvalidArgumentError(absl::StrCat("labels: key '", k, "' must be 1..63 bytes"));
    }
    total += k.size() + v.size();
  }
  if (total > 8192) return absl::InvalidArgumentError("labels: larger than 8 KiB");
  return absl::OkStatus();
}

}  // namespace strongroom

#endif  // STRONGROOM_BASE_LABELS_H_
