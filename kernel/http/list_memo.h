// List answers kept in memory while the database is unchanged. A GET list is a function of the
// data, the caller (identity and rules) and the request; when the database reports that no write
// committed since an answer was computed (Database::Transaction::dataVersion), the same request of
// the same caller gets the same answer without running the handler again. Nothing is ever stale:
// every write, in any process, changes the version and so retires everything kept before it.
#pragma once
#include <dq/sdk/http.h>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace dq::kernel {

/// A kept answer's body (a Response body holds it as std::shared_ptr<const KeptBody>): its JSON text,
/// given to every hit without a copy, and the same compressed once, the first time a client
/// accepting gzip asks for it.
class KeptBody {
public:
    explicit KeptBody(std::string json) : json_(std::move(json)) {}
    const std::string& json() const { return json_; }
    const std::string& gzipped() const;

private:
    std::string json_;
    mutable std::once_flag compressed_;
    mutable std::string gzipped_;
};

/// The kept body of a response, or null when its body is something else.
const KeptBody* keptBodyOf(const sdk::Response& response);

class ListMemo {
public:
    /// `capacityBytes`: the most the kept bodies may take together; 0 keeps nothing.
    explicit ListMemo(std::size_t capacityBytes);

    bool enabled() const { return capacity_ > 0; }

    /// The answer kept for `key` when it was computed at `version`.
    std::optional<sdk::Response> find(const std::string& key, const std::string& version);
    /// Keeps a 200 answer with a RawJson body (larger than a quarter of the capacity: not kept).
    /// Returns the answer to send: when kept, its body is the KeptBody it now shares with the memo.
    sdk::Response keep(const std::string& key, const std::string& version, sdk::Response response);
    /// Forgets everything (the server is idle: give the memory back).
    void clear();

    std::size_t bytes() const;

private:
    struct Entry {
        std::string version;
        sdk::Response response;
        std::size_t bytes = 0;
        std::list<std::string>::iterator recent; ///< position in recent_
    };
    void forget(std::unordered_map<std::string, Entry>::iterator it);

    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
    /// Keys, the most recently used first: the least recently used go first when full.
    std::list<std::string> recent_;
    std::size_t bytes_ = 0;
};

} // namespace dq::kernel
