// Date-times as the API shows them (sdk::renderDateTime, what every writer of JSON calls) and as
// the database stores them (sdk::parseDateTime, sdk::nowUtc): vantage6's forms for both.
#include <Poco/DateTime.h>
#include <dq/sdk/http.h>
#include <gtest/gtest.h>
#include <regex>

namespace {

using dq::sdk::parseDateTime;
using dq::sdk::renderDateTime;

TEST(DateTimes, RenderVantage6sStoredFormAsVantage6AnswersIt) {
    EXPECT_EQ(renderDateTime("2026-12-01 03:01:07.467037"), "2026-12-01T03:01:07.467037+00:00");
}

TEST(DateTimes, RenderEveryStoredFormTheSame) {
    for (const char* stored : {"2026-12-01T03:01:07.467037", "2026-12-01 03:01:07.467037",
                               "2026-12-01 03:01:07.467037Z", "2026-12-01T03:01:07.467037+00:00",
                               "2026-12-01 03:01:07.467037000"})
        EXPECT_EQ(renderDateTime(stored), "2026-12-01T03:01:07.467037+00:00") << stored;
    // PostgreSQL's text of a TIMESTAMP drops the trailing zeros of the fraction.
    EXPECT_EQ(renderDateTime("2026-12-01 03:01:07.46"), "2026-12-01T03:01:07.460000+00:00");
}

TEST(DateTimes, RenderWholeSecondsWithoutFractionAsPythonsIsoformat) {
    EXPECT_EQ(renderDateTime("2024-01-01 09:00:00.000000"), "2024-01-01T09:00:00+00:00");
    EXPECT_EQ(renderDateTime("2024-01-01T09:00:00"), "2024-01-01T09:00:00+00:00");
    EXPECT_EQ(renderDateTime("2024-01-01T09:00:00Z"), "2024-01-01T09:00:00+00:00");
}

TEST(DateTimes, LeaveTextThatIsNoDateTimeAlone) {
    for (const char* text : {"", "yesterday", "2024-01-01", "2024-01-01 09:00", "2024-01-01T09:00:00+01:00",
                             "2024-01-01T09:00:00.", "2024-01-01T09:00:00.1234567890"})
        EXPECT_EQ(renderDateTime(text), text) << text;
}

TEST(DateTimes, StoreInTheFormVantage6Writes) {
    EXPECT_EQ(*parseDateTime("2023-01-01T10:00:00.000000"), "2023-01-01 10:00:00.000000");
    EXPECT_EQ(*parseDateTime("2023-01-01T10:00:00.5+01:00"), "2023-01-01 09:00:00.500000");
    EXPECT_EQ(*parseDateTime("2023-01-01"), "2023-01-01 00:00:00.000000");
    EXPECT_TRUE(std::regex_match(dq::sdk::nowUtc(), std::regex(R"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6})")));
    EXPECT_EQ(dq::sdk::storedDateTime(Poco::DateTime(2026, 12, 1, 3, 1, 7, 467, 37).timestamp()),
              "2026-12-01 03:01:07.467037");
}

} // namespace
