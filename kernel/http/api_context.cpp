// Memberships are loaded once per request, on first use, not per check; rules come with the caller.
#include "kernel/http/api_context.h"

#include "kernel/http/json_text.h"
#include "kernel/http/listing.h"

#include <algorithm>

namespace dq::kernel {

ApiContext::ApiContext(const sdk::Request& request, sdk::Identity identity,
                       std::shared_ptr<const std::vector<sdk::RuleKey>> rules, std::function<sdk::Store&()> store,
                       std::function<void()> commit, sdk::Services& services, const Catalog& catalog,
                       const Serializer& serializer)
    : request_(request), identity_(std::move(identity)), store_(std::move(store)), commit_(std::move(commit)),
      services_(services), catalog_(catalog), serializer_(serializer), rules_(std::move(rules)) {}

const std::vector<sdk::RuleKey>& ApiContext::rules() {
    static const std::vector<sdk::RuleKey> none;
    return rules_ ? *rules_ : none;
}

const std::vector<sdk::Id>& ApiContext::ownCollaborations() {
    if (!collaborations_) {
        collaborations_.emplace();
        auto membership =
            std::static_pointer_cast<sdk::Membership>(catalog_.service(sdk::kMembershipService));
        if (membership && identity_.kind)
            *collaborations_ = membership->collaborationsOf(store(), identity_.organizationId);
    }
    return *collaborations_;
}

bool ApiContext::holds(const sdk::RuleKey& rule) {
    const auto& held = rules();
    return std::find(held.begin(), held.end(), rule) != held.end();
}

std::optional<sdk::Scope> ApiContext::scope(const std::string& resource, sdk::Operation op) {
    std::optional<sdk::Scope> widest;
    for (const auto& r : rules())
        if (r.resource == resource && r.operation == op && (!widest || r.scope > *widest))
            widest = r.scope;
    return widest;
}

sdk::Scope ApiContext::require(const std::string& resource, sdk::Operation op) {
    auto s = scope(resource, op);
    if (!s)
        throw sdk::Forbidden(sdk::kNoPermission);
    return *s;
}

Poco::JSON::Object::Ptr ApiContext::serialize(const std::string& model, const sdk::Record& record) {
    return serializer_.toJson(store(), model, record, &prefetched_);
}

sdk::Response ApiContext::list(const std::string& model, sdk::Query base, const Render& render) {
    return list(model, std::move(base), render, nullptr);
}

sdk::Response ApiContext::list(const std::string& model, sdk::Query base, const Render& render,
                               const Prepare& prepare) {
    const auto* decl = catalog_.model(model);
    if (!decl)
        throw std::invalid_argument("list of undeclared model '" + model + "'");
    auto page = readPage(request_);
    applyFilters(request_, *decl, catalog_.filtersOf(model), base);
    applySort(request_, *decl, base);
    auto total = store().count(model, base);
    auto window = pageWindow(page, total);
    std::vector<sdk::Record> records;
    if (window && window->limit > 0) {
        if (page.perPage) {
            base.limit = window->limit;
            base.offset = window->offset;
        }
        records = store().select(model, base);
    }
    // What the page needs in a few queries; valid only while the page is rendered, as a handler may
    // change relations afterwards.
    prefetched_ = serializer_.prefetch(store(), model, records);
    struct Forget {
        Serializer::Prefetched& prefetched;
        ~Forget() { prefetched = {}; }
    } forget{prefetched_};
    if (render && prepare)
        prepare(records);
    // Written straight into the body, row by row: no array of objects for the whole page.
    std::string items;
    items.reserve(64 + records.size() * 256);
    items += '[';
    for (std::size_t i = 0; i < records.size(); ++i) {
        if (i)
            items += ',';
        if (render) {
            auto json = render(records[i]);
            if (json.type() == typeid(sdk::RawJson))
                items += json.extract<sdk::RawJson>().text;
            else
                appendJson(items, json);
        }
        else
            serializer_.write(items, store(), model, records[i], &prefetched_);
    }
    items += ']';
    listed_ = true;
    return pageResponse(request_, page, total, std::move(items));
}

sdk::RawJson ApiContext::serializeText(const std::string& model, const sdk::Record& record,
                                       const Poco::JSON::Object& extra) {
    sdk::RawJson out;
    serializer_.write(out.text, store(), model, record, &prefetched_, &extra);
    return out;
}

std::string ApiContext::link(const std::string& path) const {
    return serializer_.apiPath() + path;
}

} // namespace dq::kernel
