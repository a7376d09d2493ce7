// `vserver organization list|show|create`: administration without a running server.
#include "organizations.h"

#include <Poco/JSON/Stringifier.h>
#include <iomanip>
#include <ostream>

namespace dq::plugins::organizations {

namespace {

void printRow(std::ostream& out, const sdk::Record& r) {
    out << std::left << std::setw(6) << r.id << std::setw(32) << r.text("name") << std::setw(16)
        << r.text("country") << r.text("domain") << "\n";
}

int list(sdk::CommandContext& ctx) {
    ctx.out() << std::left << std::setw(6) << "ID" << std::setw(32) << "NAME" << std::setw(16) << "COUNTRY"
              << "DOMAIN\n";
    for (const auto& r : ctx.store().select(kModel))
        printRow(ctx.out(), r);
    return 0;
}

int show(sdk::CommandContext& ctx) {
    if (ctx.arguments().size() != 1) {
        ctx.err() << "usage: vserver organization show ID\n";
        return 2;
    }
    sdk::Id id = 0;
    try {
        id = std::stoll(ctx.arguments()[0]);
    } catch (const std::exception&) {
        ctx.err() << "organization id must be a number, got '" << ctx.arguments()[0] << "'\n";
        return 2;
    }
    auto r = ctx.store().find(kModel, id);
    if (!r) {
        ctx.err() << "no organization with id " << id << "\n";
        return 1;
    }
    ctx.out() << "id:         " << r->id << "\n";
    for (const auto& name : kEditableFields)
        ctx.out() << std::left << std::setw(12) << (name + ":") << r->text(name) << "\n";
    return 0;
}

/// The option of a field: --name chooses the server, so the name is --organization-name.
std::string optionOf(const std::string& field) {
    return field == "name" ? "organization-name" : field;
}

int create(sdk::CommandContext& ctx) {
    sdk::Record r;
    for (const auto& name : kEditableFields)
        r.set(name, ctx.option(optionOf(name)).value_or(""));
    r.id = ctx.store().insert(kModel, r);
    ctx.out() << "created organization " << r.id << " (" << r.text("name") << ")\n";
    return 0;
}

} // namespace

void declareCommands(sdk::Registry& registry) {
    registry.command({{"organization", "list"}, "List all organizations", {}, "", list});
    registry.command({{"organization", "show"}, "Show one organization", {}, "ID", show});
    std::vector<sdk::OptionDecl> options;
    for (const auto& name : kEditableFields)
        options.push_back({optionOf(name), "the organization's " + name, false, name == "name", ""});
    registry.command({{"organization", "create"}, "Create an organization", options, "", create});
}

} // namespace dq::plugins::organizations
