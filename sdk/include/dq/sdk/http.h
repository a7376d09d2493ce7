// HTTP requests and responses as plugin handlers see them, the typed errors they throw (rendered by
// the kernel as {"msg": ...}), and JsonBody, the one way to validate a request body.
#pragma once

#include "dq/sdk/store.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Timestamp.h>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace dq::sdk {

enum class Method { Get, Post, Put, Patch, Delete };
std::string toString(Method m);

/// A request error. The kernel renders it as `{"msg": message}` plus `"errors": {field: reason}`
/// when there are field errors.
class HttpError : public std::runtime_error {
public:
    HttpError(int status, const std::string& message, std::map<std::string, std::string> errors = {})
        : std::runtime_error(message), status_(status), errors_(std::move(errors)) {}
    int status() const { return status_; }
    const std::map<std::string, std::string>& errors() const { return errors_; }

private:
    int status_;
    std::map<std::string, std::string> errors_;
};

#define DQ_SDK_HTTP_ERROR(Name, Code)                                                                        \
    class Name : public HttpError {                                                                          \
    public:                                                                                                  \
        explicit Name(const std::string& message, std::map<std::string, std::string> errors = {})            \
            : HttpError(Code, message, std::move(errors)) {}                                                 \
    };
DQ_SDK_HTTP_ERROR(BadRequest, 400)
DQ_SDK_HTTP_ERROR(Unauthorized, 401)
DQ_SDK_HTTP_ERROR(Forbidden, 403)
DQ_SDK_HTTP_ERROR(NotFound, 404)
DQ_SDK_HTTP_ERROR(Conflict, 409)
DQ_SDK_HTTP_ERROR(Unprocessable, 422)
DQ_SDK_HTTP_ERROR(NotImplemented, 501)
DQ_SDK_HTTP_ERROR(ServiceUnavailable, 503)
#undef DQ_SDK_HTTP_ERROR

// ---- Integers from the outside ----
// Every integer a client sends (JSON body, path, query) is read through these, so that a value
// beyond 64 bits, a negative id or a float is a 400 naming the field, never a 500 further down.

/// The largest id: every id column is a signed 64-bit integer.
inline constexpr Id kMaxId = std::numeric_limits<std::int64_t>::max();

/// An inclusive range an integer must fall in.
struct IntRange {
    std::int64_t min = std::numeric_limits<std::int64_t>::min();
    std::int64_t max = std::numeric_limits<std::int64_t>::max();
    /// "an integer from 1 to 65535", for error messages.
    std::string describe() const;
};
/// Ids: positive and within the id columns.
inline constexpr IntRange kIdRange{1, kMaxId};

/// Decimal text ("42", "-7"; no sign-less junk, no spaces) in `range`; nullopt otherwise, including
/// numbers too large for 64 bits.
std::optional<std::int64_t> parseInteger(const std::string& text, IntRange range = {});
/// A JSON value that is an integer (not a boolean, float or string) in `range`; nullopt otherwise,
/// including integers beyond 64 bits.
std::optional<std::int64_t> integerValue(const Poco::Dynamic::Var& value, IntRange range = {});

class Request {
public:
    Method method = Method::Get;
    /// Path below api_path, e.g. "/organization/3".
    std::string path;
    /// The full path as the client sent it (with api_path), for pagination links.
    std::string fullPath;
    std::map<std::string, std::string> pathParams;
    std::multimap<std::string, std::string> queryParams;
    std::map<std::string, std::string> headers; ///< lower-case names
    std::string body;
    std::string contentType;
    std::string clientAddress;

    /// The id path parameter `name` (e.g. "id"); a non-integer is a 404, as for an unknown id.
    Id idParam(const std::string& name = "id") const;
    std::optional<std::string> query(const std::string& name) const;
    std::vector<std::string> queryAll(const std::string& name) const;
    /// Query parameter `name` as an integer in `range`: nullopt when absent, BadRequest naming the
    /// parameter and the range when it is anything else.
    std::optional<std::int64_t> queryInteger(const std::string& name, IntRange range = {}) const;
    /// Query parameter `name` as an id (BadRequest naming it when not a positive 64-bit integer).
    std::optional<Id> queryId(const std::string& name) const;
    /// Every value of a repeatable id parameter (`?organization_id=1&organization_id=2`).
    std::vector<Id> queryIds(const std::string& name) const;
    /// Whether `include=<what>` was given (the parameter may repeat).
    bool includes(const std::string& what) const;
    std::optional<std::string> header(const std::string& lowerCaseName) const;
};

