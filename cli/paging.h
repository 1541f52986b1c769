// Paged List* RPCs in the CLI: the --page-size / --page-token flags and the
// loop that gathers pages into one response.
#ifndef STRONGROOM_CLI_PAGING_H_
#define STRONGROOM_CLI_PAGING_H_

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/status_macros.h"
#include "cli/cli_options.h"
#include "cli/command.h"

namespace strongroom::cli {

// Copies --page-size (capped at `max_page_size`) and --page-token into `req`.
// InvalidArgument naming --page-size when it is not a number.
template <typename Request>
absl::Status ApplyPageFlags(const CliOptions& o, uint32_t max_page_size, Request& req) {
  if (auto v = o.Flag("page-size")) {
    ASSIGN_OR_RETURN(uint32_t n, ParseUintFlag("page-size", *v));
    req.set_page_size(static_cast<int32_t>(std::min(n, max_page_size)));
  }
  if (auto v = o.Flag("page-token")) req.set_page_token(*v);
  return absl::OkStatus();
}

// Calls `fetch(req)` (returning absl::StatusOr<Response>) for the first page
// and, while `all_pages` and the last page named a next one, for the pages
// after it, moving each page's items (the repeated field `items(response)`
// points to) into one response. Its next_page_token is the last page's: empty
// when the listing is complete.
inline constexpr int kMaxPages = 100000;

template <typename Request, typename Fetch, typename Items>
auto CollectPages(Request req, bool all_pages, Fetch fetch, Items items)
    -> std::invoke_result_t<Fetch, const Request&> {
  using Response = typename std::invoke_result_t<Fetch, const Request&>::value_type;
  Response all;
  for (int pages = 1;; ++pages) {
    ASSIGN_OR_RETURN(Response page, fetch(static_cast<const Request&>(req)));
    auto* to = items(all);
    for (auto& item : *items(page)) *to->Add() = std::move(item);
    all.set_next_page_token(page.next_page_token());
    if (!all_pages || page.next_page_token().empty()) break;
    // A server that hands back the token it was given (or never stops)
    // would keep this loop, and the response, growing without end.
    if (page.next_page_token() == req.page_token() || pages >= kMaxPages) {
      return absl::DataLossError(
          absl::StrCat("listing: the server's page token does not advance (page ", pages,
                       ", token '", page.next_page_token().substr(0, 40), "')"));
    }
    req.set_page_token(page.next_page_token());
  }
  return all;
}

}  // namespace strongroom::cli

#endif  // STRONGROOM_CLI_PAGING_H_
