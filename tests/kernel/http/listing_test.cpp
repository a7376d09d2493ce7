// Pagination exactly as vantage6 (page, per_page, include=metadata, total-count and Link headers),
// filters and sort, without a database.
#include "kernel/http/listing.h"

#include <gtest/gtest.h>

using namespace dq;

namespace {

sdk::Request request(std::multimap<std::string, std::string> query) {
    sdk::Request r;
    r.fullPath = "/api/organization";
    r.queryParams = std::move(query);
    return r;
}

Poco::JSON::Array::Ptr items(int n) {
    Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
    for (int i = 0; i < n; ++i)
        a->add(i);
    return a;
}

sdk::ModelDecl model() {
    return sdk::ModelDecl("organization")
        .field({"name", sdk::FieldType::Text})
        .field({"encrypted", sdk::FieldType::Boolean})
        .field({"secret", sdk::FieldType::Text, true, false, true})
        .reference({"collaboration", "collaboration"});
}

TEST(Pagination, WithoutPageEverythingIsOnePage) {
    auto page = kernel::readPage(request({}));
    EXPECT_EQ(page.page, 1);
    EXPECT_FALSE(page.perPage);
}

TEST(Pagination, PageAloneMeansTenPerPage) {
    auto page = kernel::readPage(request({{"page", "3"}}));
    EXPECT_EQ(page.page, 3);
    EXPECT_EQ(page.perPage, 10);
}

TEST(Pagination, NonPositiveOrNonNumericValuesAreBadRequests) {
    EXPECT_THROW(kernel::readPage(request({{"page", "0"}})), sdk::BadRequest);
    EXPECT_THROW(kernel::readPage(request({{"page", "x"}})), sdk::BadRequest);
    EXPECT_THROW(kernel::readPage(request({{"per_page", "-2"}})), sdk::BadRequest);
}

TEST(Pagination, MetadataWrapsDataAndLinksLeaveOutMissingPages) {
    auto req = request({{"page", "1"}, {"per_page", "2"}, {"include", "metadata"}});
    auto response = kernel::pageResponse(req, kernel::readPage(req), 5, items(2));
    auto body = response.body.extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(body->getArray("data")->size(), 2u);
    auto links = body->getObject("links");
    EXPECT_FALSE(links->has("previous"));
    EXPECT_EQ(links->getValue<std::string>("next"), "/api/organization?include=metadata&page=2&per_page=2");
    EXPECT_EQ(links->getValue<std::string>("last"), "/api/organization?include=metadata&page=3&per_page=2");
    EXPECT_EQ(response.headers.at("total-count"), "5");
    EXPECT_EQ(
        response.headers.at("Link").find("</api/organization?include=metadata&page=1&per_page=2>; rel=first"),
        0u);
}

TEST(Pagination, WithoutMetadataTheBodyIsABareArray) {
    auto req = request({});
    auto response = kernel::pageResponse(req, kernel::readPage(req), 0, items(0));
    EXPECT_EQ(response.body.type(), typeid(Poco::JSON::Array::Ptr));
    EXPECT_EQ(response.headers.at("total-count"), "0");
}

TEST(Filters, TypedEqualityLikeAndRepeatedValues) {
    std::vector<sdk::FilterDecl> filters{{"name", sdk::FilterDecl::Kind::Like},
                                         {"encrypted", sdk::FilterDecl::Kind::Equal},
                                         {"collaboration_id", sdk::FilterDecl::Kind::Equal, "", "", true}};
    sdk::Query q;
    kernel::applyFilters(request({{"name", "%clinic"},
                                  {"encrypted", "true"},
                                  {"collaboration_id", "1"},
                                  {"collaboration_id", "2"}}),
                         model(), filters, q);
    ASSERT_EQ(q.where.size(), 3u);
    EXPECT_EQ(q.where[0].op, sdk::Condition::Op::Like);
    EXPECT_EQ(q.where[1].value.extract<bool>(), true);
    EXPECT_EQ(q.where[2].op, sdk::Condition::Op::In);
    EXPECT_EQ(q.where[2].values.size(), 2u);
}

TEST(Filters, BadBooleanOrIntegerIsABadRequestNamingTheFilter) {
    std::vector<sdk::FilterDecl> filters{{"encrypted", sdk::FilterDecl::Kind::Equal},
                                         {"collaboration_id", sdk::FilterDecl::Kind::Equal}};
    sdk::Query q;
    try {
        kernel::applyFilters(request({{"encrypted", "maybe"}}), model(), filters, q);
        FAIL() << "expected BadRequest";
    } catch (const sdk::BadRequest& e) {
        EXPECT_EQ(e.errors().at("encrypted"), "expected a boolean");
    }
    EXPECT_THROW(kernel::applyFilters(request({{"collaboration_id", "one"}}), model(), filters, q),
                 sdk::BadRequest);
}

TEST(Filters, DatesAreParsedAndABareTillDateCoversTheDay) {
    std::vector<sdk::FilterDecl> filters{{"seen_till", sdk::FilterDecl::Kind::Till, "last_seen"}};
    sdk::Query q;
    kernel::applyFilters(request({{"seen_till", "2023-01-31"}}), model(), filters, q);
    ASSERT_EQ(q.where.size(), 1u);
    EXPECT_EQ(q.where[0].value.extract<std::string>(), "2023-01-31T23:59:59.999999");
    EXPECT_THROW(kernel::applyFilters(request({{"seen_till", "yesterday"}}), model(), filters, q),
                 sdk::BadRequest);
}

TEST(Sort, AcceptsDeclaredFieldsAndRefusesSecretsAndUnknowns) {
    sdk::Query q;
    kernel::applySort(request({{"sort", "-name,id"}}), model(), q);
    EXPECT_EQ(q.orderBy, (std::vector<std::string>{"-name", "id"}));
    EXPECT_THROW(kernel::applySort(request({{"sort", "secret"}}), model(), q), sdk::BadRequest);
    EXPECT_THROW(kernel::applySort(request({{"sort", "nope"}}), model(), q), sdk::BadRequest);
}

} // namespace
