// Accept-Encoding as RFC 9110 reads it, and gzip streams any client can read.
#include "kernel/http/content_encoding.h"

#include <Poco/InflatingStream.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <sstream>

namespace dq::kernel {
namespace {

TEST(ContentEncoding, AcceptsGzipWhenNamedWithAWeightAboveZero) {
    EXPECT_TRUE(acceptsGzip("gzip"));
    EXPECT_TRUE(acceptsGzip("gzip, deflate"));             // Python requests
    EXPECT_TRUE(acceptsGzip("gzip, deflate, br, zstd"));   // browsers
    EXPECT_TRUE(acceptsGzip("deflate , GZIP;q=0.5"));
    EXPECT_TRUE(acceptsGzip("x-gzip"));
    EXPECT_TRUE(acceptsGzip("*"));
    EXPECT_TRUE(acceptsGzip("br;q=1.0, *;q=0.1"));
}

TEST(ContentEncoding, RefusesGzipNotNamedOrWeightedZero) {
    EXPECT_FALSE(acceptsGzip(""));
    EXPECT_FALSE(acceptsGzip("identity"));
    EXPECT_FALSE(acceptsGzip("deflate, br"));
    EXPECT_FALSE(acceptsGzip("gzip;q=0"));
    EXPECT_FALSE(acceptsGzip("gzip; q=0.000, *"));   // named: the wildcard does not cover it
    EXPECT_FALSE(acceptsGzip("*;q=0"));
    EXPECT_FALSE(acceptsGzip("gzip;q=not-a-number"));
}

std::string inflated(const std::string& compressed) {
    std::istringstream in(compressed);
    Poco::InflatingInputStream inflater(in, Poco::InflatingStreamBuf::STREAM_GZIP);
    std::string back;
    Poco::StreamCopier::copyToString(inflater, back);
    return back;
}

TEST(ContentEncoding, GzippedTextInflatesToItselfAtEveryLevelAndSize) {
    std::string list;
    for (int i = 0; i < 2000; ++i)
        list += "{\"id\":" + std::to_string(i) + ",\"link\":\"/api/result/" + std::to_string(i) + "\"},";
    // zlib's window is sized to the text: below, at and beyond its smallest and largest.
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{300}, std::size_t{512}, std::size_t{5000},
                             std::size_t{32768}, list.size()}) {
        const auto text = list.substr(0, size);
        for (int level : {1, 6, 9}) {
            auto compressed = gzipped(text, level);
            ASSERT_GE(compressed.size(), 2u);
            EXPECT_EQ(static_cast<unsigned char>(compressed[0]), 0x1f); // the gzip magic number
            EXPECT_EQ(static_cast<unsigned char>(compressed[1]), 0x8b);
            if (size >= 5000) {
                EXPECT_LT(compressed.size(), text.size() / 5) << size << " at level " << level;
            }
            EXPECT_EQ(inflated(compressed), text) << size << " at level " << level;
        }
    }
}

} // namespace
} // namespace dq::kernel
