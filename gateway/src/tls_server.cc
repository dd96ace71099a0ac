// The receiving side's TLS: building the server SSL_CTX from the certificate store, the blocking
// STARTTLS handshake and what it established. build() throws TlsSetupError; acceptTls() returns
// its errors in HandshakeResult. Any thread; contexts are immutable once built.
#include "tlsgate/gateway/tls_server.h"

#include "tls_util.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <utility>

namespace tlsgate::gateway {

using tls::groupName;
using tls::handshakeError;
using tls::minProtocolVersion;
using tls::setupError;

namespace {

using certmgr::drainOpensslErrors;

constexpr const char* kGroups = "X25519:P-256:P-384";
constexpr unsigned char kSessionIdContext[] = "tlsgate";

/// Accepts every client certificate as far as the handshake is concerned: the verification result
/// stays recorded (SSL_get_verify_result) and the session refuses with 421 4.7.1 and the reason,
/// which an administrator can read, instead of an opaque TLS alert.
int acceptAnyClientCertificate(int /*preverifyOk*/, X509_STORE_CTX* /*ctx*/) {
    return 1;
}

/// Switches the handshake to the context whose certificates carry the name the client asked for
/// (SNI); the name stays readable with SSL_get_servername(). Unknown names keep the default.
int selectByServerName(SSL* ssl, int* /*alert*/, void* arg) {
    const auto* context = static_cast<const ServerTlsContext*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (context != nullptr && name != nullptr) {
        if (SSL_CTX* chosen = context->forServerName(name)) {
            SSL_set_SSL_CTX(ssl, chosen);
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

/// The names a certificate answers to, lower case: its subjectAltName DNS entries, else its CN.
std::set<std::string> namesOf(X509& leaf) {
    const certmgr::CertificateInfo info = certmgr::inspect(leaf);
    std::set<std::string> names;
    for (std::string name : info.dnsNames) {
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        names.insert(name);
    }
    if (names.empty() && !info.commonName.empty()) {
        names.insert(info.commonName);
    }
    return names;
}

/// Loads certificates into one context, one per key type: OpenSSL keeps one slot per type and
/// picks RSA or ECDSA per the client's signature algorithms.
std::vector<std::string> loadCertificates(
    SSL_CTX& ctx, const std::vector<const certmgr::CertificateMaterial*>& set) {
    std::vector<std::string> ids;
    for (const certmgr::CertificateMaterial* m : set) {
        const certmgr::CertificateMaterial& material = *m;
        certmgr::X509StackPtr chain(sk_X509_new_null());
        if (!chain) {
            throw setupError("allocating a certificate chain");
        }
        for (auto& cert : material.chain) {
            // The stack owns what it holds: give it its own reference.
            if (X509_up_ref(cert.get()) != 1) {
                throw setupError("referencing chain certificate of " + material.id);
            }
            if (sk_X509_push(chain.get(), cert.get()) <= 0) {
                X509_free(cert.get());
                throw setupError("building the chain of certificate " + material.id);
            }
        }
        // Checks that the key matches; takes its own references to leaf, key and chain.
        if (SSL_CTX_use_cert_and_key(&ctx, material.leaf.get(), material.key.get(), chain.get(),
                                     1) != 1) {
            throw setupError("loading server certificate " + material.id);
        }
        ids.push_back(material.id);
    }
    return ids;
}

/// Advertises the store's own CAs (not the system bundle, which would be long and meaningless) as
/// acceptable issuers of client certificates.
void addClientCaNames(SSL_CTX& ctx, X509_STORE& trust, const certmgr::Store& store) {
    std::set<std::string> fingerprints;
    for (const auto& anchor : store.listCas()) {
        fingerprints.insert(anchor.info.sha256Fingerprint);
    }
    if (fingerprints.empty()) {
        return;
    }
    STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(&trust);
    for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
        X509* cert = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i));
        if (cert == nullptr) {
            continue;  // a CRL
        }
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int length = 0;
        if (X509_digest(cert, EVP_sha256(), digest, &length) != 1) {
            throw setupError("fingerprinting a trust anchor");
        }
        if (fingerprints.count(certmgr::colonHex(digest, length)) == 0) {
            continue;
        }
        if (SSL_CTX_add_client_CA(&ctx, cert) != 1) {
            throw setupError("adding a client CA name");
        }
    }
}

}  // namespace

// Session tickets: OpenSSL 3 makes random ticket keys per SSL_CTX and never rotates them on its
// own. A context is rebuilt on every store change, which replaces the keys (older tickets then
// fall back to a full handshake); a long run without changes keeps one set of keys.
namespace {

/// The ex_data slot of an SSL_CTX that points at its TicketKeyRing.
int ticketRingIndex() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

/// Seals (enc = 1) or opens (enc = 0) a session ticket with the ring's keys: AES-256-CBC and
/// HMAC-SHA256, as OpenSSL's own tickets. Returns 1 to go on, 2 to go on and issue a new ticket
/// (sealed with a retired key), 0 for "unknown key: full handshake", -1 on error.
int sealOrOpenTicket(SSL* ssl, unsigned char* keyName, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                     EVP_MAC_CTX* mac, int enc) {
    auto* ring =
        static_cast<TicketKeyRing*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticketRingIndex()));
    if (ring == nullptr) {
        return -1;
    }
    std::optional<std::pair<TicketKeyRing::Key, bool>> found;
    if (enc == 1) {
        try {
            found.emplace(ring->current(), true);
        } catch (const std::exception&) {
            return -1;  // no exception may cross OpenSSL's C frames
        }
        std::copy(found->first.name.begin(), found->first.name.end(), keyName);
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) {
            drainOpensslErrors();
            return -1;
        }
    } else {
        found = ring->find(keyName);
        if (!found) {
            return 0;
        }
    }
    const TicketKeyRing::Key& key = found->first;
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(mac, key.hmac.data(), key.hmac.size(), params) != 1) {
        drainOpensslErrors();
        return -1;
    }
    const int ok = enc == 1
                       ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv)
                       : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv);
    if (ok != 1) {
        drainOpensslErrors();
        return -1;
    }
    return enc == 1 || found->second ? 1 : 2;
}

