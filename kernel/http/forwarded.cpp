#include "kernel/http/forwarded.h"

#include <Poco/NumberParser.h>
#include <Poco/String.h>
#include <optional>
#include <stdexcept>

namespace dq::kernel {

namespace {

std::optional<Poco::Net::IPAddress> addressOf(const std::string& text) {
    Poco::Net::IPAddress address;
    if (text.empty() || !Poco::Net::IPAddress::tryParse(text, address))
        return std::nullopt;
    return address;
}

/// "10.0.0.0/8" or "127.0.0.1" (all bits); nullopt when it is neither.
std::optional<std::pair<Poco::Net::IPAddress, unsigned>> networkOf(const std::string& entry) {
    auto slash = entry.find('/');
    auto address = addressOf(entry.substr(0, slash));
    if (!address)
        return std::nullopt;
    const unsigned bits = address->family() == Poco::Net::AddressFamily::IPv4 ? 32 : 128;
    if (slash == std::string::npos)
        return std::make_pair(*address, bits);
    unsigned prefix = 0;
    const auto digits = entry.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string::npos ||
        !Poco::NumberParser::tryParseUnsigned(digits, prefix) || prefix > bits)
        return std::nullopt;
    return std::make_pair(*address, prefix);
}

} // namespace

TrustedProxies::TrustedProxies(const std::vector<std::string>& entries) {
    for (const auto& entry : entries) {
        auto network = networkOf(entry);
        if (!network)
            throw std::invalid_argument("not an address or a network (such as 10.0.0.0/8): " + entry);
        networks_.push_back({network->first, network->second});
    }
}

bool TrustedProxies::trusts(const std::string& text) const {
    auto address = addressOf(text);
    if (!address)
        return false;
    for (const auto& network : networks_) {
        if (network.address.family() != address->family())
            continue;
        Poco::Net::IPAddress mask(network.prefix, network.address.family());
        if ((*address & mask) == (network.address & mask))
            return true;
    }
    return false;
}

std::string TrustedProxies::clientOf(const std::string& peer, const std::string& forwardedFor) const {
    if (networks_.empty() || forwardedFor.empty() || !trusts(peer))
        return peer;
    std::vector<std::string> hops;
    std::string::size_type begin = 0;
    for (auto comma = forwardedFor.find(','); ; comma = forwardedFor.find(',', begin)) {
        hops.push_back(Poco::trim(forwardedFor.substr(begin, comma - begin)));
        if (comma == std::string::npos)
            break;
        begin = comma + 1;
    }
    std::string client = peer;
    for (auto hop = hops.rbegin(); hop != hops.rend(); ++hop) {
        auto address = addressOf(*hop);
        if (!address)
            break;
        client = address->toString();
        if (!trusts(client))
            break;
    }
    return client;
}

} // namespace dq::kernel
