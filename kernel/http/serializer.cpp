// Serialization rules of vantage6 (marshmallow-sqlalchemy 0.15): no *_id columns, relations as
// links or ids, to-many lists null when empty.
#include "kernel/http/serializer.h"

#include "kernel/db/sql.h"

#include <Poco/JSON/Array.h>
#include <dq/sdk/http.h>

namespace dq::kernel {

Serializer::Serializer(const Catalog& catalog, const Router& router, std::string apiPath)
    : catalog_(catalog), router_(router), apiPath_(std::move(apiPath)) {}

Poco::Dynamic::Var Serializer::fieldValue(const sdk::Field& field, const sdk::Value& value) {
    if (value.isEmpty())
        return Poco::Dynamic::Var();
    switch (field.type) {
    case sdk::FieldType::Boolean:
        if (value.isString())
            return value.extract<std::string>() == "1" || value.extract<std::string>() == "true";
        return value.convert<Poco::Int64>() != 0;
    case sdk::FieldType::DateTime:
        return sdk::renderDateTime(value.convert<std::string>());
    case sdk::FieldType::Integer:
        return value.convert<Poco::Int64>();
    case sdk::FieldType::Real:
        return value.convert<double>();
    case sdk::FieldType::Text:
        return value.convert<std::string>();
    }
    return value;
}

Poco::Dynamic::Var Serializer::link(const std::string& model, sdk::Id id) const {
    const auto* decl = catalog_.model(model);
    if (!decl || decl->resourcePath().empty())
        return static_cast<Poco::Int64>(id);
    Poco::JSON::Object::Ptr obj = new Poco::JSON::Object;
    obj->set("id", static_cast<Poco::Int64>(id));
    obj->set("link", apiPath_ + decl->resourcePath() + "/" + std::to_string(id));
    Poco::JSON::Array::Ptr methods = new Poco::JSON::Array;
    for (const auto& m : router_.methodsFor(decl->resourcePath() + "/<id>"))
        methods->add(m);
    obj->set("methods", methods);
    return obj;
}

namespace {

/// Rows per IN (...) list: far below SQLite's limit on bound parameters.
constexpr std::size_t kPrefetchChunk = 500;

/// `SELECT <owner>, <other> FROM <table> WHERE <owner> IN (ids) ORDER BY <other>` in chunks, into
/// owner -> others. The names come from the declarations (checked by the schema), never from input.
void loadIds(sdk::Store& store, const std::string& table, const std::string& owner, const std::string& other,
             const std::vector<sdk::Id>& ids, std::map<sdk::Id, std::vector<sdk::Id>>& into) {
    for (auto id : ids)
        into[id];
    for (std::size_t start = 0; start < ids.size(); start += kPrefetchChunk) {
        auto end = std::min(ids.size(), start + kPrefetchChunk);
        std::string marks;
        std::vector<sdk::Value> params;
        for (auto i = start; i < end; ++i) {
            marks += marks.empty() ? "?" : ", ?";
            params.emplace_back(static_cast<Poco::Int64>(ids[i]));
        }
        auto rows = store.query("SELECT " + sql::quote(owner) + ", " + sql::quote(other) + " FROM " +
                                    sql::quote(table) + " WHERE " + sql::quote(owner) + " IN (" + marks +
                                    ") ORDER BY " + sql::quote(other),
                                params);
        for (const auto& row : rows.rows)
            into[row[0].convert<Poco::Int64>()].push_back(row[1].convert<Poco::Int64>());
    }
}

} // namespace

Serializer::Prefetched Serializer::prefetch(sdk::Store& store, const std::string& model,
                                            const std::vector<sdk::Record>& records) const {
    Prefetched prefetched;
    if (records.empty())
        return prefetched;
    std::vector<sdk::Id> ids;
    for (const auto& record : records)
        ids.push_back(record.id);
    for (const auto& rel : catalog_.relationsOf(model)) {
        if (rel.style == sdk::RelationStyle::Hidden || rel.kind == RelationView::Kind::ToOne)
            continue;
        auto& into = prefetched[{model, rel.name}];
        if (rel.kind == RelationView::Kind::ToMany)
            loadIds(store, rel.target, rel.column, "id", ids, into);
        else
            loadIds(store, rel.table, rel.ownColumn, rel.otherColumn, ids, into);
    }
    return prefetched;
}

Poco::JSON::Object::Ptr Serializer::toJson(sdk::Store& store, const std::string& model,
                                           const sdk::Record& record, const Prefetched* prefetched) const {
    const auto* decl = catalog_.model(model);
    if (!decl)
        throw std::invalid_argument("no model '" + model + "' is declared");
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("id", static_cast<Poco::Int64>(record.id));
    for (const auto& field : decl->fields()) {
        if (field.secret)
            continue;
        out->set(field.name, fieldValue(field, record.get(field.name)));
    }
    for (const auto& rel : catalog_.relationsOf(model)) {
        if (rel.style == sdk::RelationStyle::Hidden)
            continue;
        auto render = [&](sdk::Id id) {
            return rel.style == sdk::RelationStyle::Id ? Poco::Dynamic::Var(static_cast<Poco::Int64>(id))
                                                       : link(rel.target, id);
        };
        if (rel.kind == RelationView::Kind::ToOne) {
            auto id = record.integer(rel.column);
            out->set(rel.name, id ? render(*id) : Poco::Dynamic::Var());
            continue;
        }
        std::vector<sdk::Id> ids;
        const std::vector<sdk::Id>* known = nullptr;
        if (prefetched) {
            auto relation = prefetched->find({model, rel.name});
            if (relation != prefetched->end()) {
                auto row = relation->second.find(record.id);
                if (row != relation->second.end())
                    known = &row->second;
            }
        }
        if (known) {
            ids = *known;
        } else if (rel.kind == RelationView::Kind::ToMany) {
            // Only the ids: an organization can have many thousands of results. The names come from
            // the declarations (checked by the schema), never from input.
            auto rows = store.query("SELECT id FROM " + sql::quote(rel.target) + " WHERE " +
                                        sql::quote(rel.column) + " = ? ORDER BY id",
                                    {static_cast<Poco::Int64>(record.id)});
            for (const auto& row : rows.rows)
                ids.push_back(row[0].convert<Poco::Int64>());
        } else {
            ids = store.associated(model, record.id, rel.name);
        }
        if (ids.empty()) {
            out->set(rel.name, Poco::Dynamic::Var());
            continue;
        }
        Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
        for (auto id : ids)
            list->add(render(id));
        out->set(rel.name, list);
    }
    for (const auto& decorate : catalog_.decoratorsOf(model))
        decorate(store, record, *out);
    return out;
}

} // namespace dq::kernel
