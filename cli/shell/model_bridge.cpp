// `_dq_shell`: the declarations of the loaded models and their rows, for the Python model layer.
// Every function runs in its own transaction, so a failed save leaves the database as it was.
#include "cli/shell/model_bridge.h"

#include "kernel/app/kernel.h"

#include <Poco/Exception.h>
#include <dq/sdk/http.h>

// Cast failures name the Python and C++ types instead of a bare "unable to cast".
#define PYBIND11_DETAILED_ERROR_MESSAGES
#include <algorithm>
#include <pybind11/embed.h>
#include <pybind11/stl.h>

namespace py = pybind11;

namespace dq::cli::shell {

namespace {

kernel::Kernel* current = nullptr;
/// The column of a model whose value is in its tokens (claim cv): raising it refuses older tokens.
constexpr const char* kCredentialVersion = "credential_version";
// Owned by the interpreter for its whole life; never released, so nothing touches it after finalize.
PyObject* errorType = nullptr;

kernel::Kernel& kernelOrThrow() {
    if (!current)
        throw std::runtime_error("the shell's database is closed");
    return *current;
}

const sdk::ModelDecl& modelOrThrow(const std::string& name) {
    const auto* model = kernelOrThrow().catalog().model(name);
    if (!model)
        throw sdk::NotFound("no model '" + name + "' is declared by the loaded plugins");
    return *model;
}

const char* typeName(sdk::FieldType type) {
    switch (type) {
    case sdk::FieldType::Integer:
        return "Integer";
    case sdk::FieldType::Real:
        return "Real";
    case sdk::FieldType::Text:
        return "Text";
    case sdk::FieldType::Boolean:
        return "Boolean";
    case sdk::FieldType::DateTime:
        return "DateTime";
    }
    return "Text";
}

py::object toPython(const sdk::Value& value) {
    if (value.isEmpty())
        return py::none();
    if (value.isBoolean())
        return py::bool_(value.extract<bool>());
    if (value.isInteger())
        return py::int_(value.convert<Poco::Int64>());
    if (value.isNumeric())
        return py::float_(value.convert<double>());
    return py::str(value.convert<std::string>());
}

sdk::Value fromPython(const py::handle& value, const std::string& what) {
    if (value.is_none())
        return {};
    if (py::isinstance<py::bool_>(value))
        return value.cast<bool>();
    if (py::isinstance<py::int_>(value))
        return static_cast<Poco::Int64>(value.cast<long long>());
    if (py::isinstance<py::float_>(value))
        return value.cast<double>();
    if (py::isinstance<py::str>(value))
        return value.cast<std::string>();
    throw sdk::BadRequest(what + ": cannot store a " +
                          std::string(py::str(value.get_type().attr("__name__"))) +
                          " (expected None, bool, int, float or str)");
}

py::dict rowToPython(const sdk::Record& record) {
    py::dict row;
    row["id"] = py::int_(record.id);
    for (const auto& [column, value] : record.values)
        row[py::str(column)] = toPython(value);
    return row;
}

/// Column values from Python, checked against the declaration: known columns only, date-times in
/// storage form.
sdk::Record recordFromPython(const sdk::ModelDecl& model, const py::dict& values) {
    sdk::Record record;
    for (const auto& [key, value] : values) {
        auto column = key.cast<std::string>();
        const auto* field = model.findField(column);
        const auto* reference = model.findReference(column);
        if (!field && !(reference && reference->column() == column))
            throw sdk::BadRequest(model.name() + " has no column '" + column + "'");
        auto stored = fromPython(value, model.name() + "." + column);
        if (field && field->type == sdk::FieldType::DateTime && !stored.isEmpty()) {
            auto text = stored.convert<std::string>();
            auto parsed = sdk::parseDateTime(text);
            if (!parsed)
                throw sdk::BadRequest(model.name() + "." + column + ": '" + text +
                                          "' is no date-time; give a datetime or ISO 8601 text such as "
                                          "2024-01-31T12:00:00",
                                      {{column, "not a date-time"}});
            stored = *parsed;
        }
        record.set(column, stored);
    }
    return record;
}

std::vector<sdk::Id> sorted(std::vector<sdk::Id> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
}

py::list describeModels() {
    auto& catalog = kernelOrThrow().catalog();
    py::list models;
    for (const auto& declared : catalog.models()) {
        const auto& m = declared.decl;
        py::dict model;
        model["name"] = m.name();
        model["plugin"] = declared.plugin;
        model["description"] = m.descriptionText();
        py::list fields;
        for (const auto& f : m.fields()) {
            py::dict field;
            field["name"] = f.name;
            field["type"] = typeName(f.type);
            field["nullable"] = f.nullable;
            field["unique"] = f.unique;
            field["secret"] = f.secret;
            field["writer"] = static_cast<bool>(f.writer);
            field["default"] = toPython(f.defaultValue);
            field["description"] = f.description;
            fields.append(field);
        }
        model["fields"] = fields;
        py::list relations;
        for (const auto& r : catalog.relationsOf(m.name())) {
            py::dict relation;
            relation["kind"] = r.kind == kernel::RelationView::Kind::ToOne    ? "to_one"
                               : r.kind == kernel::RelationView::Kind::ToMany ? "to_many"
                                                                              : "many_to_many";
            relation["name"] = r.name;
            relation["target"] = r.target;
            relation["column"] = r.column;
            relations.append(relation);
        }
        model["relations"] = relations;
        models.append(model);
    }
    return models;
}

py::object find(const std::string& model, sdk::Id id) {
    modelOrThrow(model);
    std::optional<sdk::Record> row;
    kernelOrThrow().database().transaction([&](sdk::Store& store) { row = store.find(model, id); },
                                           kernel::Database::Access::Read);
    if (!row)
        return py::none();
    return rowToPython(*row);
}

/// Rows where every (column, value) pair matches; a None value matches NULL.
py::list selectRows(const std::string& model, const std::vector<std::pair<std::string, py::object>>& where) {
    const auto& decl = modelOrThrow(model);
    sdk::Query query;
    for (const auto& [column, value] : where) {
        if (column != "id" && !decl.findField(column) && !decl.findReference(column))
            throw sdk::BadRequest(model + " has no column '" + column + "'");
        auto v = fromPython(value, model + "." + column);
        query.add(v.isEmpty() ? sdk::Condition::isNull(column) : sdk::Condition::equal(column, v));
    }
    std::vector<sdk::Record> rows;
    kernelOrThrow().database().transaction([&](sdk::Store& store) { rows = store.select(model, query); },
                                           kernel::Database::Access::Read);
    py::list out;
    for (const auto& r : rows)
        out.append(rowToPython(r));
    return out;
}

/// The columns the field's writer sets for `clearText` (a hash and, for api keys, a lookup index).
py::dict writeSecret(const std::string& model, const std::string& field, const std::string& clearText) {
    const auto* f = modelOrThrow(model).findField(field);
    if (!f || !f->writer)
        throw sdk::BadRequest("the " + model + " model declares no writer for '" + field +
                              "'; refusing to store it in clear text (update the plugin that declares " +
                              model + ")");
    sdk::Record record;
    f->writer(record, clearText);
    py::dict out;
    for (const auto& [column, value] : record.values)
        out[py::str(column)] = toPython(value);
    return out;
}

/// Inserts (id None) or updates, then makes each named association hold exactly the given ids;
/// all in one transaction. Returns the id.
sdk::Id save(const std::string& model, std::optional<sdk::Id> id, const py::dict& values,
             const std::map<std::string, std::vector<sdk::Id>>& associations) {
    const auto& decl = modelOrThrow(model);
    auto record = recordFromPython(decl, values);
    sdk::Id saved = id.value_or(0);
    auto relations = kernelOrThrow().catalog().relationsOf(model);
    kernelOrThrow().database().transaction([&](sdk::Store& store) {
        // SQLite does not enforce foreign keys: refuse rows that point at nothing, as the API does.
        for (const auto& r : relations) {
            if (r.kind != kernel::RelationView::Kind::ToOne || !record.has(r.column) ||
                record.isNull(r.column))
                continue;
            auto target = record.get(r.column).convert<Poco::Int64>();
            if (!store.find(r.target, target))
                throw sdk::NotFound(r.target + " " + std::to_string(target) + " (" + model + "." + r.name +
                                        ") does not exist; nothing was saved",
                                    {{r.column, "does not exist"}});
        }
        if (!id) {
            saved = store.insert(model, record);
        } else {
            auto existing = store.find(model, *id);
            if (!existing)
                throw sdk::NotFound(model + " " + std::to_string(*id) +
                                    " no longer exists (deleted since it was read); nothing was saved");
            // A credential replaced here (a field its writer set: password, api key) ends the
            // sessions of the old one, as the API does: the tokens carry the credential version.
            bool newCredential = std::any_of(decl.fields().begin(), decl.fields().end(), [&](const auto& f) {
                return f.writer && record.has(f.name);
            });
            if (newCredential && decl.findField(kCredentialVersion) && !record.has(kCredentialVersion))
                record.set(kCredentialVersion,
                           static_cast<Poco::Int64>(existing->integer(kCredentialVersion).value_or(0) + 1));
            if (!record.values.empty())
                store.update(model, *id, record);
        }
        for (const auto& [name, wanted] : associations) {
            auto relation = std::find_if(relations.begin(), relations.end(), [&](const auto& r) {
                return r.kind == kernel::RelationView::Kind::ManyToMany && r.name == name;
            });
            if (relation == relations.end())
                throw sdk::BadRequest(model + " has no many-to-many relation '" + name + "'");
            for (auto other : wanted)
                if (!store.find(relation->target, other))
                    throw sdk::NotFound(relation->target + " " + std::to_string(other) + " (in " + model +
                                        "." + name + ") does not exist; nothing was saved");
            if (sorted(store.associated(model, saved, name)) != sorted(wanted))
                store.setAssociated(model, saved, name, wanted);
        }
    });
    return saved;
}

void removeRow(const std::string& model, sdk::Id id) {
    modelOrThrow(model);
    kernelOrThrow().database().transaction([&](sdk::Store& store) {
        if (!store.find(model, id))
            throw sdk::NotFound(model + " " + std::to_string(id) + " does not exist");
        store.remove(model, id);
    });
}

std::vector<sdk::Id> associated(const std::string& model, sdk::Id id, const std::string& name) {
    modelOrThrow(model);
    std::vector<sdk::Id> ids;
    kernelOrThrow().database().transaction(
        [&](sdk::Store& store) { ids = store.associated(model, id, name); }, kernel::Database::Access::Read);
    return ids;
}

/// A read-only SQL query (`?` placeholders), rows as lists.
py::list query(const std::string& sql, const py::list& params) {
    std::vector<sdk::Value> values;
    for (const auto& p : params)
        values.push_back(fromPython(p, "query parameter"));
    sdk::Rows rows;
    kernelOrThrow().database().transaction([&](sdk::Store& store) { rows = store.query(sql, values); },
                                           kernel::Database::Access::Read);
    py::list out;
    for (const auto& row : rows.rows) {
        py::list r;
        for (const auto& v : row)
            r.append(toPython(v));
        out.append(r);
    }
    return out;
}

} // namespace

void attachKernel(kernel::Kernel* kernel) {
    current = kernel;
}

} // namespace dq::cli::shell

PYBIND11_EMBEDDED_MODULE(_dq_shell, m) {
    using namespace dq::cli::shell;
    m.doc() = "The dataquality-server shell's access to the database (used by the db classes).";
    if (!errorType)
        errorType = PyErr_NewException("db.Error", PyExc_Exception, nullptr);
    m.add_object("Error", py::handle(errorType).inc_ref());
    // Store and database failures become db.Error with the message the API would give.
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p)
                std::rethrow_exception(p);
        } catch (const py::error_already_set&) {
            throw;
        } catch (const py::builtin_exception&) {
            throw;
        } catch (const dq::sdk::HttpError& e) {
            PyErr_SetString(errorType, e.what());
        } catch (const Poco::Exception& e) {
            PyErr_SetString(errorType, e.displayText().c_str());
        } catch (const std::exception& e) {
            PyErr_SetString(errorType, e.what());
        }
    });
    m.def("models", &describeModels);
    m.def("find", &find);
    m.def("select", &selectRows);
    m.def("write_secret", &writeSecret);
    m.def("save", &save);
    m.def("remove", &removeRow);
    m.def("associated", &associated);
    m.def("query", &query, py::arg("sql"), py::arg("params") = py::list());
}
