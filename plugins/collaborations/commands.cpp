// `vserver collaboration list|create|show`: the collaborations on the configured database.
#include "collaborations.h"

#include <Poco/NumberParser.h>
#include <Poco/StringTokenizer.h>
#include <iomanip>
#include <ostream>
#include <stdexcept>

namespace dq::plugins::collaborations {

using namespace dq::sdk;

namespace {

std::string joinIds(const std::vector<Id>& ids) {
    std::string out;
    for (Id id : ids)
        out += (out.empty() ? "" : ",") + std::to_string(id);
    return out.empty() ? "-" : out;
}

Id parseId(const std::string& text, const std::string& what) {
    Poco::Int64 id = 0;
    if (!Poco::NumberParser::tryParse64(text, id) || id <= 0)
        throw std::invalid_argument(what + ": expected a positive integer id, got '" + text + "'");
    return id;
}

void printCollaboration(CommandContext& ctx, const Record& c) {
    auto& out = ctx.out();
    out << "id:            " << c.id << "\n"
        << "name:          " << c.text("name") << "\n"
        << "encrypted:     " << (c.boolean("encrypted") ? "yes" : "no") << "\n"
        << "organizations: ";
    auto members = ctx.store().associated("collaboration", c.id, "organizations");
    if (members.empty())
        out << "-";
    for (size_t i = 0; i < members.size(); ++i) {
        auto org = ctx.store().find("organization", members[i]);
        out << (i ? ", " : "") << members[i] << " (" << (org ? org->text("name") : "?") << ")";
    }
    out << "\n";
}

} // namespace

int listCommand(CommandContext& ctx) {
    auto all = ctx.store().select("collaboration");
    auto& out = ctx.out();
    out << std::left << std::setw(6) << "ID" << std::setw(32) << "NAME" << std::setw(11) << "ENCRYPTED"
        << "ORGANIZATIONS\n";
    for (const auto& c : all)
        out << std::setw(6) << c.id << std::setw(32) << c.text("name") << std::setw(11)
            << (c.boolean("encrypted") ? "yes" : "no")
            << joinIds(ctx.store().associated("collaboration", c.id, "organizations")) << "\n";
    out << all.size() << " collaboration(s)\n";
    return 0;
}

int createCommand(CommandContext& ctx) {
    const std::string name = ctx.option("collaboration-name").value_or("");
    if (name.empty())
        throw std::invalid_argument("collaboration create: --collaboration-name must not be empty");
    if (!ctx.store().select("collaboration", Query().add(Condition::equal("name", name))).empty())
        throw std::invalid_argument("collaboration create: a collaboration named '" + name +
                                    "' already exists (see `vserver collaboration list`)");

    std::vector<Id> organizations;
    Poco::StringTokenizer tokens(ctx.option("organizations").value_or(""), ",",
                                 Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
    for (const auto& token : tokens) {
        Id id = parseId(token, "collaboration create: --organizations");
        if (!ctx.store().find("organization", id))
            throw std::invalid_argument("collaboration create: --organizations: no organization with id " +
                                        std::to_string(id) + " (see `vserver organization list`)");
        organizations.push_back(id);
    }

    Record record;
    record.set("name", name).set("encrypted", ctx.flag("encrypted"));
    Id id = ctx.store().insert("collaboration", record);
    ctx.store().setAssociated("collaboration", id, "organizations", organizations);
    ctx.out() << "Created collaboration " << id << " '" << name << "'.\n";
    printCollaboration(ctx, *ctx.store().find("collaboration", id));
    return 0;
}

int showCommand(CommandContext& ctx) {
    if (ctx.arguments().size() != 1)
        throw std::invalid_argument("collaboration show: expected exactly one collaboration id, e.g. "
                                    "`vserver collaboration show 3`");
    Id id = parseId(ctx.arguments()[0], "collaboration show");
    auto found = ctx.store().find("collaboration", id);
    if (!found) {
        ctx.err() << "collaboration show: no collaboration with id " << id
                  << " (see `vserver collaboration list`)\n";
        return 1;
    }
    printCollaboration(ctx, *found);
    return 0;
}

} // namespace dq::plugins::collaborations
