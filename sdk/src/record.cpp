// Record accessors: typed reads of the normalized column values.
#include "dq/sdk/store.h"

namespace dq::sdk {

namespace {
const Value kNull;
}

bool Record::isNull(const std::string& column) const {
    auto it = values.find(column);
    return it == values.end() || it->second.isEmpty();
}

const Value& Record::get(const std::string& column) const {
    auto it = values.find(column);
    return it == values.end() ? kNull : it->second;
}

std::string Record::text(const std::string& column, const std::string& fallback) const {
    return isNull(column) ? fallback : get(column).convert<std::string>();
}

std::optional<Id> Record::integer(const std::string& column) const {
    if (isNull(column))
        return std::nullopt;
    return get(column).convert<Id>();
}

bool Record::boolean(const std::string& column, bool fallback) const {
    if (isNull(column))
        return fallback;
    const Value& v = get(column);
    if (v.isString())
        return v.extract<std::string>() == "1" || v.extract<std::string>() == "true";
    return v.convert<Poco::Int64>() != 0;
}

} // namespace dq::sdk
