// Test peers: a fake SMTP sink and a fake EduVPN portal on loopback, each a small Python program
// in this folder, started per test and stopped when the object goes away; and an authenticator app.
#pragma once

#include <Poco/DirectoryIterator.h>
#include <Poco/File.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Path.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/TemporaryFile.h>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace dq::test::peers {

/// A Python peer from tests/peers/, running until destroyed; port() is where it listens.
class PeerProcess {
public:
    PeerProcess(const std::string& script, const std::vector<std::string>& args) {
        std::vector<std::string> argv{std::string(DQ_SOURCE_DIR) + "/tests/peers/" + script};
        argv.insert(argv.end(), args.begin(), args.end());
        Poco::Pipe out;
        handle_ = std::make_unique<Poco::ProcessHandle>(
            Poco::Process::launch("/usr/bin/python3", argv, nullptr, &out, nullptr));
        Poco::PipeInputStream in(out);
        std::string word;
        if (!(in >> word >> port_) || word != "PORT")
            throw std::runtime_error("test peer " + script +
                                     " did not print its port; is /usr/bin/python3 there?");
    }
    ~PeerProcess() {
        try {
            Poco::Process::kill(*handle_);
            handle_->wait();
        } catch (...) {
        }
    }
    int port() const { return port_; }

private:
    std::unique_ptr<Poco::ProcessHandle> handle_;
    int port_ = 0;
};

/// The SMTP sink: mails land as JSON files in a temporary folder.
class SmtpSink {
public:
    /// `tlsPem`: certificate and key; the sink then offers STARTTLS and takes AUTH and mail only after.
    explicit SmtpSink(int refuseFirst = 0, const std::string& tlsPem = "")
        : folder_(), process_("smtp_sink.py", arguments(folder_, refuseFirst, tlsPem)) {}

    int port() const { return process_.port(); }

    /// The received mails ({"from", "to", "data", "auth", "tls"}), oldest first.
    std::vector<Poco::JSON::Object::Ptr> mails() const {
        std::vector<std::string> names;
        for (Poco::DirectoryIterator it(folder_.path()), end; it != end; ++it)
            if (it.name().size() > 5 && it.name().substr(it.name().size() - 5) == ".json")
                names.push_back(it.path().toString());
        std::sort(names.begin(), names.end());
        std::vector<Poco::JSON::Object::Ptr> out;
        for (const auto& name : names) {
            std::ifstream in(name);
            std::stringstream text;
            text << in.rdbuf();
            out.push_back(Poco::JSON::Parser().parse(text.str()).extract<Poco::JSON::Object::Ptr>());
        }
        return out;
    }

    /// Waits (up to a generous 30 s, for slow machines) until `count` mails arrived; returns them.
    std::vector<Poco::JSON::Object::Ptr> waitFor(std::size_t count) const {
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (mails().size() < count && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return mails();
    }

private:
    static std::vector<std::string> arguments(Poco::TemporaryFile& folder, int refuseFirst,
                                              const std::string& tlsPem) {
        Poco::File(folder.path()).createDirectories();
        std::vector<std::string> args{folder.path()};
        if (refuseFirst > 0)
            args.insert(args.end(), {"--refuse-first", std::to_string(refuseFirst)});
        if (!tlsPem.empty())
            args.insert(args.end(), {"--tls", tlsPem});
        return args;
    }

    Poco::TemporaryFile folder_;
    PeerProcess process_;
};

/// The fake EduVPN portal (user vpnuser/vpnpass, client vantage6/secret).
class FakeEduVpn {
public:
    FakeEduVpn() : process_("fake_eduvpn.py", {}) {}

    int port() const { return process_.port(); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }

    /// ok | slow | bad_login | bad_token | bad_profiles | bad_keypair | error_status
    void setMode(const std::string& mode) {
        Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port()));
        Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/_test/mode",
                                       Poco::Net::HTTPMessage::HTTP_1_1);
        request.setContentLength(static_cast<std::streamsize>(mode.size()));
        session.sendRequest(request) << mode;
        Poco::Net::HTTPResponse response;
        session.receiveResponse(response);
        if (response.getStatus() != 200)
            throw std::runtime_error("fake EduVPN refused mode " + mode);
    }

    /// The `vpn_server:` block for TestServer::Options::extraYaml.
    std::string yaml(const std::string& password = "vpnpass") const {
        return "  vpn_server:\n    url: " + url() +
               "/\n    redirect_url: http://localhost/callback\n    client_id: vantage6\n"
               "    client_secret: secret\n    portal_username: vpnuser\n    portal_userpass: " +
               password + "\n";
    }

