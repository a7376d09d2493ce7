// The query string of a list: parsed as the server parses a request URI, then paging, filters of
// every kind, sort and the page response with its links, as ApiContext::list runs them.
#include "kernel/http/listing.h"
#include "oracle.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>
#include <cstdint>

using namespace dq;

namespace {

sdk::ModelDecl model() {
    sdk::Field secret{"password", sdk::FieldType::Text, true, false, true};
    return sdk::ModelDecl("task")
        .field({"name", sdk::FieldType::Text})
        .field({"run_id", sdk::FieldType::Integer})
        .field({"score", sdk::FieldType::Real})
        .field({"encrypted", sdk::FieldType::Boolean})
        .field({"created_at", sdk::FieldType::DateTime})
        .field(secret)
        .reference({"collaboration", "collaboration"})
        .reference({"init_user", "user"});
}

std::vector<sdk::FilterDecl> filters() {
    using Kind = sdk::FilterDecl::Kind;
    return {{"name", Kind::Like, "", "", true},
            {"run_id", Kind::Equal},
            {"score", Kind::Equal},
            {"encrypted", Kind::Equal},
            {"collaboration_id", Kind::Equal, "", "", true},
            {"created_from", Kind::From, "created_at"},
            {"created_till", Kind::Till, "created_at"},
            {"user_id", Kind::Sql, "", "id IN (SELECT task_id FROM x WHERE user_id = ? OR owner = ?)"},
            {"status", Kind::Sql, "", "status = ?", true}};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto decl = model();
    static const auto declared = filters();
    sdk::Request request;
    request.fullPath = "/api/task";
    try {
        Poco::URI uri("/api/task?" + std::string(reinterpret_cast<const char*>(data), size));
        for (const auto& [key, value] : uri.getQueryParameters())
            request.queryParams.emplace(key, value);
    } catch (const Poco::Exception&) {
        return 0; // the server answers 400 "malformed HTTP" for a URI it cannot parse
    }
    DQ_FUZZ_AS_REQUEST({
        auto page = kernel::readPage(request);
        sdk::Query query;
        kernel::applyFilters(request, decl, declared, query);
        kernel::applySort(request, decl, query);
        for (std::int64_t total : {std::int64_t(0), std::int64_t(7), std::numeric_limits<std::int64_t>::max()}) {
            auto window = kernel::pageWindow(page, total);
            if (window && (window->offset < 0 || window->limit < 0 || window->offset > total - window->limit))
                __builtin_trap();
            kernel::pageResponse(request, page, total, new Poco::JSON::Array);
        }
        request.queryInteger("result_id");
        request.queryIds("organization_id");
    });
    return 0;
}
