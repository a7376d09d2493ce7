#include "kernel/http/list_memo.h"

#include "kernel/http/content_encoding.h"

namespace dq::kernel {

namespace {

std::size_t sizeOf(const std::string& key, const sdk::Response& response) {
    std::size_t n = key.size() + 256; // the entry's own bookkeeping, roughly
    // The text and room for its compressed form: JSON lists compress five- to tenfold.
    const auto& text = response.body.extract<sdk::RawJson>().text;
    n += text.size() + text.size() / 4;
    for (const auto& [name, value] : response.headers)
        n += name.size() + value.size() + 64;
    return n;
}

} // namespace

const std::string& KeptBody::gzipped() const {
    // Compressed once and sent many times: worth zlib's default level rather than its fastest.
    std::call_once(compressed_, [this] { gzipped_ = kernel::gzipped(json_, 6); });
    return gzipped_;
}

const KeptBody* keptBodyOf(const sdk::Response& response) {
    if (response.body.type() != typeid(std::shared_ptr<const KeptBody>))
        return nullptr;
    return response.body.extract<std::shared_ptr<const KeptBody>>().get();
}

ListMemo::ListMemo(std::size_t capacityBytes) : capacity_(capacityBytes) {}

std::optional<sdk::Response> ListMemo::find(const std::string& key, const std::string& version) {
    if (!enabled())
        return std::nullopt;
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end())
        return std::nullopt;
    if (it->second.version != version) {
        // Computed before a write: it can never be answered again.
        forget(it);
        return std::nullopt;
    }
    recent_.splice(recent_.begin(), recent_, it->second.recent);
    return it->second.response;
}

sdk::Response ListMemo::keep(const std::string& key, const std::string& version, sdk::Response response) {
    if (!enabled() || response.status != 200 || response.body.type() != typeid(sdk::RawJson))
        return response;
    const auto bytes = sizeOf(key, response);
    if (bytes > capacity_ / 4)
        return response;
    response.body = std::make_shared<const KeptBody>(response.body.extract<sdk::RawJson>().text);
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(key); it != entries_.end())
        forget(it);
    while (bytes_ + bytes > capacity_ && !recent_.empty())
        forget(entries_.find(recent_.back()));
    recent_.push_front(key);
    entries_.emplace(key, Entry{version, response, bytes, recent_.begin()});
    bytes_ += bytes;
    return response;
}

void ListMemo::clear() {
    std::lock_guard lock(mutex_);
    entries_.clear();
    recent_.clear();
    bytes_ = 0;
}

std::size_t ListMemo::bytes() const {
    std::lock_guard lock(mutex_);
    return bytes_;
}

void ListMemo::forget(std::unordered_map<std::string, Entry>::iterator it) {
    bytes_ -= it->second.bytes;
    recent_.erase(it->second.recent);
    entries_.erase(it);
}

} // namespace dq::kernel
