// The sending side's SMTP client: one connection to one next-hop address, EHLO, STARTTLS under
// the send policy, MAIL/RCPT (pipelined when offered)/DATA/QUIT, the cache of idle connections
// kept for the next message to the same host, and the TLS client context built from the
// certificate store (trust anchors, the client certificate role). Runs on delivery worker
// threads (the cache is shared and locked); deliver() never throws: every failure is in the
// result.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tlsgate/certmgr/certificate.h"
#include "tlsgate/certmgr/store.h"
#include "tlsgate/gateway/send_policy.h"
#include "tlsgate/gateway/tls_server.h"

namespace tlsgate::gateway {

/// One immutable client SSL_CTX: TLS 1.2+, trust store (store CAs + system bundle per options),
/// the certificate active in the client role (presented when a server asks), verification done
/// by the policy after the handshake (the context never aborts a handshake over it).
class ClientTlsContext {
  public:
    /// Throws TlsSetupError on OpenSSL failures; no client certificate is not an error.
    static std::shared_ptr<const ClientTlsContext> build(const certmgr::Store& store,
                                                         const std::string& minVersion = "TLSv1.2");
    SSL_CTX* get() const { return ctx_.get(); }
    /// Id of the client certificate loaded, empty when none.
    const std::string& clientCertificateId() const { return clientCertificateId_; }

  private:
    ClientTlsContext() = default;
    SslCtxPtr ctx_;
    std::string clientCertificateId_;
};

/// Holds the current client context; rebuilt when the store changes.
class ClientTlsContextHolder {
  public:
    /// On failure the previous context stays and the error is returned (empty on success).
    std::string rebuild(const certmgr::Store& store, const std::string& minVersion = "TLSv1.2") {
        return slot_.rebuild([&] { return ClientTlsContext::build(store, minVersion); });
    }
    std::shared_ptr<const ClientTlsContext> current() const { return slot_.current(); }

  private:
    TlsContextSlot<ClientTlsContext> slot_;
};

/// Idle connections to next hops, each kept after a transaction for the next message to the same
/// host name, address, port, TLS level and client context (as Postfix's connection cache): the
/// next delivery skips the TCP connection, the greeting, EHLO and the TLS handshake, and checks
/// the connection with RSET instead. Thread-safe.
class ConnectionCache {
  public:
    struct Limits {
        std::chrono::milliseconds idleTime{2000};  ///< closed after this long unused
        int maxUses = 100;                         ///< transactions per connection
        std::size_t maxIdle = 64;                  ///< idle connections kept in all
    };
    struct Entry;  ///< a connection and what was established on it (smtp_client.cc)

    explicit ConnectionCache(Limits limits);
    ~ConnectionCache();
    ConnectionCache(const ConnectionCache&) = delete;
    ConnectionCache& operator=(const ConnectionCache&) = delete;

    /// Closes (QUIT, without waiting for the reply) connections idle longer than the limit.
    void closeExpired();
    /// Closes every idle connection (shutdown).
    void clear();
    std::size_t idle() const;
    const Limits& limits() const { return limits_; }

    /// The most recently used idle connection for `key`, or null (deliver() only).
    std::unique_ptr<Entry> take(const std::string& key);
    /// Keeps `entry` for reuse; the oldest idle connection goes when the cache is full.
    void put(std::unique_ptr<Entry> entry);

  private:
    Limits limits_;
    mutable std::mutex mutex_;
    std::deque<std::unique_ptr<Entry>> idle_;  ///< oldest first
};

struct DeliveryRequest {
    std::string host;     ///< name of the next hop (SNI, certificate name check, messages)
    std::string address;  ///< numeric IP to connect to
    std::uint16_t port = 25;
    std::string heloName;  ///< our host name
    SendTlsLevel level = SendTlsLevel::Attempt;
    bool forcePlain = false;                      ///< retry after a failed opportunistic handshake
    std::shared_ptr<const ClientTlsContext> tls;  ///< null: TLS impossible (policy decides)
    std::string sender;                           ///< empty for <>
    std::vector<std::string> recipients;
    const std::string* content = nullptr;  ///< the message, CRLF lines, not dot-stuffed
    std::uint64_t size = 0;
    bool eightBitMime = false;
    std::chrono::seconds connectTimeout{30};
    std::chrono::seconds commandTimeout{300};
    /// Where an idle connection for this request may be found and returned; null: a new
    /// connection, closed with QUIT after the transaction.
    ConnectionCache* cache = nullptr;
};

struct RecipientResult {
    std::string recipient;
    int code = 0;       ///< the server's reply to RCPT, or to DATA when RCPT was accepted
    std::string reply;  ///< the whole reply text, for logs and DSNs
};

enum class DeliveryOutcome {
    Delivered,   ///< DATA answered 250: every recipient with a 2xx RCPT got the message
    Deferred,    ///< temporary: connection, 4xx, or TLS policy not met; try later/another host
    Failed,      ///< permanent: 5xx for the whole transaction (MAIL or DATA)
    RetryPlain,  ///< Attempt level: handshake failed; the caller retries with forcePlain
};

struct DeliveryResult {
    DeliveryOutcome outcome = DeliveryOutcome::Deferred;
    std::string reason;           ///< operator-readable, with enhanced code where there is one
    bool policyDeferred = false;  ///< deferred because the TLS policy was not met
    std::vector<RecipientResult> recipients;  ///< per recipient, in request order
    SendTlsFacts tlsFacts;
    std::uint16_t port = 0;  ///< the port connected to
    bool connected = false;  ///< the TCP connection was made (or a cached one was used)
    /// The connection came from the cache: its TLS facts are those of its first transaction, and
    /// no connection or handshake happened for this one.
    bool reused = false;
    bool tlsUsed = false;
    std::string tlsVersion;
    std::string tlsCipher;
    std::optional<certmgr::CertificateInfo> serverCert;
};

/// Runs one SMTP transaction with the next hop. Never throws.
DeliveryResult deliver(const DeliveryRequest& request);

}  // namespace tlsgate::gateway
