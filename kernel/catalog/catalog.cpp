// The catalog collects declarations per plugin and finds conflicts between plugins.
#include "kernel/catalog/catalog.h"

#include <algorithm>
#include <stdexcept>

namespace dq::kernel {

namespace {

std::string ruleName(const sdk::RuleDecl& r) {
    return r.resource + ":" + sdk::toString(r.scope) + ":" + sdk::toString(r.operation);
}

/// "organizations.users": where an import section's key sits in the file.
std::string placeOf(const sdk::ImportSectionDecl& section) {
    return section.within.empty() ? section.key : section.within + "." + section.key;
}

std::string joinPath(const std::vector<std::string>& path) {
    std::string out;
    for (const auto& part : path)
        out += (out.empty() ? "" : " ") + part;
    return out;
}

} // namespace

class Catalog::PluginRegistry : public sdk::Registry {
public:
    PluginRegistry(Catalog& catalog, std::string plugin, std::shared_ptr<void> keepAlive)
        : catalog_(catalog), plugin_(std::move(plugin)), keepAlive_(std::move(keepAlive)) {}

    void model(sdk::ModelDecl model) override {
        checkOpen("model " + model.name());
        for (const auto& m : catalog_.models_) {
            if (m.decl.name() == model.name())
                catalog_.conflict("table '" + model.name() + "'", m.plugin, plugin_);
            for (const auto& a : m.decl.associations())
                for (const auto& b : model.associations())
                    if (a.table == b.table)
                        catalog_.conflict("table '" + a.table + "'", m.plugin, plugin_);
        }
        for (auto& field : model.fields())
            if (field.writer)
                field.writer = [lib = keepAlive_, w = std::move(field.writer)](
                                   sdk::Record& record, const std::string& clear) { w(record, clear); };
        catalog_.models_.push_back({plugin_, std::move(model)});
    }

    void route(sdk::RouteDecl route) override {
        checkOpen("route " + route.path);
        for (const auto& r : catalog_.routes_)
            if (r.decl.method == route.method && r.decl.path == route.path)
                catalog_.conflict("route " + sdk::toString(route.method) + " " + route.path, r.plugin,
                                  plugin_);
        route.handler = [lib = keepAlive_, h = std::move(route.handler)](sdk::RequestContext& ctx) {
            return h(ctx);
        };
        catalog_.routes_.push_back({plugin_, std::move(route)});
    }

    void rule(sdk::RuleDecl rule) override {
        checkOpen("rule " + ruleName(rule));
        for (const auto& r : catalog_.rules_)
            if (ruleName(r.decl) == ruleName(rule))
                catalog_.conflict("rule " + ruleName(rule), r.plugin, plugin_);
        catalog_.rules_.push_back({plugin_, std::move(rule)});
    }

    void command(sdk::CommandDecl command) override {
        checkOpen("command " + joinPath(command.path));
        for (const auto& c : catalog_.commands_)
            if (c.decl.path == command.path)
                catalog_.conflict("command '" + joinPath(command.path) + "'", c.plugin, plugin_);
        const auto& reserved = sdk::reservedOptionNames();
        for (const auto& o : command.options)
            if (std::find(reserved.begin(), reserved.end(), o.name) != reserved.end())
                catalog_.conflicts_.push_back("plugin '" + plugin_ + "': command '" + joinPath(command.path) +
                                              "' declares the option --" + o.name +
                                              ", which every command keeps for choosing the server "
                                              "(--name, --config, --system, --user, --data-dir, --environment) "
                                              "or for --help/--version; rename the option");
        command.handler = [lib = keepAlive_, h = std::move(command.handler)](sdk::CommandContext& ctx) {
            return h(ctx);
        };
        catalog_.commands_.push_back({plugin_, std::move(command)});
    }

    void setting(sdk::SettingDecl setting) override {
        checkOpen("setting " + setting.key);
        if (setting.validate)
            setting.validate = [lib = keepAlive_, v = std::move(setting.validate)](const std::string& value) {
                return v(value);
            };
        catalog_.settings_.push_back({plugin_, std::move(setting)});
    }

    void filter(const std::string& model, sdk::FilterDecl filter) override {
        checkOpen("filter " + filter.param);
        for (const auto& f : catalog_.filters_)
            if (f.decl.first == model && f.decl.second.param == filter.param)
                catalog_.conflict("filter '" + filter.param + "' on " + model, f.plugin, plugin_);
        catalog_.filters_.push_back({plugin_, {model, std::move(filter)}});
    }