/// Applies the settings every context of one ServerTlsContext shares (versions, ciphers, groups,
/// tickets, client certificates, SNI callback). `trust` is shared by reference.
void configure(SSL_CTX* ctx, const ServerTlsSettings& settings, X509_STORE* trust,
               const certmgr::Store& store, const ServerTlsContext* owner) {
    if (SSL_CTX_set_min_proto_version(ctx, minProtocolVersion(settings.minVersion)) != 1) {
        throw setupError("setting the minimum TLS version " + settings.minVersion);
    }
    if (SSL_CTX_set_cipher_list(ctx, settings.ciphers.c_str()) != 1) {
        throw setupError("TLS 1.2 cipher list \"" + settings.ciphers + "\"");
    }
    if (SSL_CTX_set_ciphersuites(ctx, settings.ciphersuites.c_str()) != 1) {
        throw setupError("TLS 1.3 cipher suites \"" + settings.ciphersuites + "\"");
    }
    SSL_CTX_set_options(
        ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    // An idle session (waiting for the next command) holds no 16 KiB read/write buffers.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    // One read(2) takes whatever has arrived, not a record header and then its body: half the
    // system calls per handshake. What it reads ahead waits in OpenSSL (SSL_has_pending), and
    // SocketTransport::read() looks there before it polls the socket.
    SSL_CTX_set_read_ahead(ctx, 1);
    if (!settings.sessionTickets) {
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    } else {
        // One TLS 1.3 ticket, not OpenSSL's two: a mail client resumes one session per host,
        // and each ticket is sealed and sent after every full handshake.
        SSL_CTX_set_num_tickets(ctx, 1);
        SSL_CTX_set_ex_data(ctx, ticketRingIndex(), settings.ticketKeys.get());
        if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, sealOrOpenTicket) != 1) {
            throw setupError("installing the session ticket key callback");
        }
    }
    if (SSL_CTX_set1_groups_list(ctx, kGroups) != 1) {
        throw setupError(std::string("key exchange groups ") + kGroups);
    }
    if (SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext - 1) != 1) {
        throw setupError("setting the session id context");
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    // SSL_CTX_set_tlsext_servername_callback() and _arg() without their C-style casts.
    SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                          reinterpret_cast<void (*)()>(selectByServerName));
    SSL_CTX_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG, 0, const_cast<ServerTlsContext*>(owner));
    if (settings.clientCertificate == ClientCertMode::DoNotRequest) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
        return;
    }
    // Request and Require alike: the handshake never fails on the client certificate; the
    // session enforces Require from HandshakeResult.
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, acceptAnyClientCertificate);
    try {
        addClientCaNames(*ctx, *trust, store);
    } catch (const TlsSetupError&) {
        throw;
    } catch (const std::exception& e) {
        drainOpensslErrors();
        throw TlsSetupError(std::string("reading the trust anchors: ") + e.what());
    }
    X509_STORE_up_ref(trust);
    SSL_CTX_set_cert_store(ctx, trust);  // takes the reference just made
}

}  // namespace

