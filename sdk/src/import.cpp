// The import file's values and the checks every section shares.
#include "dq/sdk/import.h"

#include <algorithm>

namespace dq::sdk {

const ImportValue* ImportValue::find(const std::string& key) const {
    for (const auto& [k, v] : entries)
        if (k == key)
            return &v;
    return nullptr;
}

std::optional<bool> ImportValue::boolean() const {
    static const std::vector<std::string> yes{"true", "True", "TRUE", "yes", "Yes", "YES",
                                              "on",   "On",   "ON",   "y",   "Y"};
    static const std::vector<std::string> no{"false", "False", "FALSE", "no", "No", "NO",
                                             "off",   "Off",   "OFF",   "n",  "N"};
    if (!isScalar())
        return std::nullopt;
    if (std::find(yes.begin(), yes.end(), text) != yes.end())
        return true;
    if (std::find(no.begin(), no.end(), text) != no.end())
        return false;
    return std::nullopt;
}

std::optional<std::string> ImportCheck::text(const ImportValue& entry, const std::string& key, bool required) {
    const auto* value = entry.find(key);
    if (!value || value->isNull()) {
        if (required)
            problem(entry.path + "." + key, value ? value->line : entry.line, "required");
        return std::nullopt;
    }
    if (!value->isScalar()) {
        problem(*value, "expected text");
        return std::nullopt;
    }
    return value->text;
}

std::optional<bool> ImportCheck::boolean(const ImportValue& entry, const std::string& key) {
    const auto* value = entry.find(key);
    if (!value || value->isNull())
        return std::nullopt;
    auto flag = value->boolean();
    if (!flag)
        problem(*value, "expected true or false, got " +
                            (value->isScalar() ? "\"" + value->text + "\"" : value->isList() ? "a list" : "a mapping"));
    return flag;
}

bool ImportCheck::isList(const ImportValue& value, const std::string& items) {
    if (!value.isNull() && !value.isList())
        problem(value, "expected a list of " + items);
    return value.isList();
}

const ImportValue* ImportCheck::list(const ImportValue& entry, const std::string& key, const std::string& items) {
    const auto* value = entry.find(key);
    if (!value || value->isNull())
        return nullptr;
    if (!value->isList()) {
        problem(*value, "expected a list of " + items);
        return nullptr;
    }
    return value;
}

std::vector<const ImportValue*> ImportCheck::mappings(const ImportValue& list, const std::string& keys) {
    std::vector<const ImportValue*> out;
    for (const auto& item : list.items) {
        if (item.isMap())
            out.push_back(&item);
        else
            problem(item, "expected a mapping with " + keys);
    }
    return out;
}

void ImportCheck::unique(const ImportValue& where, const std::string& value, std::vector<std::string>& seen) {
    if (value.empty())
        return;
    if (std::find(seen.begin(), seen.end(), value) != seen.end())
        problem(where, "'" + value + "' appears twice in the file");
    else
        seen.push_back(value);
}

} // namespace dq::sdk
