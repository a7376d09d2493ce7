// The limit of our stack: a Poco HTTPServer that answers every request with the same 60-byte JSON,
// with the server's HTTP settings (keep-alive, worker pool), and nothing else. bench/run measures
// it next to the real server in the same run.
//   bench_bare_poco PORT [THREADS]
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <unistd.h>

namespace {

const std::string kBody = R"({"id":1,"name":"North Hospital","country":"Holland","ok":10})";

class Fixed : public Poco::Net::HTTPRequestHandler {
public:
    void handleRequest(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& response) override {
        response.setContentType("application/json");
        response.setContentLength(static_cast<std::streamsize>(kBody.size()));
        response.send() << kBody;
    }
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
        return new Fixed;
    }
};

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: bench_bare_poco PORT [THREADS]\n";
        return 2;
    }
    const int port = std::atoi(argv[1]);
    const int threads = argc > 2 ? std::atoi(argv[2]) : 64;
    auto params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(threads);
    params->setMaxQueued(1024);
    params->setKeepAlive(true);
    params->setMaxKeepAliveRequests(1000);
    Poco::Net::ServerSocket socket;
    socket.bind(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)), true, false);
    socket.listen(256);
    Poco::ThreadPool pool("bare", 2, threads);
    Poco::Net::HTTPServer server(new Factory, pool, socket, params);
    server.start();
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigprocmask(SIG_BLOCK, &signals, nullptr);
    int received = 0;
    sigwait(&signals, &received);
    server.stop();
    return 0;
}
