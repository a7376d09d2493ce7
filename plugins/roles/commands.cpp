// `vserver role list|show|create` and `vserver rule list`: roles and rules from the shell, no server needed.
#include "roles.h"

#include <Poco/NumberParser.h>
#include <Poco/StringTokenizer.h>
#include <algorithm>
#include <iomanip>
#include <limits>
#include <map>
#include <ostream>
#include <set>
#include <tuple>

namespace dq::plugins::roles {

using sdk::CommandContext;
using sdk::Id;
using sdk::Record;

namespace {

Id parseId(const std::string& text, const std::string& what) {
    Poco::Int64 id = 0;
    if (!Poco::NumberParser::tryParse64(text, id))
        throw std::runtime_error(what + ": expected an integer id, got '" + text + "'");
    return id;
}

std::string organizationLabel(sdk::Store& store, const Record& role) {
    auto org = role.integer("organization_id");
    if (!org)
        return "(global)";
    auto row = store.find("organization", *org);
    return std::to_string(*org) + (row ? " " + row->text("name") : "");
}

int listRoles(CommandContext& ctx) {
    auto& out = ctx.out();
    out << std::left << std::setw(6) << "id" << std::setw(24) << "name" << std::setw(24) << "organization"
        << "description\n";
    for (const auto& role : ctx.store().select("role"))
        out << std::setw(6) << role.id << std::setw(24) << role.text("name") << std::setw(24)
            << organizationLabel(ctx.store(), role) << role.text("description") << "\n";
    return 0;
}

int showRole(CommandContext& ctx) {
    if (ctx.arguments().size() != 1)
        throw std::runtime_error("give exactly one role id, e.g. `vserver role show 3`");
    Id id = parseId(ctx.arguments()[0], "ID");
    auto role = ctx.store().find("role", id);
    if (!role)
        throw std::runtime_error("there is no role with id " + std::to_string(id) +
                                 "; `vserver role list` shows the roles");
    auto& out = ctx.out();
    out << "id:           " << role->id << "\n"
        << "name:         " << role->text("name") << "\n"
        << "description:  " << role->text("description") << "\n"
        << "organization: " << organizationLabel(ctx.store(), *role) << "\n"
        << "rules:\n";
    auto ids = ctx.store().associated("role", id, "rules");
    if (!ids.empty()) {
        sdk::Query q;
        q.add(sdk::Condition::in("id", std::vector<sdk::Value>(ids.begin(), ids.end())));
        for (const auto& rule : ctx.store().select("rule", q))
            out << "  " << rule.id << " " << rule.text("name") << " " << rule.text("scope") << " "
                << rule.text("operation") << "\n";
    }
    return 0;
}

int createRole(CommandContext& ctx) {
    auto name = *ctx.option("role-name");
    if (isDefaultRole(name))
        throw std::runtime_error("'" + name + "' is the name of a default role; choose another name");
    std::vector<Id> ruleIds;
    if (auto rules = ctx.option("rules"); rules && !rules->empty()) {
        auto declared = declaredRuleIds(ctx.store(), ctx.services().declaredRules());
        Poco::StringTokenizer parts(
            *rules, ",", Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
        for (const auto& part : parts) {
            Id id = parseId(part, "--rules");
            if (std::find(declared.begin(), declared.end(), id) == declared.end())
                throw std::runtime_error("--rules: there is no rule with id " + part +
                                         " among the loaded plugins' rules; `vserver rule list` shows them");
            ruleIds.push_back(id);
        }
    }
    Record role;
    role.set("name", name).set("description", ctx.option("description").value_or(""));
    if (auto org = ctx.option("organization-id"); org && !org->empty()) {
        Id orgId = parseId(*org, "--organization-id");
        if (!ctx.store().find("organization", orgId))
            throw std::runtime_error("--organization-id: there is no organization with id " + *org);
        role.set("organization_id", orgId);
    }
    Id id = ctx.store().insert("role", role);
    ctx.store().setAssociated("role", id, "rules", ruleIds);
    ctx.out() << "Created role " << id << " '" << name << "' with " << ruleIds.size() << " rule(s)\n";
    return 0;
}

int listRules(CommandContext& ctx) {
    std::map<std::tuple<std::string, std::string, std::string>, Id> stored;
    for (const auto& row : ctx.store().select("rule"))
        stored.emplace(std::make_tuple(row.text("name"), row.text("scope"), row.text("operation")), row.id);
    auto& out = ctx.out();
    out << std::left << std::setw(6) << "id" << std::setw(16) << "name" << std::setw(16) << "scope"
        << std::setw(10) << "operation"
        << "description\n";
    // By id, as GET /rule lists them; a declared rule not stored yet (it is at the next start) comes last.
    std::vector<std::pair<Id, sdk::RuleDecl>> rows;
    for (const auto& d : ctx.services().declaredRules()) {
        auto it =
            stored.find(std::make_tuple(d.resource, sdk::toString(d.scope), sdk::toString(d.operation)));
        rows.emplace_back(it == stored.end() ? std::numeric_limits<Id>::max() : it->second, d);
    }
    std::stable_sort(rows.begin(), rows.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [id, d] : rows)
        out << std::setw(6) << (id == std::numeric_limits<Id>::max() ? "-" : std::to_string(id))
            << std::setw(16) << d.resource << std::setw(16) << sdk::toString(d.scope) << std::setw(10)
            << sdk::toString(d.operation) << d.description << "\n";
    return 0;
}

} // namespace

void declareCommands(sdk::Registry& registry) {
    registry.command({{"role", "list"}, "List all roles", {}, "", listRoles});
    registry.command({{"role", "show"}, "Show a role and its rules", {}, "ID", showRole});
    registry.command(
        {{"role", "create"},
         "Create a role",
         {{"role-name", "name of the role", false, true, ""},
          {"description", "what the role is for", false, true, ""},
          {"rules", "comma-separated rule ids (see `vserver rule list`), e.g. 1,2", false, false, ""},
          {"organization-id", "organization the role belongs to; default: a global role", false, false, ""}},
         "",
         createRole});
    registry.command({{"rule", "list"}, "List the rules the loaded plugins declare", {}, "", listRules});
}

} // namespace dq::plugins::roles
