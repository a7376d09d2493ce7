// The plugin contract: info(), declare(Registry&), start(Services&), stop(), and the DQ_PLUGIN
// macro that exports a plugin's factory together with the SDK ABI version it was built against.
#pragma once

#include "dq/sdk/cli.h"
#include "dq/sdk/context.h"
#include "dq/sdk/http.h"
#include "dq/sdk/import.h"
#include "dq/sdk/model.h"
#include "dq/sdk/permission.h"
#include "dq/sdk/services.h"
#include "dq/sdk/version.h"

#include <boost/config.hpp>
#include <boost/dll/alias.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace dq::sdk {

struct PluginInfo {
    std::string name; ///< unique, lower-case, used in the config (`plugins.enabled`) and logs
    std::string version;
    std::string description;
    /// Names of plugins that must be loaded (and started) first. Not called `requires`: that is a
    /// C++20 keyword.
    std::vector<std::string> dependencies;
};

using Handler = std::function<Response(RequestContext&)>;

struct RouteDecl {
    Method method = Method::Get;
    /// Below api_path, with parameters in angle brackets: "/organization/<id>".
    std::string path;
    /// Who may call it; empty means public (no token needed).
    std::vector<ClientKind> allowed;
    Handler handler;
    std::string summary;
    /// Needs a refresh token instead of an access token (`/token/refresh`); access tokens get 422.
    bool refreshToken = false;
    /// Runs the handler in a read-only transaction even for POST/PATCH/DELETE (a route that only
    /// reads, e.g. to check a password, and takes no write lock).
    bool readOnly = false;
};

/// A list filter: `?param=value` on a model's list. Plugins may add filters to other plugins'
/// models (collaborations adds `collaboration_id` to organization).
struct FilterDecl {
    enum class Kind {
        Equal, ///< column = value (integers and booleans parsed; bad values are a 400)
        Like,  ///< column LIKE value (the caller supplies % and _)
        From,  ///< column >= ISO date-time
        Till,  ///< column <= ISO date-time
        Sql,   ///< `sql` with one `?` per occurrence, bound to the value (e.g. a sub-select)
    };
    std::string param;
    Kind kind = Kind::Equal;
    std::string column; ///< default: param
    std::string sql;
    bool repeatable = false; ///< `?param=a&param=b` ORs the values
};

/// A setting a plugin reads. `key` is relative to the plugin's section `plugins.settings.<name>`;
/// `legacyPath` is where vantage6 configs keep it at the top of an environment (e.g. "smtp.server").
struct SettingDecl {
    enum class Type { Text, Integer, Boolean, List };
    std::string key;
    Type type = Type::Text;
    std::string defaultValue; ///< textual default; empty and not required: unset
    std::string description;
    std::string legacyPath;
    /// Extra validation: returns "" when fine, else what was expected ("an integer 1-65535").
    std::function<std::string(const std::string&)> validate;
    bool required = false;
};

/// Adds computed fields to a model's JSON wherever the kernel serializes it (its own routes, other
/// plugins' sub-lists), e.g. a task's derived `status`.
using Decorator = std::function<void(Store& store, const Record& record, Poco::JSON::Object& json)>;
/// Since ABI 2.1: a Decorator for a whole page of rows at once, so that it loads what it needs with a
/// few queries instead of one per row: `jsons[i]` is the JSON of `rows[i]`. A single row (GET
/// /task/<id>) comes as a page of one.
using PageDecorator = std::function<void(Store& store, const std::vector<Record>& rows,
                                         const std::vector<Poco::JSON::Object*>& jsons)>;

/// Runs in the transaction that inserted a row of a model, wherever the insert came from: a route,
/// the admin shell, `vserver import`, a plugin command. The place to emit the events a new row
/// causes (a task's `new_task`), so that every way of making the row announces it, exactly when it
/// commits. `row` is the row as stored, with its id.
using InsertHook = std::function<void(Store& store, Events& events, const Record& row)>;

/// Since ABI 2.1: a value of a request body or query string, as the API description shows it.
struct ApiField {
    enum class Type {
        Text,
        Integer,
        Real,
        Boolean,
        DateTime, ///< ISO 8601 text
        Ids,      ///< a list of ids, e.g. `[1, 2]`
        List,     ///< a list of anything
        Object,   ///< a JSON object with its own structure
        Any,
    };
    std::string name;
    Type type = Type::Text;
    bool required = false;
    std::string description;
};

