// The vpn plugin's parts: the EduVPN client that fetches OpenVPN configs and keypairs, the .ovpn
// text edits, and the route handlers.
#pragma once

#include <chrono>
#include <dq/sdk/plugin.h>
#include <map>
#include <memory>
#include <string>

namespace dq::plugins::vpn {

/// The `vpn_server` block of the config; `url` empty means the server offers no VPN.
struct VpnConfig {
    std::string url;
    std::string redirectUrl;
    std::string clientId;
    std::string clientSecret;
    std::string portalUsername;
    std::string portalUserpass;
    int timeoutSeconds = 10; ///< for the whole exchange with the EduVPN server

    bool configured() const { return !url.empty(); }
};

void declareSettings(sdk::Registry& registry);
/// Throws std::runtime_error naming the missing keys when `url` is set but the rest is incomplete.
VpnConfig configFrom(const sdk::Settings& settings);

/// One conversation with an EduVPN portal, as vantage6 has it: form login (session cookie),
/// OAuth2 authorization code with PKCE, token, then the API. Every failure is an sdk::HttpError:
/// 503 unreachable, 504 too slow, 502 an answer that makes no sense.
class EduVpnClient {
public:
    explicit EduVpnClient(VpnConfig config);

    /// A complete .ovpn: the first profile's config with a fresh keypair inserted.
    std::string freshConfig();
    /// `ovpn` with its keypair replaced by a fresh one.
    std::string renewKeypair(const std::string& ovpn);

private:
    struct Answer {
        int status = 0;
        std::string body;
        std::string location;
    };
    enum class Auth { None, Basic, Bearer };

    Answer exchange(const std::string& method, const std::string& path,
                    const std::map<std::string, std::string>& query = {},
                    const std::map<std::string, std::string>& form = {}, Auth auth = Auth::None);
    void authenticate();
    /// A fresh certificate and private key from api.php/create_keypair.
    std::pair<std::string, std::string> createKeypair();
    [[noreturn]] void badAnswer(const std::string& step, const std::string& what) const;

    VpnConfig config_;
    std::string portal_; ///< url without the trailing '/'
    std::chrono::steady_clock::time_point deadline_;
    std::map<std::string, std::string> cookies_;
    std::string accessToken_;
};

// ---- .ovpn text (ovpn_config.cpp) ----

/// `<cert>`/`<key>` inserted before `<tls-crypt>` (or appended when there is none).
std::string insertKeypair(const std::string& ovpn, const std::string& cert, const std::string& key);
/// `ovpn` without its `<cert>` ... `</key>` block (unchanged when it has none).
std::string removeKeypair(const std::string& ovpn);

// ---- Routes (routes.cpp) ----

void declareRoutes(sdk::Registry& registry, std::shared_ptr<const VpnConfig> config);

} // namespace dq::plugins::vpn
