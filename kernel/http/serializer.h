// The one serializer: a record of any declared model as vantage6 shows it, with HATEOAS links for
// every relation, including back-references declared by other loaded plugins.
#pragma once

#include "kernel/catalog/catalog.h"
#include "kernel/http/router.h"

#include <Poco/JSON/Object.h>
#include <dq/sdk/plugin.h>
#include <dq/sdk/store.h>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dq::kernel {

class Serializer {
public:
    /// What a page of rows needs, loaded with a few queries for the whole page instead of one per
    /// row: the ids of every to-many and many-to-many relation, and what the page decorators add.
    struct Prefetched {
        /// (model, relation) -> row id -> related ids.
        std::map<std::pair<std::string, std::string>, std::map<sdk::Id, std::vector<sdk::Id>>> relations;
        /// (model, row id) -> the keys the model's page decorators add to (or replace in) its JSON.
        std::map<std::pair<std::string, sdk::Id>, Poco::JSON::Object::Ptr> decorations;
    };

    Serializer(const Catalog& catalog, const Router& router, std::string apiPath);
    ~Serializer();

    /// `prefetched`: loaded by prefetch(); rows it does not hold are queried.
    Poco::JSON::Object::Ptr toJson(sdk::Store& store, const std::string& model, const sdk::Record& record,
                                   const Prefetched* prefetched = nullptr) const;
    /// Appends the JSON of `record` to `out` without building it as objects first: the same text as
    /// toJson() condensed by Poco's Stringifier, byte for byte.
    /// `extra`: keys that replace the model's (in place) or follow them, applied after the
    /// decorations, as Poco::JSON::Object::set would.
    void write(std::string& out, sdk::Store& store, const std::string& model, const sdk::Record& record,
               const Prefetched* prefetched = nullptr, const Poco::JSON::Object* extra = nullptr) const;
    /// Loads the related ids and the page decorations of `records` (rows of `model`).
    Prefetched prefetch(sdk::Store& store, const std::string& model,
                        const std::vector<sdk::Record>& records) const;
    /// A field value as JSON (DateTime with +00:00, Boolean as bool).
    static Poco::Dynamic::Var fieldValue(const sdk::Field& field, const sdk::Value& value);
    const std::string& apiPath() const { return apiPath_; }

private:
    struct Shape;
    /// What serializing a model needs from the declarations and the router, worked out once.
    const Shape& shape(const std::string& model) const;
    Poco::JSON::Object::Ptr decorations(sdk::Store& store, const Shape& shape, const sdk::Record& record,
                                        const Prefetched* prefetched) const;
    /// The prefetched ids, or those queried into `loaded`.
    const std::vector<sdk::Id>& relatedIds(sdk::Store& store, const std::string& model, const RelationView& rel,
                                           const sdk::Record& record, const Prefetched* prefetched,
                                           std::vector<sdk::Id>& loaded) const;

    const Catalog& catalog_;
    const Router& router_;
    std::string apiPath_;
    mutable std::mutex shapesLock_;
    mutable std::unordered_map<std::string, std::unique_ptr<const Shape>> shapes_;
};

} // namespace dq::kernel
