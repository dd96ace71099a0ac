// Tests of the server TLS context and handshake: a real socketpair, acceptTls on a thread and a
// small OpenSSL client on the other end. Failures are GoogleTest assertions.
#include "tlsgate/gateway/tls_server.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "test_ca.h"
#include "tlsgate/certmgr/generate.h"
#include "tlsgate/certmgr/store.h"

namespace tlsgate::gateway {
namespace {

using certmgr::Role;
using certmgr::Store;
using certmgr::StoreOptions;
using certmgr::X509Ptr;
using testing::CertOptions;
using testing::TempDir;
using testing::TestCert;

constexpr const char* kHostname = "mx.example.test";

/// A file descriptor closed on destruction.
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        std::swap(fd_, other.fd_);
        return *this;
    }
    ~UniqueFd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    int get() const { return fd_; }

  private:
    int fd_ = -1;
};

/// What the test client offers; set with the chained setters.
struct ClientOptions {
    int minVersion = 0;  ///< 0: OpenSSL's default
    int maxVersion = 0;
    std::string sigalgs;       ///< SSL_set1_sigalgs_list
    std::string cipherList;    ///< TLS 1.2 ciphers
    bool lowSecurity = false;  ///< security level 0, so TLS 1.1 can be offered at all
    std::string serverName;    ///< SNI
    const TestCert* certificate = nullptr;

    ClientOptions& versions(int min, int max) {
        minVersion = min;
        maxVersion = max;
        return *this;
    }
    ClientOptions& upTo(int max) { return versions(0, max); }
    ClientOptions& signatureAlgorithms(std::string list) {
        sigalgs = std::move(list);
        return *this;
    }
    ClientOptions& ciphers(std::string list) {
        cipherList = std::move(list);
        return *this;
    }
    ClientOptions& legacy() {
        lowSecurity = true;
        return *this;
    }
    ClientOptions& sni(std::string name) {
        serverName = std::move(name);
        return *this;
    }
    ClientOptions& presenting(const TestCert& cert) {
        certificate = &cert;
        return *this;
    }
};

/// Both ends of one handshake. The sockets outlive the SSL objects (declared first).
struct Exchange {
    UniqueFd serverFd;
    UniqueFd clientFd;
    HandshakeResult server;
    SslPtr serverSsl;
    bool clientOk = false;
    std::string clientError;
    std::string clientVersion;
    X509Ptr serverCertificate;  ///< what the client received
    SslPtr clientSsl;
};

void setTimeouts(int fd) {
    timeval tv{5, 0};
    ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
}

/// Runs acceptTls on a thread against a client configured by `options`.
void handshake(const ServerTlsContext& context, const ClientOptions& options, Exchange& out) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    out.serverFd = UniqueFd(fds[0]);
    out.clientFd = UniqueFd(fds[1]);
    setTimeouts(fds[0]);
    setTimeouts(fds[1]);

    std::thread server([&] { out.server = acceptTls(context, fds[0], out.serverSsl); });

    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    bool ready = ctx != nullptr;
    if (ready && options.lowSecurity) {
        SSL_CTX_set_security_level(ctx.get(), 0);
        ready = SSL_CTX_set_cipher_list(ctx.get(), "DEFAULT:@SECLEVEL=0") == 1;
    }
    if (ready && options.minVersion != 0) {
        ready = SSL_CTX_set_min_proto_version(ctx.get(), options.minVersion) == 1;
    }
    if (ready && options.maxVersion != 0) {
        ready = SSL_CTX_set_max_proto_version(ctx.get(), options.maxVersion) == 1;
    }
    if (ready && !options.cipherList.empty()) {
        ready = SSL_CTX_set_cipher_list(ctx.get(), options.cipherList.c_str()) == 1;
    }
    if (ready) {
        out.clientSsl.reset(SSL_new(ctx.get()));
        ready = out.clientSsl != nullptr && SSL_set_fd(out.clientSsl.get(), fds[1]) == 1;
    }
    SSL* ssl = out.clientSsl.get();
    if (ready && !options.sigalgs.empty()) {
        ready = SSL_set1_sigalgs_list(ssl, options.sigalgs.c_str()) == 1;
    }
    if (ready && !options.serverName.empty()) {
        // SSL_set_tlsext_host_name() without its C-style cast.
        ready = SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                         const_cast<char*>(options.serverName.c_str())) == 1;
    }
    if (ready && options.certificate != nullptr) {
        ready = SSL_use_certificate(ssl, options.certificate->cert.get()) == 1 &&
                SSL_use_PrivateKey(ssl, options.certificate->key.get()) == 1;
    }
    if (ready) {
        out.clientOk = SSL_connect(ssl) == 1;
    }
    if (out.clientOk) {
        out.clientVersion = SSL_get_version(ssl);
        out.serverCertificate.reset(SSL_get1_peer_certificate(ssl));
    } else {
        out.clientError = certmgr::drainOpensslErrors();
        // Let a server still waiting for the client see the end of the stream.
        ::shutdown(fds[1], SHUT_RDWR);
    }
    server.join();
    ASSERT_TRUE(ready) << "client setup: " << out.clientError;
}