private:
    PeerProcess process_;
};

/// A throw-away self-signed certificate, made with the openssl tool; by default for "localhost" and
/// 127.0.0.1, else for `name` only.
class TestCertificate {
public:
    explicit TestCertificate(const std::string& name = "") {
        const std::string names = name.empty() ? "DNS:localhost,IP:127.0.0.1" : "DNS:" + name;
        Poco::File(folder_.path()).createDirectories();
        Poco::Pipe err;
        auto handle = Poco::Process::launch(
            "openssl",
            {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=" + (name.empty() ? std::string("localhost") : name), "-addext", "subjectAltName=" + names,
             "-keyout", keyFile(), "-out", certificateFile()},
            nullptr, nullptr, &err);
        Poco::PipeInputStream errStream(err);
        std::string problems((std::istreambuf_iterator<char>(errStream)), std::istreambuf_iterator<char>());
        if (handle.wait() != 0)
            throw std::runtime_error("openssl could not make a test certificate: " + problems);
        std::ofstream pem(serverPem());
        pem << std::ifstream(certificateFile()).rdbuf() << std::ifstream(keyFile()).rdbuf();
    }
    /// The certificate alone: what a client trusts.
    std::string certificateFile() const { return folder_.path() + "/certificate.pem"; }
    /// Certificate and key: what the server presents.
    std::string serverPem() const { return folder_.path() + "/server.pem"; }

private:
    std::string keyFile() const { return folder_.path() + "/key.pem"; }
    Poco::TemporaryFile folder_;
};

/// A TCP proxy to `host:port` that can cut every connection through it, as if the target went
/// down, and let them through again.
class TcpProxy {
public:
    TcpProxy(const std::string& host, int port)
        : folder_(), process_("tcp_proxy.py", {host, std::to_string(port), cutFile(folder_)}) {}

    int port() const { return process_.port(); }
    /// Closes every connection through the proxy and refuses new ones until restore().
    void cut() { std::ofstream(cutFile(folder_)) << "cut\n"; }
    void restore() { Poco::File(cutFile(folder_)).remove(); }

private:
    static std::string cutFile(Poco::TemporaryFile& folder) {
        Poco::File(folder.path()).createDirectories();
        return folder.path() + "/cut";
    }
    Poco::TemporaryFile folder_;
    PeerProcess process_;
};

/// A loopback port where nothing listens (bound, then released).
inline int closedPort() {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    int port = socket.address().port();
    socket.close();
    return port;
}

/// What an authenticator app (pyotp, as vantage6 uses) reads from an otpauth:// URI.
struct AuthenticatorReading {
    std::string code;   ///< the TOTP code at the requested time
    std::string issuer; ///< e.g. "vantage6 (demo)"
    std::string name;   ///< the account (username)
};

/// Runs tests/peers/authenticator.py on `uri`, for now + `offsetSeconds`. Throws when pyotp cannot
/// read the URI (or is not installed: apt-get install python3-pyotp).
inline AuthenticatorReading authenticator(const std::string& uri, int offsetSeconds = 0) {
    Poco::Pipe out;
    Poco::Pipe err;
    auto handle = Poco::Process::launch(
        "/usr/bin/python3",
        {std::string(DQ_SOURCE_DIR) + "/tests/peers/authenticator.py", uri, std::to_string(offsetSeconds)},
        nullptr, &out, &err);
    Poco::PipeInputStream outStream(out);
    Poco::PipeInputStream errStream(err);
    std::string line;
    std::getline(outStream, line);
    std::string problems((std::istreambuf_iterator<char>(errStream)), std::istreambuf_iterator<char>());
    if (handle.wait() != 0 || line.find(' ') == std::string::npos)
        throw std::runtime_error("authenticator.py could not read '" + uri + "': " + problems);
    auto space = line.find(' ');
    auto bar = line.find('|', space);
    return {line.substr(0, space), line.substr(space + 1, bar - space - 1),
            bar == std::string::npos ? "" : line.substr(bar + 1)};
}

} // namespace dq::test::peers
