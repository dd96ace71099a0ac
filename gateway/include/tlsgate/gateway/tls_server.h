// The receiving side's TLS: an immutable server SSL_CTX built from the certificate store (every
// active server certificate, so RSA and ECDSA clients each get theirs), the handshake over an
// already connected socket (STARTTLS), and what the handshake established. Contexts are rebuilt
// when the store changes and swapped atomically; sessions keep the one they started with.
// Build errors throw TlsSetupError (the session answers 454); handshake errors are returned.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tlsgate/certmgr/certificate.h"
#include "tlsgate/certmgr/ossl.h"
#include "tlsgate/certmgr/store.h"
#include "tlsgate/common/clock.h"
#include "tlsgate/gateway/config.h"

namespace tlsgate::gateway {

using SslCtxPtr = std::unique_ptr<SSL_CTX, certmgr::OsslDeleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, certmgr::OsslDeleter<SSL_free>>;

class TlsSetupError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// Session ticket keys, rotated: new tickets are sealed with the newest key; a ticket sealed with
/// the previous one is still accepted (and renewed), so a rotation never forces every client into
/// a full handshake at once. Thread-safe; shared by every context built with the same settings, so
/// tickets survive certificate changes.
class TicketKeyRing {
  public:
    struct Key {
        std::array<unsigned char, 16> name{};
        std::array<unsigned char, 32> aes{};
        std::array<unsigned char, 32> hmac{};
        TimePoint created;
    };

    explicit TicketKeyRing(std::chrono::seconds rotation = std::chrono::hours(12),
                           const Clock& clock = SystemClock::instance());
    /// The key to seal new tickets with; rotates first when the newest is a period old.
    Key current();
    /// The key named `name` and whether it is the newest; empty when unknown or retired.
    std::optional<std::pair<Key, bool>> find(const unsigned char* name);
    std::chrono::seconds rotation() const { return rotation_; }

  private:
    void rotateLocked(TimePoint now);

    const std::chrono::seconds rotation_;
    const Clock& clock_;
    std::mutex mutex_;
    std::vector<Key> keys_;  ///< newest first, at most two
};

struct ServerTlsSettings {
    ClientCertMode clientCertificate = ClientCertMode::DoNotRequest;
    std::string minVersion = "TLSv1.2";  ///< "TLSv1.2" or "TLSv1.3"
    /// TLS 1.2 cipher list (OpenSSL syntax): forward-secret AEAD only by default.
    std::string ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20";
    /// TLS 1.3 suites (OpenSSL syntax).
    std::string ciphersuites =
        "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";
    bool sessionTickets = true;
    /// The ticket keys; null: each context gets a ring of its own (rotated every 12 hours).
    std::shared_ptr<TicketKeyRing> ticketKeys;
};

/// One immutable server context. Cheap to share; SSL objects made from it keep it alive.
class ServerTlsContext {
  public:
    /// Loads every certificate active in the server role with its chain and key, the trust
    /// anchors (store + system bundle per the store's options) for client certificates, and the
    /// settings. Throws TlsSetupError when no usable server certificate exists.
    static std::shared_ptr<const ServerTlsContext> build(const certmgr::Store& store,
                                                         const ServerTlsSettings& settings);
    SSL_CTX* get() const { return ctx_.get(); }
    const ServerTlsSettings& settings() const { return settings_; }
    /// Ids of the certificates loaded, for logs.
    const std::vector<std::string>& certificateIds() const { return certificateIds_; }
    /// The context serving `serverName` (SNI): the one whose certificates carry that name, or
    /// match it with a one-label wildcard; null for the default context.
    SSL_CTX* forServerName(std::string_view serverName) const;

  private:
    ServerTlsContext() = default;
    /// The default context: per key type, the certificate naming the gateway's host name (or the
    /// first active one). Clients without SNI, or naming something else, get these.
    SslCtxPtr ctx_;
    /// Contexts for the other names, the SNI callback switches to them.
    std::vector<SslCtxPtr> alternates_;
    std::map<std::string, SSL_CTX*> byName_;
    ServerTlsSettings settings_;
    std::vector<std::string> certificateIds_;
};

/// What a completed (or failed) server handshake established.
struct HandshakeResult {
    bool ok = false;
    std::string error;    ///< OpenSSL's reason when !ok (drained from the error queue)
    std::string version;  ///< "TLSv1.3"
    std::string cipher;   ///< "TLS_AES_256_GCM_SHA384"
    int cipherBits = 0;
    std::string group;       ///< key exchange group, "X25519"
    std::string serverName;  ///< SNI the client sent, empty when none
    bool clientCertPresented = false;
    std::optional<certmgr::CertificateInfo> clientCert;
    bool clientCertVerified = false;
    std::string clientCertVerifyError;  ///< X509_verify_cert_error_string when not verified
};

/// Runs SSL_accept on `fd` (a connected, blocking socket whose receive/send timeouts bound the
/// handshake). On success `ssl` holds the session for reads and writes.
HandshakeResult acceptTls(const ServerTlsContext& context, int fd, SslPtr& ssl);

/// The current immutable TLS context of one kind (server or client). A rebuild swaps in a whole
/// new one; sessions and deliveries keep the one they took. Thread-safe.
template <class Context>
class TlsContextSlot {
  public:
    /// Swaps in what `build()` returns. On failure the previous context stays and the error is
    /// returned (empty on success).
    template <class Build>
    std::string rebuild(Build&& build) {
        std::shared_ptr<const Context> next;
        try {
            next = build();
        } catch (const std::exception& e) {
            certmgr::drainOpensslErrors();
            return e.what();
        }
        std::lock_guard lock(mutex_);
        current_ = std::move(next);
        return {};
    }
    /// Null until a build succeeded.
    std::shared_ptr<const Context> current() const {
        std::lock_guard lock(mutex_);
        return current_;
    }

  private:
    mutable std::mutex mutex_;
    std::shared_ptr<const Context> current_;
};

/// Holds the current context; the watcher's change callback calls rebuild().
class ServerTlsContextHolder {
  public:
    /// One ticket key ring for every context it builds, so tickets survive certificate changes.
    explicit ServerTlsContextHolder(ServerTlsSettings settings) : settings_(std::move(settings)) {
        if (settings_.sessionTickets && !settings_.ticketKeys) {
            settings_.ticketKeys = std::make_shared<TicketKeyRing>();
        }
    }
    /// Builds from the store and swaps it in. On failure the previous context stays and the
    /// error is returned (empty on success).
    std::string rebuild(const certmgr::Store& store) {
        return slot_.rebuild([&] { return ServerTlsContext::build(store, settings_); });
    }
    /// The current context; null when none could ever be built (then STARTTLS answers 454).
    std::shared_ptr<const ServerTlsContext> current() const { return slot_.current(); }

  private:
    ServerTlsSettings settings_;
    TlsContextSlot<ServerTlsContext> slot_;
};

}  // namespace tlsgate::gateway