std::string keyType(const X509Ptr& cert) {
    return cert ? certmgr::inspect(*cert).keyType : std::string("(none)");
}

TestCert clientCertificate(const TestCert* issuer, CertOptions options = {}) {
    options.commonName = "client.example.test";
    options.extendedKeyUsages = {"clientAuth"};
    return testing::makeLeaf(issuer, options);
}

/// One store (ECDSA + RSA defaults, one trusted CA) shared by the tests that only read it: the
/// RSA key generation is the slow part.
class TlsServerTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        std::signal(SIGPIPE, SIG_IGN);  // a peer that hangs up must not kill the test
        dir_ = std::make_unique<TempDir>();
        StoreOptions options;
        options.directory = dir_->path();
        options.hostname = kHostname;
        options.useSystemCa = false;
        store_ = std::make_unique<Store>(options);
        store_->ensureDefault();
        ca_ = std::make_unique<TestCert>(testing::makeCa("Test Client CA"));
        store_->addCa(*ca_->cert);
    }
    static void TearDownTestSuite() {
        ca_.reset();
        store_.reset();
        dir_.reset();
    }

    static std::shared_ptr<const ServerTlsContext> build(ServerTlsSettings settings = {}) {
        return ServerTlsContext::build(*store_, settings);
    }
    static ServerTlsSettings requesting() {
        ServerTlsSettings settings;
        settings.clientCertificate = ClientCertMode::Request;
        return settings;
    }

    static std::unique_ptr<TempDir> dir_;
    static std::unique_ptr<Store> store_;
    static std::unique_ptr<TestCert> ca_;
};

std::unique_ptr<TempDir> TlsServerTest::dir_;
std::unique_ptr<Store> TlsServerTest::store_;
std::unique_ptr<TestCert> TlsServerTest::ca_;

using TlsServerBuild = TlsServerTest;
using TlsServerHandshake = TlsServerTest;
using TlsServerClientCert = TlsServerTest;

TEST_F(TlsServerBuild, LoadsBothDefaultCertificates) {
    auto context = build();
    ASSERT_NE(context, nullptr);
    EXPECT_EQ(context->certificateIds().size(), 2u);
}

TEST_F(TlsServerBuild, RefusesAnUnknownMinimumVersion) {
    ServerTlsSettings settings;
    settings.minVersion = "TLSv1.1";
    EXPECT_THROW(build(settings), TlsSetupError);
}

TEST_F(TlsServerBuild, RefusesACipherListMatchingNothing) {
    ServerTlsSettings settings;
    settings.ciphers = "NO-SUCH-CIPHER";
    try {
        build(settings);
        FAIL() << "expected TlsSetupError";
    } catch (const TlsSetupError& e) {
        EXPECT_NE(std::string(e.what()).find("NO-SUCH-CIPHER"), std::string::npos) << e.what();
    }
    EXPECT_EQ(ERR_peek_error(), 0u) << "the error queue was left with a stale error";
}

