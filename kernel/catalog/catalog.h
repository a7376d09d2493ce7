// The catalog: every declaration of every loaded plugin (models, routes and their descriptions,
// rules, commands, settings, filters, services), who declared it, and the conflicts between them.
#pragma once

#include <dq/sdk/plugin.h>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dq::kernel {

template <typename T> struct Declared {
    std::string plugin;
    T decl;
};

/// A relation as the serializer, store and shell see it, from either side.
struct RelationView {
    enum class Kind { ToOne, ToMany, ManyToMany };
    Kind kind;
    std::string name;        ///< attribute name on the model ("organization", "users", "roles")
    std::string target;      ///< the model on the other side
    std::string column;      ///< ToOne: FK column on this model; ToMany: FK column on the target
    std::string table;       ///< ManyToMany: association table
    std::string ownColumn;   ///< ManyToMany: column pointing at this model
    std::string otherColumn; ///< ManyToMany: column pointing at the target
    sdk::RelationStyle style = sdk::RelationStyle::Link;
    sdk::OnDelete onDelete = sdk::OnDelete::SetNull; ///< ToMany: what deleting this row does to the targets
};

class Catalog {
public:
    Catalog();
    ~Catalog();

    /// The registry handed to `plugin` in its declare phase. Every callable it receives is wrapped
    /// so that it keeps `keepAlive` (the plugin's library) loaded while it exists.
    std::unique_ptr<sdk::Registry> registryFor(const std::string& plugin, std::shared_ptr<void> keepAlive);
    /// After the declare phase: registries refuse further declarations.
    void freeze();
    bool frozen() const { return frozen_; }

    /// Declared twice, by two plugins (or twice by one): each message names both.
    const std::vector<std::string>& conflicts() const { return conflicts_; }

    const std::vector<Declared<sdk::ModelDecl>>& models() const { return models_; }
    const sdk::ModelDecl* model(const std::string& name) const;
    const std::vector<Declared<sdk::RouteDecl>>& routes() const { return routes_; }
    /// What a plugin said of one of its routes for the API description, or nullptr.
    const sdk::RouteDoc* routeDoc(sdk::Method method, const std::string& path) const;
    const std::vector<Declared<sdk::RuleDecl>>& rules() const { return rules_; }
    const std::vector<Declared<sdk::CommandDecl>>& commands() const { return commands_; }
    std::vector<sdk::SettingDecl> settingsOf(const std::string& plugin) const;
    const std::vector<Declared<sdk::SettingDecl>>& settings() const { return settings_; }
    std::vector<sdk::FilterDecl> filtersOf(const std::string& model) const;
    std::vector<sdk::Decorator> decoratorsOf(const std::string& model) const;
    std::vector<sdk::PageDecorator> pageDecoratorsOf(const std::string& model) const;
    std::vector<sdk::InsertHook> insertHooksOf(const std::string& model) const;
    /// The import sections, in declaration order: the plugins' dependency order.
    const std::vector<Declared<sdk::ImportSectionDecl>>& importSections() const { return importSections_; }
    std::shared_ptr<sdk::Service> service(const std::string& name) const;
    const std::map<std::string, Declared<std::shared_ptr<sdk::Service>>>& services() const {
        return services_;
    }

    /// Relations of `model` from both sides, limited to models that are loaded.
    std::vector<RelationView> relationsOf(const std::string& model) const;

    /// Drops every declaration (and so every wrapped callable) of every plugin.
    void clear();
    /// Drops every declaration of one plugin (an optional plugin the host skipped), and the
    /// conflicts that name it.
    void forget(const std::string& plugin);

private:
    class PluginRegistry;
    void conflict(const std::string& what, const std::string& first, const std::string& second);

    bool frozen_ = false;
    std::vector<std::string> conflicts_;
    std::vector<Declared<sdk::ModelDecl>> models_;
    std::vector<Declared<sdk::RouteDecl>> routes_;
    std::vector<Declared<sdk::RouteDoc>> routeDocs_;
    std::vector<Declared<sdk::RuleDecl>> rules_;
    std::vector<Declared<sdk::CommandDecl>> commands_;
    std::vector<Declared<sdk::SettingDecl>> settings_;
    std::vector<Declared<std::pair<std::string, sdk::FilterDecl>>> filters_;
    std::vector<Declared<std::pair<std::string, sdk::Decorator>>> decorators_;
    std::vector<Declared<std::pair<std::string, sdk::PageDecorator>>> pageDecorators_;
    std::vector<Declared<std::pair<std::string, sdk::InsertHook>>> insertHooks_;
    std::vector<Declared<sdk::ImportSectionDecl>> importSections_;
    std::map<std::string, Declared<std::shared_ptr<sdk::Service>>> services_;
};

} // namespace dq::kernel
