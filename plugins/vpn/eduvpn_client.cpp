// The EduVPN conversation of vantage6's R/vpn.py, with a deadline over the whole exchange and each
// failure mapped to what the node should hear: 503 unreachable, 504 too slow, 502 nonsense.
#include "vpn.h"

#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/HTTPBasicCredentials.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPCookie.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/RandomStream.h>
#include <Poco/SHA2Engine.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <memory>
#include <sstream>

namespace dq::plugins::vpn {

namespace {

std::string base64Url(const std::string& bytes) {
    std::ostringstream out;
    Poco::Base64Encoder encoder(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
    encoder << bytes;
    encoder.close();
    return out.str();
}

/// PKCE (RFC 7636): a random verifier and its S256 challenge.
std::pair<std::string, std::string> pkcePair() {
    std::string random(40, '\0');
    Poco::RandomInputStream().read(random.data(), static_cast<std::streamsize>(random.size()));
    std::string verifier;
    for (char c : base64Url(random))
        if (std::isalnum(static_cast<unsigned char>(c)))
            verifier += c;
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    sha.update(verifier);
    const auto& digest = sha.digest();
    return {verifier, base64Url(std::string(digest.begin(), digest.end()))};
}

Poco::JSON::Object::Ptr parseObject(const std::string& body) {
    try {
        auto value = Poco::JSON::Parser().parse(body);
        if (value.type() == typeid(Poco::JSON::Object::Ptr))
            return value.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
    }
    return nullptr;
}

/// The text at a path of nested objects ("create_keypair", "data", "certificate"), or "".
std::string textAt(Poco::JSON::Object::Ptr object, std::initializer_list<const char*> path) {
    std::vector<const char*> keys(path);
    for (std::size_t i = 0; object && i < keys.size(); ++i) {
        if (i + 1 == keys.size())
            return object->has(keys[i]) && object->get(keys[i]).isString()
                       ? object->getValue<std::string>(keys[i])
                       : "";
        object = object->getObject(keys[i]);
    }
    return "";
}

} // namespace

EduVpnClient::EduVpnClient(VpnConfig config) : config_(std::move(config)), portal_(config_.url) {
    while (!portal_.empty() && portal_.back() == '/')
        portal_.pop_back();
    deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(config_.timeoutSeconds);
}

void EduVpnClient::badAnswer(const std::string& step, const std::string& what) const {
    throw sdk::HttpError(502,
                         "The VPN server " + portal_ + " gave an unusable answer when " + step + ": " + what +
                             ". Check the vpn_server settings of this server (url, client_id, client_secret, "
                             "redirect_url, portal_username, portal_userpass) and the EduVPN server's log.");
}

EduVpnClient::Answer EduVpnClient::exchange(const std::string& method, const std::string& path,
                                            const std::map<std::string, std::string>& query,
                                            const std::map<std::string, std::string>& form, Auth auth) {
    Poco::URI uri(portal_ + path);
    for (const auto& [name, value] : query)
        uri.addQueryParameter(name, value);
    auto left =
        std::chrono::duration_cast<std::chrono::microseconds>(deadline_ - std::chrono::steady_clock::now());
    if (left.count() <= 0)
        throw sdk::HttpError(504, "The VPN server " + portal_ + " did not complete the exchange within " +
                                      std::to_string(config_.timeoutSeconds) + " s; try again later");
    try {
        std::unique_ptr<Poco::Net::HTTPClientSession> session;
        if (uri.getScheme() == "https") {
            Poco::Net::Context::Ptr context = new Poco::Net::Context(
                Poco::Net::Context::TLS_CLIENT_USE, "", "", "", Poco::Net::Context::VERIFY_RELAXED, 9, true);
            session = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), context);
        } else {
            session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
        }
        session->setTimeout(Poco::Timespan(left.count()));
        Poco::Net::HTTPRequest request(method, uri.getPathAndQuery(), Poco::Net::HTTPMessage::HTTP_1_1);
        if (!cookies_.empty()) {
            Poco::Net::NameValueCollection cookies;
            for (const auto& [name, value] : cookies_)
                cookies.add(name, value);
            request.setCookies(cookies);
        }
        if (auth == Auth::Basic)
            Poco::Net::HTTPBasicCredentials(config_.clientId, config_.clientSecret).authenticate(request);
        if (auth == Auth::Bearer)
            request.set("Authorization", "Bearer " + accessToken_);
        std::string body;
        if (method == Poco::Net::HTTPRequest::HTTP_POST) {
            Poco::Net::HTMLForm html;
            for (const auto& [name, value] : form)
                html.add(name, value);
            std::ostringstream encoded;
            html.write(encoded);
            body = encoded.str();
            request.setContentType("application/x-www-form-urlencoded");
            request.setContentLength(static_cast<std::streamsize>(body.size()));
        }
        session->sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        auto& in = session->receiveResponse(response);
        Answer answer;
        answer.status = response.getStatus();
        Poco::StreamCopier::copyToString(in, answer.body);
        answer.location = response.get("Location", "");
        std::vector<Poco::Net::HTTPCookie> cookies;
        response.getCookies(cookies);
        for (const auto& cookie : cookies)
            cookies_[cookie.getName()] = cookie.getValue();
        return answer;
    } catch (const Poco::TimeoutException&) {
        throw sdk::HttpError(504, "The VPN server " + portal_ + " did not answer within " +
                                      std::to_string(config_.timeoutSeconds) + " s (at " + path +
                                      "); try again later");
    } catch (const Poco::Net::SSLException& e) {
        throw sdk::HttpError(502, "TLS with the VPN server " + portal_ + " failed: " + e.displayText());
    } catch (const Poco::Net::NetException& e) {
        throw sdk::HttpError(503, "VPN server unreachable: " + portal_ + ": " + e.displayText());
    } catch (const Poco::IOException& e) {
        throw sdk::HttpError(503, "VPN server unreachable: " + portal_ + ": " + e.displayText());
    }
}

