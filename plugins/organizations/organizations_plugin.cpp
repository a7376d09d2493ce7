// Entry of the organizations plugin: what it is, its model, its rules, its routes, its commands.
#include "organizations.h"

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
};

} // namespace dq::plugins::organizations

DQ_PLUGIN(dq::plugins::organizations::OrganizationsPlugin)
