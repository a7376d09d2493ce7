// The task, result and algorithmport tables, and the filters of their lists.
#include "tasks.h"

namespace dq::plugins::tasks {

using sdk::FieldType;
using sdk::FilterDecl;
using sdk::OnDelete;
using sdk::RelationStyle;

namespace {

sdk::Field field(const std::string& name, FieldType type = FieldType::Text, std::size_t maxLength = 0) {
    sdk::Field f;
    f.name = name;
    f.type = type;
    f.maxLength = maxLength;
    return f;
}

sdk::Field text(const std::string& name, std::size_t maxLength) {
    return field(name, FieldType::Text, maxLength);
}

sdk::Reference reference(const std::string& name, const std::string& target, const std::string& backref,
                         OnDelete onDelete = OnDelete::SetNull) {
    sdk::Reference r;
    r.name = name;
    r.target = target;
    r.backref = backref;
    r.onDelete = onDelete;
    return r;
}

sdk::Reference idReference(const std::string& name, const std::string& target, const std::string& backref,
                           RelationStyle backrefStyle, OnDelete onDelete = OnDelete::SetNull) {
    auto r = reference(name, target, backref, onDelete);
    r.style = RelationStyle::Id;
    r.backrefStyle = backrefStyle;
    return r;
}

} // namespace

sdk::ModelDecl taskModel() {
    sdk::ModelDecl m("task");
    m.resource("/task").description("An algorithm run requested from the nodes of a collaboration.");
    m.field(text("name", 255)).field(text("description", 16384)).field(text("image", 512));
    m.field(field("run_id", FieldType::Integer)).field(text("database", 255));
    m.field(field("created_at", FieldType::DateTime));
    // Tasks outlive their collaboration, parent, initiator and user (vantage6 nulls the keys).
    m.reference(reference("collaboration", "collaboration", "tasks"));
    m.reference(reference("parent", "task", "children"));
    // Organization JSON never shows created_tasks in vantage6 (its Method field raises).
    m.reference(idReference("initiator", "organization", "created_tasks", RelationStyle::Hidden));
    m.reference(idReference("init_user", "user", "created_tasks", RelationStyle::Id));
    return m;
}

sdk::ModelDecl resultModel() {
    sdk::ModelDecl m("result");
    m.resource("/result").description(
        "The part of a task one organization's node runs: its input and output.");
    // Input, result and log are the algorithm's own data, bounded only by max_body_size.
    m.field(field("input")).field(field("result")).field(field("log")).field(text("status", 64));
    for (const char* at : {"assigned_at", "started_at", "finished_at"})
        m.field(field(at, FieldType::DateTime));
    // A result without its task is meaningless and would break every view of it.
    m.reference(reference("task", "task", "results", OnDelete::Cascade));
    m.reference(reference("organization", "organization", "results"));
    return m;
}

sdk::ModelDecl portModel() {
    sdk::ModelDecl m("algorithmport");
    m.resource("/port").description("A port an algorithm container exposes on its node's VPN address.");
    m.field(field("port", FieldType::Integer)).field(text("label", 255));
    m.reference(idReference("result", "result", "ports", RelationStyle::Id, OnDelete::Cascade));
    return m;
}

namespace {

// The status vantage6 derives from a task's results, as SQL over task `t`, so that `?status=`
// filters (and paginates) in the database. Mirrors deriveState() in views.cpp.
const char* kStatusSql =
    "id IN (SELECT t.id FROM task t WHERE (CASE"
    " WHEN NOT EXISTS (SELECT 1 FROM result r WHERE r.task_id = t.id AND r.status IS NOT NULL) THEN 'unknown'"
    " WHEN EXISTS (SELECT 1 FROM result r WHERE r.task_id = t.id AND (r.status IS NULL OR r.status NOT IN"
    " ('pending', 'initializing', 'active', 'completed'))) THEN 'failed'"
    " WHEN EXISTS (SELECT 1 FROM result r WHERE r.task_id = t.id AND r.status = 'active') THEN 'active'"
    " WHEN EXISTS (SELECT 1 FROM result r WHERE r.task_id = t.id AND r.status = 'initializing') THEN "
    "'initializing'"
    " WHEN EXISTS (SELECT 1 FROM result r WHERE r.task_id = t.id AND r.status = 'pending') THEN 'pending'"
    " ELSE 'completed' END) = ?)";

FilterDecl filter(const std::string& param, FilterDecl::Kind kind, const std::string& column = "",
                  const std::string& sql = "") {
    FilterDecl f;
    f.param = param;
    f.kind = kind;
    f.column = column;
    f.sql = sql;
    return f;
}
FilterDecl equal(const std::string& param) {
    return filter(param, FilterDecl::Kind::Equal);
}
FilterDecl like(const std::string& param) {
    return filter(param, FilterDecl::Kind::Like);
}
FilterDecl sql(const std::string& param, const std::string& fragment) {
    return filter(param, FilterDecl::Kind::Sql, "", fragment);
}
FilterDecl range(const std::string& param, FilterDecl::Kind kind, const std::string& column) {
    return filter(param, kind, column);
}

} // namespace

// Integer ids in sub-selects are compared as text: the value arrives as the raw query string, and a
// non-number must match nothing instead of failing the cast in PostgreSQL.
void declareFilters(sdk::Registry& registry) {
    for (const char* p : {"initiator_id", "init_user_id", "collaboration_id", "parent_id", "run_id"})
        registry.filter("task", equal(p));
    for (const char* p : {"name", "image", "description", "database"})
        registry.filter("task", like(p));
    registry.filter("task", sql("result_id", "id IN (SELECT task_id FROM result WHERE id = ?)"));
    registry.filter("task", sql("status", kStatusSql));

    registry.filter("result", equal("task_id"));
    registry.filter("result", equal("organization_id"));
    // vantage6 3.11.1 compares every *_from with assigned_at; each filter here compares its own field.
    for (const char* field : {"assigned", "started", "finished"}) {
        std::string f = field;
        registry.filter("result", range(f + "_from", FilterDecl::Kind::From, f + "_at"));
        registry.filter("result", range(f + "_till", FilterDecl::Kind::Till, f + "_at"));
    }
    registry.filter("result", sql("state", "(finished_at IS NULL OR ? <> 'open')"));
    registry.filter("result",
                    // Two indexed lookups (organization, then the tasks of the node's collaboration),
                    // so a node's poll does not scan every result.
                    sql("node_id", "organization_id IN (SELECT organization_id FROM node WHERE id = ?)"
                                   " AND task_id IN (SELECT t.id FROM task t JOIN node n"
                                   " ON n.collaboration_id = t.collaboration_id WHERE n.id = ?)"));

    registry.filter("algorithmport", equal("result_id"));
    registry.filter("algorithmport",
                    sql("task_id", "result_id IN (SELECT id FROM result WHERE task_id = ?)"));
    registry.filter("algorithmport", sql("run_id", "result_id IN (SELECT r.id FROM result r JOIN task t"
                                                   " ON t.id = r.task_id WHERE t.run_id = ?)"));
}

Id nextRunId(sdk::Store& store) {
    auto rows = store.query("SELECT MAX(run_id) FROM task");
    if (rows.rows.empty() || rows.rows.front().empty() || rows.rows.front().front().isEmpty())
        return 1;
    return rows.rows.front().front().convert<Id>() + 1;
}

} // namespace dq::plugins::tasks
