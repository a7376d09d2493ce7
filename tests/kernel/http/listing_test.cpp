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

TEST(Pagination, ValuesBeyond64BitsAreBadRequestsNamingTheParameter) {
    for (const char* name : {"page", "per_page"})
        for (const char* value : {"9223372036854775808", "18446744073709551615", "1.5", " 1", "+1", ""}) {
            try {
                kernel::readPage(request({{name, value}}));
                ADD_FAILURE() << name << "=" << value << " was accepted";
            } catch (const sdk::BadRequest& e) {
                EXPECT_TRUE(e.errors().count(name)) << name << "=" << value;
            }
        }
}

// (page - 1) * per_page overflowed: page=2^63-1 was a 500 on every list.
TEST(Pagination, HugePagesNeverOverflowAndAPagePastTheEndIsEmpty) {
    const std::string max = "9223372036854775807";
    auto huge = kernel::readPage(request({{"page", max}, {"per_page", max}}));
    EXPECT_FALSE(kernel::pageWindow(huge, 5));
    EXPECT_FALSE(kernel::pageWindow(kernel::readPage(request({{"page", max}})), 5));
    EXPECT_FALSE(kernel::pageWindow(kernel::readPage(request({{"page", "2"}, {"per_page", max}})), 5));
    auto first = kernel::pageWindow(kernel::readPage(request({{"page", "1"}, {"per_page", max}})), 5);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->offset, 0);
    EXPECT_EQ(first->limit, 5);
    auto third = kernel::pageWindow(kernel::readPage(request({{"page", "3"}, {"per_page", "2"}})), 5);
    ASSERT_TRUE(third);
    EXPECT_EQ(third->offset, 4);
    EXPECT_EQ(third->limit, 1);
    EXPECT_FALSE(kernel::pageWindow(kernel::readPage(request({{"page", "4"}, {"per_page", "2"}})), 5));

    auto req = request({{"page", max}, {"per_page", max}, {"include", "metadata"}});
    auto response = kernel::pageResponse(req, huge, 5, items(0));
    auto links = response.body.extract<Poco::JSON::Object::Ptr>()->getObject("links");
    EXPECT_EQ(links->getValue<std::string>("last"),
              "/api/organization?include=metadata&page=1&per_page=" + max);
    EXPECT_FALSE(links->has("next"));
}

// Poco's client refused the answer to a list with a 10 kB filter value: five links of 10 kB each.
TEST(Pagination, ALinkHeaderBeyond8KbIsLeftOutAndTheBodyKeepsItsLinks) {
    auto req = request({{"name", std::string(3000, 'x')}, {"include", "metadata"}});
    auto response = kernel::pageResponse(req, kernel::readPage(req), 5, items(5));
    EXPECT_FALSE(response.headers.count("Link"));
    EXPECT_EQ(response.headers.at("total-count"), "5");
    auto links = response.body.extract<Poco::JSON::Object::Ptr>()->getObject("links");
    EXPECT_NE(links->getValue<std::string>("self").find(std::string(3000, 'x')), std::string::npos);
    auto small = request({{"name", "x"}});
    EXPECT_TRUE(kernel::pageResponse(small, kernel::readPage(small), 5, items(5)).headers.count("Link"));
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
    EXPECT_EQ(q.where[0].value.extract<std::string>(), "2023-01-31 23:59:59.999999");
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

// Relation names reached the SQL as columns that do not exist: a 500.
TEST(Sort, RelationsSortByTheirIdAndAnUnknownNameListsWhatIsAllowed) {
    sdk::Query q;
    kernel::applySort(request({{"sort", "-collaboration,collaboration_id"}}), model(), q);
    EXPECT_EQ(q.orderBy, (std::vector<std::string>{"-collaboration_id", "collaboration_id"}));
    try {
        kernel::applySort(request({{"sort", "organization"}}), model(), q);
        ADD_FAILURE() << "sort=organization was accepted";
    } catch (const sdk::BadRequest& e) {
        EXPECT_EQ(e.errors().at("sort"),
                  "unknown field 'organization'; allowed: id, name, encrypted, collaboration");
    }
    EXPECT_THROW(kernel::applySort(request({{"sort", "-"}}), model(), q), sdk::BadRequest);
    EXPECT_THROW(kernel::applySort(request({{"sort", "--name"}}), model(), q), sdk::BadRequest);
}

} // namespace
