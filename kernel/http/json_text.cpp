#include "kernel/http/json_text.h"

#include <Poco/JSON/Stringifier.h>
#include <Poco/JSONString.h>
#include <cstring>
#include <ostream>
#include <streambuf>

namespace dq::kernel {

namespace {

/// An ostream that appends to a std::string, for Poco's writers, which write a few characters at a
/// time: they go to a small buffer first, not one by one through the string.
class AppendBuffer : public std::streambuf {
public:
    explicit AppendBuffer(std::string& out) : out_(out) { setp(buffer_, buffer_ + sizeof buffer_); }
    ~AppendBuffer() override { flush(); }

protected:
    int_type overflow(int_type c) override {
        flush();
        if (c != traits_type::eof()) {
            *pptr() = static_cast<char>(c);
            pbump(1);
        }
        return traits_type::not_eof(c);
    }
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        if (n <= epptr() - pptr()) {
            std::memcpy(pptr(), s, static_cast<std::size_t>(n));
            pbump(static_cast<int>(n));
        } else {
            flush();
            out_.append(s, static_cast<std::size_t>(n));
        }
        return n;
    }
    int sync() override {
        flush();
        return 0;
    }

private:
    void flush() {
        out_.append(pbase(), static_cast<std::size_t>(pptr() - pbase()));
        setp(buffer_, buffer_ + sizeof buffer_);
    }
    std::string& out_;
    char buffer_[256];
};

class AppendStream : public std::ostream {
public:
    explicit AppendStream(std::string& out) : std::ostream(nullptr), buffer_(out) { rdbuf(&buffer_); }

private:
    AppendBuffer buffer_;
};
} // namespace

void appendJson(std::string& out, const Poco::Dynamic::Var& value) {
    AppendStream stream(out);
    Poco::JSON::Stringifier::condense(value, stream);
}

void appendString(std::string& out, const std::string& text) {
    AppendStream stream(out);
    Poco::toJSON(text, stream, Poco::JSON_WRAP_STRINGS);
}

} // namespace dq::kernel
