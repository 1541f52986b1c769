// JSON objects from evidence, parsed so that a name repeated in any object
// is an error: nlohmann keeps the last copy silently, and a reader that kept
// the first would then see other evidence than the verifier did.
#ifndef STRONGROOM_ATTEST_UNIQUE_JSON_H_
#define STRONGROOM_ATTEST_UNIQUE_JSON_H_

#include <string>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace strongroom::attest {

// `text` parsed; discarded (is_discarded()) when it is not valid JSON. When
// some object in it repeats a name, `*duplicate` is set to the first such
// name (and the result should be refused). Never throws.
nlohmann::json ParseJsonWithUniqueNames(absl::string_view text, std::string* duplicate);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_UNIQUE_JSON_H_