    void decorate(const std::string& model, sdk::Decorator decorator) override {
        checkOpen("decorator of " + model);
        catalog_.decorators_.push_back({plugin_,
                                        {model, [lib = keepAlive_, d = std::move(decorator)](
                                                    sdk::Store& store, const sdk::Record& record,
                                                    Poco::JSON::Object& json) { d(store, record, json); }}});
    }

    void decoratePage(const std::string& model, sdk::PageDecorator decorator) override {
        checkOpen("page decorator of " + model);
        catalog_.pageDecorators_.push_back(
            {plugin_, {model, [lib = keepAlive_, d = std::move(decorator)](
                                  sdk::Store& store, const std::vector<sdk::Record>& rows,
                                  const std::vector<Poco::JSON::Object*>& jsons) { d(store, rows, jsons); }}});
    }

    void afterInsert(const std::string& model, sdk::InsertHook hook) override {
        checkOpen("insert hook of " + model);
        catalog_.insertHooks_.push_back({plugin_,
                                         {model, [lib = keepAlive_, h = std::move(hook)](
                                                     sdk::Store& store, sdk::Events& events,
                                                     const sdk::Record& row) { h(store, events, row); }}});
    }

    void importSection(sdk::ImportSectionDecl section) override {
        checkOpen("import section " + section.key);
        for (const auto& d : catalog_.importSections_)
            if (d.decl.key == section.key && d.decl.within == section.within)
                catalog_.conflict("import section '" + placeOf(section) + "'", d.plugin, plugin_);
        // Each section object keeps the plugin's library loaded while it exists (its code is there).
        section.create = [lib = keepAlive_, c = std::move(section.create)]() -> std::shared_ptr<sdk::ImportSection> {
            auto made = c();
            auto holder = std::make_shared<std::pair<std::shared_ptr<void>, std::shared_ptr<sdk::ImportSection>>>(
                lib, made);
            return std::shared_ptr<sdk::ImportSection>(holder, made.get());
        };
        catalog_.importSections_.push_back({plugin_, std::move(section)});
    }

    void document(sdk::RouteDoc doc) override {
        const auto what = sdk::toString(doc.method) + " " + doc.path;
        checkOpen("the description of route " + what);
        bool declared = false;
        for (const auto& r : catalog_.routes_)
            declared =
                declared || (r.plugin == plugin_ && r.decl.method == doc.method && r.decl.path == doc.path);
        if (!declared) {
            catalog_.conflicts_.push_back("plugin '" + plugin_ + "' describes route " + what +
                                          ", which it does not declare; declare the route first");
            return;
        }
        for (const auto& d : catalog_.routeDocs_)
            if (d.decl.method == doc.method && d.decl.path == doc.path)
                catalog_.conflict("the description of route " + what, d.plugin, plugin_);
        catalog_.routeDocs_.push_back({plugin_, std::move(doc)});
    }

    void provide(const std::string& name, std::shared_ptr<sdk::Service> service) override {
        checkOpen("service " + name);
        auto it = catalog_.services_.find(name);
        if (it != catalog_.services_.end()) {
            catalog_.conflict("service '" + name + "'", it->second.plugin, plugin_);
            return;
        }
        // Aliasing constructor: the service keeps its library loaded while anyone holds it.
        auto holder = std::make_shared<std::pair<std::shared_ptr<void>, std::shared_ptr<sdk::Service>>>(
            keepAlive_, service);
        catalog_.services_.emplace(name, Declared<std::shared_ptr<sdk::Service>>{
                                             plugin_, std::shared_ptr<sdk::Service>(holder, service.get())});
    }

private:
    void checkOpen(const std::string& what) const {
        if (catalog_.frozen_)
            throw std::logic_error("plugin '" + plugin_ + "' declared " + what +
                                   " after the declare phase; declare everything in declare()");
    }

