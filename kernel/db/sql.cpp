// SQL text helpers and value conversion between the SDK and Poco::Data drivers.
#include "kernel/db/sql.h"

#include <Poco/Data/Binding.h>
#include <Poco/Data/LOB.h>
#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Statement.h>
#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace dq::kernel::sql {

namespace {

/// Walks `text` calling `onPlaceholder(out)` for each `?` outside literals/comments and copying
/// everything else to `out`.
template <typename F> std::string scan(const std::string& text, F onPlaceholder) {
    std::string out;
    out.reserve(text.size() + 8);
    std::size_t i = 0;
    const std::size_t n = text.size();
    auto copyUntil = [&](std::size_t end) {
        out.append(text, i, end - i);
        i = end;
    };
    while (i < n) {
        char c = text[i];
        if (c == '\'' || c == '"') {
            // Quoted literal or identifier; a doubled quote is an escaped quote and keeps us inside.
            std::size_t j = i + 1;
            while (j < n) {
                if (text[j] == c) {
                    if (j + 1 < n && text[j + 1] == c) {
                        j += 2;
                        continue;
                    }
                    break;
                }
                ++j;
            }
            copyUntil(std::min(j + 1, n));
        } else if (c == '-' && i + 1 < n && text[i + 1] == '-') {
            auto end = text.find('\n', i);
            copyUntil(end == std::string::npos ? n : end);
        } else if (c == '/' && i + 1 < n && text[i + 1] == '*') {
            auto end = text.find("*/", i + 2);
            copyUntil(end == std::string::npos ? n : end + 2);
        } else if (c == '$' && i + 1 < n &&
                   (text[i + 1] == '$' || std::isalpha(static_cast<unsigned char>(text[i + 1])) ||
                    text[i + 1] == '_')) {
            // PostgreSQL dollar quoting: $tag$ ... $tag$.
            auto close = text.find('$', i + 1);
            bool tag = close != std::string::npos;
            for (std::size_t k = i + 1; tag && k < close; ++k)
                tag = std::isalnum(static_cast<unsigned char>(text[k])) || text[k] == '_';
            if (!tag) {
                copyUntil(i + 1);
                continue;
            }
            std::string delimiter = text.substr(i, close - i + 1);
            auto end = text.find(delimiter, close + 1);
            copyUntil(end == std::string::npos ? n : end + delimiter.size());
        } else if (c == '?') {
            onPlaceholder(out);
            ++i;
        } else {
            out += c;
            ++i;
        }
    }
    return out;
}

void bindParam(Poco::Data::Statement& statement, const sdk::Value& value) {
    using namespace Poco::Data::Keywords;
    if (value.isEmpty()) {
        statement, use(Poco::Data::Keywords::null);
        return;
    }
    const auto& type = value.type();
    if (type == typeid(bool))
        statement, bind(static_cast<Poco::Int64>(value.extract<bool>() ? 1 : 0));
    else if (value.isInteger())
        statement, bind(value.convert<Poco::Int64>());
    else if (value.isNumeric())
        statement, bind(value.convert<double>());
    else if (type == typeid(Poco::Data::CLOB))
        statement, bind(fromDriver(value).extract<std::string>());
    else
        statement, bind(value.convert<std::string>());
}

Poco::Data::Statement prepare(Poco::Data::Session& session, Dialect dialect, const std::string& text,
                              const std::vector<sdk::Value>& params) {
    checkPlaceholders(text, params);
    Poco::Data::Statement statement(session);
    statement << placeholders(text, dialect);
    for (const auto& p : params)
        bindParam(statement, p);
    return statement;
}

} // namespace

std::string dialectName(Dialect dialect) {
    return dialect == Dialect::Sqlite ? "sqlite" : "postgresql";
}

bool isIdentifier(const std::string& name) {
    if (name.empty() || name.size() > 63)
        return false;
    if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z')))
        return false;
    for (char c : name)
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return false;
    return true;
}

std::string quote(const std::string& name) {
    if (!isIdentifier(name))
        throw std::invalid_argument(
            "'" + name +
            "' is not a valid table or column name: use lower-case letters, digits and "
            "'_', starting with a letter or '_', at most 63 characters");
    return "\"" + name + "\"";
}

std::size_t countPlaceholders(const std::string& text) {
    std::size_t count = 0;
    scan(text, [&](std::string&) { ++count; });
    return count;
}

