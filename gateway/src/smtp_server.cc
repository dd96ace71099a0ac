// The SMTP listener on Poco::Net::TCPServer: admission (connection limits), TCP_NODELAY, one
// Session per connection. Connection threads never throw out of run().
#include "tlsgate/gateway/smtp_server.h"

#include <Poco/Logger.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/Net/TCPServerParams.h>
#include <sys/socket.h>

#include <thread>

namespace tlsgate::gateway {

namespace {

/// Strips the IPv4-mapped prefix so limits and trusted networks see one form per client.
std::string plainAddress(const Poco::Net::SocketAddress& address) {
    std::string host = address.host().toString();
    if (host.rfind("::ffff:", 0) == 0 && host.find('.') != std::string::npos) {
        host = host.substr(7);
    }
    return host;
}

class SmtpConnection final : public Poco::Net::TCPServerConnection {
  public:
    SmtpConnection(const Poco::Net::StreamSocket& socket, SmtpServer& server)
        : Poco::Net::TCPServerConnection(socket), server_(server) {}

    void run() override {
        Poco::Logger& log = Poco::Logger::get("tlsgate.smtp");
        try {
            Poco::Net::StreamSocket& s = socket();
            s.setNoDelay(true);  // no delayed-ACK stall per reply and per handshake flight
            // One getpeername(2) and one getsockname(2) each.
            const Poco::Net::SocketAddress remote = s.peerAddress();
            const Poco::Net::SocketAddress local = s.address();
            PeerInfo peer;
            peer.address = plainAddress(remote);
            peer.port = remote.port();
            peer.localAddress = plainAddress(local);
            peer.localPort = local.port();
            const int fd = s.impl()->sockfd();
            const std::string refusal = server_.admit(peer.address, fd);
            if (!refusal.empty()) {
                if (server_.services().counters != nullptr) {
                    server_.services().counters->connectionsRefusedByLimit.fetch_add(1);
                }
                log.warning("refusing connection from " + peer.address + ": " + refusal);
                const std::string reply = "421 4.7.0 " +
                                          server_.services().config->gateway.hostname +
                                          " Error: " + refusal + "\r\n";
                ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
                return;
            }
            try {
                SocketTransport transport(fd);
                Session session(server_.services(), transport, peer);
                session.run();
            } catch (...) {
                server_.release(peer.address, fd);
                throw;
            }
            server_.release(peer.address, fd);
        } catch (const std::exception& e) {
            log.error(std::string("connection failed: ") + e.what());
        }
    }

  private:
    SmtpServer& server_;
};

class SmtpConnectionFactory final : public Poco::Net::TCPServerConnectionFactory {
  public:
    explicit SmtpConnectionFactory(SmtpServer& server) : server_(server) {}
    Poco::Net::TCPServerConnection* createConnection(
        const Poco::Net::StreamSocket& socket) override {
        return new SmtpConnection(socket, server_);
    }

  private:
    SmtpServer& server_;
};

}  // namespace

SmtpServer::SmtpServer(SessionServices services) : services_(std::move(services)) {}

SmtpServer::~SmtpServer() {
    stop(std::chrono::seconds(0));
}

Poco::Net::ServerSocket SmtpServer::bind(const ReceiveSettings& r) {
    Poco::Net::ServerSocket socket;
    try {
        Poco::Net::SocketAddress address(r.listen.host, r.listen.port);
        socket.bind(address, true);
        socket.listen(128);
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("cannot listen on " + r.listen.toString() + ": " +
                                 e.displayText());
    }
    return socket;
}

void SmtpServer::adopt(Poco::Net::ServerSocket socket) {
    port_ = socket.address().port();
    socket_ = std::move(socket);
}

void SmtpServer::start() {
    if (!socket_) {
        adopt(bind(services_.config->receive));
    }
    const auto& r = services_.config->receive;
    // One thread per open session, a few spare to answer 421 past the limits quickly.
    const int threads = r.maxConnections + 8;
    pool_ = std::make_unique<Poco::ThreadPool>("smtp", 2, threads, 60, 512 * 1024);
    auto* params = new Poco::Net::TCPServerParams;
    params->setMaxThreads(threads);
    params->setMaxQueued(64);
    params->setThreadIdleTime(Poco::Timespan(10, 0));
    server_ = std::make_unique<Poco::Net::TCPServer>(new SmtpConnectionFactory(*this), *pool_,
                                                     *socket_, params);
    server_->start();
}

void SmtpServer::stop(std::chrono::seconds grace) {
    if (!server_) {
        return;
    }
    server_->stop();
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (activeConnections() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    {
        std::lock_guard lock(mutex_);
        for (int fd : openSockets_) {
            ::shutdown(fd, SHUT_RDWR);  // wakes blocked reads; Poco closes the descriptor
        }
    }
    pool_->joinAll();
    server_.reset();
    pool_.reset();
}

int SmtpServer::activeConnections() const {
    std::lock_guard lock(mutex_);
    return active_;
}

std::string SmtpServer::admit(const std::string& address, int fd) {
    const auto& r = services_.config->receive;
    std::lock_guard lock(mutex_);
    if (active_ >= r.maxConnections) {
        return "too many connections";
    }
    int& mine = perClient_[address];
    if (mine >= r.maxConnectionsPerClient) {
        if (mine == 0) {
            perClient_.erase(address);
        }
        return "too many connections from " + address;
    }
    ++mine;
    ++active_;
    openSockets_.insert(fd);
    return {};
}

void SmtpServer::release(const std::string& address, int fd) {
    std::lock_guard lock(mutex_);
    --active_;
    openSockets_.erase(fd);
    auto it = perClient_.find(address);
    if (it != perClient_.end() && --it->second <= 0) {
        perClient_.erase(it);
    }
}

}  // namespace tlsgate::gateway
