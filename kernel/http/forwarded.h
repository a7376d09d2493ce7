// Who the client is behind a reverse proxy: with `trusted_proxies` set, a request from one of them is
// taken to come from the address that proxy (and the trusted ones before it) saw, as it says in
// X-Forwarded-For. The header of any other peer is ignored: a client can write anything there.
#pragma once

#include <Poco/Net/IPAddress.h>
#include <string>
#include <vector>

namespace dq::kernel {

class TrustedProxies {
public:
    /// None: every client is its direct peer.
    TrustedProxies() = default;
    /// `entries`: addresses ("127.0.0.1", "::1") or networks ("10.0.0.0/8", "fd00::/8"), as the
    /// configuration checked them; throws std::invalid_argument naming the first that is neither.
    explicit TrustedProxies(const std::vector<std::string>& entries);

    bool trusts(const std::string& address) const;
    /// The client's address: `peer` itself unless it is trusted; then, walking `forwardedFor` (the
    /// X-Forwarded-For values, comma-separated, each proxy appends the address it saw) from the right,
    /// the first address that is not trusted. When all are trusted, the left-most; when one is not an
    /// address, the trusted one right of it (nobody trusted wrote it).
    std::string clientOf(const std::string& peer, const std::string& forwardedFor) const;

    bool empty() const { return networks_.empty(); }

private:
    struct Network {
        Poco::Net::IPAddress address;
        unsigned prefix;
    };
    std::vector<Network> networks_;
};

} // namespace dq::kernel