void EduVpnClient::authenticate() {
    auto [verifier, challenge] = pkcePair();
    auto login = exchange("POST", "/_form/auth/verify", {},
                          {{"userName", config_.portalUsername},
                           {"userPass", config_.portalUserpass},
                           {"_form_auth_redirect_to", config_.url}});
    if (login.status >= 400)
        badAnswer("logging in to the portal as '" + config_.portalUsername + "'",
                  "status " + std::to_string(login.status));

    // The redirect is not followed: the code must be used in this session with this PKCE verifier.
    auto authorize = exchange("GET", "/_oauth/authorize",
                              {{"client_id", config_.clientId},
                               {"redirect_uri", config_.redirectUrl},
                               {"response_type", "code"},
                               {"scope", "config"},
                               {"state", "some_string"},
                               {"code_challenge_method", "S256"},
                               {"code_challenge", challenge}});
    std::string code;
    if (!authorize.location.empty()) {
        for (const auto& [name, value] : Poco::URI(authorize.location).getQueryParameters())
            if (name == "code")
                code = value;
    }
    if (code.empty())
        badAnswer(
            "asking for an authorization code",
            "status " + std::to_string(authorize.status) + " without a code in the redirect" +
                (authorize.location.empty() ? "" : " (to " + Poco::URI(authorize.location).getPath() + ")") +
                "; are portal_username / portal_userpass right, and is client_id registered with "
                "redirect_url?");

    auto token = exchange("POST", "/oauth.php/token", {},
                          {{"code", code},
                           {"grant_type", "authorization_code"},
                           {"redirect_uri", config_.redirectUrl},
                           {"client_id", config_.clientId},
                           {"client_secret", config_.clientSecret},
                           {"code_verifier", verifier}},
                          Auth::Basic);
    auto tokenJson = parseObject(token.body);
    accessToken_ = tokenJson ? tokenJson->optValue<std::string>("access_token", "") : "";
    if (token.status != 200 || accessToken_.empty())
        badAnswer("exchanging the authorization code for a token",
                  "status " + std::to_string(token.status) +
                      (tokenJson && tokenJson->has("error") ? ", error " + tokenJson->get("error").toString()
                                                            : "") +
                      ", no access_token (client_id / client_secret right?)");
}

std::pair<std::string, std::string> EduVpnClient::createKeypair() {
    auto keypair = exchange("POST", "/api.php/create_keypair", {}, {}, Auth::Bearer);
    auto json = parseObject(keypair.body);
    auto cert = textAt(json, {"create_keypair", "data", "certificate"});
    auto key = textAt(json, {"create_keypair", "data", "private_key"});
    if (keypair.status != 200 || cert.empty() || key.empty())
        badAnswer("creating a keypair (api.php/create_keypair)",
                  "status " + std::to_string(keypair.status) +
                      ", expected create_keypair.data.certificate and "
                      "private_key");
    return {cert, key};
}

std::string EduVpnClient::freshConfig() {
    authenticate();
    auto profiles = exchange("GET", "/api.php/profile_list", {}, {}, Auth::Bearer);
    auto json = parseObject(profiles.body);
    std::string profileId;
    if (json && json->has("profile_list")) {
        auto list = json->getObject("profile_list");
        auto data = list ? list->getArray("data") : nullptr;
        if (data && data->size() > 0 && data->getObject(0))
            profileId = data->getObject(0)->optValue<std::string>("profile_id", "");
    }
    if (profiles.status != 200 || profileId.empty())
        badAnswer("listing profiles (api.php/profile_list)",
                  "status " + std::to_string(profiles.status) + ", expected profile_list.data[0].profile_id");

    auto config = exchange("GET", "/api.php/profile_config", {{"profile_id", profileId}}, {}, Auth::Bearer);
    if (config.status != 200 || config.body.empty())
        badAnswer("fetching the OpenVPN config of profile '" + profileId + "' (api.php/profile_config)",
                  "status " + std::to_string(config.status) + (config.body.empty() ? ", empty body" : ""));
    auto [cert, key] = createKeypair();
    return insertKeypair(config.body, cert, key);
}

std::string EduVpnClient::renewKeypair(const std::string& ovpn) {
    authenticate();
    auto [cert, key] = createKeypair();
    return insertKeypair(removeKeypair(ovpn), cert, key);
}

} // namespace dq::plugins::vpn
