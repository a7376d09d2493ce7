#include "kernel/http/content_encoding.h"

#include <algorithm>
#include <cctype>
#include <new>
#include <stdexcept>
#include <zlib.h>

namespace dq::kernel {

namespace {

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

bool sameCoding(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

/// The weight of one `coding;q=0.5` element: 1 without a q, 0 for a q that is not a number.
double weightOf(std::string_view parameters) {
    while (!parameters.empty()) {
        auto semicolon = parameters.find(';');
        auto parameter = trimmed(parameters.substr(0, semicolon));
        parameters = semicolon == std::string_view::npos ? std::string_view{} : parameters.substr(semicolon + 1);
        if (parameter.size() >= 2 && (parameter[0] == 'q' || parameter[0] == 'Q') && parameter[1] == '=') {
            try {
                return std::stod(std::string(parameter.substr(2)));
            } catch (const std::exception&) {
                return 0;
            }
        }
    }
    return 1;
}

} // namespace

bool acceptsGzip(std::string_view acceptEncoding) {
    double gzip = -1, any = -1;
    while (!acceptEncoding.empty()) {
        auto comma = acceptEncoding.find(',');
        auto element = acceptEncoding.substr(0, comma);
        acceptEncoding = comma == std::string_view::npos ? std::string_view{} : acceptEncoding.substr(comma + 1);
        auto semicolon = element.find(';');
        auto coding = trimmed(element.substr(0, semicolon));
        auto weight = semicolon == std::string_view::npos ? 1.0 : weightOf(element.substr(semicolon + 1));
        if (sameCoding(coding, "gzip") || sameCoding(coding, "x-gzip"))
            gzip = weight;
        else if (coding == "*")
            any = weight;
    }
    return gzip >= 0 ? gzip > 0 : any > 0;
}

std::string gzipped(std::string_view text, int level) {
    // zlib's working memory grows with its window (up to 32 kB) and hash (memLevel): sized to the
    // text, a 2 kB list does not allocate and clear the quarter megabyte a 1 MB one may use.
    int windowBits = 9;
    while (windowBits < 15 && (std::size_t{1} << windowBits) < text.size())
        ++windowBits;
    const int memLevel = std::clamp(windowBits - 7, 1, 8);
    z_stream stream{};
    // 16 + windowBits: a gzip header and trailer rather than zlib's.
    if (deflateInit2(&stream, level, Z_DEFLATED, 16 + windowBits, memLevel, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::bad_alloc();
    std::string out(deflateBound(&stream, static_cast<uLong>(text.size())), '\0');
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    stream.avail_in = static_cast<uInt>(text.size());
    stream.next_out = reinterpret_cast<Bytef*>(out.data());
    stream.avail_out = static_cast<uInt>(out.size());
    // deflateBound() leaves room for the whole stream: one call finishes it.
    const int finished = deflate(&stream, Z_FINISH);
    out.resize(stream.total_out);
    deflateEnd(&stream);
    if (finished != Z_STREAM_END)
        throw std::runtime_error("compressing an answer failed (zlib " + std::to_string(finished) + ")");
    return out;
}

} // namespace dq::kernel
