// The SMTP listener: a Poco TCPServer whose connections each run one Session on a pool thread
// ("smtp"), with the connection limits (in total and per client address) enforced before the
// greeting. start() throws when the address cannot be bound; stop() is bounded in time.
#pragma once

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/ThreadPool.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "tlsgate/gateway/session.h"

namespace tlsgate::gateway {

class SmtpServer {
  public:
    explicit SmtpServer(SessionServices services);
    ~SmtpServer();
    SmtpServer(const SmtpServer&) = delete;
    SmtpServer& operator=(const SmtpServer&) = delete;

    /// A socket bound and listening on `settings.listen` (made before privileges are dropped).
    /// Throws std::runtime_error naming the address.
    static Poco::Net::ServerSocket bind(const ReceiveSettings& settings);
    /// Uses a socket from bind() instead of binding in start().
    void adopt(Poco::Net::ServerSocket socket);
    /// Starts accepting (binding first unless a socket was adopted).
    void start();
    /// Stops accepting, lets sessions finish for up to `grace`, then closes the rest (a message
    /// not yet answered 250 is not kept: the client will retry) and joins every thread.
    void stop(std::chrono::seconds grace = std::chrono::seconds(10));
    /// The port actually bound (useful with port 0 in tests).
    std::uint16_t port() const { return port_; }
    int activeConnections() const;

    // Called by connections.
    /// Takes a slot for `address`; empty on success, otherwise the reason to refuse.
    std::string admit(const std::string& address, int fd);
    void release(const std::string& address, int fd);
    const SessionServices& services() const { return services_; }

  private:
    SessionServices services_;
    std::unique_ptr<Poco::ThreadPool> pool_;
    std::unique_ptr<Poco::Net::TCPServer> server_;
    std::optional<Poco::Net::ServerSocket> socket_;
    std::uint16_t port_ = 0;
    mutable std::mutex mutex_;
    std::map<std::string, int> perClient_;
    std::set<int> openSockets_;
    int active_ = 0;
};

}  // namespace tlsgate::gateway
