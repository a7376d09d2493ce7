// The one serializer: a record of any declared model as vantage6 shows it, with HATEOAS links for
// every relation, including back-references declared by other loaded plugins.
#pragma once

#include "kernel/catalog/catalog.h"
#include "kernel/http/router.h"

#include <Poco/JSON/Object.h>
#include <dq/sdk/store.h>
#include <map>
#include <utility>
#include <vector>

namespace dq::kernel {

class Serializer {
public:
    /// The ids of every to-many and many-to-many relation of a page of rows, loaded with a few
    /// queries for the whole page instead of one per row and relation:
    /// (model, relation) -> row id -> related ids.
    using Prefetched = std::map<std::pair<std::string, std::string>, std::map<sdk::Id, std::vector<sdk::Id>>>;

    Serializer(const Catalog& catalog, const Router& router, std::string apiPath);

    /// `prefetched`: relation ids loaded by prefetch(); rows it does not hold are queried.
    Poco::JSON::Object::Ptr toJson(sdk::Store& store, const std::string& model, const sdk::Record& record,
                                   const Prefetched* prefetched = nullptr) const;
    /// Loads the related ids of `records` (rows of `model`) for toJson.
    Prefetched prefetch(sdk::Store& store, const std::string& model,
                        const std::vector<sdk::Record>& records) const;
    /// `{"id", "link", "methods"}` for a row of `model`, or the raw id when the model has no resource.
    Poco::Dynamic::Var link(const std::string& model, sdk::Id id) const;
    /// A field value as JSON (DateTime with +00:00, Boolean as bool).
    static Poco::Dynamic::Var fieldValue(const sdk::Field& field, const sdk::Value& value);
    const std::string& apiPath() const { return apiPath_; }

private:
    const Catalog& catalog_;
    const Router& router_;
    std::string apiPath_;
};

} // namespace dq::kernel
