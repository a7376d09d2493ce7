// Serialization rules of vantage6 (marshmallow-sqlalchemy 0.15): no *_id columns, relations as
// links or ids, to-many lists null when empty. Two renderings of one shape: Poco::JSON objects for
// handlers that add to them, and text written straight from the rows for lists.
#include "kernel/http/serializer.h"

#include "kernel/http/json_text.h"

#include "kernel/db/sql.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/JSONString.h>
#include <dq/sdk/http.h>
#include <cstring>
#include <ostream>
#include <streambuf>

namespace dq::kernel {

namespace {

/// `"key":`
std::string keyText(const std::string& key) {
    std::string out;
    appendString(out, key);
    out += ':';
    return out;
}

/// Rows per IN (...) list: far below SQLite's limit on bound parameters.
constexpr std::size_t kPrefetchChunk = 500;

/// One to-many relation of a page: `SELECT <owner>, <other> FROM <table> WHERE <owner> IN (ids)`,
/// into owner -> others (ordered by other). The names come from the declarations (checked by the
/// schema), never from input.
struct IdLink {
    std::string table, owner, other;
    std::map<sdk::Id, std::vector<sdk::Id>>* into;
};

/// Every relation of a page in one statement per chunk of ids (UNION ALL): one round trip to the
/// database instead of one per relation.
void loadIds(sdk::Store& store, const std::vector<IdLink>& links, const std::vector<sdk::Id>& ids) {
    if (links.empty())
        return;
    for (const auto& link : links)
        for (auto id : ids)
            (*link.into)[id];
    for (std::size_t start = 0; start < ids.size(); start += kPrefetchChunk) {
        auto end = std::min(ids.size(), start + kPrefetchChunk);
        std::string marks;
        std::vector<sdk::Value> chunk;
        for (auto i = start; i < end; ++i) {
            marks += marks.empty() ? "?" : ", ?";
            chunk.emplace_back(static_cast<Poco::Int64>(ids[i]));
        }
        std::string text;
        std::vector<sdk::Value> params;
        for (std::size_t i = 0; i < links.size(); ++i) {
            const auto& link = links[i];
            text += i ? " UNION ALL SELECT " : "SELECT ";
            text += std::to_string(i) + ", " + sql::quote(link.owner) + ", " + sql::quote(link.other) + " FROM " +
                    sql::quote(link.table) + " WHERE " + sql::quote(link.owner) + " IN (" + marks + ")";
            params.insert(params.end(), chunk.begin(), chunk.end());
        }
        text += " ORDER BY 1, 3";
        auto rows = store.query(text, params);
        for (const auto& row : rows.rows) {
            const auto& link = links.at(static_cast<std::size_t>(row[0].convert<Poco::Int64>()));
            (*link.into)[row[1].convert<Poco::Int64>()].push_back(row[2].convert<Poco::Int64>());
        }
    }
}

/// A stored date-time as the API shows it; the one place the serializer formats one.
std::string dateTimeText(const sdk::Value& value) {
    return sdk::renderDateTime(value.convert<std::string>());
}

} // namespace


struct Serializer::Shape {
    struct Field {
        const sdk::Field* field;
        std::string key; ///< `"name":`
    };
    struct Relation {
        RelationView view;
        std::string key;
        /// Rendered as {"id", "link", "methods"}; otherwise as the raw id.
        bool link = false;
        std::string linkPrefix;     ///< "/api/task/"
        std::string linkPrefixJson; ///< `"/api/task/` as a JSON string without its closing quote
        std::vector<std::string> methods;
        std::string methodsJson; ///< `["GET","DELETE"]`
    };
    const sdk::ModelDecl* decl = nullptr;
    std::vector<Field> fields;
    std::vector<Relation> relations;
    std::vector<sdk::Decorator> decorators;
    std::vector<sdk::PageDecorator> pageDecorators;
};

Serializer::Serializer(const Catalog& catalog, const Router& router, std::string apiPath)
    : catalog_(catalog), router_(router), apiPath_(std::move(apiPath)) {}

Serializer::~Serializer() = default;

const Serializer::Shape& Serializer::shape(const std::string& model) const {
    std::lock_guard<std::mutex> lock(shapesLock_);
    if (auto it = shapes_.find(model); it != shapes_.end())
        return *it->second;
    const auto* decl = catalog_.model(model);
    if (!decl)
        throw std::invalid_argument("no model '" + model + "' is declared");
    auto s = std::make_unique<Shape>();
    s->decl = decl;
    for (const auto& field : decl->fields())
        if (!field.secret)
            s->fields.push_back({&field, keyText(field.name)});
    for (const auto& rel : catalog_.relationsOf(model)) {
        if (rel.style == sdk::RelationStyle::Hidden)
            continue;
        Shape::Relation r;
        r.view = rel;
        r.key = keyText(rel.name);
        const auto* target = catalog_.model(rel.target);
        r.link = rel.style != sdk::RelationStyle::Id && target && !target->resourcePath().empty();
        if (r.link) {
            r.linkPrefix = apiPath_ + target->resourcePath() + "/";
            appendString(r.linkPrefixJson, r.linkPrefix);
            r.linkPrefixJson.pop_back();
            r.methods = router_.methodsFor(target->resourcePath() + "/<id>");
            Poco::JSON::Array::Ptr methods = new Poco::JSON::Array;
            for (const auto& m : r.methods)
                methods->add(m);
            appendJson(r.methodsJson, methods);
        }
        s->relations.push_back(std::move(r));
    }
    s->decorators = catalog_.decoratorsOf(model);
    s->pageDecorators = catalog_.pageDecoratorsOf(model);
    return *shapes_.emplace(model, std::move(s)).first->second;
}

Poco::Dynamic::Var Serializer::fieldValue(const sdk::Field& field, const sdk::Value& value) {
    if (value.isEmpty())
        return Poco::Dynamic::Var();
    switch (field.type) {
    case sdk::FieldType::Boolean:
        if (value.isString())
            return value.extract<std::string>() == "1" || value.extract<std::string>() == "true";
        return value.convert<Poco::Int64>() != 0;
    case sdk::FieldType::DateTime:
        return dateTimeText(value);
    case sdk::FieldType::Integer:
        return value.convert<Poco::Int64>();
    case sdk::FieldType::Real:
        return value.convert<double>();
    case sdk::FieldType::Text:
        return value.convert<std::string>();
    }
    return value;
}

Serializer::Prefetched Serializer::prefetch(sdk::Store& store, const std::string& model,
                                            const std::vector<sdk::Record>& records) const {
    Prefetched prefetched;
    if (records.empty())
        return prefetched;
    const auto& s = shape(model);
    std::vector<sdk::Id> ids;
    ids.reserve(records.size());
    for (const auto& record : records)
        ids.push_back(record.id);
    std::vector<IdLink> links;
    for (const auto& r : s.relations) {
        const auto& rel = r.view;
        if (rel.kind == RelationView::Kind::ToOne)
            continue;
        auto* into = &prefetched.relations[{model, rel.name}];
        if (rel.kind == RelationView::Kind::ToMany)
            links.push_back({rel.target, rel.column, "id", into});
        else
            links.push_back({rel.table, rel.ownColumn, rel.otherColumn, into});
    }
    loadIds(store, links, ids);
    if (!s.pageDecorators.empty()) {
        std::vector<Poco::JSON::Object::Ptr> owned;
        std::vector<Poco::JSON::Object*> jsons;
        for (std::size_t i = 0; i < records.size(); ++i) {
            owned.push_back(new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER));
            jsons.push_back(owned.back().get());
        }
        for (const auto& decorate : s.pageDecorators)
            decorate(store, records, jsons);
        for (std::size_t i = 0; i < records.size(); ++i)
            prefetched.decorations[{model, records[i].id}] = owned[i];
    }
    return prefetched;
}