// Session tickets: OpenSSL 3 makes random ticket keys per SSL_CTX and never rotates them on its
// own. A context is rebuilt on every store change, which replaces the keys (older tickets then
// fall back to a full handshake); a long run without changes keeps one set of keys.
std::shared_ptr<const ServerTlsContext> ServerTlsContext::build(const certmgr::Store& store,
                                                                const ServerTlsSettings& settings) {
    std::shared_ptr<ServerTlsContext> context(new ServerTlsContext());
    context->settings_ = settings;
    if (context->settings_.sessionTickets && !context->settings_.ticketKeys) {
        context->settings_.ticketKeys = std::make_shared<TicketKeyRing>();
    }

    std::vector<certmgr::CertificateMaterial> materials;
    certmgr::X509StorePtr trust;
    try {
        materials = store.activeMaterial(certmgr::Role::Server);
        if (settings.clientCertificate != ClientCertMode::DoNotRequest) {
            trust = store.trustStore();
        }
    } catch (const std::exception& e) {
        drainOpensslErrors();
        throw TlsSetupError(std::string("reading the certificate store: ") + e.what());
    }
    struct Loaded {
        const certmgr::CertificateMaterial* material;
        int keyType;
        std::set<std::string> names;
    };
    std::vector<Loaded> usable;
    for (const auto& m : materials) {
        if (m.leaf && m.key) {
            usable.push_back({&m, EVP_PKEY_get_base_id(m.key.get()), namesOf(*m.leaf)});
        }
    }
    if (usable.empty()) {
        throw TlsSetupError("no active server certificate in the store " +
                            store.options().directory.string() +
                            " (run `certmgr generate` or `certmgr import`)");
    }
    // Per key type, the default: the certificate naming our host name, else the first.
    const std::string& host = store.options().hostname;
    std::map<int, const Loaded*> defaults;
    for (const auto& l : usable) {
        auto it = defaults.find(l.keyType);
        if (it == defaults.end() ||
            (it->second->names.count(host) == 0 && l.names.count(host) != 0)) {
            defaults[l.keyType] = &l;
        }
    }
    const auto makeContext = [&](const std::vector<const certmgr::CertificateMaterial*>& set) {
        SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
        if (!ctx) {
            throw setupError("allocating the server TLS context");
        }
        configure(ctx.get(), context->settings_, trust.get(), store, context.get());
        for (const auto& id : loadCertificates(*ctx, set)) {
            if (std::find(context->certificateIds_.begin(), context->certificateIds_.end(), id) ==
                context->certificateIds_.end()) {
                context->certificateIds_.push_back(id);
            }
        }
        return ctx;
    };
    std::vector<const certmgr::CertificateMaterial*> defaultSet;
    for (const auto& [type, l] : defaults) {
        defaultSet.push_back(l->material);
    }
    context->ctx_ = makeContext(defaultSet);

    // Every other name: per key type its own certificate, else the default of that type.
    std::map<std::vector<const certmgr::CertificateMaterial*>, SSL_CTX*> bySet;
    bySet[defaultSet] = nullptr;  // null: stay on the default context
    for (const auto& l : usable) {
        for (const auto& name : l.names) {
            if (context->byName_.count(name) != 0) {
                continue;
            }
            std::vector<const certmgr::CertificateMaterial*> set;
            for (const auto& [type, fallback] : defaults) {
                const certmgr::CertificateMaterial* chosen = fallback->material;
                if (fallback->names.count(name) == 0) {
                    for (const auto& other : usable) {
                        if (other.keyType == type && other.names.count(name) != 0) {
                            chosen = other.material;
                            break;
                        }
                    }
                }
                set.push_back(chosen);
            }
            auto found = bySet.find(set);
            if (found == bySet.end()) {
                context->alternates_.push_back(makeContext(set));
                found = bySet.emplace(set, context->alternates_.back().get()).first;
            }
            if (found->second != nullptr) {
                context->byName_[name] = found->second;
            }
        }
    }
    return context;
}

