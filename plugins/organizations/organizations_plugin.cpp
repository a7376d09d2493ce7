// Entry of the organizations plugin: what it is, its model, its rules, its routes, its commands.
#include "organizations.h"

#include <Poco/Base64Encoder.h>
#include <sstream>

namespace dq::plugins::organizations {

using sdk::Field;
using sdk::FieldType;
using sdk::Operation;
using sdk::Scope;

namespace {

/// A text field that is "" rather than null when not given, as vantage6 stores organizations.
Field text(const std::string& name, std::size_t maxLength) {
    Field f{name, FieldType::Text, true, false, false, std::string()};
    f.maxLength = maxLength;
    return f;
}

} // namespace

class OrganizationsPlugin : public sdk::Plugin {
public:
    sdk::PluginInfo info() const override {
        return {"organizations",
                "1.0.0",
                "Organizations: the parties that join collaborations and run nodes",
                {}};
    }

    void declare(sdk::Registry& registry) override {
        registry.model(sdk::ModelDecl(kModel)
                           .resource("/organization")
                           .description("An organization that joins collaborations and runs nodes")
                           .field(text("name", 128))
                           .field(text("domain", 255))
                           .field(text("address1", 255))
                           .field(text("address2", 255))
                           .field(text("zipcode", 32))
                           .field(text("country", 64))
                           // Base64 as the client sent it: vantage6 stores the decoded bytes and
                           // shows them encoded again, so clients see the same text either way.
                           // An RSA-4096 public key in PEM, base64-encoded, is about 1 KB.
                           .field(text("public_key", 16384)));

        // The order is part of the wire contract: it gives the rule ids of a fresh database.
        registry.rule({kResource, Scope::Global, Operation::View, "View any organization"});
        registry.rule(
            {kResource, Scope::Organization, Operation::View, "View your own organization", true, true});
        registry.rule({kResource, Scope::Collaboration, Operation::View, "View collaborating organizations",
                       true, true});
        registry.rule({kResource, Scope::Global, Operation::Edit, "Edit any organization"});
        registry.rule({kResource, Scope::Organization, Operation::Edit, "Edit your own organization", true});
        registry.rule({kResource, Scope::Global, Operation::Create, "Create a new organization"});

        registry.filter(kModel, {"name", sdk::FilterDecl::Kind::Like});
        registry.filter(kModel, {"country", sdk::FilterDecl::Kind::Equal});

        declareRoutes(registry);
        declareCommands(registry);
        declareImportSection(registry);
    }

    void start(sdk::Services& services) override {
        services.transaction([](sdk::Store& store) { takeOverVantage6PublicKeys(store); });
    }

private:
    /// A database taken over from vantage6 keeps each organization's public key as bytes in its
    /// column `_public_key`: shown here as vantage6 shows it (base64), where ours is still empty.
    static void takeOverVantage6PublicKeys(sdk::Store& store) {
        const bool sqlite = store.dialect() == "sqlite";
        if (store
                .query(sqlite ? "SELECT 1 FROM pragma_table_info('organization') WHERE name = '_public_key'"
                              : "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                                "AND table_name = 'organization' AND column_name = '_public_key'")
                .rows.empty())
            return;
        auto rows = store.query("SELECT id, _public_key FROM organization WHERE (public_key IS NULL OR "
                                "public_key = '') AND _public_key IS NOT NULL");
        for (const auto& row : rows.rows) {
            // SQLite hands the bytes over as they are; PostgreSQL as the text form of bytea, "\\x" + hex.
            std::string bytes = row.at(1).convert<std::string>();
            if (!sqlite && bytes.rfind("\\x", 0) == 0)
                bytes = fromHex(bytes.substr(2));
            if (bytes.empty())
                continue;
            std::ostringstream out;
            Poco::Base64Encoder encoder(out);
            encoder.rdbuf()->setLineLength(0);
            encoder << bytes;
            encoder.close();
            store.update(kModel, row.at(0).convert<sdk::Id>(), sdk::Record().set("public_key", out.str()));
        }
    }

    static std::string fromHex(const std::string& hex) {
        std::string out;
        for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
            out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
        return out;
    }
};

} // namespace dq::plugins::organizations

DQ_PLUGIN(dq::plugins::organizations::OrganizationsPlugin)