/// Since ABI 2.1: JSON already written, sent as it is (RequestContext::list answers with it: a page
/// is written straight from the rows, without a tree of Poco::JSON objects).
struct RawJson {
    std::string text;
};

class Response {
public:
    int status = 200;
    /// A JSON object or array (Poco::JSON::Object::Ptr / Array::Ptr), or RawJson.
    Poco::Dynamic::Var body;
    std::map<std::string, std::string> headers;

    static Response json(Poco::Dynamic::Var body, int status = 200) {
        Response r;
        r.status = status;
        r.body = std::move(body);
        return r;
    }
    /// `{"msg": text}`, the body of every message-only answer.
    static Response message(const std::string& text, int status = 200);
};

/// Reads and validates a JSON object body. Each accessor records a problem instead of throwing;
/// `done()` throws one BadRequest listing every problem, including fields nobody asked for.
///
///     JsonBody body(ctx.request());
///     auto name = body.text("name", Need::Required);
///     auto ids = body.ids("organization_ids");
///     body.done();
class JsonBody {
public:
    enum class Need { Optional, Required };

    /// Throws BadRequest when the body is not a JSON object (`{"msg": "Request body is not JSON..."}`).
    explicit JsonBody(const Request& request);
    explicit JsonBody(Poco::JSON::Object::Ptr object);

    bool has(const std::string& field) const;
    /// Present and not JSON null.
    bool given(const std::string& field) const;
    std::optional<std::string> text(const std::string& field, Need need = Need::Optional);
    /// An integer in `range` (a JSON number, or a string of digits as some clients send).
    std::optional<std::int64_t> integer(const std::string& field, Need need = Need::Optional,
                                        IntRange range = {});
    /// An id: an integer from 1 to kMaxId.
    std::optional<Id> id(const std::string& field, Need need = Need::Optional);
    std::optional<bool> boolean(const std::string& field, Need need = Need::Optional);
    /// A list of ids: `[1, 2]`, each from 1 to kMaxId.
    std::optional<std::vector<Id>> ids(const std::string& field, Need need = Need::Optional);
    /// ISO 8601 date-time, normalized to the storage form (naive UTC).
    std::optional<std::string> dateTime(const std::string& field, Need need = Need::Optional);
    /// Any JSON value (object, array, string ...), for fields with their own structure.
    std::optional<Poco::Dynamic::Var> value(const std::string& field, Need need = Need::Optional);
    /// Accept the field without reading it (known, ignored for compatibility).
    void ignore(const std::string& field);

    /// Records a problem found by the handler's own validation.
    void fail(const std::string& field, const std::string& reason);
    /// Throws BadRequest if any field was missing, of the wrong type, or unknown.
    void done();

    const Poco::JSON::Object::Ptr& object() const { return object_; }

private:
    Poco::JSON::Object::Ptr object_;
    std::set<std::string> seen_;
    std::map<std::string, std::string> errors_;
    bool missing(const std::string& field, Need need);
};

/// Parses ISO 8601 ("2023-01-01T10:00:00", optional fraction, "Z" or "+hh:mm") into the storage
/// form in UTC (see storedDateTime); nullopt when it is not a date-time.
std::optional<std::string> parseDateTime(const std::string& text);
/// `time` in the storage form of date-times, "YYYY-MM-DD HH:MM:SS.ffffff" (naive UTC): the form
/// vantage6 (SQLAlchemy) writes, so that vantage6 can still read a database this server wrote to.
/// Since SDK ABI 2.1.
std::string storedDateTime(const Poco::Timestamp& time);
/// The current time in storage form.
std::string nowUtc();
/// A stored date-time as the API shows it, as vantage6 does (Python's isoformat with "+00:00"):
/// "2026-12-01T03:01:07.467037+00:00", without the fraction when it is zero. Reads every stored
/// form: 'T' or ' ' between date and time, 0 to 9 fraction digits (PostgreSQL drops trailing
/// zeros), an optional "Z" or "+00:00". Text that is no date-time comes back unchanged.
std::string renderDateTime(const std::string& stored);

} // namespace dq::sdk