TEST_F(TlsServerHandshake, Tls13ClientCompletes) {
    auto context = build();
    Exchange x;
    handshake(*context, ClientOptions(), x);
    ASSERT_TRUE(x.server.ok) << x.server.error;
    ASSERT_TRUE(x.clientOk) << x.clientError;
    EXPECT_NE(x.serverSsl, nullptr);
    EXPECT_EQ(x.server.version, "TLSv1.3");
    EXPECT_FALSE(x.server.cipher.empty());
    EXPECT_GE(x.server.cipherBits, 128);
    EXPECT_EQ(x.server.group, "X25519");
    EXPECT_TRUE(x.server.serverName.empty());
    EXPECT_FALSE(x.server.clientCertPresented);
    EXPECT_FALSE(x.server.clientCert.has_value());
    EXPECT_TRUE(x.server.error.empty());
}

TEST_F(TlsServerHandshake, Tls12ClientGetsAForwardSecretCipher) {
    auto context = build();
    Exchange x;
    handshake(*context, ClientOptions().upTo(TLS1_2_VERSION), x);
    ASSERT_TRUE(x.server.ok) << x.server.error;
    EXPECT_EQ(x.server.version, "TLSv1.2");
    EXPECT_EQ(x.server.cipher.rfind("ECDHE-", 0), 0u) << x.server.cipher;
}

TEST_F(TlsServerHandshake, RsaClientGetsTheRsaCertificate) {
    auto context = build();
    Exchange x;
    handshake(*context,
              ClientOptions().signatureAlgorithms("rsa_pss_rsae_sha256:rsa_pss_pss_sha256"), x);
    ASSERT_TRUE(x.server.ok) << x.server.error;
    ASSERT_TRUE(x.clientOk) << x.clientError;
    EXPECT_EQ(keyType(x.serverCertificate), "RSA");
}

TEST_F(TlsServerHandshake, EcdsaClientGetsTheEcCertificate) {
    auto context = build();
    Exchange x;
    handshake(*context, ClientOptions().signatureAlgorithms("ECDSA+SHA256"), x);
    ASSERT_TRUE(x.server.ok) << x.server.error;
    ASSERT_TRUE(x.clientOk) << x.clientError;
    EXPECT_EQ(keyType(x.serverCertificate), "EC");
}

TEST_F(TlsServerHandshake, Tls11ClientIsRefused) {
    auto context = build();
    Exchange x;
    handshake(*context, ClientOptions().versions(TLS1_VERSION, TLS1_1_VERSION).legacy(), x);
    EXPECT_FALSE(x.server.ok);
    EXPECT_FALSE(x.clientOk);
    EXPECT_EQ(x.serverSsl, nullptr);
    EXPECT_NE(x.server.error.find("unsupported protocol"), std::string::npos) << x.server.error;
}

TEST_F(TlsServerHandshake, MinimumTls13RefusesATls12Client) {
    ServerTlsSettings settings;
    settings.minVersion = "TLSv1.3";
    auto context = build(settings);
    Exchange x;
    handshake(*context, ClientOptions().upTo(TLS1_2_VERSION), x);
    EXPECT_FALSE(x.server.ok);
    EXPECT_FALSE(x.clientOk);
    EXPECT_FALSE(x.server.error.empty());
}

TEST_F(TlsServerHandshake, NonForwardSecretCipherIsRefused) {
    auto context = build();
    Exchange x;
    handshake(*context, ClientOptions().upTo(TLS1_2_VERSION).ciphers("AES128-GCM-SHA256"), x);
    EXPECT_FALSE(x.server.ok);
    EXPECT_FALSE(x.clientOk);
    EXPECT_NE(x.server.error.find("no shared cipher"), std::string::npos) << x.server.error;
}

TEST_F(TlsServerHandshake, RecordsTheServerName) {
    auto context = build();
    Exchange x;
    handshake(*context, ClientOptions().sni("mail.example.test"), x);
    ASSERT_TRUE(x.server.ok) << x.server.error;
    EXPECT_EQ(x.server.serverName, "mail.example.test");
}

