// The role and rule tables, and the rules of the "role" resource (vantage6 §5, rules 38-45).
#include "roles.h"

namespace dq::plugins::roles {

using sdk::Field;
using sdk::FieldType;
using sdk::Operation;
using sdk::Scope;

void declareModels(sdk::Registry& registry) {
    registry.model(
        sdk::ModelDecl("rule")
            .resource("/rule")
            .description("A permission: resource (name) x scope x operation")
            .field(Field{"name", FieldType::Text, false, false, false, {}, "the resource, e.g. user"})
            .field(Field{"operation", FieldType::Text, false, false, false, {}, "VIEW, EDIT, CREATE ..."})
            .field(Field{"scope", FieldType::Text, false, false, false, {}, "OWN, ORGANIZATION ..."})
            .field(Field{"description", FieldType::Text, true, false, false, {}, ""}));

    registry.model(
        sdk::ModelDecl("role")
            .resource("/role")
            .description("A named set of rules, global (organization null) or of one organization")
            .field(Field{"name", FieldType::Text, false, false, false, {}, "", {}, 128})
            .field(Field{"description", FieldType::Text, true, false, false, {}, "", {}, 1024})
            .reference(sdk::Reference{"organization", "organization", "roles", sdk::RelationStyle::Link,
                                      sdk::RelationStyle::Id, sdk::OnDelete::Cascade, true})
            // The Rule JSON of vantage6 lists only `users`, so no back-reference here.
            .association(sdk::Association{"rules", "rule", "role_rule_association", "",
                                          sdk::RelationStyle::Link, sdk::RelationStyle::Link, "role_id",
                                          "rule_id"}));

    // Role filters; organization_id and include_root are applied by the list handler because
    // include_root widens organization_id with an OR.
    using Kind = sdk::FilterDecl::Kind;
    registry.filter("role", sdk::FilterDecl{"name", Kind::Like, "name", "", false});
    registry.filter("role", sdk::FilterDecl{"description", Kind::Like, "description", "", true});
    registry.filter("role",
                    sdk::FilterDecl{"rule_id", Kind::Sql, "",
                                    "id IN (SELECT role_id FROM role_rule_association WHERE rule_id = ?)",
                                    false});

    registry.filter("rule", sdk::FilterDecl{"name", Kind::Equal, "name", "", false});
    registry.filter("rule", sdk::FilterDecl{"operation", Kind::Equal, "operation", "", false});
    registry.filter("rule", sdk::FilterDecl{"scope", Kind::Equal, "scope", "", false});
    registry.filter("rule",
                    sdk::FilterDecl{"role_id", Kind::Sql, "",
                                    "id IN (SELECT rule_id FROM role_rule_association WHERE role_id = ?)",
                                    false});
}

void declareRules(sdk::Registry& registry) {
    auto rule = [&](Scope scope, Operation op, const char* description) {
        registry.rule(sdk::RuleDecl{"role", scope, op, description, false, false});
    };
    rule(Scope::Global, Operation::View, "View all roles");
    rule(Scope::Organization, Operation::View, "View the roles of your organization");
    rule(Scope::Global, Operation::Create, "Create a role for any organization");
    rule(Scope::Organization, Operation::Create, "Create a role for your organization");
    rule(Scope::Global, Operation::Edit, "Edit any role");
    rule(Scope::Organization, Operation::Edit, "Edit the roles of your organization");
    rule(Scope::Global, Operation::Delete, "Delete any role");
    rule(Scope::Organization, Operation::Delete, "Delete the roles of your organization");
}

} // namespace dq::plugins::roles
