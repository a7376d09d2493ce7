// bcrypt via crypt_r (reentrant, so the pool's threads do not serialize on a global buffer), run on
// a fixed pool with a bounded queue.
#include "kernel/auth/password_hasher.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <crypt.h>
#include <cstring>
#include <dq/sdk/http.h>
#include <future>
#include <memory>
#include <stdexcept>

namespace dq::kernel {

namespace {

/// The longest a request without a deadline of its own may expect to wait for its hash.
constexpr std::chrono::microseconds kLongestWait = std::chrono::seconds(4);
/// What a request needs after its hash (counting the attempt, issuing the token): a hash that
/// would end later than this before the deadline is wasted work, since the answer is a 503 anyway.
constexpr std::chrono::microseconds kAfterHash = std::chrono::milliseconds(500);

} // namespace

PasswordHasher::PasswordHasher(int cost, Limits limits, Caller caller)
    : cost_(cost), caller_(std::move(caller)) {
    int threads = limits.threads;
    if (threads <= 0)
        // One per core, at least two. Under load the scheduler shares the cores between all runnable
        // threads alike, the HTTP workers included: with fewer, hashing gets so small a share that
        // logins starve (measured with bench/soak: one thread next to busy workers managed under one
        // hash a second at cost 12). With none waiting, the threads sleep.
        threads = std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
    threadCount_ = static_cast<std::size_t>(threads);
    // Room for as many hashes as a request may wait for; the bound keeps the queue finite.
    queueLimit_ = static_cast<std::size_t>(limits.queue > 0 ? limits.queue : 16 * threads);
    for (int i = 0; i < threads; ++i)
        threads_.emplace_back([this] { serve(); });
}

PasswordHasher::~PasswordHasher() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    room_.notify_all();
    for (auto& t : threads_)
        t.join();
}

void PasswordHasher::serve() {
    for (;;) {
        std::shared_ptr<std::packaged_task<void()>> work;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty())
                return;
            work = std::move(queue_.front());
            queue_.pop_front();
            ++busy_;
        }
        room_.notify_one();
        (*work)(); // counts itself done (see onPool)
    }
}

void PasswordHasher::onPool(std::function<void()> work) {
    bool request = caller_.servingRequest();
    if (request && caller_.holdsSession())
        throw std::logic_error("a password was hashed while the request holds a database session; read, "
                               "RequestContext::commit(), then hash (or hash before the first read)");
    const auto deadline = request ? caller_.deadline() : std::nullopt;
    // Shared with the queue: a request that stops waiting leaves a started job behind safely.
    auto job = std::make_shared<std::packaged_task<void()>>([this, work = std::move(work)] {
        // The thread counts as free again before the caller hears the result: the caller's next
        // hash must find it free, not busy with the one just delivered.
        struct Done {
            PasswordHasher& hasher;
            std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
            ~Done() {
                auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                                  started);
                std::lock_guard lock(hasher.mutex_);
                --hasher.busy_;
                hasher.averageHash_ =
                    hasher.averageHash_.count() == 0 ? took : (hasher.averageHash_ * 7 + took) / 8;
            }
        } done{*this};
        work();
    });
    auto done = job->get_future();
    {
        std::unique_lock lock(mutex_);
        // The wait ahead: the hashes queued and running, spread over the threads, at the recent pace
        // (none with an idle thread, so the estimate recovers once the load is gone), then its own.
        auto wait = averageHash_ * static_cast<long>(queue_.size() + busy_) / static_cast<long>(threadCount_);
        // A request waits as long as its budget allows: refusing earlier only makes it come back.
        auto longest = deadline ? std::chrono::duration_cast<std::chrono::microseconds>(
                                      *deadline - std::chrono::steady_clock::now()) -
                                      kAfterHash
                                : kLongestWait;
        // With a thread free it starts at once: the estimate of a past burst must not keep it out.
        const bool threadFree = queue_.size() + busy_ < threadCount_;
        if (request && !threadFree && (queue_.size() >= queueLimit_ || wait + averageHash_ > longest))
            throw sdk::ServiceUnavailable(
                "The server is busy checking passwords; please try again in a few seconds.");
        room_.wait(lock, [&] { return stopping_ || queue_.size() < queueLimit_; });
        if (stopping_)
            throw std::runtime_error("the password hasher is shutting down");
        queue_.push_back(job);
    }
    wake_.notify_one();
    bool late = false;
    caller_.whileWaiting([&] {
        if (deadline)
            late = done.wait_until(*deadline) == std::future_status::timeout;
        else
            done.wait();
    });
    // Hashes slowed down more than expected (a loaded machine): the request answers in time anyway.
    if (late) {
        // Not started yet: taken out, so that nobody hashes for an answer nobody waits for, and the
        // wait estimated for the next requests counts only the hashes still wanted.
        {
            std::lock_guard lock(mutex_);
            auto queued = std::find(queue_.begin(), queue_.end(), job);
            if (queued != queue_.end())
                queue_.erase(queued);
        }
        room_.notify_one();
        throw sdk::ServiceUnavailable(
            "The server is busy checking passwords; please try again in a few seconds.");
    }
    done.get();
}

std::string PasswordHasher::hash(const std::string& clear) {
    auto out = std::make_shared<std::string>();
    onPool([out, clear, cost = cost_] { *out = hashNow(clear, cost); });
    return *out;
}

bool PasswordHasher::verify(const std::string& clear, const std::string& hash) {
    auto out = std::make_shared<bool>(false);
    onPool([out, clear, hash] { *out = verifyNow(clear, hash); });
    return *out;
}

std::string PasswordHasher::hashNow(const std::string& clear, int cost) {
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    if (!crypt_gensalt_rn("$2b$", cost, nullptr, 0, salt, sizeof salt))
        throw std::runtime_error("bcrypt: cannot generate a salt");
    auto data = std::make_unique<crypt_data>();
    std::memset(data.get(), 0, sizeof(crypt_data));
    const char* out = crypt_r(clear.c_str(), salt, data.get());
    if (!out || out[0] == '*')
        throw std::runtime_error("bcrypt: hashing failed");
    return out;
}

bool PasswordHasher::verifyNow(const std::string& clear, const std::string& hash) {
    if (hash.rfind("$2", 0) != 0)
        return false;
    auto data = std::make_unique<crypt_data>();
    std::memset(data.get(), 0, sizeof(crypt_data));
    const char* out = crypt_r(clear.c_str(), hash.c_str(), data.get());
    if (!out || out[0] == '*')
        return false;
    // Constant-time compare: the hash length is public, the content is not.
    std::size_t n = std::strlen(out);
    if (n != hash.size())
        return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < n; ++i)
        diff |= static_cast<unsigned char>(out[i] ^ hash[i]);
    return diff == 0;
}

} // namespace dq::kernel
