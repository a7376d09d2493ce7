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

/// Reads page/per_page (400 on anything but positive integers).
PageRequest readPage(const sdk::Request& request);

/// Adds the conditions of every declared filter present in the request's query (400 on bad values).
void applyFilters(const sdk::Request& request, const sdk::ModelDecl& model,
                  const std::vector<sdk::FilterDecl>& filters, sdk::Query& query);

/// Applies `sort=field,-other` (400 for unknown fields); keeps the base order otherwise.
void applySort(const sdk::Request& request, const sdk::ModelDecl& model, sdk::Query& query);

/// The paginated response, with headers and the optional metadata wrapper.
sdk::Response pageResponse(const sdk::Request& request, const PageRequest& page, std::int64_t total,
                           Poco::JSON::Array::Ptr items);

} // namespace dq::kernel