std::string placeholders(const std::string& text, Dialect dialect) {
    if (dialect == Dialect::Sqlite)
        return text;
    std::size_t n = 0;
    return scan(text, [&](std::string& out) { out += "$" + std::to_string(++n); });
}

sdk::Value fromDriver(const Poco::Dynamic::Var& value) {
    if (value.isEmpty())
        return {};
    const auto& type = value.type();
    if (type == typeid(Poco::Data::CLOB)) {
        const auto& lob = value.extract<Poco::Data::CLOB>();
        return lob.size() == 0 ? std::string() : std::string(lob.rawContent(), lob.size());
    }
    if (type == typeid(Poco::Data::BLOB)) {
        const auto& lob = value.extract<Poco::Data::BLOB>();
        return lob.size() == 0 ? std::string()
                               : std::string(reinterpret_cast<const char*>(lob.rawContent()), lob.size());
    }
    if (type == typeid(bool) || type == typeid(std::string))
        return value;
    if (value.isInteger())
        return value.convert<Poco::Int64>();
    if (value.isNumeric())
        return value.convert<double>();
    return value.convert<std::string>();
}

sdk::Value normalize(const sdk::Value& raw, sdk::FieldType type) {
    sdk::Value value = fromDriver(raw);
    if (value.isEmpty())
        return value;
    switch (type) {
    case sdk::FieldType::Integer:
        return value.convert<Poco::Int64>();
    case sdk::FieldType::Real:
        return value.convert<double>();
    case sdk::FieldType::Boolean:
        if (value.isString()) {
            const auto& s = value.extract<std::string>();
            return s == "1" || s == "true" || s == "t";
        }
        return value.convert<Poco::Int64>() != 0;
    case sdk::FieldType::Text:
    case sdk::FieldType::DateTime:
        return value.convert<std::string>();
    }
    return value;
}

sdk::Value normalize(sdk::Value&& value, sdk::FieldType type) {
    if (value.isEmpty())
        return {};
    const auto& held = value.type();
    switch (type) {
    case sdk::FieldType::Integer:
        if (held == typeid(Poco::Int64))
            return std::move(value);
        break;
    case sdk::FieldType::Real:
        if (held == typeid(double))
            return std::move(value);
        break;
    case sdk::FieldType::Boolean:
        if (held == typeid(bool))
            return std::move(value);
        if (held == typeid(Poco::Int64))
            return value.extract<Poco::Int64>() != 0;
        break;
    case sdk::FieldType::Text:
    case sdk::FieldType::DateTime:
        if (held == typeid(std::string))
            return std::move(value);
        break;
    }
    return normalize(static_cast<const sdk::Value&>(value), type);
}

void checkPlaceholders(const std::string& text, const std::vector<sdk::Value>& params) {
    auto expected = countPlaceholders(text);
    if (expected != params.size())
        throw std::invalid_argument("the SQL statement has " + std::to_string(expected) +
                                    " '?' placeholder(s) but " + std::to_string(params.size()) +
                                    " parameter(s) were given: " + text);
}

sdk::Rows rowsOf(Poco::Data::Statement& statement) {
    sdk::Rows rows;
    Poco::Data::RecordSet set(statement);
    const std::size_t columns = set.columnCount();
    for (std::size_t c = 0; c < columns; ++c)
        rows.columns.push_back(set.columnName(c));
    const std::size_t count = set.rowCount();
    rows.rows.reserve(count);
    for (std::size_t r = 0; r < count; ++r) {
        std::vector<sdk::Value> row;
        row.reserve(columns);
        for (std::size_t c = 0; c < columns; ++c)
            row.push_back(set.isNull(c, r) ? sdk::Value() : fromDriver(set.value(c, r)));
        rows.rows.push_back(std::move(row));
    }
    return rows;
}

sdk::Rows query(Poco::Data::Session& session, Dialect dialect, const std::string& text,
                const std::vector<sdk::Value>& params) {
    auto statement = prepare(session, dialect, text, params);
    statement.execute();
    return rowsOf(statement);
}

std::size_t execute(Poco::Data::Session& session, Dialect dialect, const std::string& text,
                    const std::vector<sdk::Value>& params) {
    auto statement = prepare(session, dialect, text, params);
    return statement.execute();
}

} // namespace dq::kernel::sql
