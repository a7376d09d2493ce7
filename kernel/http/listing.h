// The one list helper: filters, sorting and pagination of any model, exactly as vantage6 pages
// (page / per_page / include=metadata, total-count and Link headers), plus `sort`.
#pragma once

#include "kernel/catalog/catalog.h"

#include <dq/sdk/context.h>
#include <dq/sdk/http.h>

namespace dq::kernel {

struct PageRequest {
    std::int64_t page = 1;
    std::optional<std::int64_t> perPage; ///< nullopt: everything on one page
};

/// Reads page/per_page (400 naming the parameter on anything but an integer from 1 to 2^63 - 1).
PageRequest readPage(const sdk::Request& request);

/// The rows of one page: OFFSET and LIMIT.
struct PageWindow {
    std::int64_t offset = 0;
    std::int64_t limit = 0;
};
/// The rows `page` covers of `total`, computed without overflow for any page and per_page;
/// nullopt when the page lies past the end (an empty page, not an error).
std::optional<PageWindow> pageWindow(const PageRequest& page, std::int64_t total);

/// Adds the conditions of every declared filter present in the request's query (400 on bad values).
void applyFilters(const sdk::Request& request, const sdk::ModelDecl& model,
                  const std::vector<sdk::FilterDecl>& filters, sdk::Query& query);

/// Applies `sort=field,-other`: the id, non-secret fields and to-one relations by name; anything
/// else is a 400 naming the sortable names. Keeps the base order when there is no `sort`.
void applySort(const sdk::Request& request, const sdk::ModelDecl& model, sdk::Query& query);

/// The paginated response, with headers and the optional metadata wrapper.
sdk::Response pageResponse(const sdk::Request& request, const PageRequest& page, std::int64_t total,
                           Poco::JSON::Array::Ptr items);
/// The same, for items already written as a JSON array (`[...]`): the body is sdk::RawJson.
sdk::Response pageResponse(const sdk::Request& request, const PageRequest& page, std::int64_t total,
                           std::string itemsJson);

} // namespace dq::kernel