Poco::JSON::Object::Ptr Serializer::decorations(sdk::Store& store, const Shape& s, const sdk::Record& record,
                                                const Prefetched* prefetched) const {
    if (s.pageDecorators.empty())
        return nullptr;
    if (prefetched) {
        auto it = prefetched->decorations.find({s.decl->name(), record.id});
        if (it != prefetched->decorations.end())
            return it->second;
    }
    // A row outside a prefetched page: a page of one.
    Poco::JSON::Object::Ptr json = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    std::vector<sdk::Record> rows{record};
    std::vector<Poco::JSON::Object*> jsons{json.get()};
    for (const auto& decorate : s.pageDecorators)
        decorate(store, rows, jsons);
    return json;
}

const std::vector<sdk::Id>& Serializer::relatedIds(sdk::Store& store, const std::string& model,
                                                   const RelationView& rel, const sdk::Record& record,
                                                   const Prefetched* prefetched,
                                                   std::vector<sdk::Id>& loaded) const {
    if (prefetched) {
        auto relation = prefetched->relations.find({model, rel.name});
        if (relation != prefetched->relations.end()) {
            auto row = relation->second.find(record.id);
            if (row != relation->second.end())
                return row->second;
        }
    }
    auto& ids = loaded;
    ids.clear();
    if (rel.kind == RelationView::Kind::ToMany) {
        // Only the ids: an organization can have many thousands of results. The names come from
        // the declarations (checked by the schema), never from input.
        auto rows = store.query("SELECT id FROM " + sql::quote(rel.target) + " WHERE " + sql::quote(rel.column) +
                                    " = ? ORDER BY id",
                                {static_cast<Poco::Int64>(record.id)});
        for (const auto& row : rows.rows)
            ids.push_back(row[0].convert<Poco::Int64>());
        return ids;
    }
    ids = store.associated(model, record.id, rel.name);
    return ids;
}

