// The RequestContext handed to route handlers: the request, the caller, the transaction's store,
// and the kernel's one permission check, serializer and list helper.
#pragma once

#include "kernel/catalog/catalog.h"
#include "kernel/http/serializer.h"

#include <dq/sdk/context.h>
#include <functional>
#include <memory>
#include <optional>

namespace dq::kernel {

class ApiContext : public sdk::RequestContext {
public:
    /// `store` opens the request's transaction on first use (and after `commit`), so that a handler
    /// that hashes before it reads holds no database session meanwhile. `rules`: what the caller
    /// holds (IdentityResolver); null for an anonymous caller, who holds nothing.
    ApiContext(const sdk::Request& request, sdk::Identity identity,
               std::shared_ptr<const std::vector<sdk::RuleKey>> rules, std::function<sdk::Store&()> store,
               std::function<void()> commit, sdk::Services& services, const Catalog& catalog,
               const Serializer& serializer);

    const sdk::Request& request() const override { return request_; }
    const sdk::Identity& identity() const override { return identity_; }
    sdk::Store& store() override { return store_(); }
    sdk::Services& services() override { return services_; }
    void commit() override { commit_(); }

    std::optional<sdk::Scope> scope(const std::string& resource, sdk::Operation op) override;
    sdk::Scope require(const std::string& resource, sdk::Operation op) override;
    bool holds(const sdk::RuleKey& rule) override;
    const std::vector<sdk::RuleKey>& rules() override;
    const std::vector<sdk::Id>& ownCollaborations() override;

    Poco::JSON::Object::Ptr serialize(const std::string& model, const sdk::Record& record) override;
    sdk::Response list(const std::string& model, sdk::Query base, const Render& render) override;
    sdk::Response list(const std::string& model, sdk::Query base, const Render& render,
                       const Prepare& prepare) override;
    sdk::RawJson serializeText(const std::string& model, const sdk::Record& record,
                               const Poco::JSON::Object& extra) override;
    std::string link(const std::string& path) const override;

    /// Whether list() wrote a page (the last answer of a GET list handler comes from it).
    bool listed() const { return listed_; }

private:
    const sdk::Request& request_;
    sdk::Identity identity_;
    std::function<sdk::Store&()> store_;
    std::function<void()> commit_;
    sdk::Services& services_;
    const Catalog& catalog_;
    const Serializer& serializer_;
    Serializer::Prefetched prefetched_; ///< while list() renders a page
    std::shared_ptr<const std::vector<sdk::RuleKey>> rules_;
    std::optional<std::vector<sdk::Id>> collaborations_;
    bool listed_ = false;
};

} // namespace dq::kernel
