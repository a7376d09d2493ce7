// What the document says of a route comes from its declaration first (path, callers, summary), then
// from the plugin's RouteDoc when there is one, then from the model whose resource path the route's
// path is (response schema, filters). Rules a RouteDoc does not name are inferred from the path's
// first segment and the method, and marked as inferred.
#include "kernel/http/openapi.h"

#include <Poco/JSON/Array.h>
#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

namespace dq::kernel {

namespace {

using Object = Poco::JSON::Object::Ptr;
using Array = Poco::JSON::Array::Ptr;

Object object() {
    return new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
}

Object reference(const std::string& where) {
    auto o = object();
    o->set("$ref", where);
    return o;
}

Object schemaRef(const std::string& name) {
    return reference("#/components/schemas/" + name);
}

Object typed(const std::string& type, const std::string& format = "") {
    auto o = object();
    o->set("type", type);
    if (!format.empty())
        o->set("format", format);
    return o;
}

Object idSchema() {
    auto o = typed("integer", "int64");
    o->set("minimum", 1);
    return o;
}

Object arrayOf(const Object& items) {
    auto o = typed("array");
    o->set("items", items);
    return o;
}

/// In OpenAPI 3.0 a `$ref` ignores siblings such as `nullable`: wrap it.
Object nullableRef(const Object& reference) {
    auto o = object();
    Array all = new Poco::JSON::Array;
    all->add(reference);
    o->set("allOf", all);
    o->set("nullable", true);
    return o;
}

Object fieldSchema(sdk::FieldType type) {
    switch (type) {
    case sdk::FieldType::Integer:
        return typed("integer", "int64");
    case sdk::FieldType::Real:
        return typed("number", "double");
    case sdk::FieldType::Boolean:
        return typed("boolean");
    case sdk::FieldType::DateTime:
        return typed("string", "date-time");
    case sdk::FieldType::Text:
        break;
    }
    return typed("string");
}

Object apiFieldSchema(const sdk::ApiField& field) {
    using Type = sdk::ApiField::Type;
    Object o;
    switch (field.type) {
    case Type::Text:
        o = fieldSchema(sdk::FieldType::Text);
        break;
    case Type::Integer:
        o = fieldSchema(sdk::FieldType::Integer);
        break;
    case Type::Real:
        o = fieldSchema(sdk::FieldType::Real);
        break;
    case Type::Boolean:
        o = fieldSchema(sdk::FieldType::Boolean);
        break;
    case Type::DateTime:
        o = fieldSchema(sdk::FieldType::DateTime);
        break;
    case Type::Ids:
        o = arrayOf(idSchema());
        break;
    case Type::List:
        o = arrayOf(object());
        break;
    case Type::Object:
        o = typed("object");
        break;
    case Type::Any:
        o = object();
        break;
    }
    if (!field.description.empty())
        o->set("description", field.description);
    return o;
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

bool isParam(const std::string& segment) {
    return segment.size() > 2 && segment.front() == '<' && segment.back() == '>';
}

std::string paramName(const std::string& segment) {
    return segment.substr(1, segment.size() - 2);
}

/// "/organization/<id>" → "/organization/{id}".
std::string openApiPath(const std::string& pattern) {
    std::string out;
    for (const auto& segment : splitPath(pattern))
        out += "/" + (isParam(segment) ? "{" + paramName(segment) + "}" : segment);
    return out.empty() ? "/" : out;
}

/// "get_organization_by_id" for GET /organization/<id>.
std::string operationId(sdk::Method method, const std::string& pattern) {
    std::string out = lower(sdk::toString(method));
    for (const auto& segment : splitPath(pattern)) {
        std::string part = isParam(segment) ? "by_" + paramName(segment) : segment;
        for (char& c : part)
            if (!std::isalnum(static_cast<unsigned char>(c)))
                c = '_';
        out += "_" + part;
    }
    return out;
}

std::string clientName(sdk::ClientKind kind) {
    return sdk::toString(kind);
}

std::optional<sdk::Operation> operationOf(sdk::Method method) {
    switch (method) {
    case sdk::Method::Get:
        return sdk::Operation::View;
    case sdk::Method::Post:
        return sdk::Operation::Create;
    case sdk::Method::Patch:
    case sdk::Method::Put:
        return sdk::Operation::Edit;
    case sdk::Method::Delete:
        return sdk::Operation::Delete;
    }
    return std::nullopt;
}

/// The model whose resource path `pattern` is: its collection ("/organization") or one of its
/// items ("/organization/<id>").
struct ResourceMatch {
    const sdk::ModelDecl* model = nullptr;
    bool collection = false;
};

ResourceMatch resourceOf(const Catalog& catalog, const std::string& pattern) {
    auto parts = splitPath(pattern);
    for (const auto& declared : catalog.models()) {
        const auto& path = declared.decl.resourcePath();
        if (path.empty())
            continue;
        auto resource = splitPath(path);
        if (parts == resource)
            return {&declared.decl, true};
        if (parts.size() == resource.size() + 1 && isParam(parts.back()) &&
            std::equal(resource.begin(), resource.end(), parts.begin()))
            return {&declared.decl, false};
    }
    return {};
}

class Generator {
public:
    Generator(const Catalog& catalog, const Router& router, const OpenApiInfo& info)
        : catalog_(catalog), router_(router), info_(info) {}

    Object document() {
        auto doc = object();
        doc->set("openapi", "3.0.3");
        auto info = object();
        info->set("title", info_.title);
        info->set("version", info_.version);
        if (!info_.description.empty())
            info->set("description", info_.description);
        doc->set("info", info);
        Array servers = new Poco::JSON::Array;
        auto server = object();
        server->set("url", info_.apiPath);
        servers->add(server);
        doc->set("servers", servers);

        auto paths = object();
        std::set<std::string> tags;
        // Paths in the order the routes were declared; each path's methods under it.
        std::vector<std::string> order;
        std::map<std::string, Object> byPath;
        for (const auto& route : router_.routes()) {
            auto path = openApiPath(route.decl.path);
            if (!byPath.count(path)) {
                order.push_back(path);
                byPath[path] = object();
            }
            byPath[path]->set(lower(sdk::toString(route.decl.method)), operation(route));
            tags.insert(route.plugin);
        }
        for (const auto& path : order)
            paths->set(path, byPath[path]);
        Array tagList = new Poco::JSON::Array;
        for (const auto& tag : tags) {
            auto t = object();
            t->set("name", tag);
            t->set("description", tag == "kernel" ? std::string("the server's own routes")
                                                  : "routes of the plugin '" + tag + "'");
            tagList->add(t);
        }
        doc->set("tags", tagList);
        doc->set("paths", paths);
        doc->set("components", components());
        return doc;
    }

private:
    Object components() {
        auto components = object();
        auto schemas = object();
        auto link = typed("object");
        auto linkProps = object();
        linkProps->set("id", idSchema());
        linkProps->set("link", typed("string"));
        linkProps->set("methods", arrayOf(typed("string")));
        link->set("properties", linkProps);
        link->set("description", "A related resource: its id, its URL and the methods it has");
        schemas->set("Link", link);

        auto error = typed("object");
        auto errorProps = object();
        errorProps->set("msg", typed("string"));
        auto fieldErrors = typed("object");
        fieldErrors->set("additionalProperties", typed("string"));
        fieldErrors->set("description", "what is wrong with each field, by field name");
        errorProps->set("errors", fieldErrors);
        error->set("properties", errorProps);
        Array errorRequired = new Poco::JSON::Array;
        errorRequired->add("msg");
        error->set("required", errorRequired);
        schemas->set("Error", error);

        for (const auto& declared : catalog_.models())
            schemas->set(declared.decl.name(), modelSchema(declared.decl));
        components->set("schemas", schemas);

        auto responses = object();
        auto errorResponse = [&](const std::string& text) {
            auto r = object();
            r->set("description", text);
            r->set("content", jsonContent(schemaRef("Error")));
            return r;
        };
        responses->set("BadRequest", errorResponse("Invalid input: the message says what and where"));
        responses->set("Unauthorized", errorResponse("No token, or an expired or revoked one"));
        responses->set("Forbidden", errorResponse("The caller lacks the rule this needs"));
        responses->set("NotFound", errorResponse("No such resource"));
        responses->set("InvalidToken", errorResponse("A malformed token, or the wrong kind of token"));
        responses->set("Unavailable",
                       errorResponse("The database is busy or down; retry after the seconds in Retry-After"));
        components->set("responses", responses);

        auto schemes = object();
        auto bearer = typed("http");
        bearer->set("scheme", "bearer");
        bearer->set("bearerFormat", "JWT");
        bearer->set("description", "The access token of a user (POST /token/user), a node (POST /token/node) "
                                   "or an algorithm container (POST /token/container)");
        schemes->set("bearerAuth", bearer);
        components->set("securitySchemes", schemes);
        return components;
    }

    Object modelSchema(const sdk::ModelDecl& model) const {
        auto schema = typed("object");
        if (!model.descriptionText().empty())
            schema->set("description", model.descriptionText());
        auto props = object();
        props->set("id", idSchema());
        for (const auto& field : model.fields()) {
            if (field.secret)
                continue;
            auto s = fieldSchema(field.type);
            if (field.nullable)
                s->set("nullable", true);
            if (field.maxLength > 0)
                s->set("maxLength", static_cast<Poco::UInt64>(field.maxLength));
            if (!field.description.empty())
                s->set("description", field.description);
            props->set(field.name, s);
        }
        for (const auto& rel : catalog_.relationsOf(model.name())) {
            if (rel.style == sdk::RelationStyle::Hidden)
                continue;
            const auto* target = catalog_.model(rel.target);
            bool linked = rel.style == sdk::RelationStyle::Link && target && !target->resourcePath().empty();
            if (rel.kind == RelationView::Kind::ToOne) {
                if (linked) {
                    props->set(rel.name, nullableRef(schemaRef("Link")));
                } else {
                    auto id = idSchema();
                    id->set("nullable", true);
                    props->set(rel.name, id);
                }
            } else {
                auto list = arrayOf(linked ? schemaRef("Link") : idSchema());
                list->set("nullable", true);
                list->set("description", "null when there are none");
                props->set(rel.name, list);
            }
        }
        schema->set("properties", props);
        return schema;
    }

    static Object jsonContent(const Object& schema) {
        auto content = object();
        auto media = object();
        media->set("schema", schema);
        content->set("application/json", media);
        return content;
    }

    static Object parameter(const std::string& name, const std::string& in, bool required,
                            const Object& schema, const std::string& description = "") {
        auto p = object();
        p->set("name", name);
        p->set("in", in);
        if (required)
            p->set("required", true);
        if (!description.empty())
            p->set("description", description);
        p->set("schema", schema);
        return p;
    }

    /// A filter's value type: that of the model field it compares, ids for `<x>_id` columns.
    static Object filterSchema(const sdk::ModelDecl& model, const sdk::FilterDecl& filter) {
        using Kind = sdk::FilterDecl::Kind;
        if (filter.kind == Kind::From || filter.kind == Kind::Till)
            return typed("string", "date-time");
        if (filter.kind != Kind::Equal)
            return typed("string");
        const auto& column = filter.column.empty() ? filter.param : filter.column;
        if (const auto* field = model.findField(column))
            return fieldSchema(field->type);
        if (model.findReference(column) || column == "id" ||
            (column.size() > 3 && column.compare(column.size() - 3, 3, "_id") == 0))
            return idSchema();
        return typed("string");
    }

    static std::string filterDescription(const sdk::FilterDecl& filter) {
        using Kind = sdk::FilterDecl::Kind;
        switch (filter.kind) {
        case Kind::Like:
            return "matches with SQL LIKE: % stands for any text, _ for one character";
        case Kind::From:
            return "on or after this date-time";
        case Kind::Till:
            return "on or before this date-time";
        case Kind::Equal:
        case Kind::Sql:
            break;
        }
        return "";
    }

    Array listParameters(const sdk::ModelDecl& model) const {
        Array params = new Poco::JSON::Array;
        for (const auto& filter : catalog_.filtersOf(model.name())) {
            auto schema = filterSchema(model, filter);
            auto description = filterDescription(filter);
            if (filter.repeatable) {
                schema = arrayOf(schema);
                description +=
                    std::string(description.empty() ? "" : "; ") + "repeat it for any of several values";
            }
            params->add(parameter(filter.param, "query", false, schema, description));
        }
        auto positive = typed("integer", "int64");
        positive->set("minimum", 1);
        params->add(parameter("page", "query", false, positive, "the page to show, from 1 (with per_page)"));
        params->add(parameter("per_page", "query", false, positive,
                              "items per page; without it every item is on one page"));
        params->add(parameter("sort", "query", false, typed("string"),
                              "fields to sort by, comma-separated; a leading - sorts descending"));
        params->add(parameter("include", "query", false, arrayOf(typed("string")),
                              "`metadata`: wrap the list as {data, links} with the pagination links"));
        return params;
    }

    struct Rules {
        std::vector<sdk::RuleKey> keys;
        bool inferred = false;
    };

    /// The loaded rule `key`, or nullptr.
    const sdk::RuleDecl* findRule(const sdk::RuleKey& key) const {
        for (const auto& rule : catalog_.rules())
            if (rule.decl.resource == key.resource && rule.decl.scope == key.scope &&
                rule.decl.operation == key.operation)
                return &rule.decl;
        return nullptr;
    }

    /// The rules a plugin named (those loaded), or else, for a resource path users may call
    /// ("/organization", "/organization/<id>"), the rules of that resource for the method. Deeper
    /// paths ("/collaboration/<id>/node") follow no common pattern: nothing is guessed for them.
    Rules rulesOf(const Route& route, const sdk::RouteDoc* doc) const {
        Rules rules;
        if (route.decl.allowed.empty() || (doc && doc->noRule))
            return rules;
        if (doc && !doc->rules.empty()) {
            for (const auto& key : doc->rules)
                if (findRule(key))
                    rules.keys.push_back(key);
            return rules;
        }
        const auto& allowed = route.decl.allowed;
        auto parts = splitPath(route.decl.path);
        auto operation = operationOf(route.decl.method);
        bool resourcePath = parts.size() == 1 || (parts.size() == 2 && isParam(parts[1]));
        if (!resourcePath || !operation ||
            std::find(allowed.begin(), allowed.end(), sdk::ClientKind::User) == allowed.end())
            return rules;
        for (const auto& rule : catalog_.rules())
            if (rule.decl.resource == parts.front() && rule.decl.operation == *operation)
                rules.keys.push_back({rule.decl.resource, rule.decl.scope, rule.decl.operation});
        rules.inferred = !rules.keys.empty();
        return rules;
    }

    Object operation(const Route& route) {
        const auto& decl = route.decl;
        const auto* doc = catalog_.routeDoc(decl.method, decl.path);
        auto resource = resourceOf(catalog_, decl.path);
        const sdk::ModelDecl* model = resource.model;
        bool list = decl.method == sdk::Method::Get && resource.collection;
        if (doc && !doc->model.empty()) {
            model = catalog_.model(doc->model);
            list = doc->list;
        } else if (doc && doc->list) {
            list = true;
        }

        auto op = object();
        Array tags = new Poco::JSON::Array;
        tags->add(route.plugin);
        op->set("tags", tags);
        if (!decl.summary.empty())
            op->set("summary", decl.summary);
        auto id = operationId(decl.method, decl.path);
        while (!operationIds_.insert(id).second)
            id += "_";
        op->set("operationId", id);

        bool secured = !decl.allowed.empty() || decl.refreshToken;
        auto rules = rulesOf(route, doc);
        std::string text = doc ? doc->description : "";
        auto paragraph = [&](const std::string& p) { text += (text.empty() ? "" : "\n\n") + p; };
        Array clients = new Poco::JSON::Array;
        if (decl.refreshToken) {
            paragraph("**Token:** a refresh token (an access token gets 422).");
        } else if (secured) {
            std::string who;
            for (auto kind : decl.allowed) {
                who += (who.empty() ? "" : ", ") + clientName(kind) + "s";
                clients->add(clientName(kind));
            }
            paragraph("**Callers:** " + who + ", with an access token.");
        } else {
            paragraph("**Callers:** anyone; no token needed.");
        }
        Array ruleList = new Poco::JSON::Array;
        bool forUsers =
            std::find(decl.allowed.begin(), decl.allowed.end(), sdk::ClientKind::User) != decl.allowed.end();
        if (rules.keys.empty() && forUsers && !(doc && doc->noRule))
            paragraph("**Rules:** checked by the route; its plugin does not describe them.");
        if (!rules.keys.empty()) {
            std::string names;
            for (const auto& key : rules.keys) {
                auto name =
                    key.resource + " " + sdk::toString(key.scope) + " " + sdk::toString(key.operation);
                const auto* rule = findRule(key);
                auto description = rule ? rule->description : std::string();
                names += "\n- `" + name + "`" + (description.empty() ? "" : ": " + description);
                auto r = object();
                r->set("resource", key.resource);
                r->set("scope", sdk::toString(key.scope));
                r->set("operation", sdk::toString(key.operation));
                ruleList->add(r);
            }
            paragraph(std::string("**Rules** (a user needs one of them") +
                      (rules.inferred ? "; inferred from the resource and the method, the scope held decides "
                                        "what the caller sees or may change"
                                      : "") +
                      "):" + names);
        }
        op->set("description", text);
        op->set("x-plugin", route.plugin);
        op->set("x-clients", clients);
        op->set("x-rules", ruleList);
        if (ruleList->size() > 0)
            op->set("x-rules-inferred", rules.inferred);

        Array params = new Poco::JSON::Array;
        bool hasPathParams = false;
        for (const auto& segment : splitPath(decl.path)) {
            if (!isParam(segment))
                continue;
            hasPathParams = true;
            auto name = paramName(segment);
            bool isId = name == "id" || (name.size() > 3 && name.compare(name.size() - 3, 3, "_id") == 0);
            params->add(parameter(name, "path", true, isId ? idSchema() : typed("string")));
        }
        std::set<std::string> queryNames;
        if (list && model) {
            auto listParams = listParameters(*model);
            for (const auto& p : *listParams) {
                params->add(p);
                queryNames.insert(p.extract<Object>()->getValue<std::string>("name"));
            }
        }
        if (doc)
            for (const auto& field : doc->query)
                if (queryNames.insert(field.name).second)
                    params->add(parameter(field.name, "query", field.required, apiFieldSchema(field),
                                          field.description));
        if (params->size() > 0)
            op->set("parameters", params);

        bool takesBody = decl.method == sdk::Method::Post || decl.method == sdk::Method::Patch ||
                         decl.method == sdk::Method::Put;
        if (doc && !doc->body.empty()) {
            auto schema = typed("object");
            auto props = object();
            Array required = new Poco::JSON::Array;
            for (const auto& field : doc->body) {
                props->set(field.name, apiFieldSchema(field));
                if (field.required)
                    required->add(field.name);
            }
            schema->set("properties", props);
            if (required->size() > 0)
                schema->set("required", required);
            auto body = object();
            body->set("required", required->size() > 0);
            body->set("content", jsonContent(schema));
            op->set("requestBody", body);
        } else if (takesBody) {
            auto body = object();
            body->set("description", "a JSON object");
            body->set("content", jsonContent(typed("object")));
            op->set("requestBody", body);
        }

        auto responses = object();
        int status = doc && doc->status
                         ? doc->status
                         : (decl.method == sdk::Method::Post && resource.collection ? 201 : 200);
        auto success = object();
        success->set("description", list    ? "the list"
                                    : model ? "the " + model->name()
                                            : std::string("success"));
        Object schema;
        if (model && list) {
            auto wrapped = typed("object");
            auto props = object();
            props->set("data", arrayOf(schemaRef(model->name())));
            props->set("links", typed("object"));
            wrapped->set("properties", props);
            auto oneOf = object();
            Array choices = new Poco::JSON::Array;
            choices->add(arrayOf(schemaRef(model->name())));
            choices->add(wrapped);
            oneOf->set("oneOf", choices);
            schema = oneOf;
        } else if (model) {
            schema = schemaRef(model->name());
        } else {
            schema = object();
        }
        success->set("content", jsonContent(schema));
        responses->set(std::to_string(status), success);
        if (takesBody || list || (doc && !doc->query.empty()))
            responses->set("400", reference("#/components/responses/BadRequest"));
        if (secured) {
            responses->set("401", reference("#/components/responses/Unauthorized"));
            responses->set("422", reference("#/components/responses/InvalidToken"));
        }
        if (!rules.keys.empty())
            responses->set("403", reference("#/components/responses/Forbidden"));
        if (hasPathParams)
            responses->set("404", reference("#/components/responses/NotFound"));
        responses->set("503", reference("#/components/responses/Unavailable"));
        op->set("responses", responses);

        Array security = new Poco::JSON::Array;
        if (secured) {
            auto bearer = object();
            bearer->set("bearerAuth", Array(new Poco::JSON::Array));
            security->add(bearer);
        }
        op->set("security", security);
        return op;
    }

    const Catalog& catalog_;
    const Router& router_;
    const OpenApiInfo& info_;
    std::set<std::string> operationIds_;
};

} // namespace

Poco::JSON::Object::Ptr openApiDocument(const Catalog& catalog, const Router& router,
                                        const OpenApiInfo& info) {
    return Generator(catalog, router, info).document();
}

} // namespace dq::kernel