TicketKeyRing::TicketKeyRing(std::chrono::seconds rotation, const Clock& clock)
    : rotation_(rotation), clock_(clock) {}

void TicketKeyRing::rotateLocked(TimePoint now) {
    Key key;
    if (RAND_bytes(key.name.data(), static_cast<int>(key.name.size())) != 1 ||
        RAND_bytes(key.aes.data(), static_cast<int>(key.aes.size())) != 1 ||
        RAND_bytes(key.hmac.data(), static_cast<int>(key.hmac.size())) != 1) {
        throw setupError("drawing a session ticket key");
    }
    key.created = now;
    keys_.insert(keys_.begin(), key);
    if (keys_.size() > 2) {
        keys_.pop_back();  // retired: its tickets now mean a full handshake
    }
}

TicketKeyRing::Key TicketKeyRing::current() {
    std::lock_guard lock(mutex_);
    const TimePoint now = clock_.now();
    if (keys_.empty() || now - keys_.front().created >= rotation_) {
        rotateLocked(now);
    }
    return keys_.front();
}

std::optional<std::pair<TicketKeyRing::Key, bool>> TicketKeyRing::find(const unsigned char* name) {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < keys_.size(); ++i) {
        if (std::equal(keys_[i].name.begin(), keys_[i].name.end(), name)) {
            return std::make_pair(keys_[i], i == 0);
        }
    }
    return std::nullopt;
}

SSL_CTX* ServerTlsContext::forServerName(std::string_view serverName) const {
    std::string name(serverName);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (auto it = byName_.find(name); it != byName_.end()) {
        return it->second;
    }
    const auto dot = name.find('.');
    if (dot != std::string::npos) {
        if (auto it = byName_.find("*" + name.substr(dot)); it != byName_.end()) {
            return it->second;
        }
    }
    return nullptr;
}

HandshakeResult acceptTls(const ServerTlsContext& context, int fd, SslPtr& ssl) {
    HandshakeResult result;
    // SSL_get_error() reads the queue: nothing from an earlier failure may be left in it.
    ERR_clear_error();
    ssl.reset(SSL_new(context.get()));
    if (!ssl) {
        result.error = "allocating a TLS session: " + drainOpensslErrors();
        return result;
    }
    if (SSL_set_fd(ssl.get(), fd) != 1) {
        result.error = "attaching the socket: " + drainOpensslErrors();
        ssl.reset();
        return result;
    }
    errno = 0;
    int rc = SSL_accept(ssl.get());
    int savedErrno = errno;
    if (rc != 1) {
        result.error = handshakeError(*ssl, rc, savedErrno);
        ssl.reset();
        return result;
    }

    result.ok = true;
    result.version = SSL_get_version(ssl.get());
    if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl.get())) {
        result.cipher = SSL_CIPHER_get_name(cipher);
        result.cipherBits = SSL_CIPHER_get_bits(cipher, nullptr);
    }
    result.group = groupName(*ssl);
    if (const char* name = SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name)) {
        result.serverName = name;
    }
    certmgr::X509Ptr peer(SSL_get1_peer_certificate(ssl.get()));
    if (peer) {
        result.clientCertPresented = true;
        try {
            result.clientCert = certmgr::inspect(*peer);
        } catch (const std::exception&) {
            drainOpensslErrors();  // the certificate is still recorded as presented
        }
        long verify = SSL_get_verify_result(ssl.get());
        result.clientCertVerified = verify == X509_V_OK;
        if (!result.clientCertVerified) {
            result.clientCertVerifyError = X509_verify_cert_error_string(verify);
        }
    }
    // Nothing that failed along the way (and was tolerated) may reach the next connection.
    drainOpensslErrors();
    return result;
}

}  // namespace tlsgate::gateway
