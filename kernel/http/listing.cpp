// Pagination links follow vantage6: request path + the query with page=N; a link whose page would
// be 0 or does not exist is left out.
#include "kernel/http/listing.h"

#include "kernel/http/json_text.h"

#include <Poco/NumberParser.h>
#include <Poco/URI.h>
#include <algorithm>
#include <limits>

namespace dq::kernel {

namespace {

constexpr std::size_t kMaxLinkHeader = 8192;

/// What `sort` accepts: the id, every non-secret field and every to-one relation shown in the JSON
/// (by its name, sorting by the related id; also by its `_id` column).
std::vector<std::string> sortableNames(const sdk::ModelDecl& model) {
    std::vector<std::string> names{"id"};
    for (const auto& f : model.fields())
        if (!f.secret)
            names.push_back(f.name);
    for (const auto& r : model.references())
        if (r.style != sdk::RelationStyle::Hidden)
            names.push_back(r.name);
    return names;
}

std::optional<std::string> sortColumn(const sdk::ModelDecl& model, const std::string& name) {
    if (name == "id")
        return name;
    if (const auto* f = model.findField(name))
        return f->secret ? std::nullopt : std::optional<std::string>(name);
    if (const auto* r = model.findReference(name); r && r->style != sdk::RelationStyle::Hidden)
        return r->column();
    return std::nullopt;
}

std::string pageLink(const sdk::Request& request, std::int64_t page) {
    std::string query;
    bool pageSet = false;
    for (const auto& [key, value] : request.queryParams) {
        std::string v = key == "page" ? std::to_string(page) : value;
        pageSet = pageSet || key == "page";
        std::string ek, ev;
        Poco::URI::encode(key, "&=+#?", ek);
        Poco::URI::encode(v, "&=+#?", ev);
        query += (query.empty() ? "" : "&") + ek + "=" + ev;
    }
    if (!pageSet)
        query += std::string(query.empty() ? "" : "&") + "page=" + std::to_string(page);
    return request.fullPath + "?" + query;
}

sdk::Value typedValue(const sdk::ModelDecl& model, const std::string& column, const std::string& param,
                      const std::string& text) {
    sdk::FieldType type = sdk::FieldType::Text;
    if (column == "id" || model.findReference(column))
        type = sdk::FieldType::Integer;
    else if (const auto* f = model.findField(column))
        type = f->type;
    switch (type) {
    case sdk::FieldType::Integer: {
        Poco::Int64 v = 0;
        if (!Poco::NumberParser::tryParse64(text, v))
            throw sdk::BadRequest("Filter '" + param + "' expects an integer, got '" + text + "'",
                                  {{param, "expected an integer"}});
        return v;
    }
    case sdk::FieldType::Boolean: {
        std::string t = text;
        std::transform(t.begin(), t.end(), t.begin(), ::tolower);
        if (t == "1" || t == "true")
            return true;
        if (t == "0" || t == "false")
            return false;
        throw sdk::BadRequest("Filter '" + param + "' expects true, false, 1 or 0, got '" + text + "'",
                              {{param, "expected a boolean"}});
    }
    case sdk::FieldType::Real: {
        double v = 0;
        if (!Poco::NumberParser::tryParseFloat(text, v))
            throw sdk::BadRequest("Filter '" + param + "' expects a number, got '" + text + "'",
                                  {{param, "expected a number"}});
        return v;
    }
    default:
        return text;
    }
}

} // namespace

PageRequest readPage(const sdk::Request& request) {
    const sdk::IntRange positive{1, std::numeric_limits<std::int64_t>::max()};
    PageRequest p;
    if (auto page = request.queryInteger("page", positive)) {
        p.page = *page;
        p.perPage = 10;
    }
    if (auto perPage = request.queryInteger("per_page", positive))
        p.perPage = *perPage;
    return p;
}

std::optional<PageWindow> pageWindow(const PageRequest& page, std::int64_t total) {
    if (!page.perPage)
        return PageWindow{0, total};
    // (page - 1) * per_page may not fit 64 bits: compare by division first. A page past the end is
    // an empty page.
    if (page.page - 1 > total / *page.perPage)
        return std::nullopt;
    std::int64_t offset = (page.page - 1) * *page.perPage;
    if (offset >= total)
        return std::nullopt;
    return PageWindow{offset, std::min(*page.perPage, total - offset)};
}

void applyFilters(const sdk::Request& request, const sdk::ModelDecl& model,
                  const std::vector<sdk::FilterDecl>& filters, sdk::Query& query) {
    for (const auto& filter : filters) {
        auto values = request.queryAll(filter.param);
        if (values.empty())
            continue;
        if (!filter.repeatable)
            values.resize(1);
        const std::string column = filter.column.empty() ? filter.param : filter.column;
        std::vector<sdk::Condition> alternatives;
        for (const auto& text : values) {
            switch (filter.kind) {
            case sdk::FilterDecl::Kind::Equal:
                alternatives.push_back(
                    sdk::Condition::equal(column, typedValue(model, column, filter.param, text)));
                break;
            case sdk::FilterDecl::Kind::Like:
                alternatives.push_back(sdk::Condition::like(column, text));
                break;
            case sdk::FilterDecl::Kind::From:
            case sdk::FilterDecl::Kind::Till: {
                auto stamp = sdk::parseDateTime(text);
                if (!stamp)
                    throw sdk::BadRequest("Filter '" + filter.param +
                                              "' expects an ISO 8601 date or date-time, got '" + text + "'",
                                          {{filter.param, "expected an ISO 8601 date-time"}});
                // A bare date as upper bound means the whole day.
                if (filter.kind == sdk::FilterDecl::Kind::Till && text.size() == 10)
                    stamp = stamp->substr(0, 11) + "23:59:59.999999";
                sdk::Condition c;
                c.op = filter.kind == sdk::FilterDecl::Kind::From ? sdk::Condition::Op::GreaterOrEqual
                                                                  : sdk::Condition::Op::LessOrEqual;
                c.column = column;
                c.value = *stamp;
                alternatives.push_back(c);
                break;
            }
            case sdk::FilterDecl::Kind::Sql: {
                auto placeholders = std::count(filter.sql.begin(), filter.sql.end(), '?');
                std::vector<sdk::Value> params(placeholders, sdk::Value(text));
                Poco::Int64 asInt = 0;
                bool isInteger = Poco::NumberParser::tryParse64(text, asInt);
                // `*_id` parameters are ids: a non-number would make PostgreSQL fail the whole query.
                if (!isInteger && filter.param.size() > 3 &&
                    filter.param.compare(filter.param.size() - 3, 3, "_id") == 0)
                    throw sdk::BadRequest("Filter '" + filter.param + "' expects an integer, got '" + text +
                                              "'",
                                          {{filter.param, "expected an integer"}});
                if (isInteger)
                    params.assign(placeholders, sdk::Value(asInt));
                alternatives.push_back(sdk::Condition::raw("(" + filter.sql + ")", params));
                break;
            }
            }
        }
        if (alternatives.size() == 1) {
            query.add(alternatives.front());
            continue;
        }
        // Repeated parameters are ORed: fold them into one raw condition over IN for equality.
        std::vector<sdk::Value> vs;
        for (const auto& a : alternatives)
            vs.push_back(a.value);
        if (filter.kind == sdk::FilterDecl::Kind::Equal) {
            query.add(sdk::Condition::in(column, vs));
        } else {
            std::string sql;
            std::vector<sdk::Value> params;
            for (const auto& a : alternatives) {
                sql += (sql.empty() ? "" : " OR ") +
                       (a.op == sdk::Condition::Op::Sql ? a.sql : column + " LIKE ?");
                if (a.op == sdk::Condition::Op::Sql)
                    params.insert(params.end(), a.values.begin(), a.values.end());
                else
                    params.push_back(a.value);
            }
            query.add(sdk::Condition::raw("(" + sql + ")", params));
        }
    }
}

void applySort(const sdk::Request& request, const sdk::ModelDecl& model, sdk::Query& query) {
    auto sort = request.query("sort");
    if (!sort)
        return;
    std::vector<std::string> order;
    std::string item;
    std::string text = *sort + ",";
    for (char c : text) {
        if (c != ',') {
            item += c;
            continue;
        }
        if (item.empty())
            continue;
        bool descending = item[0] == '-';
        std::string name = descending ? item.substr(1) : item;
        auto column = sortColumn(model, name);
        if (!column) {
            std::string allowed;
            for (const auto& s : sortableNames(model))
                allowed += (allowed.empty() ? "" : ", ") + s;
            std::string shown = name.size() > 40 ? name.substr(0, 40) + "..." : name;
            throw sdk::BadRequest("Cannot sort " + model.name() + " by '" + shown + "'; sort by one of: " +
                                      allowed + " (prefix '-' for descending)",
                                  {{"sort", "unknown field '" + shown + "'; allowed: " + allowed}});
        }
        order.push_back((descending ? "-" : "") + *column);
        item.clear();
    }
    query.orderBy = order;
}

namespace {

/// The page's links (first, previous, self, next, last) and the response without its body: the
/// total-count header and the Link header, left out beyond 8 KB.
sdk::Response pageHeaders(const sdk::Request& request, const PageRequest& page, std::int64_t total,
                          std::vector<std::pair<std::string, std::string>>& links) {
    std::int64_t perPage = page.perPage.value_or(std::max<std::int64_t>(total, 1));
    // Not (total + perPage - 1) / perPage: per_page may be as large as 2^63 - 1.
    std::int64_t last = total == 0 ? 1 : (total - 1) / perPage + 1;
    std::vector<std::pair<std::string, std::int64_t>> pages{{"first", 1}};
    if (page.page > 1)
        pages.push_back({"previous", page.page - 1});
    pages.push_back({"self", page.page});
    if (page.page < last)
        pages.push_back({"next", page.page + 1});
    pages.push_back({"last", last});

    std::string header;
    for (const auto& [rel, n] : pages) {
        auto url = pageLink(request, n);
        header += (header.empty() ? "" : ",") + ("<" + url + ">; rel=" + rel);
        links.emplace_back(rel, std::move(url));
    }
    sdk::Response response;
    response.headers["total-count"] = std::to_string(total);
    // Each link repeats the query: with a query of kilobytes the header outgrows what HTTP clients
    // read (Poco: 8 KB per header, Python: 64 KB per line). The body's links stay complete.
    if (header.size() <= kMaxLinkHeader)
        response.headers["Link"] = header;
    return response;
}

Poco::JSON::Object::Ptr linkObject(const std::vector<std::pair<std::string, std::string>>& links) {
    Poco::JSON::Object::Ptr object = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto& [rel, url] : links)
        object->set(rel, url);
    return object;
}

} // namespace

sdk::Response pageResponse(const sdk::Request& request, const PageRequest& page, std::int64_t total,
                           Poco::JSON::Array::Ptr items) {
    std::vector<std::pair<std::string, std::string>> links;
    auto response = pageHeaders(request, page, total, links);
    if (request.includes("metadata")) {
        Poco::JSON::Object::Ptr body = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
        body->set("data", items);
        body->set("links", linkObject(links));
        response.body = body;
    } else {
        response.body = items;
    }
    return response;
}

sdk::Response pageResponse(const sdk::Request& request, const PageRequest& page, std::int64_t total,
                           std::string itemsJson) {
    std::vector<std::pair<std::string, std::string>> links;
    auto response = pageHeaders(request, page, total, links);
    sdk::RawJson body;
    if (request.includes("metadata")) {
        body.text.reserve(itemsJson.size() + 512);
        body.text = "{\"data\":";
        body.text += itemsJson;
        body.text += ",\"links\":";
        appendJson(body.text, linkObject(links));
        body.text += '}';
    } else {
        body.text = std::move(itemsJson);
    }
    response.body = std::move(body);
    return response;
}

} // namespace dq::kernel