Poco::JSON::Object::Ptr Serializer::toJson(sdk::Store& store, const std::string& model,
                                           const sdk::Record& record, const Prefetched* prefetched) const {
    const auto& s = shape(model);
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("id", static_cast<Poco::Int64>(record.id));
    for (const auto& f : s.fields)
        out->set(f.field->name, fieldValue(*f.field, record.get(f.field->name)));
    for (const auto& r : s.relations) {
        const auto& rel = r.view;
        auto render = [&](sdk::Id id) -> Poco::Dynamic::Var {
            if (!r.link)
                return static_cast<Poco::Int64>(id);
            Poco::JSON::Object::Ptr link = new Poco::JSON::Object;
            link->set("id", static_cast<Poco::Int64>(id));
            link->set("link", r.linkPrefix + std::to_string(id));
            Poco::JSON::Array::Ptr methods = new Poco::JSON::Array;
            for (const auto& m : r.methods)
                methods->add(m);
            link->set("methods", methods);
            return link;
        };
        if (rel.kind == RelationView::Kind::ToOne) {
            auto id = record.integer(rel.column);
            out->set(rel.name, id ? render(*id) : Poco::Dynamic::Var());
            continue;
        }
        std::vector<sdk::Id> loaded;
        const auto& ids = relatedIds(store, model, rel, record, prefetched, loaded);
        if (ids.empty()) {
            out->set(rel.name, Poco::Dynamic::Var());
            continue;
        }
        Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
        for (auto id : ids)
            list->add(render(id));
        out->set(rel.name, list);
    }
    for (const auto& decorate : s.decorators)
        decorate(store, record, *out);
    if (auto added = decorations(store, s, record, prefetched))
        for (const auto& key : added->getNames())
            out->set(key, added->get(key));
    return out;
}

void Serializer::write(std::string& out, sdk::Store& store, const std::string& model, const sdk::Record& record,
                       const Prefetched* prefetched, const Poco::JSON::Object* extra) const {
    const auto& s = shape(model);
    if (!s.decorators.empty()) {
        // A decorator may change anything in the object it is handed: render it as objects.
        auto json = toJson(store, model, record, prefetched);
        if (extra)
            for (const auto& key : extra->getNames())
                json->set(key, extra->get(key));
        appendJson(out, json);
        return;
    }
    auto added = decorations(store, s, record, prefetched);
    // The value of `key` from `extra`, else from the decorations, written in place.
    auto replaced = [&](const std::string& key) {
        if (extra && extra->has(key))
            appendJson(out, extra->get(key));
        else if (added && added->has(key))
            appendJson(out, added->get(key));
        else
            return false;
        return true;
    };
    auto declared = [&](const std::string& key) {
        if (key == "id")
            return true;
        for (const auto& f : s.fields)
            if (f.field->name == key)
                return true;
        for (const auto& r : s.relations)
            if (r.view.name == key)
                return true;
        return false;
    };
    out += "{\"id\":";
    if (!replaced("id"))
        out += std::to_string(record.id);
    for (const auto& f : s.fields) {
        out += ',';
        out += f.key;
        if (replaced(f.field->name))
            continue;
        const auto& value = record.get(f.field->name);
        if (value.isEmpty()) {
            out += "null";
            continue;
        }
        switch (f.field->type) {
        case sdk::FieldType::Text:
            if (value.type() == typeid(std::string))
                appendString(out, value.extract<std::string>());
            else
                appendString(out, value.convert<std::string>());
            break;
        case sdk::FieldType::DateTime:
            appendString(out, dateTimeText(value));
            break;
        case sdk::FieldType::Integer:
            out += std::to_string(value.convert<Poco::Int64>());
            break;
        case sdk::FieldType::Boolean:
        case sdk::FieldType::Real:
            appendJson(out, fieldValue(*f.field, value));
            break;
        }
    }
    auto writeId = [&](const Shape::Relation& r, sdk::Id id) {
        if (!r.link) {
            out += std::to_string(id);
            return;
        }
        out += "{\"id\":";
        out += std::to_string(id);
        out += ",\"link\":";
        out += r.linkPrefixJson;
        out += std::to_string(id);
        out += "\",\"methods\":";
        out += r.methodsJson;
        out += '}';
    };
    for (const auto& r : s.relations) {
        const auto& rel = r.view;
        out += ',';
        out += r.key;
        if (replaced(rel.name))
            continue;
        if (rel.kind == RelationView::Kind::ToOne) {
            auto id = record.integer(rel.column);
            if (id)
                writeId(r, *id);
            else
                out += "null";
            continue;
        }
        std::vector<sdk::Id> loaded;
        const auto& ids = relatedIds(store, model, rel, record, prefetched, loaded);
        if (ids.empty()) {
            out += "null";
            continue;
        }
        out += '[';
        for (std::size_t i = 0; i < ids.size(); ++i) {
            if (i)
                out += ',';
            writeId(r, ids[i]);
        }
        out += ']';
    }
    // Keys of their own: the decorations', then extra's, each once, in the order they were set.
    auto follow = [&](const std::string& key) {
        out += ',';
        appendString(out, key);
        out += ':';
        replaced(key);
    };
    if (added)
        for (const auto& key : added->getNames())
            if (!declared(key))
                follow(key);
    if (extra)
        for (const auto& key : extra->getNames())
            if (!declared(key) && !(added && added->has(key)))
                follow(key);
    out += '}';
}

} // namespace dq::kernel