/// Since ABI 2.1: what the API description (the OpenAPI document at `/apispec_1.json`) says of one
/// declared route beyond its declaration. All optional: without it the kernel describes the route
/// from what it knows (path parameters, who may call it, the model whose resource path the route's
/// path is, that model's filters, and the rules of the path's first segment for the method's
/// operation: GET view, POST create, PATCH/PUT edit, DELETE delete).
struct RouteDoc {
    Method method = Method::Get;
    std::string path; ///< exactly as in the RouteDecl
    /// Longer text shown under the summary (Markdown).
    std::string description;
    /// The rules, any one of which lets a user in; replaces the inferred ones.
    std::vector<RuleKey> rules;
    /// The route checks no rule (only who the caller is): no rules are inferred.
    bool noRule = false;
    /// The JSON body's fields; empty: the body is described as any JSON object (POST, PATCH, PUT).
    std::vector<ApiField> body;
    /// Query parameters besides the model's filters and pagination.
    std::vector<ApiField> query;
    /// The model the route answers with; empty: the model whose resource path matches the path.
    std::string model;
    /// Whether it answers with a paginated list of `model` (inferred for GET on a resource path).
    bool list = false;
    /// The success status; 0: 201 for POST on a resource path, else 200.
    int status = 0;
};

/// The declare-phase handle. Everything a plugin contributes is declared here, explicitly; the
/// kernel freezes the registry afterwards (later calls throw).
class Registry {
public:
    virtual ~Registry() = default;
    virtual void model(ModelDecl model) = 0;
    virtual void route(RouteDecl route) = 0;
    virtual void rule(RuleDecl rule) = 0;
    virtual void command(CommandDecl command) = 0;
    virtual void setting(SettingDecl setting) = 0;
    virtual void filter(const std::string& model, FilterDecl filter) = 0;
    virtual void decorate(const std::string& model, Decorator decorator) = 0;
    /// A capability for other plugins and the kernel, under a well-known name (see services.h).
    virtual void provide(const std::string& name, std::shared_ptr<Service> service) = 0;
    /// Since ABI 1.1: `hook` runs after every insert into `model` (see InsertHook).
    virtual void afterInsert(const std::string& model, InsertHook hook) = 0;
    /// Since ABI 2.1: a key of the `vserver import` file that this plugin reads and writes (see
    /// import.h). Two plugins declaring the same key in the same place refuse the start.
    virtual void importSection(ImportSectionDecl section) = 0;
    /// Since ABI 2.1: describes a route this plugin declared (see RouteDoc), after route().
    virtual void document(RouteDoc doc) = 0;
    /// Since ABI 2.1: like decorate(), for a page of rows at once (see PageDecorator).
    virtual void decoratePage(const std::string& model, PageDecorator decorator) = 0;
};

class Plugin {
public:
    virtual ~Plugin() = default;
    virtual PluginInfo info() const = 0;
    virtual void declare(Registry& registry) = 0;
    /// After the schema is migrated. Throwing refuses the server start.
    virtual void start(Services& services) { (void)services; }
    /// In reverse start order, before the library is unloaded.
    virtual void stop() {}
};

using PluginFactory = std::shared_ptr<Plugin>();

} // namespace dq::sdk

#define DQ_SDK_STRINGIFY2(x) #x
#define DQ_SDK_STRINGIFY(x) DQ_SDK_STRINGIFY2(x)
#define DQ_SDK_CONCAT3(a, b, c) a##b##c
#define DQ_SDK_ABI_SYMBOL(major, minor) DQ_SDK_CONCAT3(dq_sdk_abi_##major, _, minor)
#define DQ_SDK_ABI_SYMBOL_EXPAND(major, minor) DQ_SDK_ABI_SYMBOL(major, minor)

/// Exports a plugin: `DQ_PLUGIN(dq::plugins::organizations::OrganizationsPlugin)` once, in the entry
/// file. It exports the factory `dq_plugin_create` and a marker `dq_sdk_abi_<major>_<minor>` in the
/// "dqplugin" section, which the kernel reads without loading the library.
#define DQ_PLUGIN(PluginType)                                                                                \
    namespace {                                                                                              \
    std::shared_ptr<::dq::sdk::Plugin> dqPluginCreate() {                                                    \
        return std::make_shared<PluginType>();                                                               \
    }                                                                                                        \
    const int dqPluginAbi = ::dq::sdk::kAbiMajor * 1000 + ::dq::sdk::kAbiMinor;                              \
    }                                                                                                        \
    BOOST_DLL_ALIAS_SECTIONED(dqPluginCreate, dq_plugin_create, dqplugin)                                    \
    BOOST_DLL_ALIAS_SECTIONED(dqPluginAbi, DQ_SDK_ABI_SYMBOL_EXPAND(DQ_SDK_ABI_MAJOR, DQ_SDK_ABI_MINOR),     \
                              dqplugin)