    Catalog& catalog_;
    std::string plugin_;
    std::shared_ptr<void> keepAlive_;
};

Catalog::Catalog() = default;
Catalog::~Catalog() = default;

std::unique_ptr<sdk::Registry> Catalog::registryFor(const std::string& plugin,
                                                    std::shared_ptr<void> keepAlive) {
    return std::make_unique<PluginRegistry>(*this, plugin, std::move(keepAlive));
}

void Catalog::freeze() {
    frozen_ = true;
}

void Catalog::conflict(const std::string& what, const std::string& first, const std::string& second) {
    if (first == second)
        conflicts_.push_back(what + " is declared twice by plugin '" + first + "'");
    else
        conflicts_.push_back(what + " is declared by both plugin '" + first + "' and plugin '" + second +
                             "'; disable one of them or rename the declaration");
}

const sdk::ModelDecl* Catalog::model(const std::string& name) const {
    for (const auto& m : models_)
        if (m.decl.name() == name)
            return &m.decl;
    return nullptr;
}

std::vector<sdk::SettingDecl> Catalog::settingsOf(const std::string& plugin) const {
    std::vector<sdk::SettingDecl> out;
    for (const auto& s : settings_)
        if (s.plugin == plugin)
            out.push_back(s.decl);
    return out;
}

namespace {

/// The declarations in `list` made for `model` (filters, decorators, insert hooks).
template <typename T>
std::vector<T> forModel(const std::vector<Declared<std::pair<std::string, T>>>& list,
                        const std::string& model) {
    std::vector<T> out;
    for (const auto& d : list)
        if (d.decl.first == model)
            out.push_back(d.decl.second);
    return out;
}

} // namespace

const sdk::RouteDoc* Catalog::routeDoc(sdk::Method method, const std::string& path) const {
    for (const auto& d : routeDocs_)
        if (d.decl.method == method && d.decl.path == path)
            return &d.decl;
    return nullptr;
}

std::vector<sdk::FilterDecl> Catalog::filtersOf(const std::string& model) const {
    return forModel(filters_, model);
}

std::vector<sdk::Decorator> Catalog::decoratorsOf(const std::string& model) const {
    return forModel(decorators_, model);
}

std::vector<sdk::PageDecorator> Catalog::pageDecoratorsOf(const std::string& model) const {
    return forModel(pageDecorators_, model);
}

std::vector<sdk::InsertHook> Catalog::insertHooksOf(const std::string& model) const {
    return forModel(insertHooks_, model);
}

std::shared_ptr<sdk::Service> Catalog::service(const std::string& name) const {
    auto it = services_.find(name);
    return it == services_.end() ? nullptr : it->second.decl;
}

std::vector<RelationView> Catalog::relationsOf(const std::string& name) const {
    std::vector<RelationView> out;
    const auto* self = model(name);
    if (!self)
        return out;
    for (const auto& ref : self->references()) {
        if (!model(ref.target))
            continue;
        out.push_back({RelationView::Kind::ToOne, ref.name, ref.target, ref.column(), "", "", "", ref.style,
                       sdk::OnDelete::SetNull});
    }
    for (const auto& assoc : self->associations()) {
        if (!model(assoc.target))
            continue;
        out.push_back({RelationView::Kind::ManyToMany, assoc.name, assoc.target, "", assoc.table,
                       assoc.ownColumn.empty() ? name + "_id" : assoc.ownColumn,
                       assoc.targetColumn.empty() ? assoc.target + "_id" : assoc.targetColumn, assoc.style,
                       sdk::OnDelete::SetNull});
    }
    for (const auto& other : models_) {
        for (const auto& ref : other.decl.references())
            if (ref.target == name && !ref.backref.empty())
                out.push_back({RelationView::Kind::ToMany, ref.backref, other.decl.name(), ref.column(), "",
                               "", "", ref.backrefStyle, ref.onDelete});
        for (const auto& assoc : other.decl.associations())
            if (assoc.target == name && !assoc.backref.empty())
                out.push_back({RelationView::Kind::ManyToMany, assoc.backref, other.decl.name(), "",
                               assoc.table, assoc.targetColumn.empty() ? name + "_id" : assoc.targetColumn,
                               assoc.ownColumn.empty() ? other.decl.name() + "_id" : assoc.ownColumn,
                               assoc.backrefStyle, sdk::OnDelete::SetNull});
    }
    return out;
}

void Catalog::clear() {
    models_.clear();
    routes_.clear();
    routeDocs_.clear();
    rules_.clear();
    commands_.clear();
    settings_.clear();
    filters_.clear();
    decorators_.clear();
    pageDecorators_.clear();
    insertHooks_.clear();
    importSections_.clear();
    services_.clear();
}

void Catalog::forget(const std::string& plugin) {
    auto byPlugin = [&](const auto& declared) { return declared.plugin == plugin; };
    std::erase_if(models_, byPlugin);
    std::erase_if(routes_, byPlugin);
    std::erase_if(routeDocs_, byPlugin);
    std::erase_if(rules_, byPlugin);
    std::erase_if(commands_, byPlugin);
    std::erase_if(settings_, byPlugin);
    std::erase_if(filters_, byPlugin);
    std::erase_if(decorators_, byPlugin);
    std::erase_if(pageDecorators_, byPlugin);
    std::erase_if(insertHooks_, byPlugin);
    std::erase_if(importSections_, byPlugin);
    std::erase_if(services_, [&](const auto& entry) { return entry.second.plugin == plugin; });
    const std::string named = "plugin '" + plugin + "'";
    std::erase_if(conflicts_, [&](const std::string& c) { return c.find(named) != std::string::npos; });
}

} // namespace dq::kernel
