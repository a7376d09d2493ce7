#include "kernel/http/list_memo.h"

namespace dq::kernel {

namespace {

std::size_t sizeOf(const std::string& key, const sdk::Response& response) {
    std::size_t n = key.size() + 256; // the entry's own bookkeeping, roughly
    n += response.body.extract<sdk::RawJson>().text.size();
    for (const auto& [name, value] : response.headers)
        n += name.size() + value.size() + 64;
    return n;
}

} // namespace

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

void ListMemo::keep(const std::string& key, const std::string& version, const sdk::Response& response) {
    if (!enabled() || response.status != 200 || response.body.type() != typeid(sdk::RawJson))
        return;
    const auto bytes = sizeOf(key, response);
    if (bytes > capacity_ / 4)
        return;
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(key); it != entries_.end())
        forget(it);
    while (bytes_ + bytes > capacity_ && !recent_.empty())
        forget(entries_.find(recent_.back()));
    recent_.push_front(key);
    entries_.emplace(key, Entry{version, response, bytes, recent_.begin()});
    bytes_ += bytes;
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
