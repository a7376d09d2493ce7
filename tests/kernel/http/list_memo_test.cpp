// ListMemo: answers by key and version, bounded by bytes, least recently used out first.
#include "kernel/http/list_memo.h"

#include <Poco/InflatingStream.h>
#include <gtest/gtest.h>
#include <iterator>
#include <sstream>

namespace dq::kernel {
namespace {

sdk::Response page(const std::string& text) {
    auto r = sdk::Response::json(sdk::RawJson{text});
    r.headers["X-Total-Count"] = "1";
    return r;
}

std::string bodyOf(const std::optional<sdk::Response>& r) {
    return r ? keptBodyOf(*r)->json() : "<none>";
}

TEST(ListMemo, AnswersOnlyForTheVersionItWasComputedAt) {
    ListMemo memo(1 << 20);
    memo.keep("k", "v1", page("[1]"));
    EXPECT_EQ(bodyOf(memo.find("k", "v1")), "[1]");
    EXPECT_EQ(memo.find("k", "v1")->headers.at("X-Total-Count"), "1");
    EXPECT_FALSE(memo.find("k", "v2"));
    // Retired for good once another version was asked for.
    EXPECT_FALSE(memo.find("k", "v1"));
    EXPECT_EQ(memo.bytes(), 0u);
}

TEST(ListMemo, HitsShareTheKeptTextAndItsCompressedForm) {
    ListMemo memo(1 << 20);
    const std::string text = "[" + std::string(5000, ' ') + "]";
    auto sent = memo.keep("k", "v", page(text));
    ASSERT_NE(keptBodyOf(sent), nullptr);
    auto first = memo.find("k", "v");
    auto second = memo.find("k", "v");
    EXPECT_EQ(keptBodyOf(*first), keptBodyOf(sent));
    EXPECT_EQ(keptBodyOf(*second), keptBodyOf(sent));
    const auto& compressed = keptBodyOf(*first)->gzipped();
    EXPECT_EQ(&compressed, &keptBodyOf(*second)->gzipped()); // compressed once
    EXPECT_LT(compressed.size(), text.size() / 10);
    std::istringstream in(compressed);
    Poco::InflatingInputStream inflater(in, Poco::InflatingStreamBuf::STREAM_GZIP);
    std::string back((std::istreambuf_iterator<char>(inflater)), std::istreambuf_iterator<char>());
    EXPECT_EQ(back, text);
}

TEST(ListMemo, KeepsOnlyListPages) {
    ListMemo memo(1 << 20);
    auto error = page("{\"msg\":\"no\"}");
    error.status = 403;
    EXPECT_EQ(keptBodyOf(memo.keep("error", "v", error)), nullptr);
    EXPECT_EQ(keptBodyOf(memo.keep("tree", "v", sdk::Response::json(Poco::Dynamic::Var(1)))), nullptr);
    EXPECT_FALSE(memo.find("error", "v"));
    EXPECT_FALSE(memo.find("tree", "v"));
}

TEST(ListMemo, StaysWithinItsCapacityDroppingTheLeastRecentlyUsed) {
    const std::string big(1000, 'x');
    ListMemo memo(8 * 1024);
    for (int i = 0; i < 7; ++i) // about 1.3 kB each: the seventh needs the room of the first
        memo.keep("k" + std::to_string(i), "v", page(big));
    EXPECT_LE(memo.bytes(), 8u * 1024);
    EXPECT_EQ(bodyOf(memo.find("k6", "v")), big);
    EXPECT_FALSE(memo.find("k0", "v"));
    // Using k2 keeps it over k3 when room is needed again.
    ASSERT_TRUE(memo.find("k2", "v"));
    for (int i = 7; i < 10; ++i)
        memo.keep("k" + std::to_string(i), "v", page(big));
    EXPECT_TRUE(memo.find("k2", "v"));
    EXPECT_FALSE(memo.find("k3", "v"));
    EXPECT_LE(memo.bytes(), 8u * 1024);
}

TEST(ListMemo, AnswerLargerThanAQuarterOfTheCapacityIsNotKept) {
    ListMemo memo(4 * 1024);
    memo.keep("huge", "v", page(std::string(2000, 'x')));
    EXPECT_FALSE(memo.find("huge", "v"));
}

TEST(ListMemo, ZeroCapacityKeepsNothingAndClearForgetsAll) {
    ListMemo off(0);
    EXPECT_FALSE(off.enabled());
    off.keep("k", "v", page("[]"));
    EXPECT_FALSE(off.find("k", "v"));
    ListMemo memo(1 << 20);
    memo.keep("k", "v", page("[]"));
    memo.clear();
    EXPECT_FALSE(memo.find("k", "v"));
    EXPECT_EQ(memo.bytes(), 0u);
}

} // namespace
} // namespace dq::kernel