TEST_F(TlsServerHandshake, ClientHangingUpFailsWithAReason) {
    auto context = build();
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    UniqueFd serverFd(fds[0]);
    setTimeouts(fds[0]);
    ::close(fds[1]);
    SslPtr ssl;
    HandshakeResult result = acceptTls(*context, fds[0], ssl);
    EXPECT_FALSE(result.ok);
    EXPECT_FALSE(result.error.empty());
    EXPECT_EQ(ssl, nullptr);
    EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST_F(TlsServerHandshake, SilentClientTimesOut) {
    auto context = build();
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    UniqueFd serverFd(fds[0]);
    UniqueFd clientFd(fds[1]);
    timeval tv{0, 200 * 1000};
    ASSERT_EQ(::setsockopt(fds[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    SslPtr ssl;
    HandshakeResult result = acceptTls(*context, fds[0], ssl);
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(result.error, "timed out");
    EXPECT_EQ(ssl, nullptr);
}

TEST_F(TlsServerClientCert, TrustedClientCertificateIsVerified) {
    auto context = build(requesting());
    TestCert client = clientCertificate(ca_.get());
    Exchange x;
    handshake(*context, ClientOptions().presenting(client), x);
    ASSERT_TRUE(x.server.ok) << x.server.error;
    EXPECT_TRUE(x.server.clientCertPresented);
    ASSERT_TRUE(x.server.clientCert.has_value());
    EXPECT_EQ(x.server.clientCert->commonName, "client.example.test");
    EXPECT_TRUE(x.server.clientCertVerified) << x.server.clientCertVerifyError;
    EXPECT_TRUE(x.server.clientCertVerifyError.empty());
}

TEST_F(TlsServerClientCert, TrustedClientCertificateIsVerifiedOverTls12) {
    auto context = build(requesting());
    TestCert client = clientCertificate(ca_.get());
    Exchange x;
    handshake(*context, ClientOptions().upTo(TLS1_2_VERSION).presenting(client), x);
    ASSERT_TRUE(x.server.ok) << x.server.error;
    EXPECT_TRUE(x.server.clientCertPresented);
    EXPECT_TRUE(x.server.clientCertVerified) << x.server.clientCertVerifyError;
}

TEST_F(TlsServerClientCert, UntrustedClientCertificateIsRecordedNotVerified) {
    auto context = build(requesting());
    TestCert client = clientCertificate(nullptr);  // self-signed
    Exchange x;
    handshake(*context, ClientOptions().presenting(client), x);
    ASSERT_TRUE(x.server.ok) << x.server.error;
    ASSERT_TRUE(x.clientOk) << x.clientError;
    EXPECT_TRUE(x.server.clientCertPresented);
    EXPECT_TRUE(x.server.clientCert.has_value());
    EXPECT_FALSE(x.server.clientCertVerified);
    EXPECT_FALSE(x.server.clientCertVerifyError.empty());
}

TEST_F(TlsServerClientCert, ExpiredClientCertificateIsNotVerified) {
    auto context = build(requesting());
    auto now = std::chrono::system_clock::now();
    CertOptions options;
    options.notBefore = now - std::chrono::hours(24 * 30);
    options.notAfter = now - std::chrono::hours(24);
    TestCert client = clientCertificate(ca_.get(), options);
    Exchange x;
    handshake(*context, ClientOptions().presenting(client), x);
    ASSERT_TRUE(x.server.ok) << x.server.error;
    EXPECT_TRUE(x.server.clientCertPresented);
    EXPECT_FALSE(x.server.clientCertVerified);
    EXPECT_NE(x.server.clientCertVerifyError.find("expired"), std::string::npos)
        << x.server.clientCertVerifyError;
}

TEST_F(TlsServerClientCert, NoClientCertificateIsNotPresented) {
    auto context = build(requesting());
    Exchange x;
    handshake(*context, ClientOptions(), x);
    ASSERT_TRUE(x.server.ok) << x.server.error;
    EXPECT_FALSE(x.server.clientCertPresented);
    EXPECT_FALSE(x.server.clientCertVerified);
}

TEST_F(TlsServerClientCert, RequireModeStillCompletesTheHandshake) {
    ServerTlsSettings settings;
    settings.clientCertificate = ClientCertMode::Require;
    auto context = build(settings);
    TestCert client = clientCertificate(nullptr);
    Exchange x;
    handshake(*context, ClientOptions().presenting(client), x);
    ASSERT_TRUE(x.server.ok) << x.server.error;
    EXPECT_TRUE(x.server.clientCertPresented);
    EXPECT_FALSE(x.server.clientCertVerified);
}

TEST_F(TlsServerClientCert, DoNotRequestAsksForNoCertificate) {
    auto context = build();
    TestCert client = clientCertificate(ca_.get());
    Exchange x;
    handshake(*context, ClientOptions().presenting(client), x);
    ASSERT_TRUE(x.server.ok) << x.server.error;
    EXPECT_FALSE(x.server.clientCertPresented);
    EXPECT_FALSE(x.server.clientCert.has_value());
}

TEST_F(TlsServerClientCert, AdvertisesOnlyTheStoreCas) {
    auto context = build(requesting());
    STACK_OF(X509_NAME)* names = SSL_CTX_get_client_CA_list(context->get());
    ASSERT_EQ(sk_X509_NAME_num(names), 1);
    EXPECT_EQ(X509_NAME_cmp(sk_X509_NAME_value(names, 0), X509_get_subject_name(ca_->cert.get())),
              0);
}

/// The certificate the client received, by its first DNS name.
std::string servedName(const Exchange& x) {
    return x.serverCertificate ? certmgr::inspect(*x.serverCertificate).dnsNames.at(0) : "";
}

TEST(TlsServerSni, SelectsAmongActiveCertificatesForDifferentNames) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir dir;
    StoreOptions options;
    options.directory = dir.path();
    options.hostname = kHostname;
    options.useSystemCa = false;
    Store store(options);
    store.ensureDefault();  // EC and RSA for mx.example.test
    for (const char* name : {"a.example.test", "*.wild.example.test"}) {
        certmgr::ImportedMaterial m;
        m.key = certmgr::generateKey(certmgr::KeyAlgorithm::EcdsaP256);
        m.leaf = certmgr::makeSelfSigned(*m.key, {{name}, std::chrono::system_clock::now(), 30});
        store.import(std::move(m), Role::Server, true, "generated");
    }
    auto context = ServerTlsContext::build(store, {});
    EXPECT_EQ(context->certificateIds().size(), 3u);  // a, *.wild, RSA default (EC default gone)

    const auto served = [&](const std::string& sni, const char* sigalgs) {
        Exchange x;
        ClientOptions o = ClientOptions().signatureAlgorithms(sigalgs);
        if (!sni.empty()) {
            o.sni(sni);
        }
        handshake(*context, o, x);
        EXPECT_TRUE(x.server.ok) << x.server.error;
        EXPECT_TRUE(x.clientOk) << x.clientError;
        return servedName(x);
    };
    EXPECT_EQ(served("x.wild.example.test", "ECDSA+SHA256"), "*.wild.example.test");
    EXPECT_EQ(served("X.Wild.Example.Test", "ECDSA+SHA256"), "*.wild.example.test");
    EXPECT_EQ(served("a.example.test", "ECDSA+SHA256"), "a.example.test");
    EXPECT_EQ(served("", "ECDSA+SHA256"), "a.example.test");  // no SNI: the default
    EXPECT_EQ(served("unknown.example", "ECDSA+SHA256"), "a.example.test");
    // An RSA-only client asking for the wildcard name gets the RSA certificate there is.
    EXPECT_EQ(served("x.wild.example.test", "rsa_pss_rsae_sha256:rsa_pss_pss_sha256"), kHostname);
}

TEST(TlsServerTickets, KeysRotateAndThePreviousOneStaysReadableForOnePeriod) {
    FakeClock clock(certmgr::parseTime("2026-06-01T00:00:00Z"));
    TicketKeyRing ring(std::chrono::hours(12), clock);
    const auto first = ring.current();
    EXPECT_EQ(ring.current().name, first.name);  // no rotation within the period
    clock.advance(std::chrono::hours(12));
    const auto second = ring.current();
    EXPECT_NE(second.name, first.name);
    EXPECT_NE(second.aes, first.aes);
    auto old = ring.find(first.name.data());
    ASSERT_TRUE(old);
    EXPECT_FALSE(old->second);  // readable, not current: the ticket is renewed
    EXPECT_TRUE(ring.find(second.name.data())->second);
    clock.advance(std::chrono::hours(12));
    ring.current();
    EXPECT_FALSE(ring.find(first.name.data()));  // retired: full handshake
    EXPECT_TRUE(ring.find(second.name.data()));
}

TEST(TlsServerContextHolder, RebuildsOnlyWithACertificateAndKeepsOldContextsAlive) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir dir;
    StoreOptions options;
    options.directory = dir.path();
    options.hostname = kHostname;
    options.useSystemCa = false;
    Store store(options);

    ServerTlsContextHolder holder{ServerTlsSettings{}};
    std::string error = holder.rebuild(store);
    EXPECT_NE(error.find("no active server certificate"), std::string::npos) << error;
    EXPECT_EQ(holder.current(), nullptr);

    store.ensureDefault();
    EXPECT_EQ(holder.rebuild(store), "");
    std::shared_ptr<const ServerTlsContext> old = holder.current();
    ASSERT_NE(old, nullptr);
    std::string oldEcId;
    for (const auto& cert : store.list()) {
        if (cert.isActive(Role::Server) && cert.info.keyType == "EC") {
            oldEcId = cert.id;
        }
    }
    ASSERT_FALSE(oldEcId.empty());
    const std::string oldFingerprint = store.get(oldEcId).info.sha256Fingerprint;

    auto key = certmgr::generateKey(certmgr::KeyAlgorithm::EcdsaP256);
    X509Ptr cert = certmgr::makeSelfSigned(
        *key, {{kHostname}, std::chrono::system_clock::now() - std::chrono::hours(1), 30});
    certmgr::ImportedMaterial material;
    material.leaf = std::move(cert);
    material.key = std::move(key);
    auto added = store.import(std::move(material), Role::Server, true, "generated");

    EXPECT_EQ(holder.rebuild(store), "");
    std::shared_ptr<const ServerTlsContext> next = holder.current();
    ASSERT_NE(next, nullptr);
    EXPECT_NE(next, old);

    const ClientOptions ecdsa = ClientOptions().signatureAlgorithms("ECDSA+SHA256");
    Exchange fresh;
    handshake(*next, ecdsa, fresh);
    ASSERT_TRUE(fresh.server.ok) << fresh.server.error;
    ASSERT_TRUE(fresh.serverCertificate);
    EXPECT_EQ(certmgr::inspect(*fresh.serverCertificate).sha256Fingerprint,
              added.info.sha256Fingerprint);

    Exchange stale;
    handshake(*old, ecdsa, stale);
    ASSERT_TRUE(stale.server.ok) << stale.server.error;
    ASSERT_TRUE(stale.serverCertificate);
    EXPECT_EQ(certmgr::inspect(*stale.serverCertificate).sha256Fingerprint, oldFingerprint);

    // The session outlives the last reference to its context.
    old.reset();
    const std::string message = "250 still here";
    ASSERT_EQ(SSL_write(stale.serverSsl.get(), message.data(), static_cast<int>(message.size())),
              static_cast<int>(message.size()));
    char buffer[64] = {};
    int n = SSL_read(stale.clientSsl.get(), buffer, sizeof buffer);
    ASSERT_GT(n, 0) << certmgr::drainOpensslErrors();
    EXPECT_EQ(std::string(buffer, static_cast<std::size_t>(n)), message);
}

}  // namespace
}  // namespace tlsgate::gateway
