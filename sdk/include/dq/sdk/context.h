// RequestContext: what a route handler gets. The request, the caller, a store bound to the
// request's transaction, the one permission check, the one serializer and the one list helper.
#pragma once

#include "dq/sdk/http.h"
#include "dq/sdk/permission.h"
#include "dq/sdk/services.h"
#include "dq/sdk/store.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>
#include <algorithm>
#include <functional>
#include <optional>
#include <sstream>
#include <string>

namespace dq::sdk {

class RequestContext {
public:
    virtual ~RequestContext() = default;

    virtual const Request& request() const = 0;
    virtual const Identity& identity() const = 0;
    /// Bound to this request's transaction, opened on first use: committed when the handler returns,
    /// rolled back when it throws. Handlers commit early only to do slow work (see commit()).
    virtual Store& store() = 0;
    virtual Services& services() = 0;

    // ---- Permissions ----

    /// The widest scope at which the caller holds (resource, operation), or nullopt.
    virtual std::optional<Scope> scope(const std::string& resource, Operation op) = 0;
    /// Like scope(), but throws Forbidden ("You lack the permission to do that!") when nothing is held.
    virtual Scope require(const std::string& resource, Operation op) = 0;
    virtual bool holds(const RuleKey& rule) = 0;
    /// Every rule the caller holds (loaded once per request).
    virtual const std::vector<RuleKey>& rules() = 0;
    /// Collaborations of the caller's organization (empty without the membership service).
    virtual const std::vector<Id>& ownCollaborations() = 0;
    /// Whether the caller's organization takes part in `collaboration`.
    bool memberOf(Id collaboration) {
        const auto& own = ownCollaborations();
        return std::find(own.begin(), own.end(), collaboration) != own.end();
    }
    /// The row, or NotFound with `notFoundMessage` (each resource words it as vantage6 does).
    Record findOrNotFound(const std::string& model, Id id, const std::string& notFoundMessage) {
        auto found = store().find(model, id);
        if (!found)
            throw NotFound(notFoundMessage);
        return *found;
    }

    // ---- Responses ----

    /// The model's JSON: id, non-secret fields, relation links (including back-references of other
    /// loaded plugins), as vantage6 shows them.
    virtual Poco::JSON::Object::Ptr serialize(const std::string& model, const Record& record) = 0;

    /// A row's JSON: an object (or any JSON value), or since ABI 2.1 RawJson (serializeText()).
    using Render = std::function<Poco::Dynamic::Var(const Record&)>;
    /// A paginated list response of `model`: applies `base` (the caller's scope), the filters
    /// declared for the model (its own and those other plugins add), `page`/`per_page`/`sort`/
    /// `include=metadata`, and the `total-count` / `Link` headers. `render` defaults to serialize().
    /// A GET route that answers with a list may be answered from memory, without calling its
    /// handler, while the database is unchanged (the kernel's `list_cache_mb`): such a handler must
    /// answer from the database, the caller and the request alone (no clock, no other service).
    virtual Response list(const std::string& model, Query base, const Render& render = nullptr) = 0;

    /// "/api/organization/3": a link path under the configured api_path.
    virtual std::string link(const std::string& path) const = 0;

    /// Since ABI 2.1: called once with the rows of the page before `render` runs for each of them,
    /// to load what the rows need with a few queries for the whole page (their tasks, nodes ...).
    using Prepare = std::function<void(const std::vector<Record>& page)>;

    // ---- Transactions ----

    /// Commits the request's transaction now and gives its database session back; the next use of
    /// store() (or of scope(), list(), ...) opens a new transaction. For slow work that must not
    /// hold a session (hashing or checking a password, which the kernel refuses while one is held):
    /// read, commit(), hash, then write. Store references obtained before end here. The request's
    /// transaction is opened on first use, so a handler that hashes before it reads needs no commit().
    virtual void commit() = 0;

    // ---- Since ABI 2.1 (at the end: plugins built for 2.0 keep their vtable) ----

    /// list() calling `prepare` with the page's rows first. `render` must still work for a row
    /// `prepare` did not see: a context without this overload (built before 2.1) skips `prepare`.
    virtual Response list(const std::string& model, Query base, const Render& render, const Prepare& prepare) {
        (void)prepare;
        return list(model, std::move(base), render);
    }

    /// serialize()'s JSON with the keys of `extra` replacing the model's (in place) or following
    /// them, as Poco::JSON::Object::set would, written as text without building the objects: what a
    /// list's render returns for many rows.
    virtual RawJson serializeText(const std::string& model, const Record& record, const Poco::JSON::Object& extra) {
        auto json = serialize(model, record);
        for (const auto& key : extra.getNames())
            json->set(key, extra.get(key));
        std::ostringstream out;
        Poco::JSON::Stringifier::condense(json, out);
        return RawJson{out.str()};
    }
};

} // namespace dq::sdk
