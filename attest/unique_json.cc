#include "attest/unique_json.h"

#include <set>
#include <vector>

namespace strongroom::attest {

nlohmann::json ParseJsonWithUniqueNames(absl::string_view text, std::string* duplicate) {
  using Json = nlohmann::json;
  duplicate->clear();
  std::vector<std::set<std::string>> names;  // one per open object
  Json::parser_callback_t track = [&](int, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        names.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!names.empty()) names.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!names.empty() && parsed.is_string() &&
            !names.back().insert(parsed.get_ref<const std::string&>()).second &&
            duplicate->empty()) {
          *duplicate = parsed.get_ref<const std::string&>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  return Json::parse(text.begin(), text.end(), track, /*allow_exceptions=*/false);
}

}  // namespace strongroom::attest
