// Request accessors, message responses, JSON body validation and ISO 8601 date-times.
#include "dq/sdk/http.h"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Parser.h>
#include <Poco/NumberParser.h>
#include <Poco/Timestamp.h>
#include <algorithm>
#include <regex>

namespace dq::sdk {

std::string toString(Method m) {
    switch (m) {
    case Method::Get:
        return "GET";
    case Method::Post:
        return "POST";
    case Method::Put:
        return "PUT";
    case Method::Patch:
        return "PATCH";
    case Method::Delete:
        return "DELETE";
    }
    return "";
}

// ---- Integers from the outside ----

std::string IntRange::describe() const {
    return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

std::optional<std::int64_t> parseInteger(const std::string& text, IntRange range) {
    // Digits only (and one leading minus): NumberParser would also take "+5", " 5" and "0x5".
    std::size_t start = !text.empty() && text[0] == '-' ? 1 : 0;
    if (text.size() == start || text.size() - start > 19)
        return std::nullopt;
    for (std::size_t i = start; i < text.size(); ++i)
        if (text[i] < '0' || text[i] > '9')
            return std::nullopt;
    Poco::Int64 value = 0;
    if (!Poco::NumberParser::tryParse64(text, value) || value < range.min || value > range.max)
        return std::nullopt;
    return value;
}

std::optional<std::int64_t> integerValue(const Poco::Dynamic::Var& value, IntRange range) {
    if (value.isEmpty() || value.isBoolean() || !value.isInteger())
        return std::nullopt;
    Poco::Int64 n = 0;
    try {
        // The JSON parser keeps 2^63 .. 2^64-1 as unsigned; converting them throws a RangeException.
        n = value.convert<Poco::Int64>();
    } catch (const Poco::Exception&) {
        return std::nullopt;
    }
    if (n < range.min || n > range.max)
        return std::nullopt;
    return n;
}

Id Request::idParam(const std::string& name) const {
    auto it = pathParams.find(name);
    auto value = it == pathParams.end() ? std::nullopt : parseInteger(it->second, kIdRange);
    if (!value)
        throw NotFound("No resource with id '" + (it == pathParams.end() ? std::string() : it->second) + "'");
    return *value;
}

std::optional<std::int64_t> Request::queryInteger(const std::string& name, IntRange range) const {
    auto text = query(name);
    if (!text)
        return std::nullopt;
    auto value = parseInteger(*text, range);
    if (!value)
        throw BadRequest("Query parameter '" + name + "' must be " + range.describe() + ", got '" +
                             (text->size() > 40 ? text->substr(0, 40) + "..." : *text) + "'",
                         {{name, "expected " + range.describe()}});
    return value;
}

std::optional<Id> Request::queryId(const std::string& name) const {
    return queryInteger(name, kIdRange);
}

std::vector<Id> Request::queryIds(const std::string& name) const {
    std::vector<Id> out;
    for (const auto& text : queryAll(name)) {
        auto value = parseInteger(text, kIdRange);
        if (!value)
            throw BadRequest("Query parameter '" + name + "' must be an id (" + kIdRange.describe() +
                                 "), got '" + (text.size() > 40 ? text.substr(0, 40) + "..." : text) + "'",
                             {{name, "expected " + kIdRange.describe()}});
        out.push_back(*value);
    }
    return out;
}

std::optional<std::string> Request::query(const std::string& name) const {
    auto it = queryParams.find(name);
    if (it == queryParams.end())
        return std::nullopt;
    return it->second;
}

std::vector<std::string> Request::queryAll(const std::string& name) const {
    std::vector<std::string> out;
    auto [begin, end] = queryParams.equal_range(name);
    for (auto it = begin; it != end; ++it)
        out.push_back(it->second);
    return out;
}

bool Request::includes(const std::string& what) const {
    for (const auto& value : queryAll("include"))
        if (value == what)
            return true;
    return false;
}

std::optional<std::string> Request::header(const std::string& lowerCaseName) const {
    auto it = headers.find(lowerCaseName);
    if (it == headers.end())
        return std::nullopt;
    return it->second;
}

Response Response::message(const std::string& text, int status) {
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
    body->set("msg", text);
    return json(body, status);
}

// ---- JsonBody ----

JsonBody::JsonBody(const Request& request) {
    if (!request.body.empty() && !request.contentType.empty() &&
        request.contentType.find("json") == std::string::npos)
        throw HttpError(415, "Unsupported media type '" + request.contentType +
                                 "': send the body as JSON with Content-Type: application/json");
    if (request.body.empty())
        throw BadRequest("Missing JSON in request: send a JSON object with Content-Type: application/json");
    try {
        Poco::JSON::Parser parser;
        auto parsed = parser.parse(request.body);
        if (parsed.type() != typeid(Poco::JSON::Object::Ptr))
            throw BadRequest(
                "Request body must be a JSON object, not " +
                std::string(parsed.type() == typeid(Poco::JSON::Array::Ptr) ? "an array" : "a value"));
        object_ = parsed.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& e) {
        throw BadRequest("Request body is not valid JSON: " + e.message());
    }
}

JsonBody::JsonBody(Poco::JSON::Object::Ptr object) : object_(std::move(object)) {
    if (!object_)
        object_ = new Poco::JSON::Object;
}

bool JsonBody::has(const std::string& field) const {
    return object_->has(field);
}

bool JsonBody::given(const std::string& field) const {
    return object_->has(field) && !object_->isNull(field);
}

bool JsonBody::missing(const std::string& field, Need need) {
    seen_.insert(field);
    if (given(field))
        return false;
    if (need == Need::Required)
        errors_[field] = "required";
    return true;
}

std::optional<std::string> JsonBody::text(const std::string& field, Need need) {
    if (missing(field, need))
        return std::nullopt;
    auto v = object_->get(field);
    if (!v.isString()) {
        errors_[field] = "expected a string";
        return std::nullopt;
    }
    return v.extract<std::string>();
}

std::optional<std::int64_t> JsonBody::integer(const std::string& field, Need need, IntRange range) {
    if (missing(field, need))
        return std::nullopt;
    auto v = object_->get(field);
    auto parsed = v.isString() ? parseInteger(v.extract<std::string>(), range) : integerValue(v, range);
    if (!parsed)
        errors_[field] = "expected " + range.describe();
    return parsed;
}

std::optional<Id> JsonBody::id(const std::string& field, Need need) {
    return integer(field, need, kIdRange);
}

std::optional<bool> JsonBody::boolean(const std::string& field, Need need) {
    if (missing(field, need))
        return std::nullopt;
    auto v = object_->get(field);
    if (v.isBoolean())
        return v.extract<bool>();
    // vantage6 clients send 0/1 for flags such as `encrypted`.
    if (auto n = integerValue(v, {0, 1}))
        return *n == 1;
    errors_[field] = "expected true or false";
    return std::nullopt;
}

std::optional<std::vector<Id>> JsonBody::ids(const std::string& field, Need need) {
    if (missing(field, need))
        return std::nullopt;
    auto v = object_->get(field);
    if (v.type() != typeid(Poco::JSON::Array::Ptr)) {
        errors_[field] = "expected a list of integer ids, each " + kIdRange.describe();
        return std::nullopt;
    }
    std::vector<Id> out;
    for (const auto& item : *v.extract<Poco::JSON::Array::Ptr>()) {
        auto id = integerValue(item, kIdRange);
        if (!id) {
            errors_[field] = "expected a list of integer ids, each " + kIdRange.describe();
            return std::nullopt;
        }
        out.push_back(*id);
    }
    return out;
}

std::optional<std::string> JsonBody::dateTime(const std::string& field, Need need) {
    auto raw = text(field, need);
    if (!raw)
        return std::nullopt;
    auto parsed = parseDateTime(*raw);
    if (!parsed)
        errors_[field] = "expected an ISO 8601 date-time such as 2023-01-01T10:00:00.000000";
    return parsed;
}

std::optional<Poco::Dynamic::Var> JsonBody::value(const std::string& field, Need need) {
    if (missing(field, need))
        return std::nullopt;
    return object_->get(field);
}

void JsonBody::ignore(const std::string& field) {
    seen_.insert(field);
}

void JsonBody::fail(const std::string& field, const std::string& reason) {
    errors_[field] = reason;
}

void JsonBody::done() {
    for (const auto& name : object_->getNames())
        if (!seen_.count(name))
            errors_[name] = "unknown field";
    if (errors_.empty())
        return;
    std::string summary;
    for (const auto& [field, reason] : errors_)
        summary += (summary.empty() ? "" : "; ") + field + ": " + reason;
    throw BadRequest("Invalid request body: " + summary, errors_);
}

// ---- Date-times ----

std::optional<std::string> parseDateTime(const std::string& text) {
    static const std::regex iso(
        R"(^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$)");
    std::smatch m;
    // The longest form has 35 characters; libstdc++'s regex recurses per character on long input.
    if (text.size() > 40 || !std::regex_match(text, m, iso))
        return std::nullopt;
    auto num = [&](int i) { return m[i].matched ? std::stoi(m[i].str()) : 0; };
    int year = num(1), month = num(2), day = num(3), hour = num(4), minute = num(5), second = num(6);
    if (!Poco::DateTime::isValid(year, month, day, hour, minute, second))
        return std::nullopt;
    std::string fraction = m[7].matched ? m[7].str() : "";
    fraction = (fraction + "000000").substr(0, 6);
    Poco::DateTime dt(year, month, day, hour, minute, second);
    if (m[8].matched && m[8].str() != "Z") {
        std::string tz = m[8].str();
        int sign = tz[0] == '-' ? -1 : 1;
        tz.erase(std::remove(tz.begin(), tz.end(), ':'), tz.end());
        int offsetMinutes = std::stoi(tz.substr(1, 2)) * 60 + std::stoi(tz.substr(3, 2));
        dt -= Poco::Timespan(0, 0, sign * offsetMinutes, 0, 0);
    }
    return Poco::DateTimeFormatter::format(dt, "%Y-%m-%d %H:%M:%S.") + fraction;
}

std::string storedDateTime(const Poco::Timestamp& time) {
    return Poco::DateTimeFormatter::format(time, "%Y-%m-%d %H:%M:%S.%F");
}

std::string nowUtc() {
    return storedDateTime(Poco::Timestamp());
}

std::string renderDateTime(const std::string& stored) {
    // The one place that decides how a date-time looks in JSON; every writer calls it. Hand-parsed:
    // lists render thousands of these.
    auto digits = [&](std::size_t from, std::size_t n) {
        if (from + n > stored.size())
            return false;
        for (std::size_t i = from; i < from + n; ++i)
            if (stored[i] < '0' || stored[i] > '9')
                return false;
        return true;
    };
    // "YYYY-MM-DD?HH:MM:SS": 19 characters.
    if (!(digits(0, 4) && stored[4] == '-' && digits(5, 2) && stored[7] == '-' && digits(8, 2) &&
          (stored[10] == 'T' || stored[10] == ' ') && digits(11, 2) && stored[13] == ':' && digits(14, 2) &&
          stored[16] == ':' && digits(17, 2)))
        return stored;
    std::size_t pos = 19;
    std::string fraction;
    if (pos < stored.size() && stored[pos] == '.') {
        std::size_t begin = ++pos;
        while (pos < stored.size() && stored[pos] >= '0' && stored[pos] <= '9')
            ++pos;
        if (pos == begin || pos - begin > 9)
            return stored;
        fraction = (stored.substr(begin, pos - begin) + "00000").substr(0, 6);
    }
    const std::string zone = stored.substr(pos);
    if (!(zone.empty() || zone == "Z" || zone == "+00:00" || zone == "+0000" || zone == "-00:00"))
        return stored;
    std::string out = stored.substr(0, 10) + "T" + stored.substr(11, 8);
    if (!fraction.empty() && fraction != "000000")
        out += "." + fraction;
    return out + "+00:00";
}

} // namespace dq::sdk
